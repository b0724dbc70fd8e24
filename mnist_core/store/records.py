"""What a saved run's ``run.json`` holds (``RunRecord``), checked field by field, and how runs are named."""

from __future__ import annotations

import platform
import re
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import datetime

from mnist_core.errors import DigitLabError

MAX_NAME_LENGTH = 120
MAX_ID_STEM = 48
RECORD_TYPES = [  # run.json field, what it should be, the JSON types allowed
    ("id", "text", (str,)), ("name", "text", (str,)), ("architecture", "text", (str,)),
    ("spec", "a list or null", (list, type(None))), ("config", "an object or null", (dict, type(None))),
    ("status", "text", (str,)), ("created", "an ISO date text", (str,)), ("reason", "text", (str,)),
    ("params", "a whole number", (int,)), ("epochs", "a list", (list,)), ("batches", "a list", (list,)),
    ("test_accuracy", "a number or null", (int, float, type(None))),
    ("test_loss", "a number or null", (int, float, type(None))), ("seconds", "a number", (int, float)),
    ("versions", "an object", (dict,)),
    ("parent", "a run id or null", (str, type(None))), ("finetune", "an object or null", (dict, type(None))),
    ("sweep", "an object or null", (dict, type(None))),
    ("data_fingerprint", "text or null", (str, type(None))),
]
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class RegistryError(DigitLabError):
    """A run that cannot be saved, found, loaded or changed; the message says why."""


@dataclass
class RunRecord:
    """What ``run.json`` holds about one run."""

    id: str
    name: str
    architecture: str  # preset name, "custom" or "uploaded"
    spec: list | None
    config: dict | None
    status: str  # finished / stopped / failed / uploaded
    created: str  # ISO 8601, UTC
    reason: str = ""
    params: int = 0
    epochs: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    parent: str | None = None  # the run this one was fine-tuned from
    finetune: dict | None = None  # for a fine-tune: what it trained on and the figures before and after
    sweep: dict | None = None  # for a sweep trial's run: {"study": name, "trial": number}
    data_fingerprint: str | None = None  # the data set it trained on (``MnistData.fingerprint``), when known

    def __repr__(self) -> str:
        accuracy = "-" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return f"RunRecord({self.id!r}, {self.architecture}, {self.status}, test_accuracy={accuracy})"

    @classmethod
    def from_dict(cls, values: dict) -> RunRecord:
        required = ["id", "name", "architecture", "spec", "config", "status", "created"]
        missing = [name for name in required if name not in values]
        if missing:
            raise RegistryError(f"run.json lacks the field(s) {', '.join(missing)}.")
        for name, expected, kinds in RECORD_TYPES:  # a hand-edited record must not break listing or tables
            value = values.get(name)
            if name in values and (isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds)):
                raise RegistryError(f"run.json field {name!r} should be {expected}, got {value!r}.")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def summary_row(self) -> dict:
        """The fields a table of runs shows."""
        return {"id": self.id, "name": self.name, "architecture": self.architecture, "params": self.params,
                "epochs": len(self.epochs), "test_accuracy": self.test_accuracy, "seconds": round(self.seconds, 1),
                "status": self.status, "created": self.created}


def clean_name(name: str) -> str:
    """A display name: printable, trimmed, at most ``MAX_NAME_LENGTH`` characters (any language)."""
    spaced = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(name))
    printable = re.sub(r"\s+", " ", spaced).strip()
    return printable[:MAX_NAME_LENGTH] or "run"


def default_run_name(architecture: str, when: datetime | None = None) -> str:
    """A name that tells runs of one architecture apart when the user gives none: "fast-cnn 11-22 14:03:07"."""
    return f"{architecture} {(when or datetime.now()):%m-%d %H:%M:%S}"


def slug(name: str) -> str:
    """A safe folder-name stem: ASCII letters, digits, '-', '_' only; never '..' or a path."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")
    return stem[:MAX_ID_STEM].strip("-_") or "run"


def library_versions() -> dict:
    import keras
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__}


def check_run_id(run_id) -> None:
    """Refuse an id that is not a plain folder name (no separators, no '..', not hidden)."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise RegistryError(f"{run_id!r} is not a valid run id.")
