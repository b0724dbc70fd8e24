"""The Insight page's confidence view: how far to trust a model's confidence, as reliability diagrams and expected
calibration error on the test set, before and after temperature scaling fitted on the run's validation split."""

from __future__ import annotations

import streamlit as st

from app_pages.insight.state import InsightChoices
from app_pages.shared.models import cached_evaluation, cached_model, model_for, model_key, run_label
from app_pages.shared.state import kept
from mnist_core.data.mnist import MnistData
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry


@st.cache_resource(max_entries=8, show_spinner="Fitting a temperature on the run's validation split…")
def cached_temperature(key: tuple, data_fingerprint: str, _record: RunRecord, _data: MnistData) -> float | None:
    """The temperature fitted on the run's own validation split, once per model file version and data set; None when
    the run kept none, or trained on another data set than the one loaded now."""
    from mnist_core.insight.calibration import fit_temperature, held_out_split
    from mnist_core.model.evaluation import predict_probabilities

    held_out = held_out_split(_data, _record.config, _record.data_fingerprint)
    if held_out is None:
        return None
    return fit_temperature(predict_probabilities(cached_model(*key), held_out[0]), held_out[1])


def calibration_of(registry: Registry, record: RunRecord, data: MnistData, temperature_scaling: bool) -> None:
    """One model's reliability diagram and ECE on the test set, and, when asked and possible, after temperature
    scaling fitted on its validation split."""
    from mnist_core.insight.calibration import expected_calibration_error, reliability_table, with_temperature
    from mnist_core.insight.charts import reliability_chart

    model = model_for(registry, record.id)
    if model is None:
        return
    evaluation = cached_evaluation(model_key(registry, record.id), data.test_fingerprint, registry, data)
    probabilities = evaluation.probabilities
    st.text(run_label(record))
    before, after = st.columns(2)
    with before:
        st.metric("ECE on the test set", f"{expected_calibration_error(probabilities, data.y_test):.4f}", border=True)
        st.altair_chart(reliability_chart(reliability_table(probabilities, data.y_test), "as trained"))
    if not temperature_scaling:
        return
    temperature = cached_temperature(model_key(registry, record.id), data.fingerprint, record, data)
    with after:
        if temperature is None:
            st.info("This run kept no validation split (or its settings are unknown, or it trained on another data "
                    "set than the one loaded now), so there is nothing to fit a temperature on without touching the "
                    "test set.")
            return
        scaled = with_temperature(probabilities, temperature)
        st.metric(f"ECE after temperature scaling (T = {temperature:.3f})",
                  f"{expected_calibration_error(scaled, data.y_test):.4f}", border=True)
        st.altair_chart(reliability_chart(reliability_table(scaled, data.y_test), f"temperature {temperature:.3f}"))


def confidence_view(registry: Registry, runs: list[RunRecord], run_id: str, data: MnistData,
                    choices: InsightChoices) -> None:
    """Reliability diagrams and ECE of the chosen models."""
    records = {record.id: record for record in runs}
    models = kept(st.multiselect, choices, "confidence_models", "Models", list(records),
                  format_func=lambda i: run_label(records[i]),
                  clean=lambda kept_ids: [i for i in kept_ids if i in records] or [run_id])
    temperature_scaling = kept(st.checkbox, choices, "temperature",
                               "Temperature scaling (fitted on the run's validation split)")
    st.caption("Bars: accuracy of the predictions in each confidence bin; dashed: perfect calibration. ECE: the "
               "average gap, weighted by how many predictions fall in each bin (0 is perfect).")
    for chosen in models:
        calibration_of(registry, records[chosen], data, temperature_scaling)
