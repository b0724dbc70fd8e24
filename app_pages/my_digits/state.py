"""What a session keeps of the My digits page (``page_state``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MyDigitsState:
    """The fine-tune this session started (shown in the live panel until the next one), and the last file it
    imported (the uploader keeps offering it on every rerun: it is imported once)."""

    finetune_job: int | None = None
    imported: str | None = None  # the uploaded file's id
