"""The models page and its parts."""
