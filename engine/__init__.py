"""audience-engine: declarative, SQL-first push audiences for Tradeblock."""
