"""The source catalog: the app database's tables, columns and types, committed as ``catalog/source.yaml``."""
