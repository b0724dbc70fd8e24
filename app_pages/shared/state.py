"""What a session keeps: one typed state object per page, widgets bound to it, and one-shot messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import streamlit as st

if TYPE_CHECKING:
    pass
from app_pages.shared.text import plain

PageState = TypeVar("PageState")


FLASH_KEY = "flash_message"


def page_state(kind: type[PageState]) -> PageState:
    """This session's one state object of a page: a dataclass of what the user chose there, created with its
    defaults on the first visit, so the choices survive moving around the app."""
    return st.session_state.setdefault(kind.__name__, kind())


def kept(widget, state, field: str, *args, clean=None, version: str = "", **kwargs):
    """``widget(*args, key=..., **kwargs)`` bound to ``state.field``: it shows the stored choice when the page comes
    back (Streamlit forgets the widgets a page did not show), and the user's choice is stored there. ``clean`` turns
    a stored value that no longer fits (a run since deleted) into one that does. A new ``version`` (e.g. of the
    options' labels) makes a new widget with the stored choice: a browser goes on showing a keyed widget's old labels.
    Pass no default to the widget: the state object holds it."""
    key = f"{type(state).__name__}.{field}" + (f".{version}" if version else "")
    value = st.session_state.get(key, getattr(state, field))
    st.session_state[key] = clean(value) if clean is not None else value
    value = widget(*args, key=key, **kwargs)
    setattr(state, field, value)
    return value


def set_kept(state, field: str, value) -> None:
    """Change a choice bound by ``kept`` from code (a chart click, a button callback): the state object and the
    widget show it on the next run. Call it in a callback or before the widget is drawn in this run."""
    setattr(state, field, value)
    st.session_state[f"{type(state).__name__}.{field}"] = value


def kept_widget(widget, key: str, default, *args, **kwargs):
    """``widget(*args, key=key, **kwargs)``, showing the value it had when the user left the page (Streamlit forgets
    the state of widgets a page does not show), ``default`` the first time; returns the widget's value."""
    st.session_state.setdefault(key, st.session_state.get(f"{key}.kept", default))
    value = widget(*args, key=key, **kwargs)
    st.session_state[f"{key}.kept"] = value
    return value


def forget_widget(key: str) -> None:
    """Let a ``kept_widget`` start again from the default it is given next."""
    st.session_state.pop(key, None)
    st.session_state.pop(f"{key}.kept", None)


def flash(kind: str, text: str) -> None:
    """Keep a message (shown as text, never as Markdown) to show on the next run (``kind``: success, warning or
    error), e.g. from a button callback."""
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    """Show, once, the message kept by ``flash``."""
    if FLASH_KEY in st.session_state:
        kind, text = st.session_state.pop(FLASH_KEY)
        getattr(st, kind)(plain(text))
