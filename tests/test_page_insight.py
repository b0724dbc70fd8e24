"""The Insight page in Streamlit's AppTest with real MNIST and real Keras models: every view renders, the map is
drawn (logits for softmax regression), the robustness lab sweeps two models in the background and its severity 0
equals their accuracy, the weights are the class templates, and the ECE shown is the engine's."""

from __future__ import annotations

import json
import time

import pytest

from helpers import PROJECT

RUN_TIMEOUT_S = 120
SWEEP_TIMEOUT_S = 120
UNEXPECTED_ERROR = "Something went wrong on this page"


def save(registry, model, run_id: str, config: dict | None = None) -> None:
    from mnist_core.store.records import RunRecord

    record = RunRecord(id="", name=run_id, architecture="custom", spec=[], config=config, status="finished",
                       created="", params=int(model.count_params()))
    registry.save_run(model, record, run_id=run_id)


@pytest.fixture()
def models(registry, small_dense_model):
    """The temporary registry with the small dense net as its default model and an untrained softmax regression."""
    from mnist_core.model.architectures import build_model
    from mnist_core.model.config import TrainConfig
    from mnist_core.store.registry import DEFAULT_ID

    save(registry, small_dense_model, DEFAULT_ID, TrainConfig(subset_size=3000, validation_split=0.2).to_dict())
    save(registry, build_model([]), "linear")
    return registry


def open_insight(view: str | None = None):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT / "navigation.py"), default_timeout=RUN_TIMEOUT_S)
    app.switch_page("app_pages/insight/insight.py")
    app.run()
    if view is not None:
        app.button_group(key="InsightChoices.view").set_value(view).run()
    return app


def pick_model(app, run_id: str) -> None:
    next(box for box in app.selectbox if box.label == "Model").set_value(run_id).run()


def assert_rendered(app) -> None:
    assert not app.exception, [exception.value for exception in app.exception]
    assert not any(UNEXPECTED_ERROR in str(error.value) for error in app.error), [e.value for e in app.error]


def charts(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def drawn(app) -> list[dict]:
    """The page's charts once the map task has ended (the page reruns as a user's browser would)."""
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while not charts(app) and not app.error and time.monotonic() < deadline:
        time.sleep(0.5)
        app.run()
    return charts(app)


def test_map_of_the_default_model_and_logits_for_softmax_regression(models):
    app = open_insight()
    assert_rendered(app)
    [spec] = drawn(app)
    assert spec["title"].startswith("PCA of dense") and "2,000 test images" in spec["title"]
    app.selectbox(key="InsightChoices.points").set_value(1000).run()
    app.radio(key="InsightChoices.space").set_value("raw pixels (no model)").run()
    assert_rendered(app)
    assert drawn(app)[0]["title"] == "PCA of raw pixels · 1,000 test images"
    pick_model(app, "linear")
    app.radio(key="InsightChoices.space").set_value("the model's last hidden layer").run()
    assert_rendered(app)
    drawn(app)
    assert any("no hidden layer" in info.value for info in app.info)
    assert charts(app)[0]["title"].startswith("PCA of logits")


def test_tsne_map_is_computed_in_the_background_then_drawn(models):
    app = open_insight()
    app.selectbox(key="InsightChoices.points").set_value(1000)
    app.radio(key="InsightChoices.projection").set_value("t-SNE").run()
    assert_rendered(app)
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while not charts(app) and time.monotonic() < deadline:  # the first runs show the progress bar only
        time.sleep(1)
        app.run()
    assert_rendered(app)
    title = charts(app)[0]["title"]
    assert title.startswith("t-SNE of dense") and title.endswith("· 1,000 test images"), title
    assert any(caption.value.startswith("t-SNE took") for caption in app.caption)


def test_robustness_lab_sweeps_two_models_and_starts_at_their_accuracy(models, mnist):
    from mnist_core.insight.embedding import sample_indices
    from mnist_core.model.evaluation import evaluate

    app = open_insight("Robustness lab")
    app.multiselect(key="InsightChoices.lab_models").select("linear")
    app.multiselect(key="InsightChoices.transforms").set_value(["rotate", "blur"])
    app.selectbox(key="InsightChoices.sample").set_value(500).run()
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while not app.dataframe and time.monotonic() < deadline:  # the sweeps run in background threads
        time.sleep(1)
        app.run()
    assert_rendered(app)
    specs = [spec for spec in charts(app) if spec.get("title") in ("rotate", "blur")]
    assert [spec["title"] for spec in specs] == ["rotate", "blur"]
    table = app.dataframe[0].value
    assert len(table.columns) == 2  # one column (one curve) per model
    indices = sample_indices(mnist.y_test, 500)
    for column, run_id in zip(table.columns, ["default", "linear"], strict=True):
        assert column.endswith(f"({run_id})")
        model = models.load_model(run_id)
        plain = evaluate(model, mnist.x_test[indices], mnist.y_test[indices]).accuracy
        assert table.loc[("rotate", 0.0), column] == pytest.approx(plain)
        assert table.loc[("blur", 0.0), column] == pytest.approx(plain)

    app.button_group(key="InsightChoices.view").set_value("Weights").run()  # away to another view, and back
    app.button_group(key="InsightChoices.view").set_value("Robustness lab").run()
    assert app.multiselect(key="InsightChoices.lab_models").value == ["default", "linear"]
    assert app.multiselect(key="InsightChoices.transforms").value == ["rotate", "blur"]
    assert app.selectbox(key="InsightChoices.sample").value == 500
    assert app.dataframe and not app.get("progress")  # the kept results at once, nothing computed again


def test_weights_of_softmax_regression_are_ten_templates(models):
    app = open_insight()
    pick_model(app, "linear")
    app.button_group(key="InsightChoices.view").set_value("Weights").run()
    assert_rendered(app)
    assert any("one template per digit" in markdown.value for markdown in app.markdown)
    assert any(caption.value.startswith("Layer dense") and ": 10 pictures" in caption.value for caption in app.caption)


def test_confidence_shows_the_engines_ece_before_and_after_temperature(models, mnist):
    from mnist_core.insight.calibration import expected_calibration_error
    from mnist_core.model.evaluation import predict_probabilities

    app = open_insight("Confidence")
    assert_rendered(app)
    probabilities = predict_probabilities(models.load_model("default"), mnist.x_test)
    metric = next(metric for metric in app.metric if metric.label == "ECE on the test set")
    assert metric.value == f"{expected_calibration_error(probabilities, mnist.y_test):.4f}"
    app.checkbox(key="InsightChoices.temperature").check().run()
    app.multiselect(key="InsightChoices.confidence_models").select("linear").run()
    assert_rendered(app)
    labels = [metric.label for metric in app.metric]
    assert labels.count("ECE on the test set") == 2
    assert any(label.startswith("ECE after temperature scaling (T = ") for label in labels)
    assert any("no validation split" in info.value for info in app.info)  # the linear run has no settings


def test_without_a_data_set_the_page_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "missing.npz"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no Keras cache to fall back on either
    app = open_insight()
    assert_rendered(app)
    assert any("No data set" in error.value for error in app.error)
    assert not charts(app)
