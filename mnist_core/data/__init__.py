"""Reading, checking and downloading MNIST, and turning drawings and photos into model inputs."""
