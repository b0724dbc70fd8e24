"""Insight: what a model learned and how far to trust it. An embedding map of the test images (click a point to see
it), a robustness lab (accuracy under rotation, shift, scale, stroke thickness, noise, blur and occlusion, for
several models), the first layer's weights, and the reliability of its confidence. The work is in mnist_core;
long computations (t-SNE, the robustness sweep) are tasks of the server's job runner, shared by all sessions and
kept per model file and data set contents, so they are computed once; the user's choices are one
``InsightChoices``. Each view lives in an ``insight_*`` module beside this page."""
from __future__ import annotations

import streamlit as st

from app_pages.insight.calibration import confidence_view
from app_pages.insight.map import embedding_view
from app_pages.insight.robustness import robustness_view
from app_pages.insight.state import VIEWS, InsightChoices
from app_pages.insight.weights import weights_view
from app_pages.shared.data import dataset_or_warning
from app_pages.shared.models import model_picker, shared_registry
from app_pages.shared.state import kept, page_state


def insight_page() -> None:
    """Model picker, the view switch and the chosen view."""
    st.title("Insight")
    data = dataset_or_warning()
    registry = shared_registry()
    runs = registry.list_runs() if data is not None else []
    run_id = model_picker(runs) if data is not None else None
    if run_id is None:
        return
    choices = page_state(InsightChoices)
    view = kept(st.segmented_control, choices, "view", "View", VIEWS) or VIEWS[0]
    if view == VIEWS[0]:
        embedding_view(registry, run_id, data, choices)
    elif view == VIEWS[1]:
        robustness_view(registry, runs, run_id, data, choices)
    elif view == VIEWS[2]:
        weights_view(registry, run_id)
    else:
        confidence_view(registry, runs, run_id, data, choices)


insight_page()
