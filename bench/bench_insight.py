"""Benchmark (not a test): seconds for each view of the Insight page, and the robustness lab against its goal
(≤ 20 s per model for all transforms on 2,000 test images, 2 cores).

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_insight.py [--model RUN_ID ...] [--quick]
Without --model: the default model, and a softmax regression trained here for one epoch (the two extremes of
cost). --quick runs tiny sizes to check the script works, and records nothing.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from results import record  # noqa: E402  (first: the load is read before TensorFlow adds to it)

# isort: split
from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.insight.calibration import expected_calibration_error, fit_temperature, reliability_table  # noqa: E402
from mnist_core.insight.embedding import model_representation, pca_2d, pixel_representation, sample_indices, tsne_2d  # noqa: E402
from mnist_core.insight.robustness import robustness_curves  # noqa: E402
from mnist_core.insight.weights import diverging_rgb, first_layer_weights  # noqa: E402
from mnist_core.model.evaluation import predict_probabilities  # noqa: E402
from mnist_core.store.registry import DEFAULT_ID, Registry  # noqa: E402

ROBUSTNESS_GOAL_S = 20.0
ROBUSTNESS_SAMPLE = 2000
MAP_SAMPLES = (2000, 10_000)
VALIDATION_IMAGES = 5000  # temperature fitted on this many training images (a stand-in for a validation split)


def seconds(work, *args) -> tuple[float, object]:
    """Seconds taken by ``work(*args)``, and its result."""
    started = time.perf_counter()
    result = work(*args)
    return time.perf_counter() - started, result


def softmax_regression(data):
    """The cheapest model there is: 784→10, one epoch."""
    from mnist_core.model.config import TrainConfig
    from mnist_core.training.loop import prepare_data, train

    config = TrainConfig(optimizer="sgd", learning_rate=0.1, epochs=1, validation_split=0.0)
    return train([], config, prepare_data(data, config)).model


def report(name: str, value: float, quick: bool, goal: float | None = None) -> None:
    ratio = f"  ({value / goal:.2f} × the {goal:g} s goal)" if goal else ""
    print(f"{name:<62} {value:8.2f} s{ratio}")
    if not quick:
        record("insight", name, {"value": round(value, 2), "unit": "s", "goal": goal})


def bench_model(name: str, model, data, quick: bool) -> None:
    sample = 300 if quick else ROBUSTNESS_SAMPLE
    indices = sample_indices(data.y_test, sample)
    took, _ = seconds(lambda: robustness_curves(model, data.x_test[indices], data.y_test[indices]))
    report(f"robustness lab, {name}, all transforms, {sample} images", took, quick, ROBUSTNESS_GOAL_S)
    for points in (300,) if quick else MAP_SAMPLES:
        chosen = sample_indices(data.y_test, points)
        took, representation = seconds(model_representation, model, data.x_test[chosen])
        report(f"embedding, {name}: last hidden layer of {points} images", took, quick)
        took, _ = seconds(pca_2d, representation.features)
        report(f"embedding, {name}: PCA of {points} points", took, quick)
        took, _ = seconds(tsne_2d, representation.features)
        report(f"embedding, {name}: t-SNE (openTSNE) of {points} points", took, quick)
    took, _ = seconds(lambda: [diverging_rgb(picture) for picture in first_layer_weights(model).pictures])
    report(f"weights, {name}: first-layer pictures", took, quick)
    test_count = 1000 if quick else len(data.y_test)

    def confidence():
        probabilities = predict_probabilities(model, data.x_test[:test_count])
        reliability_table(probabilities, data.y_test[:test_count])
        expected_calibration_error(probabilities, data.y_test[:test_count])
        held_out = slice(len(data.y_train) - (500 if quick else VALIDATION_IMAGES), None)
        fit_temperature(predict_probabilities(model, data.x_train[held_out]), data.y_train[held_out])

    took, _ = seconds(confidence)
    report(f"confidence, {name}: {test_count} test images, ECE, temperature", took, quick)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--model", action="append", help="run id (repeatable; default: default + softmax)")
    options.add_argument("--quick", action="store_true", help="tiny sizes, to check the script; records nothing")
    args = options.parse_args()
    data = load_mnist()
    registry = Registry()
    models = {run_id: registry.load_model(run_id) for run_id in args.model or [DEFAULT_ID]}
    if not args.model:
        models["softmax-regression (1 epoch)"] = softmax_regression(data)
    for points in (300,) if args.quick else MAP_SAMPLES:
        chosen = sample_indices(data.y_test, points)
        pixels = pixel_representation(data.x_test[chosen]).features
        took, _ = seconds(pca_2d, pixels)
        report(f"embedding, raw pixels: PCA of {points} points", took, args.quick)
        took, _ = seconds(tsne_2d, pixels)
        report(f"embedding, raw pixels: t-SNE (openTSNE) of {points} points", took, args.quick)
    for name, model in models.items():
        bench_model(name, model, data, args.quick)


if __name__ == "__main__":
    main()
