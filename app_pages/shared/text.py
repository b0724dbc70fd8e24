"""Text from users and files shown as typed: never Markdown, a link, an image or HTML."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass



MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=^&])")


LINK_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*|www\.\S*|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)


def code_span(text: str) -> str:
    """``text`` as Markdown inline code, fenced by more backticks than it holds in a row."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text) -> str:
    """``text`` for the elements that render Markdown (titles, captions, messages, help), shown as typed: Markdown
    characters escaped, and anything Markdown would make a link of (an address, an e-mail) as inline code, so a run
    name or file name never becomes a link, an image, a colour or HTML."""
    text, pieces, done = str(text), [], 0
    for match in LINK_LIKE.finditer(text):
        pieces += [MARKDOWN_SYNTAX.sub(r"\\\1", text[done:match.start()]), code_span(match.group())]
        done = match.end()
    return "".join(pieces) + MARKDOWN_SYNTAX.sub(r"\\\1", text[done:])
