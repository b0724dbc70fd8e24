"""The sweeps page and its parts."""
