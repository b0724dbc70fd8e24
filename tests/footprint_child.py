"""Run by tests/test_core_architectures.py in a process of its own: train the spec given (argv: JSON spec, batch size,
optimizer) for three batches on real MNIST and print the peak resident memory that training added, in bytes (the
peak is reset through Linux's /proc/self/clear_refs once the data is ready)."""

import json
import os
import sys
from pathlib import Path

from mnist_core.data.sources import load_mnist
from mnist_core.model.config import TrainConfig
from mnist_core.training.loop import prepare_data, train


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (given there in kB)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1]) * 1024


spec, batch_size, optimizer = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = TrainConfig(epochs=1, batch_size=batch_size, subset_size=3 * batch_size, validation_split=0.0,
                     optimizer=optimizer)
prepared = prepare_data(load_mnist(os.environ["MNIST_PATH"]), config)
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from what is resident now
before = status_bytes("VmRSS:")
train(spec, config, prepared)
print(status_bytes("VmHWM:") - before)
