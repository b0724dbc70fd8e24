"""Entry point for ``python -m mnist_core``."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

from mnist_core.cli.main import main  # noqa: E402  (after the environment is set)

sys.exit(main())
