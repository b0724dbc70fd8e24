"""The robustness lab against independent oracles: each warp checked on pictures whose result is known (rotation
by 0 is the identity, by 90° is NumPy's rot90, an integer shift is a padded slice, ...), and severity 0 of the
sweep equal to the model's plain accuracy from ``evaluate``."""

import numpy as np
import pytest

from mnist_core.insight.robustness import (
    TRANSFORMS,
    as_unit_floats,
    blur,
    example_strip,
    noise,
    occlusion,
    robustness_curves,
    rotate,
    scale,
    shift,
    thickness,
    transforms_named,
)


@pytest.fixture(scope="module")
def digits(mnist):
    return as_unit_floats(mnist.x_test[:8])


def test_rotation_by_zero_is_the_identity_and_by_90_is_rot90(digits):
    np.testing.assert_allclose(rotate(digits, 0), digits, atol=1e-6)
    np.testing.assert_allclose(rotate(digits, 90), np.rot90(digits, k=1, axes=(1, 2)), atol=1e-5)


def test_integer_shift_moves_every_pixel_right(digits):
    expected = np.zeros_like(digits)
    expected[:, :, 3:] = digits[:, :, :-3]
    np.testing.assert_allclose(shift(digits, 3), expected, atol=1e-6)


def spread(image: np.ndarray) -> tuple[float, float, float]:
    """Centroid (row, column) and root-mean-square distance from it of the ink of one picture."""
    rows, columns = np.indices(image.shape)
    total = image.sum()
    row, column = (rows * image).sum() / total, (columns * image).sum() / total
    return row, column, float(np.sqrt((((rows - row) ** 2 + (columns - column) ** 2) * image).sum() / total))


def test_scale_keeps_the_centre_and_multiplies_distances():
    rows, columns = np.indices((28, 28))
    blob = np.exp(-((rows - 13.5) ** 2 + (columns - 13.5) ** 2) / (2 * 3.0 ** 2))[None].astype(np.float32)
    assert np.allclose(scale(blob, 0.0), blob)
    for change in (-0.5, 0.5):
        row, column, radius = spread(scale(blob, change)[0])
        assert (row, column) == (pytest.approx(13.5, abs=1e-3), pytest.approx(13.5, abs=1e-3))
        assert radius == pytest.approx(spread(blob[0])[2] * (1 + change), rel=0.06)


def test_thickness_dilates_a_dot_into_a_square_and_erodes_a_thin_line():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10, 10] = 1.0
    assert thickness(image, 2)[0].sum() == 9 and thickness(image, 2)[0, 9:12, 9:12].all()
    line = np.zeros((1, 28, 28), np.float32)
    line[0, 5:20, 14] = 1.0
    assert thickness(line, -1).sum() == 0


def test_noise_has_the_asked_spread_and_stays_in_range():
    grey = np.full((20, 28, 28), 0.5, np.float32)
    noisy = noise(grey, 0.1)
    assert (noisy - grey).std() == pytest.approx(0.1, rel=0.05)
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_array_equal(noise(grey, 0.1), noisy)  # repeatable


def test_blur_of_a_dot_is_the_sampled_gaussian():
    dot = np.zeros((1, 28, 28), np.float32)
    dot[0, 14, 14] = 1.0
    offsets = np.arange(-6, 7)  # scipy truncates at 4 σ
    weights = np.exp(-offsets ** 2 / (2 * 1.5 ** 2))
    weights /= weights.sum()
    expected = np.zeros((28, 28))
    expected[8:21, 8:21] = np.outer(weights, weights)
    np.testing.assert_allclose(blur(dot, 1.5)[0], expected, atol=1e-6)


def test_occlusion_hides_a_centred_bar_only(digits):
    hidden = occlusion(digits, 4)
    assert (hidden[:, 12:16] == 0).all()
    np.testing.assert_array_equal(hidden[:, :12], digits[:, :12])
    np.testing.assert_array_equal(hidden[:, 16:], digits[:, 16:])


def test_unknown_or_no_transform_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose from rotate"):
        transforms_named(["rotate", "melt"])
    with pytest.raises(ValueError):
        transforms_named([])


def test_severity_zero_is_the_models_plain_accuracy(small_dense_model, test_sample):
    from mnist_core.model.evaluation import evaluate

    images, labels = test_sample
    reports = []
    curves = robustness_curves(small_dense_model, images, labels, ["occlusion", "rotate"],
                               on_progress=lambda fraction, text: reports.append(fraction))
    plain = evaluate(small_dense_model, images, labels).accuracy
    assert list(dict.fromkeys(curves["transform"])) == ["occlusion", "rotate"]
    assert len(curves) == 2 + len(TRANSFORMS["occlusion"].severities) + len(TRANSFORMS["rotate"].severities)
    assert (curves[curves["severity"] == 0]["accuracy"] == plain).all()
    rotated = curves[curves["transform"] == "rotate"]
    assert rotated["severity"].is_monotonic_increasing
    worst = rotated.set_index("severity")["accuracy"]
    assert worst[60] < plain - 0.2  # a dense net trained upright fails on digits turned by 60°
    assert reports[-1] == 1.0 and reports == sorted(reports)


def test_example_strip_starts_from_the_untouched_image(mnist):
    strip = example_strip(mnist.x_test[0], TRANSFORMS["blur"])
    assert [severity for severity, _ in strip] == [0, 0.5, 1.0, 1.5, 2.0]
    np.testing.assert_allclose(strip[0][1], mnist.x_test[0] / 255, atol=1e-7)
    np.testing.assert_allclose(strip[-1][1], blur(as_unit_floats(mnist.x_test[:1]), 2.0)[0])
