"""How well models read what people draw on the canvas: accuracy on everyday stroke-font drawings
(tests/stroke_hand.py: several writing styles per digit, slanted, off-centre, large and small, strokes 8-40 px),
made into model inputs exactly as the Draw page does. Goal (issues 10, 27): the shipped default model reads >= 99 %
of them and >= 97 % of every digit.

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
            record("drawn", "default model on everyday canvas drawings",
                   {"value": round(100 * scores.accuracy, 2), "unit": "%", "goal": 99.0,
                    "drawings": len(labels), "seed": args.seed})


if __name__ == "__main__":
    main()
