"""Rendering Jinja SQL: structure from Jinja, every value a bound psycopg parameter."""
