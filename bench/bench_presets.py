"""Train presets on the full MNIST training set with their own settings and print test accuracy and seconds.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_presets.py [PRESET ...] [--epochs N] [--seed S]
The figures in each preset's description come from this script on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.architectures import count_params  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.evaluation import evaluate  # noqa: E402
from mnist_core.presets import PRESETS  # noqa: E402
from mnist_core.training import prepare_data, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("presets", nargs="*", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    args = parser.parse_args()
    data = load_mnist()
    print(f"{'preset':<20} {'params':>9} {'epochs':>6} {'seconds':>8} {'s/epoch':>8} {'test acc':>9}")
    for name in args.presets:
        preset = PRESETS[name]
        overrides = {key: value for key, value in (("epochs", args.epochs), ("seed", args.seed)) if value}
        config = preset.config.replace(**overrides)
        prepared = prepare_data(data, config)
        result = train(preset.spec, config, prepared)
        accuracy = evaluate(result.model, prepared.x_test, prepared.y_test).accuracy
        epochs = len(result.epochs)
        print(f"{name:<20} {count_params(preset.spec):>9,} {epochs:>6} {result.seconds:>8.1f} "
              f"{result.seconds / max(epochs, 1):>8.1f} {accuracy:>9.2%}", flush=True)


if __name__ == "__main__":
    main()
