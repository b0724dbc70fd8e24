"""The home page and its parts."""
