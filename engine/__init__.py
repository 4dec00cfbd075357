"""audience-engine: declarative, SQL-first push audiences for Tradeblock."""

__version__ = "0.1.0"
