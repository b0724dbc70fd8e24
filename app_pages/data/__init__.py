"""The data page and its parts."""
