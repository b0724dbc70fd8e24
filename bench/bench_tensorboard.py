"""Benchmark (not a test): what writing TensorBoard events (``RunBoard``) costs a training.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_tensorboard.py [--epochs 1] [--repeats 3] [--subset N]
For a Dense(128) net at one batch per call (the most batch events) and for the speed preset, ``fit`` with the
callbacks every run has is timed with and without ``RunBoard``, alternating (best of ``--repeats``) to share machine
noise. Measure on a quiet machine only.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import record  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
import keras  # noqa: E402

from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.model.architectures import build_model  # noqa: E402
from mnist_core.model.config import TrainConfig  # noqa: E402
from mnist_core.training.board import RunBoard  # noqa: E402
from mnist_core.training.loop import compile_model, prepare_data, training_dataset, watch  # noqa: E402
from mnist_core.training.presets import SPEED_PRESET, get_preset  # noqa: E402

DENSE_SPEC = [{"type": "Dense", "units": 128}]


def fit_seconds(spec, config, data, board: Path | None) -> float:
    """``fit`` with the progress reporter, stop button and divergence guard, and ``RunBoard`` when ``board``."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(spec, precision=config.precision)
    steps = math.ceil(len(data.y_train) / config.batch_size)
    compile_model(model, config, steps * config.epochs)
    run = watch(None, None, config.epochs, steps, config.batch_size, len(data.y_train))
    callbacks = run.callbacks + ([RunBoard(board)] if board is not None else [])
    dataset = training_dataset(data.x_train, data.y_train, config, model)
    started = time.perf_counter()
    model.fit(dataset, epochs=config.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    return time.perf_counter() - started


def overhead(label: str, spec, config, data_all, repeats: int) -> None:
    data = prepare_data(data_all, config)
    without, with_board = [], []
    for repeat in range(repeats):
        without.append(fit_seconds(spec, config, data, None))
        with tempfile.TemporaryDirectory() as folder:
            with_board.append(fit_seconds(spec, config, data, Path(folder) / f"run{repeat}"))
    extra = 100 * (min(with_board) / min(without) - 1)
    print(f"{label}: {min(without):.2f} s without, {min(with_board):.2f} s with TensorBoard events "
          f"(best of {repeats}): {extra:+.1f}%")
    record("engine", f"TensorBoard events overhead, {label}", {"value": round(extra, 1), "unit": "%"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subset", type=int, default=None, help="training images (default: all)")
    args = parser.parse_args()
    data = load_mnist()
    common = {"epochs": args.epochs, "subset_size": args.subset, "validation_split": 0.0}
    overhead("Dense(128), batch 128, 1 batch per call", DENSE_SPEC,
             TrainConfig(batch_size=128, seed=1, **common), data, args.repeats)
    preset = get_preset(SPEED_PRESET)
    overhead(SPEED_PRESET, preset.spec, preset.config.replace(**common), data, args.repeats)


if __name__ == "__main__":
    main()
