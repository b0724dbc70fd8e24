"""Training: presets, the training loop and its callbacks, progress, TensorBoard logs and the charts."""
