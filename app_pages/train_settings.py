"""The Train page's training settings: number and choice widgets with the preset's values, checked as a
``TrainConfig`` that fits the data set."""

from __future__ import annotations

import streamlit as st

from app_pages.common import forget_widget, kept_widget, load_dataset, plain
from mnist_core.config import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LABEL_SMOOTHING,
    MAX_LEARNING_RATE,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    ConfigError,
    TrainConfig,
    check_fits_data,
)
from mnist_core.data import DataSetError
from mnist_core.precision import AUTO, MIXED_BFLOAT16, resolved_precision

SETTINGS_KEY, BASE_KEY = "train.settings", "train.base"
QUICK_SUBSET = 10_000  # default subset of a custom network: a good model in well under a minute on a slow CPU
# Training settings with a number input: field -> (label, lowest, highest, step, display format).
NUMBER_SETTINGS = {
    "epochs": ("Epochs", 1, MAX_EPOCHS, 1, None),
    "batch_size": ("Batch size", 1, MAX_BATCH_SIZE, 1, None),
    "learning_rate": ("Learning rate", 0.0, MAX_LEARNING_RATE, 0.0005, "%.5f"),
    "validation_split": ("Validation split", 0.0, 0.9, 0.05, "%.2f"),
    "seed": ("Seed", 0, 2**31 - 1, 1, None),
    "label_smoothing": ("Label smoothing", 0.0, MAX_LABEL_SMOOTHING, 0.05, "%.2f"),
}
CHOICE_SETTINGS = {"optimizer": ("Optimizer", OPTIMIZERS), "lr_schedule": ("Learning-rate schedule", SCHEDULES),
                   "precision": ("Precision", PRECISIONS)}
CHOICE_OPTIONS = {"precision": {
    "format_func": lambda name: f"auto ({resolved_precision(AUTO)} on this CPU)" if name == AUTO else name,
    "help": "mixed_bfloat16 computes in bfloat16: faster on CPUs that have it natively (AVX512-BF16, AMX), many "
            "times slower on others. auto uses it only where it is native; the run records what it used."}}


def setting_key(field: str) -> str:
    return f"train.setting.{field}"


def load_settings(config: TrainConfig) -> None:
    """Show ``config``'s values in the settings widgets: a preset trains on what it was measured on (subset 0 = all
    images)."""
    fields = (*NUMBER_SETTINGS, *CHOICE_SETTINGS, "early_stopping", "patience")
    st.session_state[SETTINGS_KEY] = {field: getattr(config, field) for field in fields} | {
        "subset_size": config.subset_size or 0}
    st.session_state[BASE_KEY] = config
    for field in st.session_state[SETTINGS_KEY]:
        forget_widget(setting_key(field))


def use_quick_subset() -> None:
    """A custom network starts on the quick subset; its other settings stay as they were."""
    st.session_state[SETTINGS_KEY]["subset_size"] = QUICK_SUBSET
    forget_widget(setting_key("subset_size"))


def settings_form(train_count: int | None) -> dict:
    """The training-settings widgets (defaults from the preset); returns their values as ``TrainConfig`` fields."""
    chosen = st.session_state[SETTINGS_KEY]
    st.subheader("Training settings")
    left, right = st.columns(2)
    for position, (field, (label, low, high, step, number_format)) in enumerate(NUMBER_SETTINGS.items()):
        with (left, right)[position % 2]:
            chosen[field] = kept_widget(st.number_input, setting_key(field), chosen[field], label, min_value=low,
                                        max_value=high, step=step, format=number_format)
    with right:
        chosen["subset_size"] = kept_widget(
            st.number_input, setting_key("subset_size"), min(chosen["subset_size"], train_count or QUICK_SUBSET),
            "Training subset size", min_value=0, max_value=train_count or 10_000_000, step=1000,
            help="Train on a stratified subset of this many training images; 0 = all of them.")
    for position, (field, (label, choices)) in enumerate(CHOICE_SETTINGS.items()):
        with (left, right)[position % 2]:
            chosen[field] = kept_widget(st.selectbox, setting_key(field), chosen[field], label, choices,
                                        **CHOICE_OPTIONS.get(field, {}))
    if chosen["precision"] == MIXED_BFLOAT16 and resolved_precision(AUTO) != MIXED_BFLOAT16:
        st.warning("This CPU has no native bfloat16 (AVX512-BF16 or AMX): TensorFlow emulates it, and training is "
                   "many times slower (fast-cnn's one epoch: 49 s instead of 5.9 s in float32 on an AMD EPYC). "
                   "Choose auto or float32.")
    with left:
        chosen["early_stopping"] = kept_widget(st.checkbox, setting_key("early_stopping"), chosen["early_stopping"],
                                               "Early stopping")
    with right:
        chosen["patience"] = kept_widget(st.number_input, setting_key("patience"), chosen["patience"], "Patience",
                                         min_value=1, max_value=MAX_EPOCHS, step=1,
                                         disabled=not chosen["early_stopping"],
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
        st.error(plain(f"Training needs the data set: {error}"))
        return None
