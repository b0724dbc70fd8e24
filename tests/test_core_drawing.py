"""Canvas drawings and image files become MNIST-style inputs; checked against MNIST itself."""

import io
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from faults_helpers import child_env, huge_black_png
from helpers import PROJECT, rgba_canvas
from mnist_core.data.drawing import (
    MAX_DRAWING_BYTES,
    PNG_SIGNATURE,
    EmptyImageError,
    ImageInputError,
    image_file_to_mnist,
    image_from_drawing_png,
    to_mnist,
)
from mnist_core.model.evaluation import ImagePredictor


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


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
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


# --- images -----------------------------------------------------------------------------------------------------------


def digit_image(mnist, index: int = 0, size: int = 140, invert: bool = False) -> Image.Image:
    pixels = mnist.x_test[index]
    return Image.fromarray(255 - pixels if invert else pixels).resize((size, size), Image.Resampling.BILINEAR)


def assert_valid_input(result: np.ndarray) -> None:
    assert result.shape == (28, 28) and result.dtype == np.float32 and np.isfinite(result).all()
    assert result.min() >= 0.0 and result.max() == 1.0


def canvas(fill=(0, 0, 0, 0), size=280) -> np.ndarray:
    return np.tile(np.array(fill, np.uint8), (size, size, 1))


def dot_canvas():
    drawing = canvas()
    drawing[138:142, 138:142] = 255
    return drawing


REFUSED_IMAGES = {
    "empty-canvas": (lambda mnist: canvas(), EmptyImageError, "nothing is drawn"),
    "single-dot": (lambda mnist: dot_canvas(), EmptyImageError, "only a speck"),
    "white-canvas": (lambda mnist: canvas((255, 255, 255, 255)), EmptyImageError, "nothing is drawn"),
    "white-png": (lambda mnist: encoded(Image.new("RGB", (200, 200), "white")), EmptyImageError, "nothing is drawn"),
    "black-png": (lambda mnist: encoded(Image.new("L", (200, 200), 0)), EmptyImageError, "nothing is drawn"),
    "1x1-png": (lambda mnist: encoded(Image.new("L", (1, 1), 255)), ImageInputError, "only 1×1 pixels"),
    "1x5000-png": (lambda mnist: encoded(Image.new("L", (1, 5000), 0)), ImageInputError, "only 1×5000 pixels"),
    "truncated-png": (lambda mnist: encoded(digit_image(mnist))[:300], ImageInputError, "damaged or truncated"),
    "text-as-png": (lambda mnist: b"This is a text file with a .png name.\n", ImageInputError, "not an image"),
    "empty-file": (lambda mnist: b"", ImageInputError, "not an image"),
    "empty-array": (lambda mnist: np.zeros((0, 0, 4), np.uint8), ImageInputError, "shape"),
    "1d-array": (lambda mnist: np.zeros(784, np.uint8), ImageInputError, "shape"),
}


@pytest.mark.parametrize("case", REFUSED_IMAGES)
def test_images_without_a_digit_are_refused_with_a_clear_message(case, mnist):
    build, error_type, message = REFUSED_IMAGES[case]
    source = build(mnist)
    convert = image_file_to_mnist if isinstance(source, bytes) else to_mnist
    with pytest.raises(error_type) as error:
        convert(source)
    assert message in str(error.value)


def animated_gif(mnist) -> bytes:
    first, second = digit_image(mnist, 0), Image.new("L", (140, 140), 0)
    return encoded(first, "GIF", save_all=True, append_images=[second, digit_image(mnist, 1)], duration=100, loop=0)


ACCEPTED_IMAGES = {  # each must read like the plain PNG of the same digit
    "animated-gif-first-frame": animated_gif,
    "cmyk-jpeg": lambda mnist: encoded(digit_image(mnist).convert("CMYK"), "JPEG", quality=95),
    "16-bit-png": lambda mnist: encoded(Image.fromarray(np.asarray(digit_image(mnist), np.uint16) * 257)),
    "palette-png": lambda mnist: encoded(digit_image(mnist).convert("P")),
    "white-ink-on-transparent-png": lambda mnist: encoded(Image.merge("RGBA", [Image.new("L", (140, 140), 255)] * 3
                                                                      + [digit_image(mnist)])),
    "black-ink-on-transparent-png": lambda mnist: encoded(Image.merge("RGBA", [Image.new("L", (140, 140), 0)] * 3
                                                                      + [digit_image(mnist)])),
    "grey-alpha-png": lambda mnist: encoded(digit_image(mnist).convert("LA")),
    "1-bit-png": lambda mnist: encoded(digit_image(mnist).point(lambda v: 255 if v > 100 else 0).convert("1")),
    "dark-on-light-png": lambda mnist: encoded(digit_image(mnist, invert=True)),
    "int64-array": lambda mnist: np.asarray(digit_image(mnist), np.int64),
    "float-0-1-array": lambda mnist: np.asarray(digit_image(mnist), np.float64) / 255.0,
    "bool-array": lambda mnist: np.asarray(digit_image(mnist)) > 100,
    "one-channel-array": lambda mnist: np.asarray(digit_image(mnist))[..., None],
}


@pytest.mark.parametrize("case", ACCEPTED_IMAGES)
def test_unusual_but_valid_images_give_the_same_mnist_input(case, mnist):
    source = ACCEPTED_IMAGES[case](mnist)
    result = image_file_to_mnist(source) if isinstance(source, bytes) else to_mnist(source)
    assert_valid_input(result)
    reference = image_file_to_mnist(encoded(digit_image(mnist)))
    correlation = np.corrcoef(result.ravel(), reference.ravel())[0, 1]
    assert correlation > (0.9 if case in ("1-bit-png", "bool-array") else 0.98), correlation


def test_gigantic_pngs_are_refused_at_once_without_being_decoded(tmp_path):
    """10000² passes Pillow's own bomb check (a warning only) but not ours; 30000² trips Pillow's hard limit."""
    sides = (10_000, 30_000)
    for side in sides:
        content = huge_black_png(side)  # a valid, fully decodable PNG
        assert len(content) < 2_000_000 and content[12:24] == b"IHDR" + struct.pack(">II", side, side)
        (tmp_path / f"{side}.png").write_bytes(content)
    script = (
        "import json, resource, sys, time\n"
        "from mnist_core.data.drawing import ImageInputError, image_file_to_mnist\n"
        "for path in sys.argv[1:]:\n"
        "    content = open(path, 'rb').read()\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    started = time.perf_counter()\n"
        "    try:\n"
        "        image_file_to_mnist(content); outcome = 'accepted'\n"
        "    except ImageInputError as error:\n"
        "        outcome = str(error)\n"
        "    print(json.dumps({'outcome': outcome, 'seconds': time.perf_counter() - started,\n"
        "                      'grew_mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))\n")
    done = subprocess.run([sys.executable, "-c", script, *(str(tmp_path / f"{side}.png") for side in sides)],
                          capture_output=True, text=True, cwd=PROJECT, env=child_env(), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    for side, line in zip(sides, done.stdout.splitlines(), strict=True):
        result = json.loads(line)
        outcome = result["outcome"]
        assert "megapixels" in outcome and (f"{side}×{side}" in outcome or f"{side * side} pixels" in outcome), result
        assert result["seconds"] < 1.0 and result["grew_mb"] < 50, result


def test_a_dark_on_light_png_predicts_like_light_on_dark(mnist, small_dense_model):
    predictor = ImagePredictor(small_dense_model)
    indices = range(12)
    light = np.stack([image_file_to_mnist(encoded(digit_image(mnist, i))) for i in indices])
    dark = np.stack([image_file_to_mnist(encoded(digit_image(mnist, i, invert=True).convert("RGB")))
                     for i in indices])
    np.testing.assert_allclose(dark, light, atol=1e-5)
    light_digits, dark_digits = predictor.batch(light).argmax(axis=1), predictor.batch(dark).argmax(axis=1)
    assert (light_digits == dark_digits).all()
    assert (dark_digits == mnist.y_test[:12]).mean() >= 0.75


def test_the_drawing_pads_picture_is_read_back_pixel_for_pixel(mnist):
    drawing = rgba_canvas(mnist.x_test[0])
    assert np.array_equal(np.asarray(image_from_drawing_png(encoded(Image.fromarray(drawing)))), drawing)


HOSTILE_PAD_PICTURES = {
    "text-not-bytes": ("<script>alert(1)</script>", "not as a picture"),
    "plain-text": (b"plain text, not a picture", "did not arrive as a PNG"),
    "gif": (encoded(Image.new("L", (280, 280)), "GIF"), "did not arrive as a PNG"),
    "jpeg": (encoded(Image.new("RGB", (280, 280)), "JPEG"), "did not arrive as a PNG"),
    "png-signature-then-garbage": (PNG_SIGNATURE + b"\x00" * 64, "not an image that can be read"),
    "truncated-png": (encoded(Image.fromarray(np.eye(280, dtype=np.uint8) * 255))[:300], "damaged or truncated"),
    "too-large": (PNG_SIGNATURE + bytes(MAX_DRAWING_BYTES), "bytes; at most"),
    "too-many-pixels": (huge_black_png(6_000), "6000×6000 pixels; at most 25 megapixels"),
    "decompression-bomb": (huge_black_png(20_000), "too large"),
}


@pytest.mark.parametrize("case", HOSTILE_PAD_PICTURES)
def test_a_hostile_drawing_pad_picture_is_refused_with_a_clear_message(case):
    content, message = HOSTILE_PAD_PICTURES[case]
    with pytest.raises(ImageInputError, match=message):
        image_from_drawing_png(content)
