"""Model specs: a JSON-serialisable list of layers, checked in plain Python and built into a Keras model.

The checker infers every layer's output shape and parameter count without TensorFlow, so a page can show a live
summary and refuse a broken spec instantly; ``build_model`` is the only function here that imports Keras.
The output layer, ``Dense(10, softmax)`` (with a ``Flatten`` before it when needed), is always added by the builder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .data import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS
from .errors import DigitLabError
from .precision import resolved_precision

ACTIVATIONS = ("relu", "elu", "gelu", "tanh", "sigmoid", "linear")
PADDINGS = ("valid", "same")

# Settings of each layer type: name -> (kind, default, lower bound, upper bound or choices).
LAYER_SETTINGS: dict[str, dict[str, tuple]] = {
    "Dense": {"units": ("int", 128, 1, 8192), "activation": ("choice", "relu", ACTIVATIONS)},
    "Dropout": {"rate": ("float", 0.25, 0.0, 0.95)},
    "Conv2D": {
        "filters": ("int", 32, 1, 1024),
        "kernel_size": ("int", 3, 1, IMAGE_SIDE),
        "strides": ("int", 1, 1, IMAGE_SIDE),
        "activation": ("choice", "relu", ACTIVATIONS),
        "padding": ("choice", "valid", PADDINGS),
    },
    "MaxPooling2D": {"pool_size": ("int", 2, 1, IMAGE_SIDE)},
    "BatchNormalization": {},
    "Flatten": {},
    "RandomRotation": {"factor": ("float", 0.05, 0.0, 0.5)},
    "RandomTranslation": {"factor": ("float", 0.1, 0.0, 0.5)},
    "RandomZoom": {"factor": ("float", 0.1, 0.0, 0.5)},
}
AUGMENTATION_TYPES = {"RandomRotation", "RandomTranslation", "RandomZoom"}
SPATIAL_TYPES = {"Conv2D", "MaxPooling2D", *AUGMENTATION_TYPES}
ADDED_FLATTEN = "Flatten() [added]"
MODEL_NAME = "digit_classifier"


class SpecError(DigitLabError, ValueError):
    """A spec that cannot be built; the message names the layer and the problem."""


@dataclass(frozen=True)
class LayerSummary:
    """One row of a model summary: what the layer is, what it outputs, how many parameters it holds."""

    name: str
    output_shape: tuple[int, ...]
    params: int


def default_layer(layer_type: str) -> dict:
    """A new layer of ``layer_type`` with default settings (for the layer editor)."""
    if layer_type not in LAYER_SETTINGS:
        raise SpecError(f"unknown layer type {layer_type!r}; choose one of {', '.join(LAYER_SETTINGS)}.")
    return {"type": layer_type, **{key: spec[1] for key, spec in LAYER_SETTINGS[layer_type].items()}}


def describe_layer(layer: dict) -> str:
    """Short human label, e.g. ``Conv2D(32, 3×3, relu)``."""
    settings = ", ".join(
        f"{value}×{value}" if key in ("kernel_size", "pool_size")
        else f"stride {value}" if key == "strides"
        else str(value)
        for key, value in layer.items() if key != "type" and not (key == "strides" and value == 1)
    )
    return f"{layer.get('type', '?')}({settings})"


def checked_settings(position: int, layer) -> dict:
    """The layer with defaults filled in, or a ``SpecError`` naming the layer and the bad setting."""
    where = f"layer {position}"
    if not isinstance(layer, dict) or "type" not in layer:
        raise SpecError(f"{where}: expected an object with a 'type', got {layer!r}.")
    layer_type = layer["type"]
    if layer_type not in LAYER_SETTINGS:
        raise SpecError(f"{where}: unknown layer type {layer_type!r}; choose one of {', '.join(LAYER_SETTINGS)}.")
    where = f"layer {position} ({layer_type})"
    allowed = LAYER_SETTINGS[layer_type]
    unknown = set(layer) - set(allowed) - {"type"}
    if unknown:
        raise SpecError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}.")
    settings = default_layer(layer_type) | layer
    for key, (kind, _default, *bounds) in allowed.items():
        value = settings[key]
        if kind == "choice":
            if value not in bounds[0]:
                raise SpecError(f"{where}: {key} must be one of {', '.join(bounds[0])}, got {value!r}.")
            continue
        number_type = int if kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_type):
            raise SpecError(f"{where}: {key} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}.")
        low, high = bounds
        if not low <= value <= high:
            raise SpecError(f"{where}: {key} must be between {low} and {high}, got {value}.")
    return settings


def summarize_spec(spec: list[dict]) -> list[LayerSummary]:
    """Output shape and parameter count of every layer, the added output layer included; raises ``SpecError``.

    Input is 28×28×1 when the first layer works on images, else the 784 flattened pixels.
    """
    if not isinstance(spec, list):
        raise SpecError(f"a spec is a list of layers, got {type(spec).__name__}.")
    layers = [checked_settings(position, layer) for position, layer in enumerate(spec, start=1)]
    shape: tuple[int, ...] = (
        (IMAGE_SIDE, IMAGE_SIDE, 1) if layers and layers[0]["type"] in SPATIAL_TYPES else (NUM_PIXELS,)
    )
    rows = []
    for position, layer in enumerate(layers, start=1):
        shape, params = layer_output(position, layer, shape)
        rows.append(LayerSummary(describe_layer(layer), shape, params))
    if len(shape) == 3:
        shape = (math.prod(shape),)
        rows.append(LayerSummary(ADDED_FLATTEN, shape, 0))
    rows.append(LayerSummary(f"Dense({NUM_CLASSES}, softmax) [output]", (NUM_CLASSES,), (shape[0] + 1) * NUM_CLASSES))
    return rows


def layer_output(position: int, layer: dict, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """Shape after ``layer`` and its parameter count, given the input ``shape``."""
    layer_type, where = layer["type"], f"layer {position} ({layer['type']})"
    if layer_type in SPATIAL_TYPES and len(shape) != 3:
        raise SpecError(f"{where}: needs an image input, but the previous layers already flattened it; "
                        "put image layers before Flatten/Dense.")
    if layer_type == "Dense":
        if len(shape) != 1:
            raise SpecError(f"{where}: needs a flat input; add a Flatten layer before it.")
        return (layer["units"],), (shape[0] + 1) * layer["units"]
    if layer_type == "Conv2D":
        height, width, channels = shape
        kernel = layer["kernel_size"]
        if layer["padding"] == "valid" and kernel > min(height, width):
            raise SpecError(f"{where}: kernel {kernel}×{kernel} is larger than its {height}×{width} input; "
                            "use a smaller kernel, padding 'same', or fewer pooling layers before it.")
        stride = layer["strides"]
        if layer["padding"] == "valid":
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
        else:
            height, width = math.ceil(height / stride), math.ceil(width / stride)
        return (height, width, layer["filters"]), (kernel * kernel * channels + 1) * layer["filters"]
    if layer_type == "MaxPooling2D":
        height, width, channels = shape
        pool = layer["pool_size"]
        if pool > min(height, width):
            raise SpecError(f"{where}: pool {pool}×{pool} is larger than its {height}×{width} input.")
        return (height // pool, width // pool, channels), 0
    if layer_type == "Flatten":
        return (math.prod(shape),), 0
    if layer_type == "BatchNormalization":
        return shape, 4 * shape[-1]
    return shape, 0  # Dropout and augmentation layers keep the shape and hold no parameters


def count_params(spec: list[dict]) -> int:
    """Total parameters of the model the spec builds (trainable and not)."""
    return sum(row.params for row in summarize_spec(spec))


@dataclass(frozen=True)
class LayerCall:
    """One layer as the builder makes it, ``keras.layers.<kind>(*args, **options)``: ``build_model`` calls it and the
    code exporter writes it out, so an exported program has the very same layers."""

    kind: str
    args: tuple = ()
    options: dict = field(default_factory=dict)


def layer_calls(spec: list[dict], precision: str = "float32") -> list[LayerCall]:
    """The layers ``spec`` builds, input and output included; raises ``SpecError`` first if it cannot be built.
    ``precision`` is the dtype policy of the spec's layers ("auto": see ``resolved_precision``); the softmax output
    always computes in float32."""
    rows = summarize_spec(spec)
    precision = resolved_precision(precision)
    settings = [checked_settings(position, layer) for position, layer in enumerate(spec, start=1)]
    image_input = bool(settings) and settings[0]["type"] in SPATIAL_TYPES
    calls = [LayerCall("Input", ((IMAGE_SIDE, IMAGE_SIDE, 1) if image_input else (NUM_PIXELS,),))]
    for layer in settings:
        options = {key: value for key, value in layer.items() if key != "type"} | {"dtype": precision}
        if layer["type"] in AUGMENTATION_TYPES:  # rotation takes one factor, translation and zoom one per axis
            factor = options.pop("factor")
            factors = (factor,) if layer["type"] == "RandomRotation" else (factor, factor)
            calls.append(LayerCall(layer["type"], factors, {"fill_mode": "constant", **options}))
        else:
            calls.append(LayerCall(layer["type"], (), options))
    if any(row.name == ADDED_FLATTEN for row in rows):
        calls.append(LayerCall("Flatten", (), {"dtype": precision}))
    calls.append(LayerCall("Dense", (NUM_CLASSES,), {"activation": "softmax", "dtype": "float32"}))
    return calls


def build_model(spec: list[dict], name: str = MODEL_NAME, precision: str = "float32"):
    """The Keras ``Sequential`` model for ``spec`` (uncompiled): its ``layer_calls``, made."""
    calls = layer_calls(spec, precision)
    import keras  # heavy import kept out of the checker

    return keras.Sequential([getattr(keras.layers, call.kind)(*call.args, **call.options) for call in calls],
                            name=name)
