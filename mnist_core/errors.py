"""The base of every error Digit Lab reports to its user: input or files that cannot be used, with a message that
says why. The CLI prints these as one line (exit 2); any other exception is a bug and keeps its traceback."""

from __future__ import annotations


class DigitLabError(Exception):
    """A user error: the message says what was wrong and, where it can, what to do."""


class UsageError(DigitLabError, ValueError):
    """A value given to a command that it cannot use: an unknown name, a count below 1, an output file that cannot be
    written."""
