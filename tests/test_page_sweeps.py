"""The Sweeps page in Streamlit's AppTest: with no sweep, with a bad search space, with an unreachable storage, and
with a real sweep worked beforehand by the engine (its trials, best run and charts are shown)."""

from __future__ import annotations

import json

from helpers import PROJECT

RUN_TIMEOUT_S = 90


def open_sweeps():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=RUN_TIMEOUT_S)
    app.switch_page("app_pages/sweeps.py")
    return app.run()


def assert_rendered(app) -> None:
    assert not app.exception, [exception.value for exception in app.exception]
    assert not any("Something went wrong" in str(error.value) for error in app.error)


def texts(elements) -> list[str]:
    """The elements' texts as a reader sees them (the Markdown escapes of ``plain`` removed)."""
    return [str(element.value).replace("\\", "") for element in elements]


def test_empty_storage_shows_the_space_and_how_to_start(registry, mnist_path):
    app = open_sweeps()
    assert_rendered(app)
    assert any("No sweep in this storage yet" in text for text in texts(app.info))
    ranges = app.dataframe[0].value
    assert ranges.set_index("parameter").loc["learning_rate", "searched"] == "log range"
    [space] = [box for box in app.selectbox if box.label == "Search space"]
    space.select("cnn").run()
    assert "conv_blocks" in app.dataframe[0].value["parameter"].tolist()


def test_a_bad_space_is_refused_and_cannot_be_started(registry, mnist_path):
    app = open_sweeps()
    [editor] = [area for area in app.text_area if area.label == "Ranges (JSON, editable)"]
    editor.input(json.dumps({"template": "dense", "params": {"dropout": {"low": 0.5, "high": 0.1}}})).run()
    assert_rendered(app)
    assert any("cannot be used" in text and "low < high" in text for text in texts(app.error))
    [start] = [button for button in app.button if button.label == "Create and start"]
    assert start.disabled


def test_an_unreachable_storage_or_a_missing_file_is_explained(registry, mnist_path):
    app = open_sweeps()
    [storage] = [box for box in app.text_input if box.label == "Study storage (database URL)"]
    storage.input("postgresql+psycopg://nobody@127.0.0.1:1/none").run()  # not one the server's owner listed
    assert_rendered(app)
    assert any("cannot be used" in text for text in texts(app.error))
    missing = registry.root / "no-such-folder" / "elsewhere.db"
    [storage] = [box for box in app.text_input if box.label == "Study storage (database URL)"]
    storage.input(f"sqlite:///{missing}").run()  # a new file only in an existing folder
    assert_rendered(app)
    assert any("cannot be used" in text for text in texts(app.error)) and not missing.parent.exists()


def test_a_finished_sweep_shows_trials_best_run_and_charts(registry, mnist):
    from mnist_core.search_spaces import load_space
    from mnist_core.sweeps import create_sweep, default_storage_url, open_storage, work

    storage = open_storage(default_storage_url(registry))
    create_sweep("page-demo", load_space("quick"), 2, storage)
    assert work("page-demo", storage, mnist, registry) == 2
    app = open_sweeps()
    assert_rendered(app)
    assert [metric.value for metric in app.metric][0] == "2 of 2"
    trials = app.dataframe[-1].value
    assert trials["number"].tolist() == [0, 1] and trials["state"].str.endswith("complete").all()
    best = trials.loc[trials["state"].str.startswith("★"), "run_id"].tolist()
    assert len(best) == 1 and any(best[0] in text for text in texts(app.caption))
    assert registry.record(best[0]).sweep == {"study": "page-demo", "trial": int(
        trials.loc[trials["run_id"] == best[0], "number"].iloc[0])}
    charts = app.get("vega_lite_chart")
    assert len(charts) == 3  # parallel coordinates, best so far, importances
