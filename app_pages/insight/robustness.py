"""The Insight page's robustness lab: accuracy of several models as each transform (rotation, shift, scale, stroke
thickness, noise, blur, occlusion) grows more severe, swept in background tasks kept per model file, data set
contents, sample and transforms, with an example image at every severity."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.insight.state import ROBUSTNESS_SAMPLES, InsightChoices
from app_pages.insight.tasks import task_failed, task_for, wait_for
from app_pages.shared.models import model_for, model_key, run_label
from app_pages.shared.state import kept
from app_pages.shared.text import plain
from mnist_core.data.mnist import MnistData
from mnist_core.data.pictures import enlarge
from mnist_core.store.records import RegistryError, RunRecord
from mnist_core.store.registry import Registry

CHARTS_PER_ROW = 2


def lab_settings(runs: list[RunRecord], run_id: str, test_count: int,
                 choices: InsightChoices) -> tuple[list[str], list[str], int, int]:
    """The "Models", "Transforms", "Test images" and "Example image" choices."""
    from mnist_core.insight.robustness import TRANSFORMS

    labels = {record.id: run_label(record) for record in runs}
    models = kept(st.multiselect, choices, "lab_models", "Models", list(labels), format_func=labels.get,
                  help="One curve per model.", clean=lambda kept_ids: [i for i in kept_ids if i in labels] or [run_id])
    transforms = kept(st.multiselect, choices, "transforms", "Transforms", list(TRANSFORMS),
                      clean=lambda names: list(TRANSFORMS) if names is None else names)
    sample_column, example_column = st.columns(2)
    with sample_column:
        sample = kept(st.selectbox, choices, "sample", "Test images", ROBUSTNESS_SAMPLES,
                      format_func=lambda n: f"{n:,} (stratified sample)")
    with example_column:
        example = kept(st.number_input, choices, "example", "Example image", min_value=0, max_value=test_count - 1,
                       step=1, help="The test image shown transformed under each chart.",
                       clean=lambda index: min(max(int(index), 0), test_count - 1))
    return models, transforms, sample, int(example)


def sweep_task(registry: Registry, run_id: str, data: MnistData, sample: int, transforms: list[str]):
    """The background task sweeping one model, or None after an error saying why the model cannot be used."""
    from mnist_core.insight.embedding import sample_indices
    from mnist_core.insight.robustness import robustness_curves

    model = model_for(registry, run_id)
    if model is None:
        return None
    try:
        key = model_key(registry, run_id)
    except (RegistryError, OSError) as error:
        st.error(plain(f"The model {run_id!r} disappeared: {error}"))
        return None
    indices = sample_indices(data.y_test, sample)
    images, labels = data.x_test[indices], data.y_test[indices]
    return task_for(("robustness", key, data.fingerprint, sample, tuple(transforms)),
                    lambda report: robustness_curves(model, images, labels, transforms, report), "robustness")


def curves_and_examples(results: pd.DataFrame, data: MnistData, example: int) -> None:
    """One chart per transform (a line per model), each with the example image at every severity beneath it."""
    from mnist_core.insight.charts import robustness_chart
    from mnist_core.insight.robustness import TRANSFORMS, example_strip

    names = list(dict.fromkeys(results["transform"]))
    for start in range(0, len(names), CHARTS_PER_ROW):
        for column, name in zip(st.columns(CHARTS_PER_ROW), names[start:start + CHARTS_PER_ROW], strict=False):
            transform = TRANSFORMS[name]
            with column:
                st.altair_chart(robustness_chart(results[results["transform"] == name], name, transform.unit),
                                width="stretch")
                strip = example_strip(data.x_test[example], transform)
                st.image([enlarge(picture, 2) for _, picture in strip],
                         caption=[f"{severity:g}" for severity, _ in strip])


def robustness_view(registry: Registry, runs: list[RunRecord], run_id: str, data: MnistData,
                    choices: InsightChoices) -> None:
    """Accuracy of the chosen models under each transform as severity grows."""
    models, transforms, sample, example = lab_settings(runs, run_id, len(data.y_test), choices)
    if not models or not transforms:
        st.info("Pick at least one model and one transform.")
        return
    labels = {record.id: f"{record.name} ({record.id})" for record in runs}
    tasks = {labels[chosen]: sweep_task(registry, chosen, data, sample, transforms) for chosen in models}
    tasks = {label: task for label, task in tasks.items() if task is not None}
    views = wait_for(tasks) if tasks else None
    if views is None:
        return
    failed = [label for label, view in views.items() if task_failed(view, f"The sweep of {label}")]
    frames = [view.value.assign(model=label) for label, view in views.items() if label not in failed]
    if not frames:
        return
    results = pd.concat(frames, ignore_index=True)
    st.caption(f"Accuracy on {sample:,} test images; severity 0 is the untouched images, the model's accuracy on "
               f"them. Below each chart: test image #{example} at each severity. Computed once per model file.")
    curves_and_examples(results, data, example)
    with st.expander("All figures"):
        st.dataframe(results.pivot_table(index=["transform", "severity"], columns="model", values="accuracy",
                                         sort=False))
