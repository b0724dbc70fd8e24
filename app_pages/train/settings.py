"""The Train page's training settings: one widget per row of the settings table (``mnist_core.model.config.SETTINGS``)
with the preset's values, checked as a ``TrainConfig`` that fits the data set and, with the network, this machine."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.data import load_dataset
from app_pages.shared.state import kept
from app_pages.shared.text import plain
from app_pages.train.choices import TrainChoices
from mnist_core.data.mnist import DataSetError
from mnist_core.model.architectures import check_fits_machine, size_text
from mnist_core.model.config import SETTINGS, ConfigError, Setting, TrainConfig, check_fits_data
from mnist_core.model.precision import AUTO, MIXED_BFLOAT16, resolved_precision

QUICK_SUBSET = 10_000  # default subset of a custom network: a good model in well under a minute on a slow CPU
CUSTOM_VALIDATION = TrainConfig().validation_split  # held out by a custom network: the settings table's default
CHOICE_LABELS = {  # short enough for half of the settings' width at 1400 px ("auto (mixed_bfloat16 o" was cut)
    "precision": lambda name: f"auto ({resolved_precision(AUTO).removeprefix('mixed_')})" if name == AUTO else name}


def load_settings(choices: TrainChoices, config: TrainConfig) -> None:
    """Show ``config``'s values in the settings widgets: a preset trains on what it was measured on (an optional
    setting's None is shown as 0)."""
    choices.settings = {setting.name: getattr(config, setting.name) for setting in SETTINGS} | {
        setting.name: getattr(config, setting.name) or 0 for setting in SETTINGS if setting.optional}
    choices.base = config
    choices.loads += 1  # new widgets, showing these values


def start_custom(choices: TrainChoices) -> None:
    """A custom network starts on the quick subset and holds validation images out (the settings table's default
    split, when the preset it comes from held none out); its other settings stay as they were."""
    choices.settings["subset_size"] = QUICK_SUBSET
    choices.settings["validation_split"] = choices.settings["validation_split"] or CUSTOM_VALIDATION
    choices.loads += 1


def setting_widget(choices: TrainChoices, setting: Setting, disabled: bool):
    """The widget of one setting: a selectbox for choices, a checkbox for true/false, else a number input over the
    setting's range (an optional one from 0, which means none)."""
    bound = {"item": setting.name, "version": str(choices.loads), "disabled": disabled,
             "help": plain(f"{setting.help[0].upper()}{setting.help[1:]}.")}
    if setting.choices:
        return kept(st.selectbox, choices, "settings", setting.label, setting.choices,
                    format_func=CHOICE_LABELS.get(setting.name, str), **bound)
    if setting.kind is bool:
        return kept(st.checkbox, choices, "settings", setting.label, **bound)
    number = setting.kind
    choices.settings[setting.name] = number(choices.settings[setting.name])
    return kept(st.number_input, choices, "settings", setting.label,
                min_value=number(0 if setting.optional else setting.low), max_value=number(setting.high),
                step=number(setting.step or 1), format=setting.number_format,
                **bound | {"help": bound["help"] + (" 0: none." if setting.optional else "")})


def settings_form(choices: TrainChoices) -> dict:
    """The training-settings widgets (values from the preset), the advanced ones folded under "More settings";
    returns their values as ``TrainConfig`` fields."""
    chosen = choices.settings
    st.subheader("Training settings")
    places = {False: st.columns(2), True: st.expander("More settings").columns(2)}
    for advanced, columns in places.items():
        for position, setting in enumerate(setting for setting in SETTINGS if setting.advanced == advanced):
            with columns[position % 2]:
                setting_widget(choices, setting, disabled=setting.needs is not None and not chosen[setting.needs])
    if chosen["precision"] == MIXED_BFLOAT16 and resolved_precision(AUTO) != MIXED_BFLOAT16:
        st.warning("This CPU has no native bfloat16 (AVX512-BF16 or AMX): TensorFlow emulates it, and training is "
                   "many times slower (fast-cnn's one epoch: 49 s instead of 5.9 s in float32 on an AMD EPYC). "
                   "Choose auto or float32.")
    return dict(chosen) | {setting.name: chosen[setting.name] or None for setting in SETTINGS if setting.optional}


def checked_config(choices: TrainChoices, values: dict, train_count: int | None) -> TrainConfig | None:
    """The settings as a ``TrainConfig`` that fits the data, or None after saying what is wrong with them."""
    try:
        config = choices.base.replace(**values)
        if train_count is not None:
            check_fits_data(config, train_count)
    except ConfigError as error:
        st.error(f"These settings cannot be used: {error}")
        return None
    return config


def fits_machine(spec: list[dict], config: TrainConfig) -> bool:
    """Whether training ``spec`` with ``config`` fits this machine (parameters, memory per batch); else says what
    would."""
    try:
        footprint = check_fits_machine(spec, config)
    except ConfigError as error:
        st.error(f"This network cannot be trained here: {error}")
        return False
    st.caption(f"Training memory: ~{size_text(footprint.total_bytes)} for a batch of {config.batch_size:,} "
               "(weights, optimizer state and activations; TensorFlow's own comes on top).")
    return True


def training_data_size() -> int | None:
    """Number of training images, or None after saying that there is no data set to train on."""
    try:
        return len(load_dataset().y_train)
    except DataSetError as error:
        st.error(plain(f"Training needs the data set: {error}"))
        return None
