"""The app's pages in Streamlit's AppTest with real MNIST, real Keras models and the real job runner.

Every page renders with the data set, without it and with an empty registry; the Train page trains a tiny run
through the shared job runner to the end and refuses bad settings; the Errors filters agree with mnist_core's own
confusion matrix; the Draw page predicts a digit drawn on the canvas and only hints when nothing is drawn.
"""

from __future__ import annotations

import json
import time
import zipfile

import numpy as np
import pytest

from app_pages.shared.curves import WAITING
from app_pages.shared.text import plain
from helpers import (
    PAD_KEY,
    RUN_TIMEOUT_S,
    assert_rendered,
    canvas_state,
    interrupted_run,
    open_page,
    rgba_canvas,
    save_run,
    texts,
    widget,
)
from mnist_core.model.precision import cpu_flags, resolved_precision

PAGES = ["home", "data", "train", "models", "errors", "draw", "sweeps", "kaggle"]
NEEDS_DATA = {"data", "errors"}  # pages that show nothing useful without MNIST (Train still shows its editor)
NEEDS_A_MODEL = {"errors", "draw", "kaggle"}
TRAINING_TIMEOUT_S = 120


# --- helpers (the ones shared with other page tests are in tests/helpers.py) --------------------------------------


def metric_value(app, label: str) -> str:
    return widget(app.metric, label).value


# --- every page, three situations -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_data_and_a_model(page, data_set, model_registry):
    app = open_page(page)
    assert_rendered(app)
    assert not app.error, texts(app.error)
    if page == "home":
        assert any(text.startswith("Data set loaded from") and "60,000 training" in text for text in texts(app.success))
    if page in NEEDS_A_MODEL:
        assert widget(app.selectbox, "Model").value == "default"


@pytest.mark.parametrize("page", PAGES)
def test_page_explains_a_missing_data_set(page, tmp_path, monkeypatch, model_registry):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nowhere" / "mnist.npz"))
    app = open_page(page)
    assert_rendered(app)
    errors = texts(app.error)
    if page in NEEDS_DATA | {"home", "train"}:
        assert any("does not exist" in text for text in errors), errors
    else:
        assert not errors, errors
    if page == "home":
        assert [uploader.label for uploader in app.get("file_uploader")] == ["Upload mnist.npz or a Kaggle train.csv"]
    if page == "train":
        assert widget(app.button, "Train").disabled


@pytest.mark.parametrize("page", PAGES)
def test_page_copes_with_an_empty_registry(page, data_set, empty_registry):
    app = open_page(page)
    assert_rendered(app)
    assert not app.error, texts(app.error)
    hints = texts(app.info) + texts(app.warning)
    if page in NEEDS_A_MODEL:
        assert any(text.startswith("No trained model yet") and "Train page" in text for text in hints), hints
    if page == "home":
        assert any("No default model" in text for text in hints), hints


# --- Home -------------------------------------------------------------------------------------------------------


def test_home_downloads_mnist_with_one_click(mnist_path, tmp_path, monkeypatch, model_registry):
    import streamlit as st

    from mnist_server import MnistServer

    server = MnistServer(open(mnist_path, "rb").read())
    monkeypatch.delenv("MNIST_PATH")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DIGIT_LAB_MNIST_URL", server.url("/missing.npz"))
    st.cache_resource.clear()
    try:
        app = open_page("home")
        assert any("does not exist" in text for text in texts(app.error)), texts(app.error)
        widget(app.button, "Download MNIST, 11 MB").click().run()
        assert any("404" in text for text in texts(app.error)), texts(app.error)  # why it failed, and the uploader
        assert [uploader.label for uploader in app.get("file_uploader")] == ["Upload mnist.npz or a Kaggle train.csv"]
        monkeypatch.setenv("DIGIT_LAB_MNIST_URL", server.url("/mnist.npz"))
        app.run()  # AppTest keeps a clicked button's value until the next run; a browser resets it at once
        widget(app.button, "Download MNIST, 11 MB").click().run()
        assert not app.error, texts(app.error)
        assert any("60,000 training" in text for text in texts(app.success)), texts(app.success)
        data_page = open_page("data")  # every page has the data now, without a restart
        assert_rendered(data_page)
        assert not data_page.error, texts(data_page.error)
    finally:
        server.close()
        st.cache_resource.clear()


# --- Train ------------------------------------------------------------------------------------------------------


def choose_tiny_run(app, batch_size: int = 64):
    """The quickest preset on 1,000 images for one epoch."""
    widget(app.selectbox, "Preset").set_value("dense32-rmsprop").run()
    widget(app.number_input, "Training subset size").set_value(1000)
    widget(app.number_input, "Epochs").set_value(1)
    widget(app.number_input, "Batch size").set_value(batch_size)
    return app.run()


def epoch_chart_splits(app) -> list[list[str]]:
    """The sets (train, validation) of each per-epoch chart on the page, read from the Vega-Lite specs' colours."""
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    return [layer["encoding"]["color"]["scale"]["domain"] for spec in specs for layer in spec.get("layer", [])[:1]
            if spec.get("title", "").endswith("per epoch")]


def test_train_page_runs_a_tiny_job_through_the_shared_runner(data_set, empty_registry):
    app = choose_tiny_run(open_page("train"))
    widget(app.number_input, "Epochs").set_value(2).run()  # two epochs: the per-epoch charts are drawn
    assert_rendered(app)
    assert metric_value(app, "Parameters") == "25,450"
    train = widget(app.button, "Train")
    assert not train.disabled
    train.click().run()
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while not any(text.startswith("Finished:") for text in texts(app.success)):
        assert_rendered(app)
        assert not any(text.startswith("Failed:") for text in texts(app.error)), texts(app.error)
        assert time.monotonic() < deadline, "the run did not finish in time"
        time.sleep(1)
        app.run()
    accuracy = metric_value(app, "Test accuracy")
    assert accuracy.endswith("%") and 50 < float(accuracy.rstrip("%")) <= 100
    assert any(text.endswith(" batches trained") and " of " in text for text in texts(app.caption))
    # The preset holds 5 % out: its epoch curves show validation beside training (issue 26 item 3).
    assert epoch_chart_splits(app) == [["train", "validation"]] * 2, epoch_chart_splits(app)
    runs = empty_registry.list_runs()
    assert "val_accuracy" in runs[0].epochs[-1]
    assert [(run.architecture, run.status) for run in runs] == [("dense32-rmsprop", "finished")]
    assert any(plain(f"(id {runs[0].id})") in text for text in texts(app.caption))  # Markdown source: escaped

    # A new browser session (a reload) finds the same run on the shared runner.
    again = open_page("train")
    assert any(text.startswith("Finished:") for text in texts(again.success))
    assert any(element.value == f"Run: {plain(runs[0].name)}" for element in again.subheader)


def test_train_page_keeps_the_users_setup_across_other_pages_and_loads_a_preset_over_it(data_set, empty_registry):
    app = open_page("train")
    widget(app.selectbox, "Preset").set_value("dense32-rmsprop").run()
    assert widget(app.number_input, "Batch size").value == 64  # the preset's own
    widget(app.number_input, "Batch size").set_value(100)
    widget(app.number_input, "units").set_value(48)
    widget(app.text_input, "Run name").set_value("mine")
    widget(app.toggle, "Show the code").set_value(True)
    app.run()
    app.switch_page("app_pages/home/home.py")
    app.run()
    app.switch_page("app_pages/train/train.py")
    app.run()  # back: everything as the user left it
    assert widget(app.selectbox, "Preset").value == "dense32-rmsprop"
    assert widget(app.number_input, "Batch size").value == 100 and widget(app.number_input, "units").value == 48
    assert widget(app.text_input, "Run name").value == "mine" and widget(app.toggle, "Show the code").value
    widget(app.selectbox, "Preset").set_value("custom").run()  # custom keeps the settings, on the quick subset
    assert widget(app.number_input, "Batch size").value == 100
    assert widget(app.number_input, "Training subset size").value == 10_000
    widget(app.selectbox, "Preset").set_value("fast-cnn").run()  # a preset loads its own settings over them
    assert widget(app.number_input, "Batch size").value == 160
    assert not [box for box in app.number_input if box.label == "units" and box.value == 48]


def test_a_custom_network_holds_validation_images_out_and_a_preset_that_does_not_says_so(data_set, empty_registry):
    app = open_page("train")  # the speed preset, measured on all 60,000 images: no split, and it says so
    assert widget(app.number_input, "Validation split").value == 0
    assert any(text.startswith("It trains on all the training images") for text in texts(app.caption))
    widget(app.selectbox, "Preset").set_value("custom").run()
    assert widget(app.number_input, "Validation split").value == 0.1
    assert any("10% of them held out to validate each epoch" in text for text in texts(app.caption))


def rerun_until(app, text: str, elements: str = "warning") -> None:
    """Rerun the app (as the live view's refresh does) until an ``elements`` box starts with ``text``."""
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while not any(shown.startswith(text) for shown in texts(getattr(app, elements))):
        assert_rendered(app)
        assert time.monotonic() < deadline, f"no {elements} starting {text!r}: {texts(getattr(app, elements))}"
        time.sleep(0.5)
        app.run()


def test_train_page_queues_one_run_per_press_a_second_on_purpose_and_stops_both(data_set, empty_registry):
    app = choose_tiny_run(open_page("train"))
    widget(app.number_input, "Epochs").set_value(200).run()  # long enough to still train when the next one comes
    widget(app.button, "Train").click().run()
    first = app.session_state["TrainChoices"].watched
    widget(app.button, "Train").click().run()  # pressed again at once: a question, not a second run
    assert any(text.startswith("An identical run is already queued or training") for text in texts(app.warning))
    assert widget(app.button, "Train").disabled and not [box for box in app.selectbox if box.label == "Run to watch"]
    assert app.session_state["TrainChoices"].watched == first
    widget(app.button, "Train another").click().run()  # a deliberate second run
    assert "Queued: position 1 in line" in texts(app.info)
    assert WAITING in texts(app.caption) and not app.get("vega_lite_chart")  # no chart before its first batch
    assert widget(app.selectbox, "Run to watch").value != first and not widget(app.button, "Train").disabled

    widget(app.button, "Stop").click().run()  # cancels the queued run
    rerun_until(app, "Stopped: cancelled before it started")
    labels = widget(app.selectbox, "Run to watch").options  # each run's status as it is now
    assert [label.split(" · ")[1] for label in labels] == ["stopped", "running"], labels
    widget(app.selectbox, "Run to watch").set_value(first).run()
    widget(app.button, "Stop").click().run()
    rerun_until(app, "Stopped: stopped on request")
    assert metric_value(app, "Test accuracy").endswith("%")  # the model so far is tested and saved
    assert [run.status for run in empty_registry.list_runs()] == ["stopped"]


def test_the_live_view_redraws_the_whole_page_only_when_what_it_shows_of_the_runs_changes():
    from app_pages.shared.live_panel import runs_on_page
    from mnist_core.jobs.runner import JobBrief
    from mnist_core.statuses import FINISHED, QUEUED, RUNNING

    queued, running, finished = (JobBrief(1, "a", status, None) for status in (QUEUED, RUNNING, FINISHED))
    assert runs_on_page([queued]) == runs_on_page([running])  # a lone run starts: only the live view changes
    assert runs_on_page([running]) != runs_on_page([finished])  # it ends: the refresh stops, the page follows
    other = JobBrief(2, "b", QUEUED, None)
    assert runs_on_page([other, queued]) != runs_on_page([other, running])  # the picker's labels change
    assert runs_on_page([running]) != runs_on_page([other, running])  # a second run: the picker appears


def test_train_page_refuses_settings_that_do_not_fit(data_set, empty_registry):
    app = choose_tiny_run(open_page("train"), batch_size=4096)
    assert_rendered(app)
    assert any("batch_size 4096 is larger" in text for text in texts(app.error)), texts(app.error)
    assert widget(app.button, "Train").disabled

    widget(app.number_input, "Batch size").set_value(64)
    widget(app.number_input, "Learning rate").set_value(0.0)
    app.run()
    assert any("learning_rate must be above 0" in text for text in texts(app.error)), texts(app.error)
    assert widget(app.button, "Train").disabled


def test_train_page_has_one_widget_per_setting_of_the_table_and_each_feeds_the_config(data_set, empty_registry):
    from mnist_core.model.config import SETTINGS

    app = choose_tiny_run(open_page("train"))
    assert_rendered(app)
    for setting in SETTINGS:
        if setting.choices:
            found = widget(app.selectbox, setting.label)
            assert [found.format_func(option) for option in setting.choices] == found.options
        elif setting.kind is bool:
            found = widget(app.checkbox, setting.label)
        else:
            found = widget(app.number_input, setting.label)
            assert (found.min, found.max) == (0 if setting.optional else setting.low, setting.high), setting.name
        assert found.help.startswith(plain(setting.help[0].upper() + setting.help[1:])), setting.name
        assert found.disabled == (setting.needs is not None), setting.name  # early stopping is off in the preset
    widget(app.checkbox, "Early stopping").check().run()
    assert not widget(app.number_input, "Patience").disabled
    assert not widget(app.checkbox, "Restore the best epoch").disabled
    widget(app.selectbox, "Loss").set_value("mean_squared_error")  # "More settings" reach the config too
    widget(app.number_input, "Label smoothing").set_value(0.1).run()
    assert any("label_smoothing applies to the cross-entropy losses only" in text for text in texts(app.error))
    assert widget(app.button, "Train").disabled


def test_train_page_refuses_a_network_too_large_for_this_machine_saying_what_would_fit(data_set, empty_registry,
                                                                                      monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_MEMORY_BUDGET_MB", "64")
    app = open_page("train")
    widget(app.selectbox, "Preset").set_value("keras-docs-cnn").run()
    refusals = [text for text in texts(app.error) if text.startswith("This network cannot be trained here")]
    assert refusals == ["This network cannot be trained here: this network needs ~113 MB per batch of 128 to train; "
                        "this machine allows 64 MB; try batch_size <= 54, or fewer filters or units."], texts(app.error)
    assert widget(app.button, "Train").disabled
    widget(app.number_input, "Batch size").set_value(54).run()
    assert_rendered(app)
    assert not app.error, texts(app.error)
    assert any(text.startswith("Training memory: ~63 MB for a batch of 54") for text in texts(app.caption))
    assert not widget(app.button, "Train").disabled


def test_train_page_warns_that_bfloat16_is_slow_only_on_a_cpu_without_it(data_set, empty_registry):
    app = choose_tiny_run(open_page("train"))
    precision = widget(app.selectbox, "Precision")
    assert precision.options[0] == f"auto ({resolved_precision('auto', cpu_flags()).removeprefix('mixed_')})"
    assert not any("no native bfloat16" in text for text in texts(app.warning))
    precision.set_value("mixed_bfloat16").run()
    emulated = resolved_precision("auto", cpu_flags()) == "float32"
    assert any("no native bfloat16" in text for text in texts(app.warning)) == emulated
    assert not widget(app.button, "Train").disabled  # a warning, not a refusal: it is still the user's choice


def test_train_page_refuses_a_network_that_cannot_be_built(data_set, empty_registry):
    app = open_page("train")
    widget(app.selectbox, "Preset").set_value("dense32-rmsprop").run()
    widget(app.selectbox, "Layer type").set_value("Conv2D").run()
    widget(app.button, "Add layer").click().run()
    assert_rendered(app)
    assert any("This network cannot be built" in text and "Conv2D" in text for text in texts(app.error))
    assert widget(app.button, "Train").disabled
    app.button(key=f"train.remove{list(app.session_state['TrainChoices'].layers)[-1]}").click().run()
    assert not app.error, texts(app.error)
    assert not widget(app.button, "Train").disabled


def test_train_page_resumes_an_interrupted_run_to_a_normal_record(mnist, data_set, empty_registry):
    from mnist_core.model.config import TrainConfig

    config = TrainConfig(epochs=3, subset_size=1000, batch_size=64, validation_split=0.1, seed=2)
    run_id = interrupted_run(mnist, empty_registry, [{"type": "Dense", "units": 16}], config, name="after a crash")
    app = open_page("train")  # a server that has just restarted: no job, one interrupted run
    assert "No run yet on this server: press Train to start one." in texts(app.caption)
    (line,) = [text for text in texts(app.text) if run_id in text]
    assert line.startswith("after a crash") and "1 of 3 epochs done" in line
    app.button(key=f"train.resume.{run_id}").click().run()
    rerun_until(app, "Finished:", "success")
    assert not [text for text in texts(app.text) if run_id in text]  # no longer interrupted
    (saved,) = empty_registry.list_runs()
    assert saved.id == run_id and saved.status == "finished" and [row["epoch"] for row in saved.epochs] == [1, 2, 3]
    assert metric_value(app, "Test accuracy").endswith("%")


def test_train_page_does_not_resume_a_run_this_machine_no_longer_allows(mnist, data_set, empty_registry, monkeypatch):
    from mnist_core.model.config import TrainConfig

    config = TrainConfig(epochs=2, subset_size=500, batch_size=50, validation_split=0.0, seed=2)
    run_id = interrupted_run(mnist, empty_registry, [{"type": "Dense", "units": 16}], config, name="*big* one")
    monkeypatch.setenv("DIGIT_LAB_MAX_PARAMS", "1000")  # the server's owner now allows less
    app = open_page("train")
    app.button(key=f"train.resume.{run_id}").click().run()
    assert_rendered(app)
    refusal = plain("“*big* one” cannot be resumed here: this network holds 12,730 parameters; at most 1,000 are "
                    "allowed here (a saved model with more could not be loaded back): use fewer units or filters, "
                    "or more pooling before Flatten.")
    assert refusal in texts(app.error), texts(app.error)
    assert "No run yet on this server: press Train to start one." in texts(app.caption)  # nothing was queued
    assert [record.id for record in empty_registry.list_interrupted()] == [run_id]


def test_train_page_discards_an_interrupted_run_only_after_a_confirmation_naming_it(mnist, data_set, empty_registry):
    from mnist_core.model.config import TrainConfig

    config = TrainConfig(epochs=2, subset_size=600, batch_size=64, validation_split=0.0, seed=2)
    run_id = interrupted_run(mnist, empty_registry, [{"type": "Dense", "units": 8}], config, name="unwanted")
    app = open_page("train")
    app.button(key=f"train.discard.{run_id}").click().run()
    assert any("unwanted" in text and run_id in text.replace("\\", "") for text in texts(app.warning))
    assert [record.id for record in empty_registry.list_interrupted()] == [run_id]  # not yet
    app.button(key=f"train.discard_confirm.{run_id}").click().run()
    assert_rendered(app)
    assert empty_registry.list_interrupted() == [] and not [text for text in texts(app.text) if run_id in text]


# --- Models -----------------------------------------------------------------------------------------------------


def test_models_page_keeps_the_users_run_and_typed_name_when_another_session_saves_one(data_set, model_registry,
                                                                                       small_dense_model):
    mine = save_run(model_registry, small_dense_model, name="mine")
    app = open_page("models")
    widget(app.selectbox, "Run").set_value(mine.id).run()
    widget(app.text_input, "New name").input("renamed by me").run()
    save_run(model_registry, small_dense_model, name="theirs")  # another session saves a run: the newest now
    app.run()
    assert_rendered(app)
    assert widget(app.selectbox, "Run").value == mine.id
    assert widget(app.text_input, "New name").value == "renamed by me"
    widget(app.button, "Rename").click().run()
    assert model_registry.record(mine.id).name == "renamed by me"


def test_after_a_rename_the_picker_shows_the_new_name_and_a_three_run_comparison_stays(data_set, model_registry,
                                                                                      small_dense_model):
    runs = [save_run(model_registry, small_dense_model, name=f"run {n}") for n in range(3)]
    app = open_page("models")
    widget(app.multiselect, "Compare runs").set_value([run.id for run in runs]).run()
    widget(app.selectbox, "Run").set_value(runs[1].id).run()
    widget(app.text_input, "New name").input("renamed").run()
    widget(app.button, "Rename").click().run()
    assert_rendered(app)
    picker = widget(app.selectbox, "Run")
    assert picker.value == runs[1].id and picker.format_func(picker.value).startswith("renamed ·")
    assert widget(app.multiselect, "Compare runs").value == [run.id for run in runs]


def test_models_page_frames_its_runs_and_draws_its_comparison_once_per_state_of_the_registry(
        data_set, model_registry, small_dense_model, monkeypatch):
    """The runs table's frame (its dates parsed) and the comparison chart are built once and shared by later visits
    and reruns; a rename builds both again, with the new name."""
    import pandas as pd

    import app_pages.models.compare as compare

    framed, drawn = [], []
    real_dates, real_chart = pd.to_datetime, compare.comparison_chart

    def counted_dates(values, *args, **kwargs):
        framed.append(getattr(values, "name", None))
        return real_dates(values, *args, **kwargs)

    def counted_chart(curves, metric):
        drawn.append((tuple(curves), metric))
        return real_chart(curves, metric)

    monkeypatch.setattr(pd, "to_datetime", counted_dates)
    monkeypatch.setattr(compare, "comparison_chart", counted_chart)
    runs = [save_run(model_registry, small_dense_model, name=f"run {n}", epochs=[{"epoch": 1, "accuracy": 0.9,
                                                                                   "loss": 0.3}]) for n in range(2)]
    app = open_page("models")
    for _ in range(3):
        open_page("models")  # later visits: new sessions
        app.run()
    assert_rendered(app)
    assert framed.count("created") == 1 and len(drawn) == 2, (framed, drawn)
    model_registry.rename(runs[0].id, "renamed")
    app.run()
    assert_rendered(app)
    assert framed.count("created") == 2 and len(drawn) == 4 and any("renamed" in name for name in drawn[-1][0])
    assert "renamed" in set(app.dataframe[0].value["name"])


def test_models_page_delete_confirmation_acts_on_the_run_it_names_only(data_set, model_registry, small_dense_model):
    mine = save_run(model_registry, small_dense_model, name="mine")
    app = open_page("models")
    widget(app.selectbox, "Run").set_value(mine.id).run()
    widget(app.button, "Delete").click().run()
    theirs = save_run(model_registry, small_dense_model, name="theirs")  # saved by someone else meanwhile
    app.run()
    (question,) = [text.replace("\\", "") for text in texts(app.warning) if text.startswith("Delete")]  # unescaped
    assert "mine" in question and mine.id in question and theirs.id not in question
    widget(app.button, "Confirm delete").click().run()
    left = {record.id for record in model_registry.list_runs()}
    assert mine.id not in left and theirs.id in left
    assert any(f"Deleted run {mine.id}" in text.replace("\\", "") for text in texts(app.success)), texts(app.success)
    assert widget(app.selectbox, "Run").value != mine.id


def test_make_default_on_the_models_page_is_what_the_other_pages_and_home_preselect(data_set, model_registry,
                                                                                    small_dense_model):
    mine = save_run(model_registry, small_dense_model, name="mine", accuracy=0.5)
    home = open_page("home")
    assert any(text.startswith(plain("The built-in default model (custom")) for text in texts(home.caption))
    app = open_page("models")
    assert any(text.endswith(plain("Default model: the built-in one (custom).")) for text in texts(app.caption)), \
        texts(app.caption)  # not "default · untested · default"
    widget(app.selectbox, "Run").set_value(mine.id).run()
    widget(app.button, "Make default").click().run()
    assert any("“mine” is now the default model" in text.replace("\\", "") for text in texts(app.success))
    assert any(text.endswith(plain(f"Default model: mine · 50.00% · {mine.id}.")) for text in texts(app.caption))
    assert widget(app.button, "Make default").disabled
    assert model_registry.default_id() == mine.id
    for page in ("draw", "errors", "kaggle"):
        assert widget(open_page(page).selectbox, "Model").value == mine.id, page
    home = open_page("home")
    assert metric_value(home, "Default model (test accuracy)") == "50.00%"
    assert any(text.startswith("mine · custom") for text in texts(home.caption)), texts(home.caption)


# --- Errors -----------------------------------------------------------------------------------------------------


def test_errors_page_uses_the_predictions_saved_with_the_run(mnist, data_set, empty_registry, small_cnn_model):
    from mnist_core.store.records import RunRecord

    everything_a_three = np.zeros((len(mnist.y_test), 10))
    everything_a_three[:, 3] = 1.0  # not what the model predicts: only the saved file can say this
    record = RunRecord(id="", name="saved predictions", architecture="custom", spec=[], config={},
                       status="finished", created="")
    saved = empty_registry.save_run(small_cnn_model, record,
                                    test_predictions=(everything_a_three, mnist.test_fingerprint))
    app = open_page("errors", {"ErrorsChoices.true": "All"})
    widget(app.selectbox, "Model").set_value(saved.id).run()
    assert_rendered(app)
    expected = (mnist.y_test == 3).mean()
    assert metric_value(app, "Test accuracy") == f"{expected:.2%}"


def test_errors_page_keeps_its_filters_and_page_through_a_visit_to_another_page(data_set, model_registry):
    app = open_page("errors")
    widget(app.selectbox, "True digit").set_value(9).run()
    widget(app.selectbox, "Predicted digit").set_value(4).run()
    widget(app.radio, "Sort by confidence").set_value("Least confident first").run()
    app.switch_page("app_pages/models/models.py").run()
    app.switch_page("app_pages/errors/errors.py").run()
    assert_rendered(app)
    assert (widget(app.selectbox, "True digit").value, widget(app.selectbox, "Predicted digit").value) == (9, 4)
    assert widget(app.radio, "Sort by confidence").value == "Least confident first"


def test_errors_page_says_why_a_broken_models_saliency_is_missing(mnist, data_set, empty_registry, small_cnn_model):
    from mnist_core.model.evaluation import ImagePredictor
    from mnist_core.store.records import RunRecord

    record = RunRecord(id="", name="broken", architecture="custom", spec=[], config={}, status="finished", created="")
    probabilities = ImagePredictor(small_cnn_model).batch(mnist.x_test)
    saved = empty_registry.save_run(small_cnn_model, record, test_predictions=(probabilities, mnist.test_fingerprint))
    with zipfile.ZipFile(empty_registry.model_path(saved.id), "w") as broken:  # a zip, but no Keras model any more
        broken.writestr("config.json", "{}")
    app = open_page("errors", {"ErrorsChoices.true": "All"})
    assert_rendered(app)  # the figures come from the saved predictions
    assert metric_value(app, "Test accuracy") == f"{(probabilities.argmax(axis=1) == mnist.y_test).mean():.2%}"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any("No saliency map" in text for text in texts(app.error)):
        assert time.monotonic() < deadline, texts(app.error)
        time.sleep(0.5)
        app.run()
    app.run()  # and it stays said, without working it out again
    assert any(plain("No saliency map: the model could not be loaded") in text for text in texts(app.error)), \
        texts(app.error)
    assert not app.get("progress")


def test_errors_page_filters_agree_with_the_confusion_matrix(mnist, data_set, model_registry, small_cnn_model):
    from mnist_core.model.evaluation import evaluate

    confusion = evaluate(small_cnn_model, mnist.x_test, mnist.y_test).confusion()
    mistakes = confusion - np.diag(np.diag(confusion))
    true, predicted = np.unravel_index(mistakes.argmax(), mistakes.shape)

    app = open_page("errors")
    assert_rendered(app)
    assert f"Showing {mistakes.sum()} misclassified images" in texts(app.caption)
    widget(app.selectbox, "True digit").set_value(int(true))
    widget(app.selectbox, "Predicted digit").set_value(int(predicted))
    app.run()
    assert_rendered(app)
    assert f"Showing {mistakes[true, predicted]} misclassified images" in texts(app.caption)
    inspected = widget(app.selectbox, "Inspect image")
    assert mnist.y_test[inspected.value] == true

    widget(app.selectbox, "Predicted digit").set_value("All").run()
    assert f"Showing {mistakes[true].sum()} misclassified images" in texts(app.caption)


def test_errors_page_shows_the_inspected_images_saliency_once_worked_out_in_the_background(data_set, model_registry):
    app = open_page("errors")
    assert_rendered(app)  # the page is complete while the model loads off the script thread
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any("saliency" in caption for image in app.get("image") for caption in image.captions):
        assert time.monotonic() < deadline, "the saliency map never showed"
        time.sleep(0.5)
        app.run()
    assert_rendered(app)


# --- Draw -------------------------------------------------------------------------------------------------------


def test_draw_page_predicts_a_digit_drawn_on_the_canvas(mnist, data_set, model_registry, small_cnn_model,
                                                        small_dense_model):
    from mnist_core.data.drawing import to_mnist
    from mnist_core.model.evaluation import ImagePredictor

    predictor = ImagePredictor(small_cnn_model)
    drawings = (rgba_canvas(mnist.x_test[index]) for index in range(50))
    # A test digit the model reads correctly once it is drawn on the canvas.
    index, drawing = next((index, drawing) for index, drawing in enumerate(drawings)
                          if predictor.probabilities(to_mnist(drawing)).argmax() == mnist.y_test[index])
    dense = save_run(model_registry, small_dense_model, name="dense-64")
    app = open_page("draw", {PAD_KEY: canvas_state(drawing)})
    assert_rendered(app)
    assert not app.error, texts(app.error)
    assert widget(app.selectbox, "Model").value == "default"
    assert metric_value(app, "Prediction") == str(mnist.y_test[index])
    assert metric_value(app, "Confidence").endswith("%")
    assert "What the network sees" in texts(app.subheader)
    captions = [caption for image in app.get("image") for caption in image.captions]
    assert any("feature maps of the first convolution" in caption for caption in captions), captions

    widget(app.multiselect, "Compare with").set_value([dense.id]).run()
    assert_rendered(app)
    compared = app.dataframe[0].value
    assert compared["model"].tolist() == [f"dense-64 ({dense.id[-4:]})"]  # names repeat: the end of the id too
    expected = ImagePredictor(small_dense_model).probabilities(to_mnist(drawing)).argmax()
    assert compared["prediction"].tolist() == [expected]


def test_draw_page_only_hints_when_nothing_is_drawn(data_set, model_registry):
    black = np.zeros((280, 280, 4), dtype=np.uint8)
    black[..., 3] = 255
    for state in ({}, {PAD_KEY: canvas_state(black)}):
        app = open_page("draw", state)
        assert_rendered(app)
        assert any(text.startswith("Draw a digit") for text in texts(app.info)), texts(app.info)
        assert not [metric for metric in app.metric if metric.label == "Prediction"]


HOSTILE_PAD_VALUES = {  # what a client other than the pad could send as its value
    "drawing-not-an-object": ({"drawing": "<script>alert(1)</script>"}, "not a drawing"),
    "picture-not-text": ({"drawing": {"raw": None, "data": 5}}, "not a drawing"),
    "picture-not-a-data-url": ({"drawing": {"raw": None, "data": "javascript:alert(1)"}}, "not a drawing"),
    "picture-not-base64": ({"drawing": {"raw": None, "data": "data:image/png;base64,<script>alert(1)</script>"}},
                           "not a drawing"),
    "picture-of-text": ({"drawing": {"raw": None, "data": "data:image/png;base64,aGVsbG8gd29ybGQh"}},
                        "did not arrive as a PNG"),
    "background-fit-without-fields": ({"backgroundFit": {"scaleX": 1}}, "not a drawing"),
}


@pytest.mark.parametrize("case", HOSTILE_PAD_VALUES)
def test_draw_page_refuses_a_hostile_drawing_pad_value_with_a_message(case, data_set, model_registry):
    value, reason = HOSTILE_PAD_VALUES[case]
    app = open_page("draw", {PAD_KEY: value})
    assert_rendered(app)
    assert any("The drawing could not be read" in text and reason in text for text in texts(app.error)), \
        texts(app.error)
    assert not [metric for metric in app.metric if metric.label == "Prediction"]
