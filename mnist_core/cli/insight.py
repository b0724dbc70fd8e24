"""The Insight page's command-line twins: ``robustness``, ``embedding`` and ``calibration`` (wired into
``python -m mnist_core`` by ``cli.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mnist_core.cli.common import chosen_run, dataset, write_output
from mnist_core.store.registry import Registry

DEFAULT_ROBUSTNESS_SAMPLE = 2000
DEFAULT_MAP_SAMPLE = 2000
MAP_METHODS = ("pca", "tsne")


def chosen_model(args):
    """(run id, run record, Keras model) for ``--model`` (the default model when not given)."""

    registry = Registry(args.models)
    run_id = chosen_run(registry, args.model)
    return run_id, registry.record(run_id), registry.load_model(run_id)


def sampled_test_set(args, size: int | None):
    """The test images and labels of a stratified sample of ``size`` (all of them for None), and their indices."""
    from mnist_core.insight.embedding import sample_indices

    data = dataset(args)
    indices = sample_indices(data.y_test, size)
    return data, data.x_test[indices], data.y_test[indices], indices


def show_progress(args):
    """A progress callback printing to stderr, silent under ``--json``."""
    def report(fraction: float, text: str) -> None:
        if not args.json:
            print(f"[{fraction:4.0%}] {text}", file=sys.stderr)
    return report


def command_robustness(args) -> None:
    from mnist_core.insight.robustness import robustness_curves, transforms_named

    names = args.transforms.split(",") if args.transforms else None
    transforms_named(names)  # unknown names fail before anything is loaded
    run_id, _, model = chosen_model(args)
    _, images, labels, _ = sampled_test_set(args, args.sample)
    frame = robustness_curves(model, images, labels, names, on_progress=show_progress(args))
    for row in frame.itertuples(index=False):
        payload = {"transform": row.transform, "severity": row.severity, "accuracy": row.accuracy}
        print(json.dumps(payload) if args.json else f"{row.transform:<10} {row.severity:>6g}  {row.accuracy:.4f}")
    if not args.json:
        print(f"model {run_id}, {len(labels)} test images", file=sys.stderr)


def command_embedding(args) -> None:
    from mnist_core.insight.embedding import map_frame, model_representation, pca_2d, pixel_representation, tsne_2d
    from mnist_core.model.evaluation import predict_probabilities

    data, images, labels, indices = sampled_test_set(args, args.sample)
    if args.pixels:
        run_id, representation, probabilities = None, pixel_representation(images), None
    else:
        run_id, _, model = chosen_model(args)
        representation = model_representation(model, images)
        probabilities = predict_probabilities(model, images)
    features = representation.features
    coordinates = pca_2d(features) if args.method == "pca" else tsne_2d(features, show_progress(args))
    frame = map_frame(coordinates, indices, labels, probabilities)
    write_output(args.out, frame.drop(columns="top3", errors="ignore").to_csv(index=False))
    payload = {"run_id": run_id, "layer": representation.layer, "method": args.method, "points": len(frame),
               "out": str(args.out)}
    print(json.dumps(payload) if args.json else
          f"wrote {len(frame)} points ({args.method} of {representation.layer}) to {args.out}")


def command_calibration(args) -> None:
    from mnist_core.insight.calibration import (
        expected_calibration_error,
        fit_temperature,
        held_out_split,
        reliability_table,
        with_temperature,
    )
    from mnist_core.model.evaluation import predict_probabilities

    run_id, record, model = chosen_model(args)
    data = dataset(args)
    probabilities = predict_probabilities(model, data.x_test)
    payload = {"run_id": run_id, "ece": expected_calibration_error(probabilities, data.y_test, args.bins),
               "temperature": None, "ece_after": None,
               "bins": reliability_table(probabilities, data.y_test, args.bins).to_dict(orient="records")}
    held_out = held_out_split(data, record.config, record.data_fingerprint)
    if held_out is not None:
        temperature = fit_temperature(predict_probabilities(model, held_out[0]), held_out[1])
        payload["temperature"] = temperature
        payload["ece_after"] = expected_calibration_error(with_temperature(probabilities, temperature),
                                                          data.y_test, args.bins)
    after = ("no validation split to fit a temperature on" if held_out is None else
             f"after temperature {payload['temperature']:.3f}: {payload['ece_after']:.4f}")
    print(json.dumps(payload) if args.json else f"run {run_id}: ECE {payload['ece']:.4f}; {after}")


def add_parsers(commands, common) -> None:
    """Add the ``robustness``, ``embedding`` and ``calibration`` subcommands to ``commands`` (argparse subparsers)."""
    from mnist_core.insight.robustness import TRANSFORMS

    robustness = commands.add_parser("robustness", parents=[common],
                                     help="accuracy as the test images are rotated, shifted, scaled, blurred, ...")
    robustness.add_argument("--model", help="run id (default: the default model)")
    robustness.add_argument("--transforms", help=f"comma-separated, of: {','.join(TRANSFORMS)} (default: all)")
    robustness.add_argument("--sample", type=int, default=DEFAULT_ROBUSTNESS_SAMPLE,
                            help=f"stratified sample of test images (default {DEFAULT_ROBUSTNESS_SAMPLE})")

    embedding = commands.add_parser("embedding", parents=[common],
                                    help="2-D map (PCA or t-SNE) of the last hidden layer, written as CSV")
    source = embedding.add_mutually_exclusive_group()
    source.add_argument("--model", help="run id (default: the default model)")
    source.add_argument("--pixels", action="store_true", help="map the raw pixels (no model)")
    embedding.add_argument("--method", choices=MAP_METHODS, default="pca")
    embedding.add_argument("--sample", type=int, default=DEFAULT_MAP_SAMPLE,
                           help=f"stratified sample of test images (default {DEFAULT_MAP_SAMPLE})")
    embedding.add_argument("--out", type=Path, default=Path("embedding.csv"))

    calibration = commands.add_parser("calibration", parents=[common],
                                      help="expected calibration error, reliability bins, temperature scaling")
    calibration.add_argument("--model", help="run id (default: the default model)")
    calibration.add_argument("--bins", type=int, default=15)
