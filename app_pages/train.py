"""Train: pick a preset or build a network layer by layer, choose the training settings, and watch the run live.

Runs go to the one job runner shared by every browser session, which trains in its own thread and saves each run
to the registry; this page only submits runs and shows them, so it stays responsive and a reload finds the run again.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.architectures import LAYER_SETTINGS, SpecError, default_layer, summarize_spec
from mnist_core.charts import batch_chart, epoch_chart, progress_label
from mnist_core.config import (MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LEARNING_RATE, OPTIMIZERS, SCHEDULES, ConfigError,
                               TrainConfig, check_fits_data)
from mnist_core.data import DataSetError
from mnist_core.presets import PRESETS, SPEED_PRESET
from mnist_core.measured import preset_expectation
from mnist_core.registry import Registry, RegistryError, RunRecord, default_run_name
from mnist_core.statuses import ACTIVE, FINISHED, QUEUED, STOPPED
from app_pages.common import RUN_PARAM, flash, job_runner, load_dataset, plain, show_flash

CUSTOM = "custom"
QUICK_SUBSET = 10_000  # default subset of a custom network: a good model in well under a minute on a slow CPU
STATUS_REFRESH_S, CURVES_REFRESH_S = 1.0, 2.0  # live view refresh while a run is queued or training
SETTING_WIDTH = 86  # pixels, so that a layer's settings fit in one row
PRESET_KEY, NAME_KEY, LAYERS_KEY, SETTINGS_KEY, BASE_KEY, JOB_KEY, UID_KEY, STOPPING_KEY = (
    "train.preset", "train.name", "train.layers", "train.settings", "train.base", "train.job", "train.next_uid",
    "train.stopping")
# A request waiting for "train another anyway", the jobs as the page last showed them, a discard to confirm.
DUPLICATE_KEY, SHOWN_KEY, DISCARD_KEY = "train.duplicate", "train.shown_jobs", "train.pending_discard"
# Training settings with a number input: field -> (label, lowest, highest, step, display format).
NUMBER_SETTINGS = {
    "epochs": ("Epochs", 1, MAX_EPOCHS, 1, None),
    "batch_size": ("Batch size", 1, MAX_BATCH_SIZE, 1, None),
    "learning_rate": ("Learning rate", 0.0, MAX_LEARNING_RATE, 0.0005, "%.5f"),
    "validation_split": ("Validation split", 0.0, 0.9, 0.05, "%.2f"),
    "seed": ("Seed", 0, 2**31 - 1, 1, None),
}
CHOICE_SETTINGS = {"optimizer": ("Optimizer", OPTIMIZERS), "lr_schedule": ("Learning-rate schedule", SCHEDULES)}


# --- state ------------------------------------------------------------------------------------------------------


def primed(key: str, value) -> str:
    """``key`` for a widget, given ``value`` unless it already has one: Streamlit forgets a widget's state whenever
    the user visits another page, so this page re-supplies it from its own record of what was chosen."""
    st.session_state.setdefault(key, value)
    return key


def kept_widget(widget, key: str, default, *args, **kwargs):
    """``widget(*args, key=key, **kwargs)``, showing the value it had when the user left the page (Streamlit forgets
    the state of widgets a page does not show), ``default`` the first time; returns the widget's value."""
    st.session_state.setdefault(key, st.session_state.get(f"{key}.kept", default))
    value = widget(*args, key=key, **kwargs)
    st.session_state[f"{key}.kept"] = value
    return value


def layer_entries(layers: list[dict]) -> list[dict]:
    """Editor entries for ``layers``, each with a fresh id so its widgets start from the layer's settings."""
    first = st.session_state.get(UID_KEY, 0)
    st.session_state[UID_KEY] = first + len(layers)
    return [{"uid": first + offset, "layer": dict(layer)} for offset, layer in enumerate(layers)]


def settings_of(config: TrainConfig) -> dict:
    """The values shown in the settings widgets for ``config``: a preset trains on what it was measured on (subset
    0 = all images)."""
    fields = (*NUMBER_SETTINGS, *CHOICE_SETTINGS, "early_stopping", "patience")
    values = {field: getattr(config, field) for field in fields}
    return values | {"subset_size": config.subset_size or 0}


def load_preset() -> None:
    """Put the chosen preset's layers, settings and name into the editor ("custom" keeps what is there)."""
    name = st.session_state.get(PRESET_KEY, SPEED_PRESET)
    if name == CUSTOM:  # the layers and settings stay, but a custom network starts on the quick subset
        st.session_state[SETTINGS_KEY]["subset_size"] = QUICK_SUBSET
        st.session_state.pop("train.setting.subset_size", None)
        return
    preset = PRESETS[name]
    st.session_state[LAYERS_KEY] = layer_entries(preset.spec)
    st.session_state[SETTINGS_KEY] = settings_of(preset.config)
    st.session_state[BASE_KEY] = preset.config
    for field in st.session_state[SETTINGS_KEY]:
        st.session_state.pop(f"train.setting.{field}", None)


def move_layer(uid: int, offset: int) -> None:
    """Move a layer up (-1) or down (+1) in the editor."""
    entries = st.session_state[LAYERS_KEY]
    position = next(i for i, entry in enumerate(entries) if entry["uid"] == uid)
    target = position + offset
    if 0 <= target < len(entries):
        entries[position], entries[target] = entries[target], entries[position]


def remove_layer(uid: int) -> None:
    """Take a layer out of the editor."""
    st.session_state[LAYERS_KEY] = [entry for entry in st.session_state[LAYERS_KEY] if entry["uid"] != uid]


def add_layer() -> None:
    """Append a layer of the type chosen in "Layer type", with default settings."""
    st.session_state[LAYERS_KEY] += layer_entries([default_layer(st.session_state["train.new_layer_type"])])


# --- architecture -----------------------------------------------------------------------------------------------


def preset_picker() -> str:
    """The "Preset" selectbox with the preset's title, description and source; returns the preset name."""
    if LAYERS_KEY not in st.session_state:
        load_preset()
    choice = kept_widget(st.selectbox, PRESET_KEY, SPEED_PRESET, "Preset", [*PRESETS, CUSTOM], on_change=load_preset,
                         format_func=lambda name: PRESETS[name].title if name in PRESETS else "Custom (your own)")
    if choice in PRESETS:
        preset = PRESETS[choice]
        st.markdown(f"**{preset.title}** — {preset.description}")
        st.caption(f"Source: {preset.source}")
        st.caption(preset_expectation(choice) or "Not measured on this machine yet (`make bench` measures it).")
    else:
        st.caption("Your own network: edit the layers below. Settings stay as they were, on a quick subset of "
                   f"{QUICK_SUBSET:,} training images (0 = all).")
    return choice


def setting_widget(uid: int, name: str, setting: tuple, value):
    """The input for one layer setting, generated from its kind and bounds in ``LAYER_SETTINGS``."""
    kind, _default, *bounds = setting
    key, label = primed(f"train.layer{uid}.{name}", value), name.replace("_", " ")
    if kind == "choice":
        return st.selectbox(label, bounds[0], key=key, width=SETTING_WIDTH)
    low, high = bounds
    if kind == "int":
        return st.number_input(label, min_value=low, max_value=high, step=1, key=key, width=SETTING_WIDTH)
    return st.number_input(label, min_value=float(low), max_value=float(high), step=0.05, format="%.2f", key=key,
                           width=SETTING_WIDTH)


def layer_card(position: int, entry: dict, count: int) -> None:
    """One layer: its type and buttons to move it up or down or remove it, then its settings."""
    uid, layer = entry["uid"], entry["layer"]
    with st.container(border=True, gap="small"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{position + 1}. {layer['type']}**")
            st.space("stretch")
            st.button("↑", key=f"train.up{uid}", on_click=move_layer, args=(uid, -1), disabled=position == 0,
                      help="Move up", type="tertiary")
            st.button("↓", key=f"train.down{uid}", on_click=move_layer, args=(uid, 1),
                      disabled=position == count - 1, help="Move down", type="tertiary")
            st.button("✕", key=f"train.remove{uid}", on_click=remove_layer, args=(uid,), help="Remove this layer",
                      type="tertiary")
        settings = LAYER_SETTINGS[layer["type"]]
        if settings:
            with st.container(horizontal=True, gap="xsmall"):
                for name, setting in settings.items():
                    layer[name] = setting_widget(uid, name, setting, layer[name])


def layer_editor() -> list[dict]:
    """The editable list of hidden layers and a way to add one; returns the spec as edited."""
    st.subheader("Layers")
    entries = st.session_state[LAYERS_KEY]
    if not entries:
        st.caption("No hidden layers: the 784 pixels go straight into the softmax output (softmax regression).")
    for position, entry in enumerate(entries):
        layer_card(position, entry, len(entries))
    pick, add = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox("Layer type", list(LAYER_SETTINGS), key="train.new_layer_type")
    add.button("Add layer", on_click=add_layer, width="stretch")
    return [entry["layer"] for entry in entries]


def spec_summary(spec: list[dict]) -> bool:
    """The live parameter count and layer table of ``spec``, or why it cannot be built; True when it can."""
    st.subheader("Network")
    try:
        rows = summarize_spec(spec)
    except SpecError as error:
        st.error(f"This network cannot be built: {error}")
        return False
    st.metric("Parameters", f"{sum(row.params for row in rows):,}")
    st.dataframe([{"layer": row.name, "output shape": " × ".join(map(str, row.output_shape)), "parameters": row.params}
                  for row in rows], hide_index=True, column_config={
        "layer": st.column_config.TextColumn(width="medium"),
        "parameters": st.column_config.NumberColumn(format="localized", width="small")})
    return True


def architecture_name(choice: str, spec: list[dict]) -> str:
    """The preset's name while its layers are unchanged, else "custom"."""
    return choice if choice in PRESETS and spec == PRESETS[choice].spec else CUSTOM


# --- settings ---------------------------------------------------------------------------------------------------


def settings_form(train_count: int | None) -> dict:
    """The training-settings widgets (defaults from the preset); returns their values as ``TrainConfig`` fields."""
    chosen = st.session_state[SETTINGS_KEY]
    st.subheader("Training settings")
    left, right = st.columns(2)
    for position, (field, (label, low, high, step, number_format)) in enumerate(NUMBER_SETTINGS.items()):
        with (left, right)[position % 2]:
            chosen[field] = st.number_input(label, min_value=low, max_value=high, step=step, format=number_format,
                                            key=primed(f"train.setting.{field}", chosen[field]))
    with right:
        chosen["subset_size"] = st.number_input(
            "Training subset size", min_value=0, max_value=train_count or 10_000_000, step=1000,
            key=primed("train.setting.subset_size", min(chosen["subset_size"], train_count or QUICK_SUBSET)),
            help="Train on a stratified subset of this many training images; 0 = all of them.")
    for position, (field, (label, choices)) in enumerate(CHOICE_SETTINGS.items()):
        with (left, right)[position % 2]:
            chosen[field] = st.selectbox(label, choices, key=primed(f"train.setting.{field}", chosen[field]))
    with left:
        chosen["early_stopping"] = st.checkbox(
            "Early stopping", key=primed("train.setting.early_stopping", chosen["early_stopping"]))
    with right:
        chosen["patience"] = st.number_input("Patience", min_value=1, max_value=MAX_EPOCHS, step=1,
                                             disabled=not chosen["early_stopping"],
                                             key=primed("train.setting.patience", chosen["patience"]),
                                             help="Epochs without a better validation loss before stopping.")
    return dict(chosen) | {"subset_size": chosen["subset_size"] or None}


def checked_config(values: dict, train_count: int | None) -> TrainConfig | None:
    """The settings as a ``TrainConfig`` that fits the data, or None after saying what is wrong with them."""
    try:
        config = st.session_state[BASE_KEY].replace(**values)
        if train_count is not None:
            check_fits_data(config, train_count)
    except ConfigError as error:
        st.error(f"These settings cannot be used: {error}")
        return None
    return config


def training_data_size() -> int | None:
    """Number of training images, or None after saying that there is no data set to train on."""
    try:
        return len(load_dataset().y_train)
    except DataSetError as error:
        st.error(f"Training needs the data set: {error}")
        return None


# --- the run ----------------------------------------------------------------------------------------------------


def submit(registry: Registry, request) -> None:
    """Queue ``request`` on the shared runner and watch it."""
    st.session_state[JOB_KEY] = job_runner(registry).submit(request)


def press_train(registry: Registry, request_parts: tuple) -> None:
    """"Train" callback: queue the run, unless the very same training is already queued or running (a double
    press, or someone else's run): then ask first. Callbacks run one after another, so rapid presses queue one run."""
    from mnist_core.jobs import RunRequest

    architecture, spec, config = request_parts
    name = st.session_state.get(NAME_KEY, "").strip() or default_run_name(architecture)
    request = RunRequest(name, architecture, spec, config)
    if job_runner(registry).same_request(request) is None:
        submit(registry, request)
    else:
        st.session_state[DUPLICATE_KEY] = request


def confirm_duplicate(registry: Registry) -> None:
    """"Train another" callback: queue the request that was held back, once."""
    request = st.session_state.pop(DUPLICATE_KEY, None)
    if request is not None:
        submit(registry, request)


def submit_button(registry: Registry, request_parts: tuple | None) -> None:
    """The "Train" button (disabled until network and settings are valid, and while a duplicate awaits an answer);
    a press queues the run and returns, or asks before queueing the same training twice."""
    kept_widget(st.text_input, NAME_KEY, "", "Run name", max_chars=120,
                placeholder="the architecture and the time, e.g. fast-cnn 11-22 14:03:07")
    duplicate = st.session_state.get(DUPLICATE_KEY)
    st.button("Train", type="primary", disabled=request_parts is None or duplicate is not None,
              icon=":material/play_arrow:", on_click=press_train, args=(registry, request_parts))
    if duplicate is not None:
        same = job_runner(registry).same_request(duplicate)
        where = f"“{same.name}” (job {same.id}) is {same.status}" if same else "the same run was queued a moment ago"
        st.warning(plain(f"An identical run is already queued or training: {where}. Train another one anyway?"))
        again, cancel = st.columns(2)
        again.button("Train another", on_click=confirm_duplicate, args=(registry,), icon=":material/add:")
        cancel.button("Cancel", key="train.cancel_duplicate", on_click=st.session_state.pop, args=(DUPLICATE_KEY, None))


def watched_job(runner) -> int | None:
    """The run to show: picked in "Run to watch" when the server has several, by default the run this session
    started, else the one training, else the newest queued, else the newest (so a reload finds it again). The
    labels carry each run's status as it is now; the live view redraws the page when one changes."""
    briefs = runner.briefs()
    st.session_state[SHOWN_KEY] = briefs
    if len(briefs) <= 1:
        return briefs[0].id if briefs else None
    labels = {brief.id: f"{brief.name} · {brief.status} · job {brief.id}" for brief in briefs}
    if st.session_state.get(JOB_KEY) not in labels:
        by_interest = sorted(briefs, key=lambda brief: ACTIVE.index(brief.status) if brief.status in ACTIVE else 2)
        st.session_state[JOB_KEY] = by_interest[0].id
    ids = list(labels)
    # Not keyed: a keyed selectbox keeps its identity when only its labels change, and the browser then goes on
    # showing the old label of the chosen run; unkeyed, new labels make a new widget, started on the kept choice.
    st.session_state[JOB_KEY] = st.selectbox("Run to watch", ids, index=ids.index(st.session_state[JOB_KEY]),
                                             format_func=labels.get)
    return st.session_state[JOB_KEY]


def run_status(view) -> None:
    """Queue position or progress bar of a run that has not ended."""
    if view.status == QUEUED:
        st.info(f"Queued: position {view.queue_position} in line")
    elif view.latest is None:
        st.progress(0.0, text="Preparing the data and building the model…")
    elif view.latest.fraction_done >= 1:
        st.progress(1.0, text="Trained: now testing the model on the test set and saving it…")
    else:
        event = view.latest
        st.progress(event.fraction_done, text=progress_label(event.epoch, event.epochs, event.samples_per_s,
                                                             event.eta))


def training_curves(view) -> None:
    """Loss and accuracy per batch (raw and smoothed) and per epoch (train and validation, best epoch marked)."""
    if not view.batches:
        return
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        with column:
            st.altair_chart(batch_chart(view.batches, metric), width="stretch")
            if view.epochs:
                st.altair_chart(epoch_chart(view.epochs, metric), width="stretch")
    st.caption(f"{len(view.batches)} batches recorded")


def run_outcome(view) -> None:
    """How a run ended, its test metrics and where it was saved."""
    if view.status == FINISHED:
        st.success(f"Finished: {plain(view.reason)}")
    elif view.status == STOPPED:
        st.warning(f"Stopped: {plain(view.reason)}")
    else:
        st.error(f"Failed: {plain(view.reason)}")
    record = view.record
    if record is None:
        st.caption("Nothing was saved: the run did not get as far as training.")
        return
    if record.test_accuracy is not None:
        accuracy, loss = st.columns(2)
        accuracy.metric("Test accuracy", f"{record.test_accuracy:.2%}", border=True)
        loss.metric("Test loss", f"{record.test_loss:.4f}", border=True)
    st.caption(plain(f"Saved to the registry as “{record.name}” (id {record.id}), {record.seconds:.1f} s of "
                     "training."))
    models, errors = st.columns(2)
    models.page_link("app_pages/models.py", label="Compare it on the Models page", icon=":material/inventory_2:")
    errors.page_link("app_pages/errors.py", label="See its mistakes on the Errors page",
                     icon=":material/error_outline:", query_params={RUN_PARAM: record.id})


def request_stop(runner, job_id: int) -> None:
    """"Stop" callback: ask the runner to stop the run, and remember that it was asked (to say so at once)."""
    runner.stop(job_id)
    st.session_state.setdefault(STOPPING_KEY, set()).add(job_id)


def stop_requested(job_id: int) -> bool:
    """Whether this session pressed Stop for the run."""
    return job_id in st.session_state.get(STOPPING_KEY, set())


def job_status(runner, job_id: int) -> None:
    """The run's name, queue place or progress and the Stop button, then how it ended; refreshed every second while
    a run is active, and the whole page redrawn once any run's status changed (labels, outcome, refresh)."""
    if runner.briefs() != st.session_state.get(SHOWN_KEY):
        st.rerun()
    view = runner.view(job_id)
    st.subheader(f"Run: {plain(view.name)}")
    if view.status in ACTIVE:
        stopping = stop_requested(job_id)
        if stopping:
            st.info("Stopping: the run ends after the current batch; then the model so far is tested and saved.")
        else:
            run_status(view)
        st.button("Stop", on_click=request_stop, args=(runner, job_id), icon=":material/stop:", disabled=stopping,
                  help="Stop after the current batch; the model so far is tested and saved.")
    else:
        run_outcome(view)


def job_curves(runner, job_id: int) -> None:
    """The run's training curves; refreshed less often than the status, since drawing them takes the CPU that
    training needs, and not at all while a stop is under way (so testing and saving the model is not slowed)."""
    view = runner.view(job_id)
    if view.status in ACTIVE and stop_requested(job_id):
        st.caption(f"{len(view.batches)} batches recorded; the curves are shown again once the run is saved.")
        return
    training_curves(view)


def live_view(registry: Registry) -> None:
    """The run this session is watching, refreshed live while it trains."""
    runner = job_runner(registry)
    job_id = watched_job(runner)
    if job_id is None:
        st.caption("No run yet on this server: press Train to start one.")
        return
    any_active = any(brief.status in ACTIVE for brief in st.session_state[SHOWN_KEY])
    active = runner.view(job_id).status in ACTIVE
    st.fragment(job_status, run_every=STATUS_REFRESH_S if any_active else None)(runner, job_id)
    st.fragment(job_curves, run_every=CURVES_REFRESH_S if active else None)(runner, job_id)


def resume(registry: Registry, interrupted: RunRecord) -> None:
    """"Resume" callback: queue the interrupted run to go on from its last finished epoch, and watch it."""
    from mnist_core.jobs import resume_request

    submit(registry, resume_request(interrupted))


def discard(registry: Registry, run_id: str) -> None:
    """"Discard for good" callback: delete the interrupted run's checkpoint and history."""
    st.session_state.pop(DISCARD_KEY, None)
    try:
        registry.discard_interrupted(run_id)
    except RegistryError as error:
        flash("error", f"Could not discard: {error}")


def interrupted_runs(registry: Registry) -> None:
    """Runs whose server died mid-training (listed once no live process trains them), each with Resume (from its
    last finished epoch, same settings) and Discard (after a confirmation naming it)."""
    resuming = {brief.resume_id for brief in job_runner(registry).briefs() if brief.status in ACTIVE}
    runs = [record for record in registry.list_interrupted() if record.id not in resuming]
    show_flash()
    if not runs:
        return
    st.subheader("Interrupted runs")
    st.caption("These runs stopped when their server or machine did. Resume goes on after the last finished epoch.")
    for record in runs:
        total = (record.config or {}).get("epochs", "?")
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.text(f"{record.name} · {record.architecture} · {len(record.epochs)} of {total} epochs done · "
                    f"id {record.id}")
            st.button("Resume", key=f"train.resume.{record.id}", on_click=resume, args=(registry, record),
                      icon=":material/play_circle:", type="primary")
            st.button("Discard", key=f"train.discard.{record.id}", on_click=st.session_state.__setitem__,
                      args=(DISCARD_KEY, record.id))
        if st.session_state.get(DISCARD_KEY) == record.id:
            st.warning(plain(f"Discard “{record.name}” ({record.id}) for good? Its checkpoint and history are "
                             "deleted."))
            confirm, cancel = st.columns([1, 5])
            confirm.button("Discard for good", key=f"train.discard_confirm.{record.id}", type="primary",
                           on_click=discard, args=(registry, record.id))
            cancel.button("Cancel", key=f"train.discard_cancel.{record.id}", on_click=st.session_state.pop,
                          args=(DISCARD_KEY, None))


def train_page() -> None:
    """Preset and layers on the left; settings, the Train button and the network summary on the right; the live
    run below."""
    st.title("Train")
    registry = Registry()
    network, settings = st.columns([5, 4], gap="large")
    with network:
        choice = preset_picker()
        spec = layer_editor()
    with settings:
        train_count = training_data_size()
        config = checked_config(settings_form(train_count), train_count)
        submit_area = st.container()  # above the summary on screen, but filled once the spec is checked
        spec_ok = spec_summary(spec)
        ready = spec_ok and config is not None and train_count is not None
        with submit_area:
            submit_button(registry, (architecture_name(choice, spec), spec, config) if ready else None)
    st.divider()
    interrupted_runs(registry)
    live_view(registry)


train_page()
