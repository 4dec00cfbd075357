"""``engine diff``: two runs (or folders of CSVs) compared output by output."""
