"""Train presets on all 60,000 training images with their own settings, print test accuracy and seconds, and record
them (``bench/results.py``): the figures each preset shows on the Train page come from here.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_presets.py [PRESET ...] [--seeds 1 2 3] [--epochs N]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import record  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.model.architectures import count_params  # noqa: E402
from mnist_core.model.evaluation import evaluate  # noqa: E402
from mnist_core.training.loop import prepare_data, train  # noqa: E402
from mnist_core.training.presets import PRESETS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("presets", nargs="*", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds to train with (default: the preset's own)")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs (not recorded)")
    args = parser.parse_args()
    data = load_mnist()
    print(f"{'preset':<20} {'params':>9} {'seed':>5} {'epochs':>6} {'seconds':>8} {'s/epoch':>8} {'test acc':>9}")
    for name in args.presets:
        preset = PRESETS[name]
        runs = []
        for seed in args.seeds or [preset.config.seed]:
            overrides = {"seed": seed} | ({} if args.epochs is None else {"epochs": args.epochs})
            config = preset.config.replace(**overrides)
            prepared = prepare_data(data, config)
            result = train(preset.spec, config, prepared)
            accuracy = evaluate(result.model, prepared.x_test, prepared.y_test).accuracy
            epochs = len(result.epochs)
            runs.append({"seed": seed, "test_accuracy": round(accuracy, 4), "seconds": round(result.seconds, 2)})
            print(f"{name:<20} {count_params(preset.spec):>9,} {seed:>5} {epochs:>6} {result.seconds:>8.1f} "
                  f"{result.seconds / max(epochs, 1):>8.1f} {accuracy:>9.2%}", flush=True)
        if args.epochs is None:  # figures of the preset as shipped only
            record("presets", name, {"epochs": preset.config.epochs, "runs": runs})


if __name__ == "__main__":
    main()
