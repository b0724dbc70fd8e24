"""A sweep's charts, drawn by Optuna's own visualisations (``optuna.visualization``, Plotly figures): parallel
coordinates (log axes for log ranges, every axis with its values), the best value so far, parameter importances,
slice and contour plots, and the intermediate values the pruner judged. Charts that draw a line or a grid row per
trial are drawn from an evenly spaced share of a big study's finished trials, so they stay quick to draw and
readable; ``sweep_figure`` says so in its caption."""

from __future__ import annotations

import optuna
import optuna.visualization as optuna_charts
from optuna.trial import TrialState

VALUE_NAME = "validation accuracy"
PARALLEL, HISTORY, IMPORTANCES, SLICE, CONTOUR, INTERMEDIATE = (
    "Parallel coordinates", "Best so far", "Importances", "Slice", "Contour", "Intermediate values")
CHARTS = (PARALLEL, HISTORY, IMPORTANCES, SLICE, CONTOUR, INTERMEDIATE)
DRAWN_TRIALS = {PARALLEL: 100, INTERMEDIATE: 100,  # a Plotly trace per trial, each drawn on its own
                CONTOUR: 150,  # a grid row and column per trial
                IMPORTANCES: 500}  # fANOVA's forest grows slow with many trials
CHART_HEIGHT = 460
MARGIN = {"l": 48, "r": 16, "t": 30, "b": 10}  # room for the first parallel axis's values
AXIS_LABEL_ANGLE = -30  # parameter names under the parallel axes do not run together on a phone
COLOUR_BAR = {"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.3, "yanchor": "top", "thickness": 12,
              "title": {"side": "top"}}  # below the chart, not beside it: a phone keeps its width for the chart


class ChartUnavailable(Exception):
    """The chart cannot be drawn yet (too few completed trials, nothing varied); the message says why."""


def drawn_study(study: optuna.Study, limit: int | None) -> tuple[optuna.Study, int]:
    """The study and its number of finished trials when there are at most ``limit``; else an in-memory study of
    ``limit`` of them, evenly spaced by trial number with the best one included, and that number."""
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    if limit is None or len(finished) <= limit:
        return study, len(finished)
    step = len(finished) / limit
    kept = {int(index * step) for index in range(limit)}
    completed = [index for index, trial in enumerate(finished) if trial.state == TrialState.COMPLETE]
    if completed:
        kept.add(max(completed, key=lambda index: finished[index].value))
    sample = optuna.create_study(direction="maximize")
    sample.add_trials([finished[index] for index in sorted(kept)])
    return sample, len(finished)


def sweep_figure(study: optuna.Study, chart: str, params: list[str] | None = None):
    """Optuna's figure for ``chart`` (of the ``params`` given, all when None), sized for the page, and a caption
    saying what it draws; ``ChartUnavailable`` when the study cannot give it yet."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ChartUnavailable("Charts appear when the first trial completes.")
    drawn, finished = drawn_study(study, DRAWN_TRIALS.get(chart))
    try:
        figure = draw(drawn, chart, params)
    except (RuntimeError, ValueError) as error:  # Optuna's way of saying "not with these trials"
        raise ChartUnavailable(f"{chart} cannot be drawn yet: {error}") from None
    if not figure.data:
        raise ChartUnavailable(f"{chart} needs completed trials whose parameters differ.")
    figure.update_layout(title=None, height=CHART_HEIGHT, margin=MARGIN)
    for trace in figure.data:  # the markers' colour bars (a contour's own bar stays beside it: below, it misdraws)
        if trace.type == "scatter" and trace.marker.showscale:
            trace.marker.colorbar.update(COLOUR_BAR)
    shown = len(drawn.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    share = (f"{shown:,} of the {finished:,} finished trials, evenly spaced, the best included"
             if drawn is not study else f"all {finished:,} finished trials")
    return figure, f"{CAPTIONS[chart]} Drawn from {share}."


def draw(study: optuna.Study, chart: str, params: list[str] | None):
    """The bare Optuna figure."""
    if chart == PARALLEL:
        figure = optuna_charts.plot_parallel_coordinate(study, params=params, target_name=VALUE_NAME)
        figure.update_xaxes(tickangle=AXIS_LABEL_ANGLE, automargin=True, ticklabeloverflow="allow")
        return figure
    if chart == HISTORY:
        return optuna_charts.plot_optimization_history(study, target_name=VALUE_NAME)
    if chart == IMPORTANCES:
        return optuna_charts.plot_param_importances(study, params=params, target_name=VALUE_NAME)
    if chart == SLICE:
        return optuna_charts.plot_slice(study, params=params, target_name=VALUE_NAME)
    if chart == CONTOUR:
        return optuna_charts.plot_contour(study, params=params, target_name=VALUE_NAME)
    if chart == INTERMEDIATE:
        return optuna_charts.plot_intermediate_values(study)
    raise ValueError(f"unknown chart {chart!r}; one of {', '.join(CHARTS)}")


CAPTIONS = {
    PARALLEL: "A line per trial across an axis per parameter, coloured by validation accuracy; log ranges on log "
              "axes.",
    HISTORY: "Each completed trial's validation accuracy and the best so far.",
    IMPORTANCES: "How much each parameter explains the validation accuracy (Optuna's fANOVA; they sum to 1).",
    SLICE: "Validation accuracy against one parameter; colour is the trial number.",
    CONTOUR: "Validation accuracy over two parameters, interpolated between the trials (dots).",
    INTERMEDIATE: "Validation accuracy after each epoch: what the pruner judged (pruned trials stop early).",
}
