"""The command line, `python -m mnist_core`."""
