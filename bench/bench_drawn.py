"""How well models read what people draw on the canvas: accuracy on everyday stroke-font drawings
(tests/stroke_hand.py: several writing styles per digit, slanted, off-centre, large and small, strokes 8-40 px),
made into model inputs exactly as the Draw page does. Goal (issues 10, 27): the shipped default model reads >= 99 %
of them and >= 97 % of every digit, keeps >= 99.6 % on MNIST's test set and weighs <= 2 MB.

Run:  PYTHONPATH=tests .venv/bin/python bench/bench_drawn.py [RUN_ID ...] [--per-digit 100] [--seed 1]
      (RUN_ID: runs in $DIGIT_LAB_MODELS, default: the shipped default model; only the default's figure is recorded)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# isort: off
from results import record  # first: the load is read before TensorFlow adds to it
# isort: on

import numpy as np  # noqa: E402

from mnist_core.data.drawing import to_mnist  # noqa: E402
from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.model.evaluation import evaluate  # noqa: E402
from mnist_core.store.registry import DEFAULT_ID, Registry  # noqa: E402
from stroke_hand import everyday_drawings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="*", default=[DEFAULT_ID], metavar="RUN_ID")
    parser.add_argument("--per-digit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    drawings, labels = everyday_drawings(args.per_digit, args.seed)
    images = np.stack([to_mnist(drawing) for drawing in drawings])
    registry = Registry()
    for run_id in args.runs:
        scores = evaluate(registry.load_model(run_id), images, labels)
        per_digit = {digit: round(float((scores.predicted[labels == digit] == digit).mean()) * 100, 1)
                     for digit in range(10)}
        print(f"{run_id:<40} {scores.accuracy:8.2%} of {len(labels)} drawings; % read per digit: {per_digit}",
              flush=True)
        if run_id == DEFAULT_ID:
            mnist = load_mnist()
            mnist_accuracy = evaluate(registry.load_model(run_id), mnist.x_test, mnist.y_test).accuracy
            print(f"{run_id:<40} {mnist_accuracy:8.2%} of MNIST's {len(mnist.y_test)} test images", flush=True)
            record_default(registry, scores.accuracy, min(per_digit.values()), mnist_accuracy, len(labels), args.seed)


def record_default(registry: Registry, accuracy: float, worst_digit: float, mnist_accuracy: float, drawings: int,
                   seed: int) -> None:
    """The shipped default's figures against issue 27's goals: drawings overall and per digit, MNIST test, size."""
    details = {"drawings": drawings, "seed": seed}
    record("drawn", "default model on everyday canvas drawings",
           {"value": round(100 * accuracy, 2), "unit": "%", "goal": 99.0} | details)
    record("drawn", "default model on everyday canvas drawings, worst digit",
           {"value": worst_digit, "unit": "%", "goal": 97.0} | details)
    record("drawn", "default model on the MNIST test set",
           {"value": round(100 * mnist_accuracy, 2), "unit": "%", "goal": 99.6})
    record("drawn", "default model file size",
           {"value": round(registry.model_path(DEFAULT_ID).stat().st_size / 1e6, 2), "unit": "MB", "goal": 2.0})


if __name__ == "__main__":
    main()
