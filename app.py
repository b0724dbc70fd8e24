"""Digit Lab: explore MNIST, train Keras models on it live, see where they go wrong and try them on your own
handwriting. ``streamlit run app.py`` starts this server: it answers at once and warms up on a thread of its own
(``warm_up``: the pages' modules, the data set, the default model's scores) until a browser first asks for a page
(``FirstVisit``), and each browser session runs ``navigation.py``, the menu and the page picked."""

from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from app_pages.shared.engine import FirstVisit, start_warm_up


@asynccontextmanager
async def warmed_up(_app: st.App):
    """The server's lifespan: start warming up as it starts (while nobody has opened a page yet, the server is idle)."""
    start_warm_up()
    yield


app = st.App("navigation.py", lifespan=warmed_up, middleware=[Middleware(FirstVisit)])
