"""Storage: the tables and every database access of the extension."""
