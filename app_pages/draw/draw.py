"""Draw: draw a digit (or upload a picture of one) and see what a model predicts, how sure it is, what other
models say, and what the network sees: the 28×28 input, hidden activations and the saliency map."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from app_pages.draw.network import comparison, network_view, what_the_network_sees
from app_pages.draw.state import DrawState
from app_pages.shared.models import model_picker, predictor_for, shared_registry
from app_pages.shared.state import FLASH_KEY, flash, page_state, show_flash
from mnist_core.data.drawing import (
    EmptyImageError,
    ImageInputError,
    image_file_to_mnist,
    image_from_drawing_png,
    to_mnist,
)
from mnist_core.errors import DigitLabError
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry
from mnist_core.training.charts import probability_chart

CANVAS_SIDE = 280
INK, PAPER = "#FFFFFF", "#000000"  # white digits on black, as MNIST's
PAD_KEY, UPLOAD_KEY = "draw_canvas", "draw_upload"  # + "." + the pad generation (``DrawState.generation``)
EMPTY_HINT = ("Draw a digit in the black square (white on black, as large as the square allows); the prediction "
              "appears after each stroke. Undo, redo and clear are in the toolbar over the square's top edge (it "
              "shows while you point at or touch the square).")
UNREADABLE_PAD = "the drawing pad sent a value that is not a drawing. Clear the pad and draw again."


def drawn_image() -> Image.Image | None:
    """The drawing pad (streamlit-drawable-canvas, 280×280, white ink on black, its own undo/redo/clear toolbar) with a
    "Stroke width" slider; the picture, None before drawing (or after an error saying why it could not be read).

    Only the raw PNG bytes the pad sent are used, decoded by ``image_from_drawing_png``'s checks; ``st_canvas`` itself
    unpacks the value the browser sent, so a value of the wrong shape is an error message here, not a traceback."""
    stroke = st.slider("Stroke width", min_value=8, max_value=40, value=20, step=1)
    try:
        content = st_canvas(stroke_width=stroke, stroke_color=INK, background_color=PAPER, width=CANVAS_SIDE,
                            height=CANVAS_SIDE, drawing_mode="freedraw", return_image_data=True,
                            key=f"{PAD_KEY}.{page_state(DrawState).generation}").image_bytes
    except (AttributeError, KeyError, TypeError, ValueError):  # what st_canvas raises on a value of another shape
        st.error(f"The drawing could not be read: {UNREADABLE_PAD}")
        return None
    try:
        return None if content is None else image_from_drawing_png(content)
    except ImageInputError as error:
        st.error(f"The drawing could not be read: {error}")
        return None


def picture_upload() -> bytes | None:
    """The "Or upload an image" uploader; the file's bytes, None when nothing is uploaded."""
    upload = st.file_uploader("Or upload an image", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                              key=f"{UPLOAD_KEY}.{page_state(DrawState).generation}",
                              help="A photo or scan of one digit; dark on light or light on dark both work. "
                                   "While a picture is uploaded it is predicted instead of the drawing.")
    return None if upload is None else upload.getvalue()


def model_input(drawing: Image.Image | None, picture: bytes | None) -> np.ndarray | None:
    """The 28×28 input from the uploaded picture if there is one, else from the drawing; None after a hint or
    an error saying why there is nothing to predict."""
    try:
        if picture is not None:
            return image_file_to_mnist(picture)
        if drawing is None:
            raise EmptyImageError("nothing is drawn yet.")
        return to_mnist(drawing)
    except EmptyImageError as error:
        if picture is None:
            st.info(EMPTY_HINT)
        else:  # an uploaded picture gets the reason found in it, not the drawing hint
            st.error(f"That picture cannot be used: {error}")
    except ImageInputError as error:
        st.error(f"That picture cannot be used: {error}")
    return None


def prediction(probabilities: np.ndarray) -> None:
    """The predicted digit, large, and its confidence."""
    digit = int(probabilities.argmax())
    digit_column, confidence_column = st.columns(2)
    digit_column.metric("Prediction", digit, border=True)
    confidence_column.metric("Confidence", f"{probabilities[digit]:.1%}", border=True)


def file_drawing(registry: Registry, image: np.ndarray, original: Image.Image | bytes, digit: int) -> None:
    """"That was a N" pressed: file ``image`` under ``digit`` with its original drawing (pad picture) or picture (file
    bytes), once (a second press on the same input files nothing), then start a clean pad and uploader for the next
    digit. A button callback, so the page is drawn after it with the clean pad."""
    from mnist_core.data.drawing import open_image
    from mnist_core.store.my_digits import MyDigits

    state = page_state(DrawState)
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    if state.filed == digest:
        return
    try:
        MyDigits(registry).add(digit, image, open_image(original) if isinstance(original, bytes) else original)
    except DigitLabError as error:  # not a digit, or a full disk
        flash("error", f"Not added to My digits: {error}")
        return
    state.filed, state.generation = digest, state.generation + 1
    flash("success", f"Added to My digits as a {digit}. Draw the next digit.")


def file_under_my_digits(registry: Registry, image: np.ndarray, original: Image.Image | bytes, predicted: int) -> None:
    """The "True digit" picker (the prediction preselected) and the "That was a N" button that files this input."""
    digit_column, button_column = st.columns([1, 2], vertical_alignment="bottom")
    digit = digit_column.selectbox("True digit", range(10), index=predicted,
                                   help="what you meant to draw; the prediction is preselected")
    button_column.button(f"That was a {digit}: add to My digits", icon=":material/person_add:", on_click=file_drawing,
                         args=(registry, image, original, digit))


def filed_message() -> None:
    """What the last "That was a N" did, and the way to the drawings filed."""
    if FLASH_KEY in st.session_state:
        show_flash()
        st.page_link("app_pages/my_digits/my_digits.py", label="See My digits", icon=":material/person_edit:")


def drawing_and_prediction(registry: Registry, listing: list[RunRecord], run_id: str | None) -> None:
    """Pad on the left, the prediction on the right, the uploader under them (so on a phone, where the columns stack,
    the prediction comes right under the pad), what the network sees below. A fragment: a stroke reruns this part
    only. The prediction is drawn before anything else that depends on the drawing, then what the network sees is
    worked out before anything more is drawn: the browser gets the prediction alone and shows it at once, instead of
    in one batch with the chart, the widgets and the pictures."""
    canvas_column, result_column = st.columns([1, 1], gap="large")
    with canvas_column:
        drawing = drawn_image()
    with st.container():  # laid out under both columns, filled first: the prediction needs the picture
        picture = picture_upload()
    with result_column:
        filed_message()
        image = model_input(drawing, picture)
        predictor = predictor_for(registry, run_id) if run_id is not None else None
        if image is None or predictor is None:
            return
        probabilities = predictor.probabilities(image)
        prediction(probabilities)
        seen = what_the_network_sees(predictor, image)
        st.vega_lite_chart(probability_chart(probabilities), width="stretch")
        file_under_my_digits(registry, image, drawing if picture is None else picture, int(probabilities.argmax()))
        comparison(registry, listing, run_id, image)
    network_view(seen)


def draw_page() -> None:
    """The model picker, then the drawing and its prediction (rerun on their own as the user draws)."""
    st.title("Draw")
    registry = shared_registry()
    listing = registry.list_runs()  # once per page run: the picker and the comparison share it
    run_id = model_picker(listing)
    st.fragment(drawing_and_prediction)(registry, listing, run_id)


draw_page()
