"""The my_digits page and its parts."""
