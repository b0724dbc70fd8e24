"""The Train page's layer editor: the hidden layers as editable cards, and the live summary of the network they
make (parameter count and layer table, computed without TensorFlow)."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.state import kept, kept_key, page_state
from app_pages.train.choices import TrainChoices
from mnist_core.model.architectures import LAYER_SETTINGS, SpecError, default_layer, summarize_spec

SETTING_WIDTH = 86  # pixels, so that a layer's settings fit in one row


def new_layers(choices: TrainChoices, layers: list[dict]) -> dict[int, dict]:
    """Editor entries for ``layers``, each under a fresh id so its widgets start from the layer's settings."""
    first = choices.next_layer_id
    choices.next_layer_id += len(layers)
    return {first + offset: dict(layer) for offset, layer in enumerate(layers)}


def load_layers(choices: TrainChoices, spec: list[dict]) -> None:
    """Put ``spec``'s layers into the editor."""
    choices.layers = new_layers(choices, spec)


def move_layer(layer_id: int, offset: int) -> None:
    """Move a layer up (-1) or down (+1) in the editor."""
    choices = page_state(TrainChoices)
    order = list(choices.layers)
    position = order.index(layer_id)
    target = position + offset
    if 0 <= target < len(order):
        order[position], order[target] = order[target], order[position]
        choices.layers = {key: choices.layers[key] for key in order}


def remove_layer(layer_id: int) -> None:
    """Take a layer out of the editor."""
    page_state(TrainChoices).layers.pop(layer_id, None)


def add_layer(type_key: str) -> None:
    """Append a layer of the type chosen in "Layer type" (its widget's key: the callback runs before the script
    stores the choice), with default settings."""
    choices = page_state(TrainChoices)
    choices.layers |= new_layers(choices, [default_layer(st.session_state.get(type_key, choices.new_layer_type))])


def setting_widget(choices: TrainChoices, layer_id: int, name: str, setting: tuple):
    """The input for one layer setting, generated from its kind and bounds in ``LAYER_SETTINGS``."""
    kind, _default, *bounds = setting
    label, item = name.replace("_", " "), (layer_id, name)
    if kind == "choice":
        return kept(st.selectbox, choices, "layers", label, bounds[0], item=item, width=SETTING_WIDTH)
    low, high = bounds
    if kind == "int":
        return kept(st.number_input, choices, "layers", label, min_value=low, max_value=high, step=1, item=item,
                    width=SETTING_WIDTH)
    return kept(st.number_input, choices, "layers", label, min_value=float(low), max_value=float(high), step=0.05,
                format="%.2f", item=item, width=SETTING_WIDTH)


def layer_card(choices: TrainChoices, position: int, layer_id: int) -> None:
    """One layer: its type and buttons to move it up or down or remove it, then its settings."""
    layer, count = choices.layers[layer_id], len(choices.layers)
    with st.container(border=True, gap="small"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{position + 1}. {layer['type']}**")
            st.space("stretch")
            st.button("↑", key=f"train.up{layer_id}", on_click=move_layer, args=(layer_id, -1),
                      disabled=position == 0, help="Move up", type="tertiary")
            st.button("↓", key=f"train.down{layer_id}", on_click=move_layer, args=(layer_id, 1),
                      disabled=position == count - 1, help="Move down", type="tertiary")
            st.button("✕", key=f"train.remove{layer_id}", on_click=remove_layer, args=(layer_id,),
                      help="Remove this layer", type="tertiary")
        settings = LAYER_SETTINGS[layer["type"]]
        if settings:
            with st.container(horizontal=True, gap="xsmall"):
                for name, setting in settings.items():
                    setting_widget(choices, layer_id, name, setting)


def layer_editor(choices: TrainChoices) -> list[dict]:
    """The editable list of hidden layers and a way to add one; returns the spec as edited."""
    st.subheader("Layers")
    if not choices.layers:
        st.caption("No hidden layers: the 784 pixels go straight into the softmax output (softmax regression).")
    for position, layer_id in enumerate(list(choices.layers)):
        layer_card(choices, position, layer_id)
    pick, add = st.columns([3, 1], vertical_alignment="bottom")
    with pick:
        kept(st.selectbox, choices, "new_layer_type", "Layer type", list(LAYER_SETTINGS))
    add.button("Add layer", on_click=add_layer, args=(kept_key(choices, "new_layer_type"),), width="stretch")
    return [dict(layer) for layer in choices.layers.values()]


def spec_summary(spec: list[dict]) -> bool:
    """The live parameter count and layer table of ``spec``, or why it cannot be built; True when it can."""
    st.subheader("Network")
    try:
        rows = summarize_spec(spec)
    except SpecError as error:
        st.error(f"This network cannot be built: {error}")
        return False
    st.metric("Parameters", f"{sum(row.params for row in rows):,}")
    st.dataframe([{"layer": row.name, "output shape": " × ".join(map(str, row.output_shape)), "parameters": row.params}
                  for row in rows], hide_index=True, column_config={
        "layer": st.column_config.TextColumn(width="medium"),
        "parameters": st.column_config.NumberColumn(format="localized", width="small")})
    return True
