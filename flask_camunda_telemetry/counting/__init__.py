"""Counting: command names, the request hook, and the in-memory counts."""
