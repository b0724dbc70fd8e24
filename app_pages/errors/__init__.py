"""The errors page and its parts."""
