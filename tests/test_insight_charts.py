"""The Insight charts as Vega-Lite: the map's click selection carries the test index, misclassified points are
crosses, hover shows what the issue asks; one line per model in robustness curves; the reliability bars."""

import numpy as np
import pandas as pd

from mnist_core.insight.charts import POINT_SELECTION, embedding_chart, reliability_chart, robustness_chart
from mnist_core.insight.embedding import map_frame


def test_map_selects_by_index_and_marks_errors_with_crosses():
    probabilities = np.eye(10)[[7, 3, 5]] * 0.9 + 0.01
    frame = map_frame(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), np.array([11, 22, 33]), np.array([1, 3, 5]),
                      probabilities)
    spec = embedding_chart(frame, "PCA of dense").to_dict()
    selection = next(param for param in spec["params"] if param["name"] == POINT_SELECTION)
    assert selection["select"]["fields"] == ["index"] and selection["select"]["on"] == "click"
    encoding = spec["encoding"]
    assert encoding["color"]["field"] == "true"
    assert encoding["shape"]["field"] == "wrong" and encoding["shape"]["scale"]["range"] == ["circle", "cross"]
    assert [item["field"] for item in encoding["tooltip"]] == ["index", "true", "predicted", "confidence"]
    values = next(iter(spec["datasets"].values()))
    assert [(row["index"], row["wrong"]) for row in values] == [(22, False), (33, False), (11, True)]  # errors on top


def test_pixel_map_has_no_prediction_fields():
    frame = map_frame(np.zeros((2, 2)), np.array([1, 2]), np.array([0, 1]))
    encoding = embedding_chart(frame, "PCA of raw pixels").to_dict()["encoding"]
    assert "shape" not in encoding and [item["field"] for item in encoding["tooltip"]] == ["index", "true"]


def test_robustness_chart_draws_one_line_per_model():
    frame = pd.DataFrame({"model": ["a", "a", "b", "b"], "severity": [0, 20, 0, 20],
                          "accuracy": [0.9, 0.5, 0.95, 0.7]})
    spec = robustness_chart(frame, "rotate", "degrees").to_dict()
    assert spec["encoding"]["color"]["field"] == "model" and spec["encoding"]["x"]["title"] == "degrees"
    assert spec["encoding"]["y"]["scale"]["domain"] == [0, 1] and spec["title"] == "rotate"
    assert spec["encoding"]["x"]["axis"]["values"] == [0, 20]  # a tick at each severity tried
    assert spec["autosize"]["type"] == "fit-x"  # the plot keeps its height whatever the legend takes


def test_reliability_chart_has_bins_the_diagonal_and_the_count_of_each_bin_beneath():
    table = pd.DataFrame({"lower": [0.8], "upper": [0.9], "count": [5], "confidence": [0.85], "accuracy": [0.6]})
    spec = reliability_chart(table, "as trained").to_dict()
    diagram, counts = spec["vconcat"]
    assert counts["encoding"]["y"]["field"] == "count" and counts["encoding"]["x2"]["field"] == "upper"
    assert counts["encoding"]["y"]["scale"]["type"] == "symlog"
    bars, diagonal = diagram["layer"]
    assert bars["encoding"]["x"]["field"] == "lower" and bars["encoding"]["x2"]["field"] == "upper"
    assert bars["encoding"]["y"]["field"] == "accuracy"
    assert diagonal["mark"]["type"] == "line"
