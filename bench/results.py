"""Where the benchmarks put what they measure: ``mnist_core/measured.json`` (read by the presets' "what to expect")
and ``bench/RESULTS.md`` (for people), both rewritten after every figure, each figure with the machine's load, the
date and the command that produced it."""

from __future__ import annotations

import json
import os
import shlex
import sys
import uuid
from datetime import date
from pathlib import Path

from mnist_core.measured import FIGURES_FILE, load_figures, span
from mnist_core.model.precision import cpu_field

RESULTS_PAGE = Path(__file__).with_name("RESULTS.md")
QUIET_LOAD = 0.5  # a figure taken above this one-minute load average is not trusted


def machine() -> str:
    """The number of cores and the CPU's name: the same bench differs several-fold between CPUs (bfloat16, oneDNN)."""
    name = cpu_field("model name")
    return f"{os.cpu_count()} CPU cores" + (f", {name}" if name else "")


def machine_state() -> dict:
    """The load, date, machine and command to store beside a figure; warns when the machine is not quiet. The load
    stored is the one when the bench started (``AT_START``): during a bench it is the bench's own."""
    load = os.getloadavg()[0]
    if load >= QUIET_LOAD:
        print(f"WARNING: load average {load:.2f} >= {QUIET_LOAD}: figures taken now are not trustworthy",
              file=sys.stderr)
    return {"load": round(load, 2), "date": date.today().isoformat(), "machine": machine(),
            "command": shlex.join(["python", *sys.argv])}


AT_START = machine_state()  # taken when a bench imports this module, before it loads the machine itself


def write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def record(section: str, name: str, entry: dict) -> None:
    """Store ``entry`` (with the machine state) as figure ``name`` of ``section`` and rewrite the results page."""
    figures = load_figures()
    figures.setdefault(section, {})[name] = AT_START | entry
    write_atomic(FIGURES_FILE, json.dumps(figures, indent=1, sort_keys=True) + "\n")
    write_atomic(RESULTS_PAGE, results_page(figures))


def preset_rows(presets: dict) -> list[str]:
    rows = ["| preset | test accuracy | training time | epochs | seeds | machine | load | date | command |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, entry in sorted(presets.items()):
        runs = entry["runs"]
        rows.append(f"| {name} | {span([100 * run['test_accuracy'] for run in runs], 2, '%')} | "
                    f"{span([run['seconds'] for run in runs], 1, ' s')} | {entry['epochs']} | "
                    f"{', '.join(str(run['seed']) for run in runs)} | {entry['machine']} | {entry['load']:.2f} | "
                    f"{entry['date']} | `{entry['command']}` |")
    return rows


def figure_rows(figures: dict) -> list[str]:
    rows = ["| figure | value | goal | value / goal | machine | load | date | command |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, entry in sorted(figures.items()):
        goal = entry.get("goal")
        ratio = f"{entry['value'] / goal:.2f}" if goal else ""
        rows.append(f"| {name} | {entry['value']:g} {entry['unit']} | {'' if goal is None else f'{goal:g}'} | "
                    f"{ratio} | {entry['machine']} | {entry['load']:.2f} | {entry['date']} | `{entry['command']}` |")
    return rows


def results_page(figures: dict) -> str:
    lines = ["# Measured results", "",
             "Written by the benchmarks (`make bench`, or each `bench/*.py` on its own); do not edit by hand. Each "
             "figure carries the machine's one-minute load average when it was taken: figures at load >= "
             f"{QUIET_LOAD} are not trustworthy.", ""]
    if "presets" in figures:
        lines += ["## Presets, trained with their own settings on all 60,000 images", "",
                  *preset_rows(figures["presets"]), ""]
    for section, entries in sorted(figures.items()):
        if section != "presets":
            lines += [f"## {section.capitalize()}", "", *figure_rows(entries), ""]
    return "\n".join(lines)
