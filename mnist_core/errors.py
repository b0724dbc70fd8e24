"""The base of every error Digit Lab reports to its user: input or files that cannot be used, with a message that
says why. The CLI prints these as one line (exit 2); any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import errno


class DigitLabError(Exception):
    """A user error: the message says what was wrong and, where it can, what to do."""


class UsageError(DigitLabError, ValueError):
    """A value given to a command that it cannot use: an unknown name, a count below 1, an output file that cannot be
    written."""


class DiskFullError(DigitLabError):
    """A write that found no space left on its disk; whatever was being written was discarded, nothing else lost."""


def is_disk_full(error: OSError) -> bool:
    """Whether ``error`` means the disk (or the user's quota) is full."""
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def disk_full(what: str, where) -> DiskFullError:
    """The one message every write gives when its disk is full."""
    return DiskFullError(f"the disk is full: {what} could not be written in {where} (nothing was changed); free some "
                         "space and try again.")
