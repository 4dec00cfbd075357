"""Benchmarks: the engine against the floor (its SQL alone) and the old way, at production scale.

Run ``python -m benchmarks --help``; see benchmarks/README.md for what each figure means.
"""
