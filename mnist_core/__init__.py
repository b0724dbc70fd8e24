"""Digit Lab's engine: MNIST data, model specs, training, evaluation, drawing and the run registry.

Nothing here imports Streamlit; TensorFlow is imported only by the modules that train or run models
(``training``, ``evaluation``, ``jobs``), so data, specs, presets and images can be handled without it.
"""
