"""Digit Lab: explore MNIST, train Keras models on it live, see where they go wrong and try them on your own
handwriting. ``streamlit run app.py`` starts this server: it warms up (``warm_up``: the pages' modules, the data set,
the default model's scores), then answers, and each browser session runs ``navigation.py``, the menu and the page
picked."""

from contextlib import asynccontextmanager

import streamlit as st

from app_pages.shared.engine import warm_up


@asynccontextmanager
async def warmed_up(_app: st.App):
    """The server's lifespan: warm up before the first page is served."""
    warm_up()
    yield


app = st.App("navigation.py", lifespan=warmed_up)
