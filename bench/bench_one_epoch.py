"""One epoch to 99%: train candidate recipes for the speed preset on all 60,000 images and print test accuracy
against seconds of training; writes the table to ``bench/ONE_EPOCH.md`` (with the load average, since a figure taken
on a busy machine does not count).

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_one_epoch.py [RECIPE ...] [--seeds 1 2 3 4 5]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import AT_START, write_atomic  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.model.config import TrainConfig  # noqa: E402
from mnist_core.model.evaluation import evaluate  # noqa: E402
from mnist_core.training.loop import prepare_data, train  # noqa: E402
from mnist_core.training.presets import PRESETS, conv, dense, pool  # noqa: E402

TABLE = Path(__file__).with_name("ONE_EPOCH.md")
FLATTEN, NORM = {"type": "Flatten"}, {"type": "BatchNormalization"}
ONE_EPOCH = dict(optimizer="adam", lr_schedule="one-cycle", epochs=1, validation_split=0.0, steps_per_execution=32)
BF16 = dict(precision="mixed_bfloat16")
SMOOTH = dict(label_smoothing=0.1)

RECIPES = {  # name -> (spec, settings)
    "fast-cnn as shipped": (PRESETS["fast-cnn"].spec, PRESETS["fast-cnn"].config.to_dict()),
    "fast-cnn, 2 epochs (the speed preset before label smoothing)": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(epochs=2, learning_rate=4e-3, batch_size=128)),
    "fast-cnn, 1 epoch": (PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=4e-3, batch_size=128)),
    "fast-cnn, 1 epoch, batch 64": (PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=4e-3, batch_size=64)),
    "fast-cnn + batch norm, lr 1e-2": (
        [conv(16, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(128)],
        ONE_EPOCH | dict(learning_rate=1e-2, batch_size=128)),
    "24/32 5×5 + batch norm, dense 256, lr 1e-2": (
        [conv(24, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=1e-2, batch_size=128)),
    "24/32 5×5 + batch norm, dense 256, lr 1e-2, batch 64": (
        [conv(24, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=1e-2, batch_size=64)),
    "32/64 3×3 same + batch norm, dense 128, lr 1e-2": (
        [conv(32, 3, padding="same"), NORM, pool(), conv(64, 3, padding="same"), NORM, pool(), FLATTEN, dense(128)],
        ONE_EPOCH | dict(learning_rate=1e-2, batch_size=128)),
    "fast-cnn, 1 epoch, batch 64, lr 6e-3": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=6e-3, batch_size=64)),
    "fast-cnn, 1 epoch, batch 32, lr 3e-3": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=3e-3, batch_size=32)),
    "fast-cnn + batch norm, batch 64, lr 5e-3": (
        [conv(16, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(128)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64)),
    "24/32 5×5 + batch norm, dense 256, batch 64, lr 5e-3": (
        [conv(24, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64)),
    "24/48 5×5, dense 256, batch 64, lr 5e-3": (
        [conv(24, 5), pool(), conv(48, 5), pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64)),
    "16/32 5×5 + batch norm, lr 2e-2": (
        [conv(16, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(128)],
        ONE_EPOCH | dict(learning_rate=2e-2, batch_size=128)),
    "fast-cnn, 2 epochs, bfloat16": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(epochs=2, learning_rate=4e-3, batch_size=128) | BF16),
    "fast-cnn, 1 epoch, batch 64, lr 6e-3, bfloat16": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=6e-3, batch_size=64) | BF16),
    "24/48 5×5, dense 256, batch 64, lr 5e-3, bfloat16": (
        [conv(24, 5), pool(), conv(48, 5), pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64) | BF16),
    "16/32 5×5, dense 256, batch 64, lr 5e-3, bfloat16": (
        [conv(16, 5), pool(), conv(32, 5), pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64) | BF16),
    "20/40 5×5, dense 128, batch 64, lr 5e-3, bfloat16": (
        [conv(20, 5), pool(), conv(40, 5), pool(), FLATTEN, dense(128)],
        ONE_EPOCH | dict(learning_rate=5e-3, batch_size=64) | BF16),
    "fast-cnn, 1 epoch, batch 64, lr 6e-3, bfloat16, label smoothing 0.1": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=6e-3, batch_size=64) | BF16 | SMOOTH),
    "fast-cnn, 1 epoch, batch 96, lr 7e-3, bfloat16, label smoothing 0.1": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=7e-3, batch_size=96) | BF16 | SMOOTH),
    "fast-cnn, 1 epoch, batch 128, lr 8e-3, bfloat16, label smoothing 0.1": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=8e-3, batch_size=128) | BF16 | SMOOTH),
    "fast-cnn, 1 epoch, batch 240, lr 1.8e-2, bfloat16, label smoothing 0.1": (
        PRESETS["fast-cnn"].spec, ONE_EPOCH | dict(learning_rate=1.8e-2, batch_size=240) | BF16 | SMOOTH),
    "24/32 5×5 + batch norm, dense 256, lr 1e-2, batch 64, bfloat16": (
        [conv(24, 5), NORM, pool(), conv(32, 5), NORM, pool(), FLATTEN, dense(256)],
        ONE_EPOCH | dict(learning_rate=1e-2, batch_size=64) | BF16),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recipes", nargs="*", metavar="RECIPE", help=f"any of: {'; '.join(RECIPES)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    unknown = set(args.recipes) - set(RECIPES)
    if unknown:
        parser.error(f"unknown recipe(s): {', '.join(sorted(unknown))}")
    data = load_mnist()
    state = AT_START
    rows = ["| recipe | seed | epochs | seconds | test accuracy |", "| --- | --- | --- | --- | --- |"]
    for name in args.recipes or RECIPES:
        spec, settings = RECIPES[name]
        for seed in args.seeds:
            config = TrainConfig.from_dict(settings | {"seed": seed})
            prepared = prepare_data(data, config)
            result = train(spec, config, prepared)
            accuracy = evaluate(result.model, prepared.x_test, prepared.y_test).accuracy
            print(f"{name:<55} seed {seed}: {accuracy:.2%} in {result.seconds:5.1f} s", flush=True)
            rows.append(f"| {name} | {seed} | {config.epochs} | {result.seconds:.1f} | {accuracy:.2%} |")
    write_atomic(TABLE, "\n".join([
        "# One epoch to 99%: what was tried", "",
        f"Written by `{state['command']}` on {state['date']}, {state['machine']}, load {state['load']:.2f} "
        "(figures taken at load >= 0.5 do not count).", "", *rows, ""]))


if __name__ == "__main__":
    main()
