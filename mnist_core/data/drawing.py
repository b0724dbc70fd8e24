"""From a canvas drawing or an image file to a 28×28 MNIST-style input, the way MNIST itself was made:
crop to the ink, fit into 20×20 keeping the aspect ratio, centre by centre of mass in 28×28, scale to [0, 1]."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from mnist_core.data.mnist import IMAGE_SIDE
from mnist_core.errors import DigitLabError

DIGIT_BOX = 20  # MNIST digits fit a 20×20 box inside the 28×28 frame
INK_THRESHOLD = 0.15  # a pixel darker/lighter than the background by this much (of full scale) is ink
MIN_EXTENT = 0.08  # ink spanning less than this share of the image's longer side is "nearly empty"
MIN_SIDE = 8  # pixels; smaller images cannot hold a legible digit
MAX_PIXELS = 25_000_000  # larger images are refused before decoding (memory)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_DRAWING_BYTES = 3_000_000  # a drawing pad's PNG is a few kB; refuse far larger before decoding


class ImageInputError(DigitLabError, ValueError):
    """An upload or drawing that cannot be turned into a digit; the message says why and what to do."""


class EmptyImageError(ImageInputError):
    """Nothing (or nearly nothing) is drawn: there is no digit to predict."""


def open_image(content: bytes, formats: tuple[str, ...] | None = None) -> Image.Image:
    """Decode an uploaded image's bytes (first frame of an animation) with Pillow's decoders for ``formats`` (None:
    any); refuse what is not a sane image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size check below is stricter
            image = Image.open(io.BytesIO(content), formats=formats)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageInputError(f"the image is {width}×{height} pixels; at most {MAX_PIXELS // 1_000_000} "
                                      "megapixels are accepted. Scale it down and try again.")
            frame = next(ImageSequence.Iterator(image))
            frame.load()
            return frame.copy()
    except ImageInputError:
        raise
    except Image.DecompressionBombError as error:  # so large that Pillow refuses even to open it
        raise ImageInputError(f"the image is too large ({error}); at most {MAX_PIXELS // 1_000_000} megapixels are "
                              "accepted. Scale it down and try again.") from None
    except UnidentifiedImageError:
        raise ImageInputError("this file is not an image that can be read (PNG, JPEG, GIF, BMP or WebP "
                              "expected).") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageInputError(f"the image file is damaged or truncated ({error}).") from None


def image_from_drawing_png(content) -> Image.Image:
    """The picture in the PNG bytes a drawing pad sent, with ``open_image``'s checks (megapixels, decompression bombs,
    damage); anything but PNG bytes of a sane size raises ``ImageInputError``. Only Pillow's PNG decoder sees them:
    whatever reached the server over the websocket may have sent them."""
    if not isinstance(content, bytes):
        raise ImageInputError(f"the drawing arrived as {type(content).__name__}, not as a picture.")
    if len(content) > MAX_DRAWING_BYTES:
        raise ImageInputError(f"the drawing is {len(content):,} bytes; at most {MAX_DRAWING_BYTES:,} are accepted.")
    if not content.startswith(PNG_SIGNATURE):
        raise ImageInputError("the drawing did not arrive as a PNG picture.")
    return open_image(content, formats=("PNG",))


def finite_values(array: np.ndarray) -> np.ndarray:
    """Pixel values as float64 where NaN and infinite pixels take the background's value (the median of the finite
    pixels on the border), so they neither erase strokes nor add any; refused when no pixel is finite."""
    values = np.asarray(array, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        raise ImageInputError("the image has no usable pixels: every one is NaN or infinite.")
    if not finite.all():
        border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]]).ravel()
        border = border[np.isfinite(border)]
        values = np.where(finite, values, np.median(border if border.size else values[finite]))
    return values


def to_bytes(values: np.ndarray, top: float) -> np.ndarray:
    """Values in 0..``top`` as 0..255 bytes."""
    return np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)


def ink_map(image: Image.Image | np.ndarray) -> np.ndarray:
    """Float H×W in [0, 1] where 1 is ink: transparency, colour and either polarity (light on dark or dark on light)
    are resolved so that the background becomes 0."""
    if isinstance(image, np.ndarray):
        array = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
        if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
            raise ImageInputError(f"a drawing must be an H×W grey or H×W×(2, 3 or 4) colour array, got shape "
                                  f"{image.shape}.")
        if array.dtype != np.uint8:  # bools and [0, 1] floats are scaled; anything else is read as 0..255
            values = finite_values(array)
            image = Image.fromarray(to_bytes(values, 1.0 if values.max() <= 1.0 else 255.0))
        else:
            image = Image.fromarray(array)
    elif image.mode.startswith("I") or image.mode == "F":  # 16/32-bit grey: scale to 8 bits, don't clip at 255
        values = finite_values(np.asarray(image))
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(to_bytes(values, 1.0 if image.mode == "F" and values.max() <= 1.0 else top))
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3]
    painted_luminance = float((luminance * alpha).sum() / max(alpha.sum(), 1e-6))
    paper = 1.0 if painted_luminance < 0.5 else 0.0  # transparent parts show the paper that contrasts the strokes
    gray = luminance * alpha + paper * (1.0 - alpha)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray - background if background < 0.5 else background - gray
    return np.clip(ink / max(1.0 - min(background, 1.0 - background), 1e-6), 0.0, 1.0)


def to_mnist(image: Image.Image | np.ndarray) -> np.ndarray:
    """28×28 float32 in [0, 1], white digit on black, centred by mass; raises ``EmptyImageError`` when nothing is
    drawn."""
    from scipy.ndimage import center_of_mass  # here, not above: every CLI command imports this module

    ink = ink_map(image)
    height, width = ink.shape
    if min(height, width) < MIN_SIDE:
        raise ImageInputError(f"the image is only {width}×{height} pixels; a digit needs at least "
                              f"{MIN_SIDE}×{MIN_SIDE}.")
    mask = ink > INK_THRESHOLD
    if not mask.any():
        raise EmptyImageError("nothing is drawn: draw a digit (or upload an image with a visible digit).")
    left, top, right, bottom = Image.fromarray(mask).getbbox()
    if max(bottom - top, right - left) < MIN_EXTENT * max(height, width):
        raise EmptyImageError("only a speck is drawn: draw a whole digit, larger.")
    crop = ink[top:bottom, left:right]
    scale = DIGIT_BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    digit = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    digit = np.clip(digit, 0.0, None)
    row_mass, col_mass = center_of_mass(digit)
    top = int(np.clip(round(IMAGE_SIDE / 2 - row_mass), 0, IMAGE_SIDE - digit.shape[0]))
    left = int(np.clip(round(IMAGE_SIDE / 2 - col_mass), 0, IMAGE_SIDE - digit.shape[1]))
    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    frame[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return frame / frame.max()


def image_file_to_mnist(content: bytes) -> np.ndarray:
    """An uploaded image file's bytes as a 28×28 model input; an image without a usable digit is refused with the
    reason found in it (not the drawing hint)."""
    image = open_image(content)
    try:
        return to_mnist(image)
    except EmptyImageError as error:
        raise EmptyImageError(empty_image_reason(ink_map(image), str(error))) from None


def empty_image_reason(ink: np.ndarray, message: str) -> str:
    """Why an uploaded image holds no digit, from its ink map and the message ``to_mnist`` gave."""
    if message.startswith("only a speck"):
        return (f"only a speck is drawn in this image: its marks span less than {MIN_EXTENT:.0%} of its size, too "
                "small for a digit.")
    if ink.max() == 0:
        return "nothing is drawn in this image: every pixel has the shade of its background (a blank image)."
    return (f"nothing is drawn in this image: its marks differ from the background by at most {ink.max():.0%} of "
            f"full scale; at least {INK_THRESHOLD:.0%} is needed to read a digit.")
