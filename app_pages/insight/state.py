"""What a user chose on the Insight page, kept for the session while they move between its views and the app's
other pages (so a 2-model, 500-image robustness sweep is still chosen, and still computed, when they come back)."""

from __future__ import annotations

from dataclasses import dataclass, field

VIEWS = ("Embedding map", "Robustness lab", "Weights", "Confidence")
MODEL_SPACE, PIXEL_SPACE = "the model's last hidden layer", "raw pixels (no model)"
PROJECTIONS = ("PCA", "t-SNE")
MAP_SAMPLES = (1000, 2000, 5000, 10000)
ROBUSTNESS_SAMPLES = (500, 1000, 2000, 5000, 10000)


@dataclass
class InsightChoices:
    """The Insight page's choices; model lists start empty and then hold run ids (the picked model by default)."""

    view: str = VIEWS[0]
    space: str = MODEL_SPACE
    projection: str = PROJECTIONS[0]
    points: int = 2000
    lab_models: list = field(default_factory=list)
    transforms: list | None = None  # None: every transform
    sample: int = 2000
    example: int = 0
    confidence_models: list = field(default_factory=list)
    temperature: bool = False
