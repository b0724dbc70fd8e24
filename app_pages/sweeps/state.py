"""What a user chose on the Sweeps page, kept for the session while they move around the app."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.sweeps.charts import PARALLEL

BY_NUMBER, BEST_FIRST = "trial number", "best first"


@dataclass
class SweepsChoices:
    """What a user picked on the Sweeps page: the sweep watched, the trials table's order and page, the chart; kept
    while they move around the app."""

    sweep: str | None = None
    order: str = BY_NUMBER
    table_page: int = 1
    chart: str = PARALLEL
