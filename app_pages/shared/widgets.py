"""Small widgets several pages draw."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from mnist_core.data.pictures import enlarge

if TYPE_CHECKING:
    pass



def image_grid(images, captions: list[str], zoom: int = 3) -> None:
    """Small grey-scale pictures side by side, enlarged without blur, each with its caption."""
    if len(images):
        st.image([enlarge(image, zoom) for image in images], caption=captions)
