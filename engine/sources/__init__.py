"""Running rendered queries on the source database and bringing rows back as Arrow."""
