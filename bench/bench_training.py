"""Benchmarks (not tests): event-reporting overhead, batch gaps, seconds to 99% and single-image latency.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_training.py [--quick]
Prints one figure per line and the ratios that the project's targets are stated in.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import record  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.measured import count_of  # noqa: E402
from mnist_core.model.architectures import build_model  # noqa: E402
from mnist_core.model.config import TrainConfig  # noqa: E402
from mnist_core.model.evaluation import ImagePredictor, evaluate  # noqa: E402
from mnist_core.training.loop import compile_model, prepare_data, train, training_dataset  # noqa: E402
from mnist_core.training.presets import SPEED_PRESET, get_preset  # noqa: E402

OVERHEAD_SPEC = [{"type": "Dense", "units": 128}]


def bare_fit_seconds(spec, config, data) -> float:
    """Plain ``model.fit`` on the same pipeline, model and settings, with no callbacks."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(spec, precision=config.precision)
    steps = int(np.ceil(len(data.y_train) / config.batch_size))
    compile_model(model, config, steps * config.epochs)
    dataset = training_dataset(data.x_train, data.y_train, config, model)
    started = time.perf_counter()
    model.fit(dataset, epochs=config.epochs, verbose=0, shuffle=False)
    return time.perf_counter() - started


def reporting_overhead(data_all, epochs: int, repeats: int) -> None:
    """Samples/s of ``train`` (events to a callback) vs bare ``fit``, alternating to share machine noise."""
    config = TrainConfig(epochs=epochs, validation_split=0.0, batch_size=128, seed=1)
    data = prepare_data(data_all, config)
    samples = len(data.y_train) * epochs
    events = []
    bare, ours = [], []
    for _ in range(repeats):
        bare.append(bare_fit_seconds(OVERHEAD_SPEC, config, data))
        ours.append(train(OVERHEAD_SPEC, config, data, on_event=events.append).seconds)
    bare_rate, our_rate = samples / min(bare), samples / min(ours)
    print(f"bare model.fit:        {bare_rate:10.0f} samples/s (best of {repeats})")
    print(f"train() with events:   {our_rate:10.0f} samples/s (best of {repeats}; {len(events)} events)")
    overhead = 100 * (bare_rate / our_rate - 1)
    print(f"event-reporting overhead: {overhead:+.1f}% (target <= 3%)")
    record("engine", "event-reporting overhead vs bare fit", {"value": round(overhead, 1), "unit": "%", "goal": 3})


def batch_gaps(data_all, epochs: int) -> None:
    """Longest pause between consecutive batches of the speed preset's CNN over several epochs."""
    preset = get_preset(SPEED_PRESET)
    config = preset.config.replace(epochs=epochs, steps_per_execution=1)
    stamps = []
    train(preset.spec, config, prepare_data(data_all, config),
          on_event=lambda e: stamps.append(time.perf_counter()) if e.kind == "batch" else None)
    gaps = np.diff(stamps)
    print(f"batch gaps over {epochs} epochs of {SPEED_PRESET}: max {gaps.max():.3f} s, p99 "
          f"{np.percentile(gaps, 99) * 1000:.0f} ms, median {np.median(gaps) * 1000:.0f} ms "
          f"({'OK' if gaps.max() <= 1.0 else 'STALL'}: target max <= 1 s)")
    record("engine", "longest pause between batches", {"value": round(float(gaps.max()), 3), "unit": "s", "goal": 1})


def seconds_to_99(data_all, seeds: list[int]) -> None:
    """Training seconds and test accuracy of the speed preset, per seed (recorded as the preset's figures)."""
    preset = get_preset(SPEED_PRESET)
    runs = []
    for seed in seeds:
        config = preset.config.replace(seed=seed)
        data = prepare_data(data_all, config)
        result = train(preset.spec, config, data)
        accuracy = evaluate(result.model, data.x_test, data.y_test).accuracy
        print(f"{SPEED_PRESET} seed {seed}: {accuracy:.2%} test in {result.seconds:.1f} s of training "
              f"({count_of(config.epochs, 'epoch')}){'' if accuracy >= 0.99 else '  BELOW 99%'}")
        runs.append({"seed": seed, "test_accuracy": round(accuracy, 4), "seconds": round(result.seconds, 2)})
    record("presets", SPEED_PRESET, {"epochs": preset.config.epochs, "runs": runs})


def latency(data_all, count: int) -> None:
    """Single-image prediction: compiled call vs direct call vs ``model.predict``; p50/p95 in ms."""
    model = build_model(get_preset(SPEED_PRESET).spec)
    predictor = ImagePredictor(model)
    images = data_all.x_test[:count]
    x = images[..., None].astype("float32") / 255.0

    def timed(function) -> np.ndarray:
        function(images[0], x[:1])
        samples = []
        for image, single in zip(images, x, strict=True):
            started = time.perf_counter()
            function(image, single[None])
            samples.append((time.perf_counter() - started) * 1000)
        return np.percentile(samples, [50, 95])

    compiled = timed(lambda image, _: predictor.probabilities(image))
    direct = timed(lambda _, single: model(single, training=False).numpy())
    predict = timed(lambda _, single: model.predict(single, verbose=0))
    for name, (p50, p95) in (("ImagePredictor (tf.function)", compiled), ("model(x)", direct),
                             ("model.predict", predict)):
        print(f"single-image latency, {name:<30} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
    print(f"speed-up of ImagePredictor over model.predict: {predict[0] / compiled[0]:.0f}x (p50)")
    record("engine", "single-image prediction p50 (ImagePredictor)", {"value": round(compiled[0], 2), "unit": "ms"})
    record("engine", "single-image prediction p50 (model.predict)", {"value": round(predict[0], 1), "unit": "ms"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and epochs")
    args = parser.parse_args()
    data = load_mnist()
    print(f"data: {data!r}")
    reporting_overhead(data, epochs=2 if args.quick else 3, repeats=2 if args.quick else 3)
    latency(data, count=100 if args.quick else 300)
    batch_gaps(data, epochs=2 if args.quick else 5)
    seconds_to_99(data, seeds=[1] if args.quick else [1, 2, 3, 4, 5])


if __name__ == "__main__":
    main()
