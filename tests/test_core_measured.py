"""The benchmark figures file and the "what to expect" line a preset shows from it."""

from __future__ import annotations

import json

from mnist_core.measured import load_figures, preset_expectation, span


def test_span_shows_one_value_or_the_range():
    assert span([99.06, 99.25, 99.1], 2, "%") == "99.06–99.25%"
    assert span([5.21, 5.24], 1, " s") == "5.2 s"


def test_expectation_comes_from_the_recorded_runs(tmp_path):
    figures = {"presets": {"fast-cnn": {"epochs": 1, "machine": "2 CPU cores", "load": 0.12, "date": "2026-11-22",
                                        "runs": [{"seed": 1, "test_accuracy": 0.9912, "seconds": 2.81},
                                                 {"seed": 2, "test_accuracy": 0.9905, "seconds": 2.95}]}}}
    path = tmp_path / "measured.json"
    path.write_text(json.dumps(figures), encoding="utf-8")
    text = preset_expectation("fast-cnn", load_figures(path))
    assert "99.05–99.12% test accuracy" in text and "2.8–3.0 s of training" in text and "(2 seeds, 1 epoch," in text
    assert "load" not in text and "2026" not in text  # the machine's load and the date are for bench/RESULTS.md
    assert preset_expectation("best-cnn", load_figures(path)) is None


def test_a_missing_or_broken_file_means_nothing_measured(tmp_path):
    assert load_figures(tmp_path / "none.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2", encoding="utf-8")
    assert load_figures(broken) == {}
