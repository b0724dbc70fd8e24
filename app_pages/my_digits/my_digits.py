"""My digits: the drawings you filed from the Draw page (grid per digit, remove, export, import), how well models
read them (held-out part apart, misread ones shown) and a fine-tune on MNIST + your digits through the job runner.
Each tab lives in a ``my_digits_*`` module beside this page: the set, the measurement and the fine-tune."""

from __future__ import annotations

import streamlit as st

from app_pages.my_digits.collection import set_view
from app_pages.my_digits.finetune import finetune_view
from app_pages.my_digits.measure import measure_view
from app_pages.shared.models import shared_registry
from app_pages.shared.text import plain
from mnist_core.store.my_digits import MyDigits, MyDigitsError


def my_digits_page() -> None:
    """The set, the measurement and the fine-tune, each in its tab (nothing but an error when the set is unreadable)."""
    st.title("My digits")
    st.caption("Find out how a model reads your handwriting and teach it: file drawings from the Draw page, measure "
               "models on them, fine-tune one on MNIST plus your digits.")
    registry = shared_registry()
    collection = MyDigits(registry)
    try:
        collection.items()
    except MyDigitsError as error:
        st.error(f"My digits cannot be read: {plain(error)}")
        return
    listing = registry.list_runs()
    yours, measure, tune = st.tabs(["Your drawings", "Measure models", "Fine-tune"])
    with yours:
        set_view(collection)
    with measure:
        measure_view(registry, collection, listing)
    with tune:
        finetune_view(registry, collection, listing)


my_digits_page()
