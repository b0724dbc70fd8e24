"""Digit Lab's engine: MNIST data, model specs, training, evaluation, drawing and the run registry.

Nothing here imports Streamlit; TensorFlow is imported only where models are built, trained or run (``training``,
``evaluation``, and inside the functions of the others that need it), so data, specs, presets and images can be
handled without it.
"""

import os

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512; elsewhere (an AMD EPYC, Zen 3) it
# falls back to Eigen, which trains the convolutional presets markedly slower. Set before
# TensorFlow is first imported; TF_ENABLE_ONEDNN_OPTS=0 in the environment still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
