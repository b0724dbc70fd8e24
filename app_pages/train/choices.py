"""What the user set up on the Train page, in one typed object kept for the session (``page_state``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mnist_core.jobs.requests import RunRequest
from mnist_core.model.config import TrainConfig
from mnist_core.training.presets import SPEED_PRESET


@dataclass
class TrainChoices:
    """The Train page's preset, layers, settings, run name and code toggle, the run watched and a press held back:
    kept while the user moves around the app. The widgets are bound to it with ``kept``; loading a preset bumps
    ``loads``, which gives the settings' widgets new keys that start from the loaded values."""

    preset: str = SPEED_PRESET
    layers: dict[int, dict] | None = None  # layer id → its settings, in the editor's order; None: not loaded yet
    next_layer_id: int = 0
    new_layer_type: str = "Dense"
    settings: dict = field(default_factory=dict)  # setting name → its widget's value (0 for an optional None)
    base: TrainConfig | None = None  # the loaded preset's settings, which the widgets' values replace
    loads: int = 0
    name: str = ""
    show_code: bool = False
    watched: int | None = None  # the job shown in the live panel: the one this session started, or picked
    held: RunRequest | None = None  # a press of the same training as one queued or running: "Train another"?
    discarding: str | None = None  # the interrupted run whose discard awaits confirmation
