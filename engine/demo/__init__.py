"""`engine demo`: find or start a PostgreSQL, seed it, run every audience."""
