"""Writing run artefacts: CSVs (atomically), TEST rows for test users, the run manifest."""
