"""My digits: the drawings you filed from the Draw page (grid per digit, remove, export, import), how well models
read them (held-out part apart, misread ones shown) and a fine-tune on MNIST + your digits through the job runner."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.charts import progress_label
from mnist_core.my_digits import HOLD_OUT_SHARE, MyDigits, MyDigitsError
from mnist_core.pictures import enlarge
from mnist_core.registry import DEFAULT_ID, Registry, RunRecord
from app_pages.common import flash, job_runner, model_for, model_picker, plain, run_label, shared_registry, show_flash

ZOOM = 3  # 28×28 drawings shown at 84×84
TILE_PX = 28 * ZOOM  # every tile the same width, whatever its caption
STATUS_REFRESH_S = 1.0
ACTIVE = ("running", "queued")  # job states as mnist_core.jobs names them (that module loads TensorFlow)
JOB_KEY, IMPORTED_KEY, REMOVE_KEY = "mine.job", "mine.imported", "mine.remove"
DEFAULT_EPOCHS, MAX_EPOCHS = 2, 10


# --- the set ----------------------------------------------------------------------------------------------------


def set_summary(collection: MyDigits) -> dict:
    """Drawings per digit, held out and in total, as a one-row table and a caption; returns the counts."""
    counts = collection.counts()
    st.dataframe([{"": "drawings", **{str(d): n for d, n in counts["per_digit"].items()}, "total": counts["total"]},
                  {"": "held out", **{str(d): n for d, n in counts["held_out_per_digit"].items()},
                   "total": counts["held_out"]}], hide_index=True)
    st.caption(f"{counts['held_out']} of {counts['total']} drawings are held out: about {HOLD_OUT_SHARE:.0%} of each "
               "digit, chosen by a fixed hash of each drawing's id, never trained on, so the accuracy on them says "
               "how well a model reads drawings it has not seen.")
    return counts


def digit_grids(collection: MyDigits, items) -> None:
    """Every drawing as the model saw it, one row per digit; held-out ones are marked."""
    for digit in range(10):
        chosen = [item for item in items if item.label == digit]
        if chosen:
            st.markdown(f"**{digit}** · {len(chosen)}")
            st.image([enlarge(collection.image(item.id), ZOOM) for item in chosen],
                     caption=[f"{item.id[:6]}{' · held out' if item.held_out else ''}" for item in chosen],
                     width=TILE_PX)


def remove_control(collection: MyDigits, items) -> None:
    """Pick drawings by digit and id, and remove them."""
    labels = {item.id: f"{item.label} · {item.id[:6]}{' · held out' if item.held_out else ''}" for item in items}
    doomed = st.multiselect("Drawings to remove", list(labels), format_func=labels.get, key=REMOVE_KEY)
    if st.button("Remove", disabled=not doomed, icon=":material/delete:"):
        try:
            flash("success", f"Removed {collection.remove(doomed)} drawing(s).")
        except MyDigitsError as error:
            flash("error", str(error))
        st.session_state.pop(REMOVE_KEY, None)
        st.rerun()


def export_import(collection: MyDigits, count: int) -> None:
    """Download the set as .npz; upload one to add its drawings (once per uploaded file)."""
    st.download_button("Export My digits (.npz)", data=collection.export_bytes() if count else b"",
                       file_name="my_digits.npz", mime="application/octet-stream", disabled=not count,
                       icon=":material/download:")
    upload = st.file_uploader("Import a My digits file (.npz)", type=["npz"])
    if upload is None or st.session_state.get(IMPORTED_KEY) == upload.file_id:
        return
    st.session_state[IMPORTED_KEY] = upload.file_id
    try:
        added, skipped = collection.import_bytes(upload.getvalue())
    except MyDigitsError as error:
        st.error(f"That file was not imported: {plain(error)}")
        return
    flash("success", f"Imported {added} drawing(s); {skipped} already in My digits were skipped.")
    st.rerun()  # counts and grids above were drawn before the import


def set_view(collection: MyDigits) -> int:
    """The set: counts, grids, remove, export and import; returns the number of drawings."""
    show_flash()
    counts = set_summary(collection)
    items = collection.items()
    if not items:
        st.info("No drawings yet. On the Draw page, draw a digit and press “That was a …” to file it here "
                "(about 10 of each digit make a fine-tune work well), or import a file below.")
        st.page_link("app_pages/draw.py", label="Go to the Draw page", icon=":material/draw:")
    else:
        digit_grids(collection, items)
        remove_control(collection, items)
    export_import(collection, counts["total"])
    return counts["total"]


# --- measuring --------------------------------------------------------------------------------------------------


def model_scores(model, images: np.ndarray, labels: np.ndarray, held: np.ndarray) -> tuple[dict, np.ndarray]:
    """Accuracy on all drawings, on the held-out ones and per digit; and the probabilities."""
    from mnist_core.evaluation import predict_probabilities

    probabilities = predict_probabilities(model, images)
    right = probabilities.argmax(axis=1) == labels
    row = {"my digits": right.mean(), "held out": right[held].mean() if held.any() else None}
    row |= {str(d): right[labels == d].mean() if (labels == d).any() else None for d in range(10)}
    return row, probabilities


def misread(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> None:
    """The drawings a model gets wrong, captioned true → predicted (confidence)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if not len(wrong):
        st.caption("Reads every one of your drawings right.")
        return
    st.image([enlarge(images[i], ZOOM) for i in wrong],
             caption=[f"{labels[i]} → {predicted[i]} ({probabilities[i, predicted[i]]:.0%})" for i in wrong],
             width=TILE_PX)


def measure_view(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """Models side by side on My digits (all, held out, per digit) next to their MNIST test accuracy."""
    runs = {record.id: record for record in listing}
    tuned = [run_id for run_id in runs if runs[run_id].parent is not None][:1]  # the newest fine-tune, if any
    default = [run_id for run_id in (DEFAULT_ID, *tuned) if run_id in runs] or list(runs)[:1]
    picked = st.multiselect("Models to measure", list(runs), default=default,
                            format_func=lambda run_id: run_label(runs[run_id]))
    items = collection.items()
    if not picked or not items:
        return
    images, labels = collection.arrays(items)
    held = np.array([item.held_out for item in items])
    rows, misreads = [], []
    for run_id in picked:
        model = model_for(registry, run_id)
        if model is not None:
            row, probabilities = model_scores(model, images, labels, held)
            rows.append({"model": runs[run_id].name, "MNIST test": runs[run_id].test_accuracy, **row})
            misreads.append((runs[run_id].name, probabilities))
    percent = st.column_config.NumberColumn(format="percent")
    columns = {key: percent for key in rows[0] if key != "model"} if rows else {}
    st.dataframe(rows, hide_index=True, column_config=columns | {"model": st.column_config.TextColumn(width="medium")})
    for name, probabilities in misreads:
        with st.expander(f"Misread by {name}", expanded=len(misreads) == 1):
            misread(images, labels, probabilities)


# --- fine-tuning ------------------------------------------------------------------------------------------------


def finetune_form(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """Pick a model and epochs, press Fine-tune: the job goes to the shared runner (queued behind any training)."""
    problem = collection.finetune_problem()
    if problem:
        st.warning(plain(problem))
    trained, held = collection.split()
    st.caption(f"A fine-tune starts from the model's weights and trains its dense layers on {len(trained)} of your "
               f"drawings (repeated, slightly shifted and turned) mixed with a few thousand MNIST images; the {len(held)} "
               "held-out drawings are never trained on and measure the result, with MNIST test.")
    base_id = model_picker(listing)
    epochs = st.number_input("Epochs", min_value=1, max_value=MAX_EPOCHS, value=DEFAULT_EPOCHS,
                             help="passes over the mix of MNIST images and your training drawings (repeated "
                                  "and slightly shifted and turned to make up a quarter of it)")
    if st.button("Fine-tune", type="primary", disabled=bool(problem) or base_id is None, icon=":material/tune:"):
        from mnist_core.finetune import finetune_request

        st.session_state[JOB_KEY] = job_runner(registry).submit(finetune_request(registry, base_id, int(epochs)))


def before_after(record: RunRecord) -> None:
    """Accuracy on the held-out drawings and on MNIST test, before and after, with what the run came from."""
    figures = record.finetune or {}
    mine, test = st.columns(2)
    if figures.get("mine_accuracy_after") is None:
        mine.metric("My held-out digits", "none held out", border=True)
    else:
        mine.metric(f"My held-out digits ({figures['held_out']})", f"{figures['mine_accuracy_after']:.1%}",
                    f"{(figures['mine_accuracy_after'] - figures['mine_accuracy_before']) * 100:+.1f} points from "
                    f"{figures['mine_accuracy_before']:.1%}", border=True)
    test.metric("MNIST test", f"{figures['test_accuracy_after']:.2%}",
                f"{(figures['test_accuracy_after'] - figures['test_accuracy_before']) * 100:+.2f} points from "
                f"{figures['test_accuracy_before']:.2%}", border=True)
    st.caption(plain(f"Saved as “{record.name}” (id {record.id}): {record.reason}; {record.seconds:.1f} s."))
    st.page_link("app_pages/draw.py", label="Try it on the Draw page", icon=":material/draw:")


def request_stop(runner, job_id: int) -> None:
    runner.stop(job_id)


def job_view(runner, job_id: int, was_active: bool) -> None:
    """The fine-tune's progress and Stop button while it runs; how it ended, and the figures, after."""
    view = runner.view(job_id)
    st.subheader(f"Fine-tune: {plain(view.name)}")
    if view.status == "queued":
        st.info(f"Queued: position {view.queue_position} in line (behind a training run).")
    elif view.status == "running":
        event = view.latest
        if event is None or event.fraction_done >= 1:
            st.progress(1.0 if event else 0.0, text="Measuring the model and saving it…")
        else:
            st.progress(event.fraction_done, text=progress_label(event.epoch, event.epochs, event.samples_per_s,
                                                                 event.eta))
    if view.status in ACTIVE:
        st.button("Stop", on_click=request_stop, args=(runner, job_id), icon=":material/stop:")
        return
    if view.status == "failed":
        st.error(f"The fine-tune failed: {plain(view.reason)}")
    elif view.status == "stopped":
        st.warning(f"Stopped: {plain(view.reason)}")
    else:
        st.success("Fine-tuned.")
    if view.record is not None and view.record.finetune:
        before_after(view.record)
    if was_active:
        st.rerun()  # redraw the page once (new run in the pickers) and stop refreshing


def finetune_view(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """The form, then the fine-tune this session started, live."""
    finetune_form(registry, collection, listing)
    job_id = st.session_state.get(JOB_KEY)
    if job_id is None:
        return
    runner = job_runner(registry)
    active = runner.view(job_id).status in ACTIVE
    st.fragment(job_view, run_every=STATUS_REFRESH_S if active else None)(runner, job_id, active)


def my_digits_page() -> None:
    st.title("My digits")
    st.caption("Find out how a model reads your handwriting and teach it: file drawings from the Draw page, measure "
               "models on them, fine-tune one on MNIST plus your digits.")
    registry = shared_registry()
    collection = MyDigits(registry)
    try:
        collection.items()
    except MyDigitsError as error:
        st.error(f"My digits cannot be read: {plain(error)}")
        return
    listing = registry.list_runs()
    yours, measure, tune = st.tabs(["Your drawings", "Measure models", "Fine-tune"])
    with yours:
        set_view(collection)
    with measure:
        measure_view(registry, collection, listing)
    with tune:
        finetune_view(registry, collection, listing)


my_digits_page()
