"""Canvas drawings and image files become MNIST-style inputs; checked against MNIST itself."""

import io

import numpy as np
import pytest
from PIL import Image

from helpers import rgba_canvas
from mnist_core.drawing import EmptyImageError, ImageInputError, image_file_to_mnist, to_mnist
from mnist_core.evaluation import ImagePredictor


def test_upscaled_mnist_digits_keep_their_predicted_label(small_cnn_model, test_sample):
    images, _ = test_sample
    predictor = ImagePredictor(small_cnn_model)
    sample = images[:200]
    original = predictor.batch(sample).argmax(axis=1)
    redrawn = predictor.batch(np.stack([to_mnist(rgba_canvas(image)) for image in sample])).argmax(axis=1)
    assert (original == redrawn).mean() >= 0.95


def test_output_is_mnist_shaped_centred_and_scaled(test_sample):
    digit = to_mnist(rgba_canvas(test_sample[0][0]))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == 1.0
    rows, cols = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() <= 21 and cols.max() - cols.min() <= 21
    centre = np.array([(np.indices(digit.shape)[axis] * digit).sum() / digit.sum() for axis in (0, 1)])
    assert np.all(np.abs(centre - 14) <= 1.0)


def test_dark_ink_on_white_paper_reads_like_white_ink_on_black(test_sample):
    light_on_dark = np.stack([test_sample[0][1]] * 3, axis=-1)
    dark_on_light = 255 - light_on_dark
    np.testing.assert_allclose(to_mnist(dark_on_light), to_mnist(light_on_dark), atol=1e-5)


def test_uploaded_png_of_a_digit_is_accepted(test_sample):
    buffer = io.BytesIO()
    Image.fromarray(test_sample[0][2]).resize((200, 200)).save(buffer, format="PNG")
    assert image_file_to_mnist(buffer.getvalue()).shape == (28, 28)


@pytest.mark.parametrize("canvas", [
    np.zeros((280, 280, 4), np.uint8),  # nothing drawn
    np.pad(np.full((6, 6, 4), 255, np.uint8), ((137, 137), (137, 137), (0, 0))),  # a single dot
], ids=["empty", "dot"])
def test_empty_or_nearly_empty_drawings_are_not_guessed_at(canvas):
    with pytest.raises(EmptyImageError):
        to_mnist(canvas)


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def float_digit(test_sample, nan_rows: int = 0) -> Image.Image:
    """MNIST test digit 0 as a 140×140 float image in [0, 1] (mode F), its top ``nan_rows`` rows NaN."""
    pixels = Image.fromarray(test_sample[0][0].astype(np.float32) / 255.0).resize((140, 140), Image.Resampling.BILINEAR)
    values = np.asarray(pixels).copy()
    values[:nan_rows] = np.nan
    return Image.fromarray(values)


@pytest.mark.parametrize("image, reason", [
    (Image.fromarray(np.zeros((100, 100), np.uint16)), "every pixel has the shade of its background"),
    (Image.fromarray(np.full((100, 100), np.nan, np.float32)), "no usable pixels: every one is NaN"),
    (Image.fromarray(np.pad(np.full((40, 40), 20, np.uint8), 30)), "differ from the background by at most 8%"),
], ids=["all-black-16-bit-png", "all-nan-float-tiff", "faint-grey-square"])
def test_an_uploaded_image_without_a_digit_says_why_not_how_to_draw(image, reason):
    with pytest.raises(ImageInputError) as error:
        image_file_to_mnist(encoded(image, "TIFF" if image.mode == "F" else "PNG"))
    assert reason in str(error.value) and "draw a digit" not in str(error.value)


def test_nan_pixels_count_as_background_and_keep_the_strokes(test_sample, small_cnn_model):
    clean = image_file_to_mnist(encoded(float_digit(test_sample), "TIFF"))
    with_nans = image_file_to_mnist(encoded(float_digit(test_sample, nan_rows=30), "TIFF"))  # above the digit
    np.testing.assert_allclose(with_nans, clean, atol=1e-6)
    predictor = ImagePredictor(small_cnn_model)
    assert predictor.probabilities(with_nans).argmax() == test_sample[1][0] == 7
