"""Figures measured by the benchmarks in ``bench/``, kept in ``measured.json`` beside this module: the one place
that the presets' "what to expect" and ``bench/RESULTS.md`` take them from (``make bench`` rewrites both)."""

from __future__ import annotations

import json
from pathlib import Path

FIGURES_FILE = Path(__file__).with_name("measured.json")


def load_figures(path: Path = FIGURES_FILE) -> dict:
    """Every recorded figure by section and name; empty when nothing was measured yet or the file is unreadable."""
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return figures if isinstance(figures, dict) else {}


def span(values: list[float], decimals: int, unit: str) -> str:
    """The lowest value, or the lowest and the highest when they differ, with ``unit``: "99.06–99.25%"."""
    low, high = f"{min(values):.{decimals}f}", f"{max(values):.{decimals}f}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def count_of(number: int, noun: str) -> str:
    """``number`` with ``noun``, plural unless it is one: "1 epoch", "30 epochs"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def preset_expectation(name: str, figures: dict | None = None) -> str | None:
    """What training preset ``name`` with its own settings gave on the benchmark machine, or None if not measured."""
    entry = (load_figures() if figures is None else figures).get("presets", {}).get(name)
    if not entry:
        return None
    runs = entry["runs"]
    accuracy = span([100 * run["test_accuracy"] for run in runs], 2, "%")
    seconds = span([run["seconds"] for run in runs], 1, " s")
    return (f"Measured with these settings: {accuracy} test accuracy, {seconds} of training "
            f"({count_of(len(runs), 'seed')}, {count_of(entry['epochs'], 'epoch')}, {entry['machine']}).")
