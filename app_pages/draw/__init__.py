"""The draw page and its parts."""
