"""The insight page and its parts."""
