"""Models: every saved run in a sortable table, their learning curves compared, and renaming, deleting,
downloading and uploading models. TensorFlow is loaded only to check an uploaded model."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.models.compare import ModelsChoices, comparison, digest, labels_version
from app_pages.shared.models import run_label, shared_registry
from app_pages.shared.navigation import TRAIN_HINT
from app_pages.shared.state import flash, kept, page_state, show_flash
from app_pages.shared.text import plain
from app_pages.train.code_view import code_downloads
from mnist_core.errors import DigitLabError
from mnist_core.model.checks import MAX_ARCHIVE_BYTES
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import DEFAULT_ID, Registry

UPLOAD_KEY = "models.upload"


@st.cache_resource(max_entries=4, show_spinner=False)
def runs_frame(version: str, default_id: str | None, _rows: list[dict]) -> pd.DataFrame:
    """The runs table's rows as a frame, built once per state of the registry's listing (``version``: a digest of
    the rows) and shared by every session (read, never changed): a registry of thousands of runs is not framed
    again on every visit."""
    frame = pd.DataFrame(_rows)
    frame["default"] = frame["id"] == default_id
    frame["created"] = pd.to_datetime(frame["created"], errors="coerce", utc=True)
    return frame


def runs_table(runs: list[RunRecord], default_id: str | None) -> None:
    """All runs, newest first, sortable by any column; the default model is ticked."""
    rows = [record.summary_row() for record in runs]
    st.dataframe(
        runs_frame(digest(rows), default_id, rows), hide_index=True,
        column_order=["default", "name", "architecture", "params", "epochs", "test_accuracy", "seconds", "status",
                      "created", "id"],
        column_config={
            "default": st.column_config.CheckboxColumn(
                "default", help="Preselected on Draw, Errors, Insight and Kaggle, and used by the CLI"),
            "name": st.column_config.TextColumn("name", width="medium"),  # a long name must not push the rest away
            "params": st.column_config.NumberColumn("params", format="localized"),
            "test_accuracy": st.column_config.NumberColumn("test accuracy", format="percent"),
            "seconds": st.column_config.NumberColumn("duration", format="%.1f s", help="Seconds of training"),
            "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        })


def default_label(registry: Registry, default_id: str | None) -> str:
    """The default model in a sentence: the built-in one (not "default · 99.61% · default"), or the run chosen."""
    if default_id is None:
        return "none installed"
    record = registry.record(default_id)
    if default_id == DEFAULT_ID:
        accuracy = "" if record.test_accuracy is None else f", {record.test_accuracy:.2%}"
        return f"the built-in one ({record.architecture}{accuracy})"
    return run_label(record)


def rename_run(run_id: str, name_key: str) -> None:
    """Button callback: give the run the name typed in "New name"."""
    try:
        record = shared_registry().rename(run_id, st.session_state[name_key])
    except DigitLabError as error:  # no such run, or a full disk
        flash("error", f"Could not rename: {error}")
    else:
        flash("success", f"Renamed to “{record.name}”.")


def make_default(run_id: str) -> None:
    """Button callback: make the run the default model, for every page and the CLI."""
    try:
        record = shared_registry().set_default(run_id)
    except DigitLabError as error:  # deleted meanwhile, or a full disk
        flash("error", f"Could not make it the default: {error}")
    else:
        flash("success", f"“{record.name}” is now the default model: Draw, Errors, Insight and Kaggle start on it.")


def delete_run(run_id: str) -> None:
    """Button callback for "Confirm delete": remove the run for good."""
    page_state(ModelsChoices).deleting = None
    try:
        shared_registry().delete(run_id)
    except (RegistryError, OSError) as error:
        flash("error", f"Could not delete: {error}")
    else:
        flash("success", f"Deleted run {run_id}.")


def ask_to_delete(choices: ModelsChoices, run_id: str | None) -> None:
    """Button callback: "Delete" asks to confirm for that run; "Cancel" (``None``) drops the question."""
    choices.deleting = run_id


def picked_run(runs: list[RunRecord], choices: ModelsChoices) -> RunRecord:
    """The "Run" picker, by run id: it keeps the user's run while others save, rename or delete theirs (and when
    the user comes back from another page), with its new name once renamed; the newest run until one is picked, or
    once the picked is gone."""
    labels = {record.id: run_label(record) for record in runs}
    run_id = kept(st.selectbox, choices, "run", "Run", list(labels), format_func=labels.get,
                  version=labels_version(labels), clean=lambda kept_id: kept_id if kept_id in labels else runs[0].id)
    return next(record for record in runs if record.id == run_id)


def run_actions(registry: Registry, runs: list[RunRecord], choices: ModelsChoices) -> None:
    """Rename, download or delete (after a confirmation naming the run, acting on that run only) the run picked."""
    st.subheader("Manage a run")
    record = picked_run(runs, choices)
    run_id = record.id
    name, download, delete = st.columns([3, 1, 1], vertical_alignment="bottom")
    with name:
        name_key = f"models.name.{run_id}"
        read_only = registry.is_shipped_default(run_id)
        typed = st.text_input("New name", value=record.name, key=name_key, max_chars=120, disabled=read_only)
        st.button("Rename", key=f"models.rename.{run_id}", on_click=rename_run, args=(run_id, name_key),
                  disabled=read_only or typed.strip() == record.name,
                  help="The shipped default model is read-only." if read_only else None)
    with download:
        try:
            st.download_button("Download .keras", registry.export(run_id), file_name=f"{run_id}.keras",
                               mime="application/octet-stream", on_click="ignore")
        except (RegistryError, OSError) as error:
            st.error(plain(f"The model file cannot be read: {error}"))
    with delete:
        shipped = run_id == DEFAULT_ID
        st.button("Delete", key=f"models.delete.{run_id}", disabled=shipped, on_click=ask_to_delete,
                  args=(choices, run_id),
                  help="The shipped model cannot be deleted." if shipped else "Asks for confirmation first.")
    is_chosen = run_id == registry.default_id()
    st.button("Make default", key=f"models.make_default.{run_id}", on_click=make_default, args=(run_id,),
              disabled=is_chosen, icon=":material/star:",
              help="It is the default model." if is_chosen else "Preselect it on Draw, Errors, Insight and Kaggle, "
              "and use it in the CLI when no model is named.")
    code_downloads(record)
    if choices.deleting == run_id:  # the question names the run its answer acts on
        st.warning(plain(f"Delete “{record.name}” ({run_id}) for good? Its model file and history are removed."))
        confirm, cancel = st.columns([1, 5])
        confirm.button("Confirm delete", key=f"models.confirm_delete.{run_id}", type="primary", on_click=delete_run,
                       args=(run_id,))
        cancel.button("Cancel", key=f"models.cancel_delete.{run_id}", on_click=ask_to_delete,
                      args=(choices, None))


def import_upload() -> None:
    """File-uploader callback: add an uploaded .keras file as a run once the registry's import has checked it."""
    upload = st.session_state.get(UPLOAD_KEY)
    imported = page_state(ModelsChoices).imported
    if upload is None or upload.file_id in imported:
        return
    imported.add(upload.file_id)
    try:
        record = shared_registry().import_model(Path(upload.name).stem, upload.getvalue())
    except DigitLabError as error:  # a refused file, or a full disk
        flash("error", f"{upload.name} was refused: {str(error).removeprefix('refused: ')}")
    else:
        flash("success", f"Imported {upload.name} as “{record.name}” (id {record.id}, {record.params:,} parameters).")


def upload_form() -> None:
    """The uploader for a .keras model; the result is reported on the next run."""
    st.subheader("Upload a model")
    st.file_uploader("Upload a .keras model", type=["keras"], key=UPLOAD_KEY, on_change=import_upload,
                     max_upload_size=math.ceil(MAX_ARCHIVE_BYTES / 2**20),  # what the file check accepts, said up front
                     help="Checked before loading: only standard Keras layers (Dense, Conv2D, pooling, dropout, "
                          "normalization, augmentation…) and at most 8 million parameters are accepted, so files "
                          "with code or oversized parts are refused, and so are models whose input is not a 28×28 "
                          "image or whose output is not 10 classes. `python -m mnist_core import` runs the same check.")


def models_page() -> None:
    """Messages, the table, the comparison, the actions and the uploader."""
    st.title("Models")
    show_flash()
    registry = shared_registry()
    skipped: list[str] = []
    runs = registry.list_runs(skipped)
    for warning in skipped:
        st.warning(plain(f"A folder in the registry ({registry.root}) is not a usable run and was {warning}"))
    if not runs:
        st.info(f"No saved runs in {registry.root} yet. {TRAIN_HINT}")
    else:
        default_id = registry.default_id()
        st.caption(plain(f"{len(runs)} run(s) in {registry.root}. "
                         f"Default model: {default_label(registry, default_id)}."))
        choices = page_state(ModelsChoices)
        runs_table(runs, default_id)
        comparison(runs, choices)
        run_actions(registry, runs, choices)
    upload_form()


models_page()
