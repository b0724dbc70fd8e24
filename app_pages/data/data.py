"""Data: browse the training and test images by digit, with each digit's average image and the class counts."""

import math

import numpy as np
import streamlit as st

from app_pages.shared.data import dataset_or_warning
from app_pages.shared.widgets import image_grid
from mnist_core.data.mnist import NUM_CLASSES, MnistData
from mnist_core.data.pictures import enlarge
from mnist_core.training.charts import class_count_chart

SPLITS = ("Training", "Test")
IMAGES_PER_PAGE = 80


def chosen_split(data: MnistData) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the split picked in the "Split" selectbox."""
    split = st.selectbox("Split", SPLITS)
    return (data.x_train, data.y_train) if split == "Training" else (data.x_test, data.y_test)


def chosen_page(count: int) -> int:
    """The "Page" number input over ``count`` images."""
    pages = math.ceil(count / IMAGES_PER_PAGE)
    return st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, help=f"{pages} pages")


def digit_images(images: np.ndarray, indices: np.ndarray, page: int) -> None:
    """One page of the images at ``indices``, each captioned with its index in the split."""
    shown = indices[(page - 1) * IMAGES_PER_PAGE: page * IMAGES_PER_PAGE]
    first = (page - 1) * IMAGES_PER_PAGE + 1
    st.caption(f"Images {first:,}–{first + len(shown) - 1:,} of {len(indices):,}; "
               "each caption is the image's index in the split.")
    image_grid(images[shown], [f"#{index}" for index in shown], zoom=2)


def split_summary(images: np.ndarray, labels: np.ndarray, digit: int) -> None:
    """The digit's average image and the bar chart of images per digit in the split."""
    chosen = labels == digit
    st.image(enlarge(images[chosen].mean(axis=0) / 255.0, 5),
             caption=f"the average of all {chosen.sum():,} images of {digit}")
    st.markdown("**Images per digit**")
    st.altair_chart(class_count_chart(labels), width="stretch")


def data_page() -> None:
    """Split, digit and page pickers over the image grid, with the split's summary beside it."""
    st.title("Data")
    data = dataset_or_warning()
    if data is None:
        return
    split_column, digit_column, page_column = st.columns(3)
    with split_column:
        images, labels = chosen_split(data)
    digit = digit_column.selectbox("Digit", range(NUM_CLASSES))
    indices = np.flatnonzero(labels == digit)
    with page_column:
        page = chosen_page(len(indices))
    grid, summary = st.columns([3, 1], gap="large")
    with grid:
        digit_images(images, indices, page)
    with summary:
        split_summary(images, labels, digit)


data_page()
