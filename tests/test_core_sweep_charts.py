"""The sweep's charts are Optuna's own figures: parallel coordinates with a log axis for a log range and values on
every axis, a big study drawn from an evenly spaced share with the best trial kept, and a clear message before any
trial completes. Studies are made by ``told_trials`` (Optuna's ask/tell and the project's ``suggest``)."""

from __future__ import annotations

import math

import optuna
import pytest

from helpers import told_trials


def study_of(complete: int, pruned: int) -> optuna.Study:
    from mnist_core.sweeps.spaces import load_space

    study = optuna.create_study(direction="maximize")
    study.add_trials(told_trials(load_space("quick"), complete, pruned))
    return study


def axis_ticks(figure, param: str) -> dict[str, float]:
    """The values written along one parallel axis and their heights (0 bottom, 1 top)."""
    axis = list(figure.layout.xaxis.ticktext).index(param)
    return {note.text: note.y for note in figure.layout.annotations if note.x == axis}


def test_parallel_coordinates_put_a_log_range_on_a_log_axis_with_its_values():
    from mnist_core.sweeps.charts import PARALLEL, sweep_figure

    study = study_of(40, 5)
    figure, caption = sweep_figure(study, PARALLEL)
    rates = [trial.params["learning_rate"] for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]
    low, high = math.log10(min(rates)), math.log10(max(rates))
    ticks = axis_ticks(figure, "learning_rate")
    assert ticks["0.001"] == pytest.approx((-3 - low) / (high - low), abs=0.01)  # log spacing, not linear
    assert len(axis_ticks(figure, "dropout")) >= 2 and len(axis_ticks(figure, "optimizer")) == 2  # values shown
    assert len([trace for trace in figure.data if trace.mode == "lines"]) == 40  # one line per completed trial
    assert "all 45 finished trials" in caption


def test_a_big_study_is_drawn_from_an_evenly_spaced_share_with_the_best_trial():
    from mnist_core.sweeps.charts import DRAWN_TRIALS, HISTORY, PARALLEL, drawn_study, sweep_figure

    study = study_of(380, 40)
    drawn, finished = drawn_study(study, DRAWN_TRIALS[PARALLEL])
    assert finished == 420 and DRAWN_TRIALS[PARALLEL] <= len(drawn.trials) <= DRAWN_TRIALS[PARALLEL] + 1
    assert drawn.best_value == study.best_value
    _, caption = sweep_figure(study, PARALLEL)
    assert f"{len(drawn.trials)} of the 420 finished trials" in caption
    assert "all 420 finished trials" in sweep_figure(study, HISTORY)[1]  # one trace for all: nothing left out


def test_every_chart_draws_and_none_before_a_trial_completes():
    from mnist_core.sweeps.charts import CHARTS, CONTOUR, SLICE, ChartUnavailable, sweep_figure

    study = study_of(12, 3)
    for chart in CHARTS:
        params = {SLICE: ["dropout"], CONTOUR: ["learning_rate", "dropout"]}.get(chart)
        figure, _ = sweep_figure(study, chart, params)
        assert figure.data and figure.layout.height
    with pytest.raises(ChartUnavailable, match="first trial completes"):
        sweep_figure(study_of(0, 2), CHARTS[0])
