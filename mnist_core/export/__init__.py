"""A run taken away as plain Keras code: a script or a notebook."""
