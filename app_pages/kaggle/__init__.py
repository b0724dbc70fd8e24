"""The kaggle page and its parts."""
