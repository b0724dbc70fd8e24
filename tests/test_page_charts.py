"""The pages' charts, labels and pictures (mnist_core.training.charts and mnist_core.data.pictures) as plain values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_core.data import pictures
from mnist_core.training import charts, progress


def test_smoothing_is_debiased_and_follows_the_values():
    values = [2.0, 2.0, 2.0, 1.0, 1.0, 1.0]
    smoothed = charts.smooth(values, weight=0.5)
    assert smoothed[0] == pytest.approx(2.0)  # no pull towards 0 at the start
    assert smoothed[2] == pytest.approx(2.0)
    assert 1.0 < smoothed[-1] < smoothed[3] < 2.0


def test_thinning_keeps_first_and_last_rows_and_the_limit():
    import pandas as pd

    frame = pd.DataFrame({"batch": range(5000)})
    thinned = charts.thin(frame, limit=100)
    assert len(thinned) <= 100
    assert thinned["batch"].iloc[0] == 0 and thinned["batch"].iloc[-1] == 4999
    assert charts.thin(frame.head(10), limit=100).equals(frame.head(10))


def test_best_epoch_prefers_validation_loss_and_skips_non_finite_values():
    epochs = [{"epoch": 1, "loss": 0.5, "val_loss": 0.40}, {"epoch": 2, "loss": 0.3, "val_loss": 0.35},
              {"epoch": 3, "loss": 0.2, "val_loss": 0.38}, {"epoch": 4, "loss": math.nan, "val_loss": math.nan}]
    assert charts.best_epoch(epochs) == 2
    assert charts.best_epoch([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}]) == 2
    assert charts.best_epoch([]) is None


def test_epoch_chart_draws_train_and_validation_with_the_best_epoch_rule():
    epochs = [{"epoch": e, "loss": 1 / e, "accuracy": 0.8, "val_loss": 1.2 / e, "val_accuracy": 0.7} for e in (1, 2, 3)]
    epochs[1]["val_loss"] = 0.1  # epoch 2 is the best by validation loss, though epoch 3 trains lower
    frame = charts.epoch_chart_frame(epochs, "loss")
    assert sorted(frame["split"].unique()) == ["train", "validation"] and len(frame) == 6
    assert frame[frame["best"]][["epoch", "split"]].values.tolist() == [[2, "train"]]  # one rule, at the best epoch
    spec = charts.epoch_chart(epochs, "loss")
    assert spec["title"] == "Loss per epoch"
    assert spec["datasets"][spec["data"]["name"]].equals(frame)  # drawn with its rows from the start
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "point", "rule"]
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["train", "validation"]
    assert spec["layer"][2]["transform"][0] == {"filter": "datum.best"}
    spec["layer"][0]["mark"]["type"] = "changed by a caller"
    assert charts.epoch_chart(epochs, "loss")["layer"][0]["mark"]["type"] == "line"
    alone_epochs = [{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.5}]
    alone = charts.epoch_chart_frame(alone_epochs, "loss")
    assert alone["split"].tolist() == ["train"] * 2 and alone["best"].tolist() == [True, False]
    assert charts.epoch_chart(alone_epochs, "loss")["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["train"]


def test_batch_chart_shows_raw_and_smoothed_per_batch_loss():
    batches = [{"step": step, "epoch": 1, "loss": 2.0 / step, "accuracy": 0.5} for step in range(1, 41)]
    batches.insert(5, {"step": 99, "epoch": 1, "loss": math.inf})  # not drawn
    frame = charts.batch_frame(batches, "loss")
    assert frame["batch"].tolist() == list(range(1, 41))
    assert np.allclose(frame["smoothed"], charts.smooth(frame["raw"], charts.smoothing_weight(40)))
    spec = charts.batch_chart(batches, "loss")
    assert spec["title"] == "Loss per batch (train)"
    assert [(layer["mark"]["type"], layer["encoding"]["y"]["field"]) for layer in spec["layer"]] == [
        ("line", "raw"), ("line", "smoothed")]
    # The rows are a named dataset, which Streamlit puts into the chart it creates (its unnamed data comes only
    # after Vega has drawn the chart once without rows, and warned "Infinite extent")
    assert spec["datasets"][spec["data"]["name"]].equals(frame)
    spec["layer"][0]["mark"]["type"] = "changed by a caller"
    assert charts.batch_chart(batches, "loss")["layer"][0]["mark"]["type"] == "line"  # each call gets its own copy


def test_confusion_chart_has_a_cell_for_every_pair_and_a_click_selection():
    matrix = np.arange(100).reshape(10, 10)
    spec = charts.confusion_chart(matrix).to_dict()
    cells = next(iter(spec["datasets"].values()))
    assert len(cells) == 100
    assert {(cell["true"], cell["predicted"]): cell["count"] for cell in cells}[(3, 5)] == 35
    params = spec.get("params", []) + [param for layer in spec["layer"] for param in layer.get("params", [])]
    assert [param["name"] for param in params] == [charts.CONFUSION_SELECTION]


def test_the_probability_chart_is_one_spec_built_once_with_the_rows_of_each_prediction():
    frame = charts.probability_frame(np.eye(10)[7] * 0.9 + 0.01)
    assert list(frame["digit"]) == [str(digit) for digit in range(10)] and frame["probability"].sum() == 1.0
    assert list(frame.loc[frame["predicted"], "digit"]) == ["7"]
    spec = charts.probability_chart(np.eye(10)[7] * 0.9 + 0.01)
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert {spec["encoding"][axis]["field"] for axis in ("x", "y")} == set(frame.columns) - {"predicted"}
    assert "predicted" in spec["encoding"]["color"]["condition"]["test"]
    assert spec["datasets"][spec["data"]["name"]].equals(frame)  # rows inside the chart: Vega never draws it empty
    spec["mark"]["type"] = "line"
    assert charts.probability_chart(np.eye(10)[1])["mark"]["type"] == "bar"  # each caller gets its own copy


def test_progress_label_and_durations_read_naturally():
    assert progress.progress_label(2, 5, 1234.4, 12.2) == "Epoch 2/5 · 1,234 samples/s · ETA 12 s"
    assert progress.progress_label(1, 5, 10.0, math.nan).endswith("ETA …")
    assert progress.format_seconds(185) == "3 min 05 s"
    assert progress.format_seconds(3720) == "1 h 02 min"


def test_pictures_are_sharp_enlargements_overlays_and_grids():
    image = np.zeros((28, 28), dtype=np.float32)
    image[10:18, 12:16] = 1.0
    big = pictures.enlarge(image, 8)
    assert big.shape == (224, 224) and big.dtype == np.uint8 and set(np.unique(big)) == {0, 255}
    overlay = pictures.saliency_overlay(image, np.eye(28))
    assert overlay.shape == (28, 28, 3) and overlay.dtype == np.uint8
    assert tuple(overlay[0, 0]) == tuple(pictures.SALIENCY_COLOUR.astype(np.uint8))
    grid = pictures.feature_map_grid(np.random.default_rng(0).random((12, 12, 10)), columns=4)
    assert grid.shape == (3 * 13 - 1, 4 * 13 - 1)


def test_few_batches_are_not_smoothed_many_are():
    assert charts.smoothing_weight(5) == 0.0
    assert charts.smoothing_weight(20) == pytest.approx(0.5)
    assert charts.smoothing_weight(10_000) == charts.SMOOTHING


def test_smoothing_equals_tensorboards_debiased_average_written_out():
    values, weight = np.random.default_rng(0).normal(size=50), 0.8
    average, expected = 0.0, []
    for position, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        expected.append(average / (1 - weight ** (position + 1)))
    np.testing.assert_allclose(charts.smooth(values, weight), expected)


def test_comparison_puts_the_legend_under_the_plot_and_goes_logarithmic_only_for_runs_of_very_different_lengths():
    def rows(count):
        return [{"epoch": epoch, "accuracy": 0.9, "loss": 0.3} for epoch in range(1, count + 1)]

    similar = charts.comparison_chart({"a": rows(3), "b": rows(5)}, "accuracy").to_dict()
    lines = similar["layer"][0]["encoding"]
    assert lines["x"].get("scale", {}).get("type") is None
    assert lines["color"]["legend"]["orient"] == "bottom"
    assert lines["color"]["scale"]["scheme"] == "tableau10"  # ten clearly different colours
    assert lines["strokeDash"]["legend"]["orient"] == "top"  # beside the runs' legend, it ran off a phone's screen
    assert similar["autosize"]["type"] == "fit-x"  # the legends take no height from the plot
    apart = charts.comparison_chart({"short": rows(2), "long": rows(30)}, "loss").to_dict()
    x = apart["layer"][0]["encoding"]["x"]
    assert x["scale"] == {"type": "log", "nice": False} and "log" in x["title"]  # ends at the longest run, not 100
