"""Train: pick a preset or build a network layer by layer, choose the training settings, and watch the run live.

Runs go to the one job runner shared by every browser session, which trains in its own thread and saves each run
to the registry; this page only submits runs and shows them, so it stays responsive and a reload finds the run again.
The layer editor, the settings, the live view and the interrupted runs live in the ``train_*`` modules beside it.
"""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.models import shared_registry
from app_pages.shared.state import kept, kept_key, page_state
from app_pages.shared.text import plain
from app_pages.train.choices import TrainChoices
from app_pages.train.code_view import code_view
from app_pages.train.interrupted import interrupted_runs
from app_pages.train.layers import layer_editor, load_layers, spec_summary
from app_pages.train.live import active_run_line, live_view, submit
from app_pages.train.settings import (
    CUSTOM_VALIDATION,
    QUICK_SUBSET,
    checked_config,
    fits_machine,
    load_settings,
    settings_form,
    start_custom,
    training_data_size,
)
from mnist_core.measured import preset_expectation
from mnist_core.store.records import default_run_name
from mnist_core.store.registry import Registry
from mnist_core.training.presets import PRESETS

CUSTOM = "custom"


def load_preset(choices: TrainChoices, name: str) -> None:
    """Put preset ``name``'s layers and settings into the editor ("custom" keeps what is there)."""
    if name == CUSTOM:
        start_custom(choices)
        return
    load_layers(choices, PRESETS[name].spec)
    load_settings(choices, PRESETS[name].config)


def preset_changed(choices: TrainChoices) -> None:
    """"Preset" callback: load the preset just picked (read from its widget: the callback runs before ``kept``
    stores it)."""
    choices.preset = st.session_state[kept_key(choices, "preset")]
    load_preset(choices, choices.preset)


def preset_picker(choices: TrainChoices) -> str:
    """The "Preset" selectbox with the preset's title, description and source; returns the preset name."""
    if choices.layers is None:  # the first visit: the default preset
        load_preset(choices, choices.preset)
    choice = kept(st.selectbox, choices, "preset", "Preset", [*PRESETS, CUSTOM], on_change=preset_changed,
                  args=(choices,),
                  format_func=lambda name: PRESETS[name].title if name in PRESETS else "Custom (your own)")
    if choice in PRESETS:
        preset = PRESETS[choice]
        st.markdown(f"**{preset.title}** — {preset.description}")
        st.caption(f"Source: {preset.source}")
        st.caption(preset_expectation(choice) or "Not measured on this machine yet (`make bench` measures it).")
        if not preset.config.validation_split:
            st.caption("It trains on all the training images, as it was measured, so its epoch curves are on "
                       "training data only; set a validation split above 0 to hold some images out.")
    else:
        st.caption("Your own network: edit the layers below. Settings stay as they were, on a quick subset of "
                   f"{QUICK_SUBSET:,} training images (0 = all), with {CUSTOM_VALIDATION:.0%} of them "
                   "held out to validate each epoch.")
    return choice


def architecture_name(choice: str, spec: list[dict]) -> str:
    """The preset's name while its layers are unchanged, else "custom"."""
    return choice if choice in PRESETS and spec == PRESETS[choice].spec else CUSTOM


def press_train(registry: Registry, request_parts: tuple) -> None:
    """"Train" callback: queue the run, unless the very same training is already queued or running (a double
    press, or someone else's run): then ask first. Callbacks run one after another, so rapid presses queue one run."""
    from mnist_core.jobs.requests import RunRequest

    architecture, spec, config = request_parts
    choices = page_state(TrainChoices)
    name = st.session_state.get(kept_key(choices, "name"), choices.name).strip() or default_run_name(architecture)
    request = RunRequest(name, architecture, spec, config)
    if job_runner(registry).same_request(request) is None:
        submit(registry, request)
    else:
        choices.held = request


def answer_held(registry: Registry, choices: TrainChoices, train: bool) -> None:
    """"Train another" (``train``) or "Cancel" callback: queue the request that was held back, once, or drop it."""
    request, choices.held = choices.held, None
    if train and request is not None:
        submit(registry, request)


def submit_button(registry: Registry, choices: TrainChoices, request_parts: tuple | None) -> None:
    """The "Train" button (disabled until network and settings are valid, and while a duplicate awaits an answer);
    a press queues the run and returns, or asks before queueing the same training twice."""
    kept(st.text_input, choices, "name", "Run name", max_chars=120,
         placeholder="the architecture and the time, e.g. fast-cnn 11-22 14:03:07")
    st.button("Train", type="primary", disabled=request_parts is None or choices.held is not None,
              icon=":material/play_arrow:", on_click=press_train, args=(registry, request_parts))
    if choices.held is not None:
        same = job_runner(registry).same_request(choices.held)
        where = f"“{same.name}” (job {same.id}) is {same.status}" if same else "the same run was queued a moment ago"
        st.warning(plain(f"An identical run is already queued or training: {where}. Train another one anyway?"))
        again, cancel = st.columns(2)
        again.button("Train another", on_click=answer_held, args=(registry, choices, True), icon=":material/add:")
        cancel.button("Cancel", key="train.cancel_duplicate", on_click=answer_held, args=(registry, choices, False))


def train_page() -> None:
    """Preset and layers on the left; settings, the Train button with the watched run's live panel under it, and the
    network summary on the right; the run's curves below everything."""
    st.title("Train")
    registry = shared_registry()
    choices = page_state(TrainChoices)
    active_run_line(registry)
    editor, curves_area = st.container(), st.container()  # the curves go below the editor, drawn with the panel
    with editor:
        editor_and_panel(registry, choices, curves_area)


def editor_and_panel(registry: Registry, choices: TrainChoices, curves_area) -> None:
    """The network, the settings, the Train button and the live panel, the code, and the interrupted runs."""
    network, settings = st.columns([5, 4], gap="large")
    with network:
        choice = preset_picker(choices)
        spec = layer_editor(choices)
    with settings:
        train_count = training_data_size()
        config = checked_config(choices, settings_form(choices), train_count)
        submit_area = st.container()  # above the summary on screen, but filled once the spec is checked
        spec_ok = spec_summary(spec)
        with submit_area:
            ready = spec_ok and config is not None and train_count is not None and fits_machine(spec, config)
            submit_button(registry, choices, (architecture_name(choice, spec), spec, config) if ready else None)
            live_view(registry, choices, curves_area)
    code_view(choices, choices.name.strip() or architecture_name(choice, spec),
              architecture_name(choice, spec), spec, config)
    st.divider()
    interrupted_runs(registry)


train_page()
