"""Zip archives from users (``.keras`` models, ``.npz`` data sets), bounded before ``zipfile`` parses them."""

from __future__ import annotations

import struct

END_OF_CENTRAL_DIRECTORY, ZIP64_LOCATOR = b"PK\x05\x06", b"PK\x06\x07"
END_RECORD_SIZE, MAX_COMMENT = 22, 65535
TAIL_BYTES = END_RECORD_SIZE + MAX_COMMENT  # the end record lies within this many bytes of the end


def central_directory_size(tail: bytes) -> float | None:
    """The size the archive declares for its member list, read from its last ``TAIL_BYTES`` the way ``zipfile``
    finds the end record; ``inf`` for a ZIP64 archive (gigabytes, never needed here), ``None`` when ``tail`` is not
    the end of a zip archive. ``zipfile`` builds one object per listed member, so a list of a million empty members
    costs hundreds of MB before anything can be refused: callers bound this size first."""
    at = len(tail) - END_RECORD_SIZE if tail[-END_RECORD_SIZE:-18] == END_OF_CENTRAL_DIRECTORY else \
        tail.rfind(END_OF_CENTRAL_DIRECTORY)
    if at < 0 or len(tail) < at + END_RECORD_SIZE:
        return None
    if at >= 20 and tail[at - 20:at - 16] == ZIP64_LOCATOR:
        return float("inf")
    return struct.unpack("<I", tail[at + 12:at + 16])[0]


def file_tail(source) -> bytes:
    """The last ``TAIL_BYTES`` of a path or a seekable file-like object (left at its start)."""
    if hasattr(source, "seek"):
        size = source.seek(0, 2)
        source.seek(max(0, size - TAIL_BYTES))
        tail = source.read()
        source.seek(0)
        return tail
    with open(source, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - TAIL_BYTES))
        return handle.read()
