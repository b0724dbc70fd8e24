"""Model specs: a JSON-serialisable list of layers, checked in plain Python and built into a Keras model.

The checker infers every layer's output shape and parameter count without TensorFlow, so a page can show a live
summary and refuse a broken spec instantly; ``build_model`` is the only function here that imports Keras.
The output layer, ``Dense(10, softmax)`` (with a ``Flatten`` before it when needed), is always added by the builder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mnist_core.data.mnist import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS
from mnist_core.errors import DigitLabError
from mnist_core.model.checks import MAX_LAYERS
from mnist_core.model.config import ConfigError, Limits, TrainConfig, machine_limits, names, shown
from mnist_core.model.precision import resolved_precision

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
MAX_SPEC_LAYERS = MAX_LAYERS - 3  # the input, an added Flatten and the output join them in the saved model
FLOAT_BYTES = 4  # weights and activations are float32 (mixed_bfloat16 halves activations: the estimate stays high)
OPTIMIZER_SLOTS = {"adam": 2, "rmsprop": 1, "sgd": 0}  # values each optimizer keeps per weight (Keras 3 defaults)
WEIGHT_COPIES = 4  # the weights, their gradients, and as much again while they are initialised and updated
ACTIVATION_COPIES = 2  # every layer's output is kept for the backward pass, and its gradient takes as much again


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
        raise SpecError(f"{where}: expected an object with a 'type', got {shown(layer)}.")
    layer_type = layer["type"]
    if layer_type not in LAYER_SETTINGS:
        raise SpecError(f"{where}: unknown layer type {shown(layer_type)}; choose one of "
                        f"{', '.join(LAYER_SETTINGS)}.")
    where = f"layer {position} ({layer_type})"
    allowed = LAYER_SETTINGS[layer_type]
    unknown = set(layer) - set(allowed) - {"type"}
    if unknown:
        raise SpecError(f"{where}: unknown setting(s) {names(unknown)}.")
    settings = default_layer(layer_type) | layer
    for key, (kind, _default, *bounds) in allowed.items():
        value = settings[key]
        if kind == "choice":
            if not isinstance(value, str) or value not in bounds[0]:
                raise SpecError(f"{where}: {key} must be one of {', '.join(bounds[0])}, got {shown(value)}.")
            continue
        number_type = int if kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_type) or value != value:  # NaN
            raise SpecError(f"{where}: {key} must be {'an integer' if kind == 'int' else 'a number'}, got "
                            f"{shown(value)}.")
        low, high = bounds
        if not low <= value <= high:
            raise SpecError(f"{where}: {key} must be between {low} and {high}, got {shown(value)}.")
    return settings


def summarize_spec(spec: list[dict]) -> list[LayerSummary]:
    """Output shape and parameter count of every layer, the added output layer included; raises ``SpecError``.

    Input is 28×28×1 when the first layer works on images, else the 784 flattened pixels.
    """
    if not isinstance(spec, list):
        raise SpecError(f"a spec is a list of layers, got {type(spec).__name__}.")
    if len(spec) > MAX_SPEC_LAYERS:
        raise SpecError(f"a spec may have at most {MAX_SPEC_LAYERS} layers (a saved model with more could not be "
                        f"loaded back), got {len(spec):,}.")
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
class Footprint:
    """What training a spec costs in memory: its parameters, the bytes that do not grow with the batch (weights,
    their gradients and the optimizer's state) and the activation bytes of each image of a batch."""

    params: int
    fixed_bytes: int
    bytes_per_image: int
    batch_size: int

    @property
    def total_bytes(self) -> int:
        return self.fixed_bytes + self.bytes_per_image * self.batch_size


def estimate_footprint(spec: list[dict], batch_size: int, optimizer: str = "adam") -> Footprint:
    """Peak training memory of ``spec`` with batches of ``batch_size``, from the shapes ``summarize_spec`` infers (no
    TensorFlow): ``WEIGHT_COPIES`` of the float32 weights and the optimizer's ``OPTIMIZER_SLOTS``, plus
    ``ACTIVATION_COPIES`` of the input and of every layer's output per image. The peaks that real trainings add are
    within a factor of 2 of it (tests/test_core_architectures.py); TensorFlow and the data set come on top."""
    rows = summarize_spec(spec)
    params = sum(row.params for row in rows)
    values_per_image = NUM_PIXELS + sum(math.prod(row.output_shape) for row in rows)  # the input, then each layer
    return Footprint(params, FLOAT_BYTES * params * (WEIGHT_COPIES + OPTIMIZER_SLOTS[optimizer]),
                     FLOAT_BYTES * ACTIVATION_COPIES * values_per_image, batch_size)


def size_text(size: int) -> str:
    """Bytes in words: "340 MB", "2.1 GB"."""
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{max(size / 2**20, 0.1):.0f} MB"


def check_fits_machine(spec: list[dict], config: TrainConfig, limits: Limits | None = None) -> Footprint:
    """The footprint of training ``spec`` with ``config``'s batch and optimizer, or a ``ConfigError`` saying what
    would fit when it holds more parameters or needs more memory than this machine's ``limits`` allow."""
    limits = limits or machine_limits()
    footprint = estimate_footprint(spec, config.batch_size, config.optimizer)
    if footprint.params > limits.max_params:
        raise ConfigError(f"this network holds {footprint.params:,} parameters; at most {limits.max_params:,} are "
                          "allowed here (a saved model with more could not be loaded back): use fewer units or "
                          "filters, or more pooling before Flatten.")
    budget = limits.memory_budget_mb * 2**20
    if footprint.total_bytes > budget:
        fitting = (budget - footprint.fixed_bytes) // footprint.bytes_per_image
        hint = (f"try batch_size <= {fitting:,}, or fewer filters or units" if fitting >= 1 else
                "even a batch of 1 does not fit: use fewer filters or units, or more pooling")
        raise ConfigError(f"this network needs ~{size_text(footprint.total_bytes)} per batch of "
                          f"{config.batch_size:,} to train; this machine allows {size_text(budget)}; {hint}.")
    return footprint


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
