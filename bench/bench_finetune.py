"""Fine-tune the default model on My digits made of a hand it reads badly (tests/stroke_hand.py: leaning 50-70°,
crossed 7s) and print, per hand and set size: accuracy on other drawings of the same hand before and after, on the
held-out part of My digits, on MNIST test (and the drop in points), and the seconds of the whole fine-tune (measure
before, train, measure after) and of its training alone. Goals (issue 12): other drawings >= 97 % with 10 drawings
per digit, MNIST test drop <= 0.2 points, 120 drawings fine-tuned in well under 60 s on 2 cores.

Run:  MNIST_PATH=/path/to/mnist.npz PYTHONPATH=.:tests .venv/bin/python bench/bench_finetune.py
      [--seeds 1 2 3] [--per-digit 10 12] [--epochs N] [--quick]   (--quick: one small run, nothing recorded)
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import record  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
import numpy as np  # noqa: E402

from mnist_core.data.drawing import to_mnist  # noqa: E402
from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.jobs.finetune import FINETUNE_CONFIG, execute_finetune, finetune_request  # noqa: E402
from mnist_core.model.evaluation import evaluate  # noqa: E402
from mnist_core.store.my_digits import MyDigits  # noqa: E402
from mnist_core.store.registry import DEFAULT_ID, Registry  # noqa: E402
from stroke_hand import hand  # noqa: E402

OTHER_PER_DIGIT = 30  # drawings per digit of the same hand never put into My digits
OTHER_SEED_OFFSET = 1000
TARGET_ACCURACY, MAX_DROP_POINTS, MAX_SECONDS = 0.97, 0.2, 60.0


def inputs(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    canvases, labels = hand(per_digit, seed)
    return np.stack([to_mnist(canvas) for canvas in canvases]), labels, canvases


def one_fine_tune(data, per_digit: int, seed: int, epochs: int) -> dict:
    """Fine-tune the default model on ``per_digit`` drawings of hand ``seed``; the figures as a row."""
    with tempfile.TemporaryDirectory() as root:
        registry = Registry(root)
        collection = MyDigits(registry)
        images, labels, canvases = inputs(per_digit, seed)
        for image, label, canvas in zip(images, labels, canvases, strict=True):
            collection.add(int(label), image, canvas)
        run = execute_finetune(DEFAULT_ID, finetune_request(registry, DEFAULT_ID, epochs), data, registry)
        x_other, y_other, _ = inputs(OTHER_PER_DIGIT, seed + OTHER_SEED_OFFSET)
        base, tuned = registry.load_model(DEFAULT_ID), registry.load_model(run.id)
        figures = run.finetune
        return {"seed": seed, "drawings": len(labels), "held_out": figures["held_out"],
                "other_before": evaluate(base, x_other, y_other).accuracy,
                "other_after": evaluate(tuned, x_other, y_other).accuracy,
                "held_before": figures["mine_accuracy_before"], "held_after": figures["mine_accuracy_after"],
                "test_before": figures["test_accuracy_before"], "test_after": run.test_accuracy,
                "drop_points": 100 * (figures["test_accuracy_before"] - run.test_accuracy),
                "seconds": run.seconds, "training_seconds": sum(row["seconds"] for row in run.epochs)}


def percent(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="hands to try")
    parser.add_argument("--per-digit", type=int, nargs="+", default=[10, 12], help="drawings per digit in My digits")
    parser.add_argument("--epochs", type=int, default=FINETUNE_CONFIG.epochs)
    parser.add_argument("--quick", action="store_true", help="one hand, 3 per digit, 1 epoch; nothing recorded")
    args = parser.parse_args()
    seeds, sizes, epochs = ([1], [3], 1) if args.quick else (args.seeds, args.per_digit, args.epochs)
    data = load_mnist()
    print(f"{'per digit':>9} {'seed':>4} {'held':>4} {'other before':>12} {'other after':>11} {'held before':>11} "
          f"{'held after':>10} {'test before':>11} {'test after':>10} {'drop pts':>8} {'seconds':>7} {'training':>8}")
    rows = {}
    for per_digit in sizes:
        for seed in seeds:
            row = one_fine_tune(data, per_digit, seed, epochs)
            rows.setdefault(per_digit, []).append(row)
            print(f"{per_digit:>9} {seed:>4} {row['held_out']:>4} {percent(row['other_before']):>12} "
                  f"{percent(row['other_after']):>11} {percent(row['held_before']):>11} "
                  f"{percent(row['held_after']):>10} {percent(row['test_before']):>11} "
                  f"{percent(row['test_after']):>10} "
                  f"{row['drop_points']:>8.2f} {row['seconds']:>7.1f} {row['training_seconds']:>8.1f}", flush=True)
    for per_digit, runs in rows.items():
        worst_after = min(run["other_after"] for run in runs)
        worst_drop = max(run["drop_points"] for run in runs)
        slowest = max(run["seconds"] for run in runs)
        print(f"{per_digit * 10} drawings: worst other-drawings accuracy {worst_after:.1%} (goal >= "
              f"{TARGET_ACCURACY:.0%}, ratio {worst_after / TARGET_ACCURACY:.3f}); worst MNIST drop {worst_drop:.2f} "
              f"points (goal <= {MAX_DROP_POINTS}); slowest {slowest:.1f} s (goal well under {MAX_SECONDS:.0f} s, "
              f"ratio {slowest / MAX_SECONDS:.2f})")
        if not args.quick:
            record("finetune", f"fine-tune of the default model, {per_digit * 10} drawings: slowest seconds",
                   {"value": round(slowest, 1), "unit": "s", "goal": MAX_SECONDS})
            record("finetune", f"fine-tune, {per_digit * 10} drawings: worst accuracy on other drawings",
                   {"value": round(worst_after, 4), "unit": "", "goal": TARGET_ACCURACY})
            record("finetune", f"fine-tune, {per_digit * 10} drawings: worst MNIST test drop",
                   {"value": round(worst_drop, 2), "unit": "points", "goal": MAX_DROP_POINTS})


if __name__ == "__main__":
    main()
