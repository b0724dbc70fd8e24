"""The Train page's layer editor: the hidden layers as editable cards, and the live summary of the network they
make (parameter count and layer table, computed without TensorFlow)."""

from __future__ import annotations

import streamlit as st

from app_pages.shared.state import kept_widget
from mnist_core.model.architectures import LAYER_SETTINGS, SpecError, default_layer, summarize_spec

LAYERS_KEY, UID_KEY = "train.layers", "train.next_uid"
SETTING_WIDTH = 86  # pixels, so that a layer's settings fit in one row


def new_entries(layers: list[dict]) -> list[dict]:
    """Editor entries for ``layers``, each with a fresh id so its widgets start from the layer's settings."""
    first = st.session_state.get(UID_KEY, 0)
    st.session_state[UID_KEY] = first + len(layers)
    return [{"uid": first + offset, "layer": dict(layer)} for offset, layer in enumerate(layers)]


def load_layers(spec: list[dict]) -> None:
    """Put ``spec``'s layers into the editor."""
    st.session_state[LAYERS_KEY] = new_entries(spec)


def move_layer(uid: int, offset: int) -> None:
    """Move a layer up (-1) or down (+1) in the editor."""
    entries = st.session_state[LAYERS_KEY]
    position = next(i for i, entry in enumerate(entries) if entry["uid"] == uid)
    target = position + offset
    if 0 <= target < len(entries):
        entries[position], entries[target] = entries[target], entries[position]


def remove_layer(uid: int) -> None:
    """Take a layer out of the editor."""
    st.session_state[LAYERS_KEY] = [entry for entry in st.session_state[LAYERS_KEY] if entry["uid"] != uid]


def add_layer() -> None:
    """Append a layer of the type chosen in "Layer type", with default settings."""
    st.session_state[LAYERS_KEY] += new_entries([default_layer(st.session_state["train.new_layer_type"])])


def setting_widget(uid: int, name: str, setting: tuple, value):
    """The input for one layer setting, generated from its kind and bounds in ``LAYER_SETTINGS``."""
    kind, _default, *bounds = setting
    key, label = f"train.layer{uid}.{name}", name.replace("_", " ")
    if kind == "choice":
        return kept_widget(st.selectbox, key, value, label, bounds[0], width=SETTING_WIDTH)
    low, high = bounds
    if kind == "int":
        return kept_widget(st.number_input, key, value, label, min_value=low, max_value=high, step=1,
                           width=SETTING_WIDTH)
    return kept_widget(st.number_input, key, value, label, min_value=float(low), max_value=float(high), step=0.05,
                       format="%.2f", width=SETTING_WIDTH)


def layer_card(position: int, entry: dict, count: int) -> None:
    """One layer: its type and buttons to move it up or down or remove it, then its settings."""
    uid, layer = entry["uid"], entry["layer"]
    with st.container(border=True, gap="small"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{position + 1}. {layer['type']}**")
            st.space("stretch")
            st.button("↑", key=f"train.up{uid}", on_click=move_layer, args=(uid, -1), disabled=position == 0,
                      help="Move up", type="tertiary")
            st.button("↓", key=f"train.down{uid}", on_click=move_layer, args=(uid, 1),
                      disabled=position == count - 1, help="Move down", type="tertiary")
            st.button("✕", key=f"train.remove{uid}", on_click=remove_layer, args=(uid,), help="Remove this layer",
                      type="tertiary")
        settings = LAYER_SETTINGS[layer["type"]]
        if settings:
            with st.container(horizontal=True, gap="xsmall"):
                for name, setting in settings.items():
                    layer[name] = setting_widget(uid, name, setting, layer[name])


def layer_editor() -> list[dict]:
    """The editable list of hidden layers and a way to add one; returns the spec as edited."""
    st.subheader("Layers")
    entries = st.session_state[LAYERS_KEY]
    if not entries:
        st.caption("No hidden layers: the 784 pixels go straight into the softmax output (softmax regression).")
    for position, entry in enumerate(entries):
        layer_card(position, entry, len(entries))
    pick, add = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox("Layer type", list(LAYER_SETTINGS), key="train.new_layer_type")
    add.button("Add layer", on_click=add_layer, width="stretch")
    return [entry["layer"] for entry in entries]


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
