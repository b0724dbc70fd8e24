"""Hostile uploads in the real app: a model whose config calls a Keras function while it is rebuilt is refused on
the Models page with what was found, and the same server then still predicts an uploaded MNIST digit on Draw; an
image with nothing usable gets its reason, not the drawing hint; a header-only CSV is told it has no rows."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from crafted_files import SET_EPSILON, edited, functional_model, header_only_csv, keras_bytes, side_node
from e2e_helpers import (
    APP_TIMEOUT_MS,
    assert_no_exception,
    dataframe_row,
    error_alert,
    metric,
    open_app,
    screenshot,
    upload,
    wait_for_app_idle,
)

pytestmark = pytest.mark.e2e


def mnist_digit_png(mnist, index: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mnist.x_test[index]).resize((140, 140), Image.Resampling.BILINEAR).save(buffer, format="PNG")
    return buffer.getvalue()


def test_hostile_uploads_are_refused_and_the_server_still_predicts(page, app_server, requests_seen, tmp_path, mnist):
    hostile = tmp_path / "side-function.keras"
    hostile.write_bytes(edited(keras_bytes(functional_model(), tmp_path), side_node(
        {"module": "keras.layers", "class_name": "Activation", "registered_name": None,
         "config": {"name": "side", "activation": SET_EPSILON}})))
    digit = tmp_path / "seven.png"
    digit.write_bytes(mnist_digit_png(mnist))  # MNIST test image 0 is a 7
    blank = tmp_path / "black-16-bit.png"
    Image.fromarray(np.zeros((100, 100), np.uint16)).save(blank)
    empty_csv = tmp_path / "test.csv"
    empty_csv.write_bytes(header_only_csv())

    open_app(page, app_server.url, "models", ready_text="Upload a .keras model")
    upload(page, "Upload a .keras model", hostile)
    refused = error_alert(page, "side-function.keras was refused")
    expect(refused).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(refused).to_contain_text("a reference to the function keras.config.set_epsilon")
    wait_for_app_idle(page)
    expect(dataframe_row(page, "side-function")).to_have_count(0)
    assert_no_exception(page)
    screenshot(page, "test_hostile_uploads-models")

    open_app(page, app_server.url, "draw", ready_text="Or upload an image")
    upload(page, "Or upload an image", digit)
    expect(metric(page, "Prediction")).to_have_text("7", timeout=APP_TIMEOUT_MS)
    wait_for_app_idle(page)
    screenshot(page, "test_hostile_uploads-draw-after")
    upload(page, "Or upload an image", blank)
    unusable = error_alert(page, "That picture cannot be used")
    expect(unusable).to_contain_text("every pixel has the shade of its background", timeout=APP_TIMEOUT_MS)
    expect(metric(page, "Prediction")).to_have_count(0)
    assert_no_exception(page)
    screenshot(page, "test_hostile_uploads-draw-blank")

    open_app(page, app_server.url, "kaggle", ready_text="Upload Kaggle test.csv")
    upload(page, "Upload Kaggle test.csv", empty_csv)
    expect(page.get_by_text("a header but no rows").first).to_be_visible(timeout=APP_TIMEOUT_MS)
    assert_no_exception(page)
    screenshot(page, "test_hostile_uploads-kaggle")
    requests_seen.assert_all_local()
