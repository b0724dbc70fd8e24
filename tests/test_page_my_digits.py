"""The My digits page and the Draw page's "That was a N" button in Streamlit's AppTest, with real MNIST, a small
CNN trained for real as the default model, the real job runner and drawings of the test hand (tests/stroke_hand.py)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from app_pages.shared.text import plain
from helpers import PAD_KEY, assert_rendered, canvas_state, open_page, texts, widget
from mnist_core.data.drawing import to_mnist
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.registry import DEFAULT_ID
from stroke_hand import hand

FINETUNE_TIMEOUT_S = 180


@pytest.fixture()
def filled(model_registry):
    """Three drawings per digit of the test hand in My digits."""
    collection = MyDigits(model_registry)
    canvases, labels = hand(3, seed=21)
    for canvas, label in zip(canvases, labels, strict=True):
        collection.add(int(label), to_mnist(canvas), canvas)
    return collection


def test_an_empty_set_explains_how_to_fill_it_and_cannot_be_fine_tuned(data_set, model_registry):
    app = open_page("my_digits")
    assert_rendered(app)
    assert any("No drawings yet" in text for text in texts(app.info))
    assert any("add at least 5 first" in text for text in texts(app.warning))
    assert widget(app.button, "Fine-tune").disabled


def test_the_set_and_the_default_models_scores_agree_with_an_independent_count(data_set, filled, small_cnn_model):
    from mnist_core.model.evaluation import evaluate

    app = open_page("my_digits")
    assert_rendered(app)
    counts = app.dataframe[0].value
    assert counts.loc[0, "total"] == 30 and counts.loc[0, "7"] == 3
    assert counts.loc[1, "total"] == filled.counts()["held_out"]
    images, labels = filled.arrays()
    expected = evaluate(small_cnn_model, images, labels)
    scores = app.dataframe[1].value
    assert scores.loc[0, "my digits"] == pytest.approx(expected.accuracy)
    assert scores.loc[0, "7"] == pytest.approx((expected.predicted[labels == 7] == 7).mean())


def test_removing_drawings(data_set, filled):
    app = open_page("my_digits")
    doomed = [item.id for item in filled.items()[:2]]
    widget(app.multiselect, "Drawings to remove").set_value(doomed)
    app.run()
    widget(app.button, "Remove").click().run()
    assert_rendered(app)
    assert len(filled.items()) == 28 and not {item.id for item in filled.items()} & set(doomed)


def test_fine_tune_runs_through_the_job_runner_and_shows_before_and_after(data_set, filled, model_registry):
    app = open_page("my_digits")
    widget(app.number_input, "Epochs").set_value(1)
    widget(app.button, "Fine-tune").click().run()
    deadline = time.monotonic() + FINETUNE_TIMEOUT_S
    while not any("MNIST test" == metric.label for metric in app.metric) and time.monotonic() < deadline:
        time.sleep(1)
        app.run()
    assert_rendered(app)
    tuned = [record for record in model_registry.list_runs() if record.parent == DEFAULT_ID]
    assert len(tuned) == 1
    assert widget(app.metric, "MNIST test").value == f"{tuned[0].test_accuracy:.2%}"
    assert any(plain(tuned[0].id) in text for text in texts(app.caption))
    held_out = tuned[0].finetune["held_out"]
    assert held_out < 20 and any(text.startswith(f"Only {held_out} held-out drawings") for text in texts(app.caption))
    links = {link.proto.label: link.proto.query_string for link in app.get("page_link")}
    assert links["Try it on the Draw page"] == f"run={tuned[0].id}"  # Draw opens on the fine-tuned model
    assert links["See its mistakes on the Errors page"] == f"run={tuned[0].id}"
    titles = [json.loads(chart.proto.spec)["title"] for chart in app.get("vega_lite_chart")]  # the live panel's
    assert "Loss per batch (train)" in titles, titles  # curves, as on the Train page


def test_a_change_that_rounds_to_zero_is_shown_grey_without_an_arrow():
    from app_pages.shared.outcome import change

    assert change(0.8, 0.8, 1) == {"delta": "±0.0 points from 80.0%", "delta_color": "off", "delta_arrow": "off"}
    assert change(0.80004, 0.8, 1)["delta_color"] == "off"  # +0.004 points: "+0.0" at the precision shown
    assert change(0.85, 0.8, 1) == {"delta": "+5.0 points from 80.0%", "delta_color": "normal", "delta_arrow": "auto"}


def test_draw_page_files_a_drawing_under_its_true_digit(data_set, model_registry):
    canvases, labels = hand(1, seed=22)
    canvas = canvases[7]
    app = open_page("draw", {PAD_KEY: canvas_state(canvas)})
    assert_rendered(app)
    widget(app.selectbox, "True digit").set_value(7)
    app.run()
    widget(app.button, "That was a 7: add to My digits").click().run()
    assert_rendered(app)
    (item,) = MyDigits(model_registry).items()
    assert item.label == 7
    np.testing.assert_allclose(MyDigits(model_registry).image(item.id), to_mnist(canvas), atol=1e-6)
    assert any("Added to My digits as a 7" in text for text in texts(app.success))
    assert any(text.startswith("Draw a digit") for text in texts(app.info)), "the pad is not clean for the next digit"
    assert not [metric for metric in app.metric if metric.label == "Prediction"]

    app.session_state[PAD_KEY.replace(".0", ".1")] = canvas_state(canvas)  # the very same input again, as a press
    app.run()  # that came in before the clean pad showed would file it
    widget(app.selectbox, "True digit").set_value(7)
    app.run()
    widget(app.button, "That was a 7: add to My digits").click().run()
    assert_rendered(app)
    assert len(MyDigits(model_registry).items()) == 1, "one drawing was filed twice"
