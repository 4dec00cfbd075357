"""Post-processing in DuckDB: join, prioritise, require, thresholds, transform, segments."""
