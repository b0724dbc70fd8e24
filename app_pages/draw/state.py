"""What a session keeps of the Draw page (``page_state``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DrawState:
    """How many drawings this session has filed (the pad's and uploader's keys end with it, so each drawing filed
    brings a clean pad and uploader), and the digest of the last input filed (a second press files nothing)."""

    generation: int = 0
    filed: str | None = None
