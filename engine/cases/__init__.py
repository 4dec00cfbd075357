"""Audience test cases in YAML (``engine test``): fixture rows in, expected output rows out."""
