"""The ``engine`` command line: a thin shell over ``engine.api``."""
