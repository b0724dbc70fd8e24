"""The Sweeps page in Streamlit's AppTest: with no sweep, with a bad search space, with an unreachable storage, and
with a real sweep worked beforehand by the engine (its trials, best run and charts are shown)."""

from __future__ import annotations

import json

from helpers import PROJECT

RUN_TIMEOUT_S = 90


def open_sweeps():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT / "navigation.py"), default_timeout=RUN_TIMEOUT_S)
    app.switch_page("app_pages/sweeps/sweeps.py")
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


def test_a_space_with_an_impossible_middle_choice_or_too_large_a_network_cannot_be_started(registry, mnist_path):
    app = open_sweeps()
    [editor] = [area for area in app.text_area if area.label == "Ranges (JSON, editable)"]
    for space, message in [
        ({"template": "dense", "params": {"epochs": {"choices": [1, 10**9, 2]}}}, "got 1000000000"),
        ({"template": "dense", "params": {"dense_units": {"choices": [16, 8192]}, "dense_blocks": 3}},
         "parameters; at most 8,000,000 are allowed here"),
    ]:
        editor.input(json.dumps(space)).run()
        assert_rendered(app)
        assert any("cannot be used" in text and message in text for text in texts(app.error)), texts(app.error)
        assert [button for button in app.button if button.label == "Create and start"][0].disabled
    editor.input("[" * 10_000 + "]" * 10_000).run()
    assert_rendered(app)
    assert any("nested too deeply" in text for text in texts(app.error)), texts(app.error)
    assert [button for button in app.button if button.label == "Create and start"][0].disabled


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
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import create_sweep, default_storage_url, open_storage, work

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
    [figure] = app.get("plotly_chart")  # Optuna's parallel coordinates, the chart shown first
    spec = json.loads(figure.proto.spec)
    assert len([trace for trace in spec["data"] if trace.get("mode") == "lines"]) == 2  # a line per trial
    assert "learning_rate" in spec["layout"]["xaxis"]["ticktext"]


def test_a_big_study_is_read_once_per_change_not_once_per_rerun(registry, mnist_path, monkeypatch):
    """The page's storage is wrapped to count the trials it really reads from the database, and Optuna's chart
    function to count the figures drawn: a study of 400 trials (100 still waiting) is read once, then only what
    changed; waiting trials are not read again while nothing changes, and the other sweep in the picker is not read."""
    import mnist_core.sweeps.charts as sweep_charts
    from app_pages.sweeps.watch import cached_storage
    from helpers import told_trials
    from mnist_core.sweeps.spaces import load_space
    from mnist_core.sweeps.study import create_sweep, default_storage_url, open_storage, queue_waiting_trials

    url, space = default_storage_url(registry), load_space("quick")
    storage = open_storage(url)  # another process's: a worker elsewhere
    create_sweep("older", space, 500, storage)  # in the picker, never read: the page watches the newest sweep
    study = create_sweep("big", space, 400, storage, queue=False)
    study.add_trials(told_trials(space, complete=260, pruned=40))
    queue_waiting_trials(storage, study._study_id, 100)  # a sweep still under way: 100 trials left
    backend = cached_storage(url).backend  # the storage the page will use, from the server's cache
    read, drawn = [], []
    real_read, real_draw = backend._get_trials, sweep_charts.draw

    def counted_read(*args, **kwargs):
        trials = real_read(*args, **kwargs)
        read.append(len(trials))
        return trials

    def counted_draw(*args, **kwargs):
        drawn.append(args[1])
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(backend, "_get_trials", counted_read)
    monkeypatch.setattr(sweep_charts, "draw", counted_draw)
    app = open_sweeps()
    assert_rendered(app)
    assert sum(read) == 400 and drawn == ["Parallel coordinates"]  # every trial once, though looked at often
    assert [metric.value for metric in app.metric][0] == "260 of 400"
    assert len(app.dataframe[-1].value) == 100 and any("Trials 1–100 of 400" in text for text in texts(app.caption))
    for _ in range(3):
        app.run()
    assert_rendered(app)
    assert sum(read) == 400 and drawn == ["Parallel coordinates"]  # reruns: nothing read, nothing redrawn
    study.add_trials(told_trials(space, complete=1, pruned=0, seed=1))  # a worker elsewhere ends one more trial
    app.run()
    assert_rendered(app)
    assert sum(read) == 400 + 101 and drawn == ["Parallel coordinates"] * 2  # the new one and the unfinished
    assert [metric.value for metric in app.metric][0] == "261 of 400"
