"""The Train page's interrupted runs: runs whose server died mid-training, each with Resume and Discard."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.engine import job_runner
from app_pages.shared.state import flash, page_state, show_flash
from app_pages.shared.text import plain
from app_pages.train.choices import TrainChoices
from app_pages.train.live import submit
from mnist_core.model.architectures import SpecError, check_fits_machine
from mnist_core.model.config import ConfigError
from mnist_core.statuses import ACTIVE
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import Registry


def resume(registry: Registry, interrupted: RunRecord) -> None:
    """"Resume" callback: queue the interrupted run to go on from its last finished epoch, and watch it; or say why
    it cannot go on here (settings out of today's ranges, a network too large for this machine)."""
    from mnist_core.jobs.requests import resume_request

    try:
        request = resume_request(interrupted)
        check_fits_machine(request.spec, request.config)
    except (ConfigError, SpecError) as error:
        flash("error", f"“{interrupted.name}” cannot be resumed here: {error}")
        return
    submit(registry, request)


def discard(registry: Registry, run_id: str) -> None:
    """"Discard for good" callback: delete the interrupted run's checkpoint and history."""
    page_state(TrainChoices).discarding = None
    try:
        registry.discard_interrupted(run_id)
    except RegistryError as error:
        flash("error", f"Could not discard: {error}")


def interrupted_runs(registry: Registry) -> None:
    """Runs whose server died mid-training (listed once no live process trains them), each with Resume (from its
    last finished epoch, same settings) and Discard (after a confirmation naming it)."""
    resuming = {brief.resume_id for brief in job_runner(registry).briefs() if brief.status in ACTIVE}
    skipped: list[str] = []  # damaged work folders, each said once here
    runs = [record for record in registry.list_interrupted(skipped) if record.id not in resuming]
    show_flash()
    for line in skipped:
        st.warning(plain(f"An interrupted run cannot be listed: {line.removeprefix('skipped ')}"))
    if not runs:
        return
    choices = page_state(TrainChoices)
    st.subheader("Interrupted runs")
    st.caption("These runs stopped when their server or machine did. Resume goes on after the last finished epoch.")
    for record in runs:
        total = (record.config or {}).get("epochs", "?")
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.text(f"{record.name} · {record.architecture} · {len(record.epochs)} of {total} epochs done · "
                    f"id {record.id}")
            st.button("Resume", key=f"train.resume.{record.id}", on_click=resume, args=(registry, record),
                      icon=":material/play_circle:", type="primary")
            st.button("Discard", key=f"train.discard.{record.id}", on_click=setattr,
                      args=(choices, "discarding", record.id))
        if choices.discarding == record.id:
            st.warning(plain(f"Discard “{record.name}” ({record.id}) for good? Its checkpoint and history are "
                             "deleted."))
            confirm, cancel = st.columns([1, 5])
            confirm.button("Discard for good", key=f"train.discard_confirm.{record.id}", type="primary",
                           on_click=discard, args=(registry, record.id))
            cancel.button("Cancel", key=f"train.discard_cancel.{record.id}", on_click=setattr,
                          args=(choices, "discarding", None))
