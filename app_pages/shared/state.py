"""What a session keeps: one typed state object per page, widgets bound to it, and one-shot messages."""

from __future__ import annotations

import functools
import operator
from typing import TypeVar

import streamlit as st

from app_pages.shared.text import plain

PageState = TypeVar("PageState")


FLASH_KEY = "flash_message"


def page_state(kind: type[PageState]) -> PageState:
    """This session's one state object of a page: a dataclass of what the user chose there, created with its
    defaults on the first visit, so the choices survive moving around the app."""
    return st.session_state.setdefault(kind.__name__, kind())


def item_path(item) -> tuple:
    """``kept``'s ``item`` as a path of keys: none, one key, or a tuple of keys into nested dicts."""
    return () if item is None else item if isinstance(item, tuple) else (item,)


def kept_key(state, field: str, item=None, version: str = "") -> str:
    """The session-state key of the widget ``kept`` binds to ``state.field`` (or to an entry of it): for a callback,
    which runs before the script and so before ``kept`` has stored the widget's new value."""
    return ".".join([type(state).__name__, field, *map(str, item_path(item)), *([version] if version else [])])


def kept(widget, state, field: str, *args, clean=None, version: str = "", item=None, **kwargs):
    """``widget(*args, key=..., **kwargs)`` bound to ``state.field``, or to its entry ``state.field[item]`` (``item``
    a key, or a tuple of keys into nested dicts: one setting of many, one layer's setting): it shows the stored
    choice when the page comes back (Streamlit forgets the widgets a page did not show), and the user's choice is
    stored there. ``clean`` turns a stored value that no longer fits (a run since deleted) into one that does. A new
    ``version`` (e.g. of the options' labels, or of values just loaded from a preset) makes a new widget showing the
    stored value: a browser goes on showing a keyed widget's old labels. Pass no default to the widget: the state
    object holds it."""
    key, path = kept_key(state, field, item, version), item_path(item)
    holder = state.__dict__ if not path else functools.reduce(operator.getitem, path[:-1], getattr(state, field))
    last = path[-1] if path else field
    value = st.session_state.get(key, holder[last])
    st.session_state[key] = clean(value) if clean is not None else value
    holder[last] = widget(*args, key=key, **kwargs)
    return holder[last]


def set_kept(state, field: str, value) -> None:
    """Change a choice bound by ``kept`` from code (a chart click, a button callback): the state object and the
    widget show it on the next run. Call it in a callback or before the widget is drawn in this run."""
    setattr(state, field, value)
    st.session_state[kept_key(state, field)] = value


def flash(kind: str, text: str) -> None:
    """Keep a message (shown as text, never as Markdown) to show on the next run (``kind``: success, warning or
    error), e.g. from a button callback."""
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    """Show, once, the message kept by ``flash``."""
    if FLASH_KEY in st.session_state:
        kind, text = st.session_state.pop(FLASH_KEY)
        getattr(st, kind)(plain(text))
