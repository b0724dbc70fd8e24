"""The train page and its parts."""
