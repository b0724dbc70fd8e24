"""The sweep charts' data against values worked out by hand: running best, axis positions, one line per trial."""

from __future__ import annotations

import pytest


def trial(number, state, value, **params):
    return {"number": number, "state": state, "value": value, "params": params, "run_id": None, "seconds": 1.0,
            "worker": "w", "reason": None, "retry_of": None, "best": False}


ROWS = [
    trial(0, "complete", 0.80, optimizer="adam", learning_rate=0.001, units=16),
    trial(1, "pruned", 0.10, optimizer="sgd", learning_rate=0.1, units=64),  # not complete: left out
    trial(2, "complete", 0.90, optimizer="rmsprop", learning_rate=0.003, units=64),
    trial(3, "complete", 0.85, optimizer="adam", learning_rate=0.002, units=32),
    trial(4, "running", None),
]


def test_best_so_far_is_the_running_maximum_of_completed_trials():
    from mnist_core.sweep_charts import best_so_far_chart

    frame = best_so_far_chart(ROWS).data
    assert frame["trial"].tolist() == [0, 2, 3]
    assert frame["best so far"].tolist() == [0.80, 0.90, 0.90]


def test_parallel_axes_are_normalised_per_parameter():
    from mnist_core.sweep_charts import VALUE_AXIS, parallel_frame

    frame = parallel_frame(ROWS).set_index(["axis", "trial"])["position"]
    assert frame["learning_rate"].to_dict() == pytest.approx({0: 0.0, 2: 1.0, 3: 0.5})  # 0.001 … 0.003
    assert frame["units"].to_dict() == pytest.approx({0: 0.0, 2: 1.0, 3: 16 / 48})
    assert frame["optimizer"].to_dict() == pytest.approx({0: 0.0, 2: 1.0, 3: 0.0})  # adam < rmsprop, sorted
    assert frame[VALUE_AXIS].to_dict() == pytest.approx({0: 0.0, 2: 1.0, 3: 0.5})


def test_parallel_chart_draws_one_line_per_completed_trial_and_survives_none():
    from mnist_core.sweep_charts import parallel_chart, parallel_frame

    spec = parallel_chart(ROWS).to_dict()
    assert spec["layer"][0]["mark"]["type"] == "line" and spec["layer"][0]["encoding"]["detail"]["field"] == "trial"
    assert sorted(set(parallel_frame(ROWS)["trial"])) == [0, 2, 3]
    assert parallel_frame([trial(0, "running", None)]).empty
    single = parallel_frame([trial(0, "complete", 0.5, units=8)])
    assert single["position"].tolist() == [0.5, 0.5]  # one value per axis sits in the middle


def test_importance_bars_keep_the_given_shares():
    from mnist_core.sweep_charts import importance_chart

    frame = importance_chart({"learning_rate": 0.7, "units": 0.3}).data
    assert dict(zip(frame["parameter"], frame["importance"], strict=True)) == {"learning_rate": 0.7, "units": 0.3}
