"""Checks a ``.keras`` upload passes before Keras sees any of it: bounded archive, allowlisted config, bounded weights.

Keras's ``safe_mode`` is a blocklist (no Python lambdas); a config can still name public Keras functions, operations
or registered classes that run while the model is rebuilt. Here every object the config names must be on an
allowlist of the layers an MNIST classifier uses, every activation, initializer, regularizer and constraint is named
by its registered name, and the archive, the config and the weights are bounded in size before anything is
allocated. ``write_checked_archive`` writes a fresh archive of exactly the bytes checked for Keras to load, so Keras
never reads anything the checks did not, and nothing is written before they pass. No TensorFlow is imported here.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from pathlib import Path

from mnist_core.data.archives import TAIL_BYTES, central_directory_size
from mnist_core.errors import DigitLabError

KB, MB = 1024, 1024 * 1024
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MEMBER_LIMITS = {CONFIG: 1 * MB, METADATA: 64 * KB, WEIGHTS: 40 * MB}  # the largest preset's weights are 7.4 MB
REQUIRED_MEMBERS = (CONFIG, WEIGHTS)
MAX_ARCHIVE_BYTES = sum(MEMBER_LIMITS.values()) + 1 * MB  # local headers and central directory on top
MAX_CENTRAL_DIRECTORY_BYTES = 64 * KB  # three entries take a few hundred bytes; parsing more costs memory
MAX_COMPRESSION_RATIO = 100  # Keras stores members uncompressed; deflated JSON stays far below this
MAX_CONFIG_DEPTH = 64  # a Functional model's config is about 12 levels deep; a nested model adds a few
MAX_LAYERS = 300
MAX_PARAMS = 8_000_000  # 32 MB of float32 weights; the largest preset holds 1.85 million
MAX_WEIGHT_BYTES = MAX_PARAMS * 8  # declared bytes of all weight arrays together (float64 included)

LAYERS = frozenset({
    "InputLayer", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D",
    "GlobalAveragePooling2D", "Flatten", "Reshape", "Rescaling", "Dropout", "SpatialDropout2D", "GaussianNoise",
    "GaussianDropout", "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax",
    "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast", "Add", "Concatenate",
})
INITIALIZERS = frozenset({"Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
                          "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
                          "VarianceScaling", "Orthogonal", "OrthogonalInitializer"})
REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})
ALLOWED_CLASSES = frozenset(
    {("keras.layers", name) for name in LAYERS}
    | {("keras.initializers", name) for name in INITIALIZERS}
    | {("keras.regularizers", name) for name in REGULARIZERS}
    | {("keras.constraints", name) for name in CONSTRAINTS}
    | {("keras", "Sequential"), ("keras", "Functional"), ("keras.src.models.functional", "Functional"),
       ("keras", "DTypePolicy")}
)
MODEL_CLASSES = frozenset({"Sequential", "Functional"})
SYMBOLIC_TENSOR = "__keras_tensor__"  # an input reference inside a Functional model's node list
ACTIVATION_NAMES = frozenset({"linear", "relu", "relu6", "elu", "selu", "gelu", "silu", "swish", "tanh", "sigmoid",
                              "hard_sigmoid", "hard_silu", "hard_swish", "softmax", "log_softmax", "softplus",
                              "softsign", "leaky_relu", "mish", "exponential"})
INITIALIZER_NAMES = frozenset({"zeros", "zero", "ones", "one", "constant", "random_normal", "normal",
                               "random_uniform", "uniform", "truncated_normal", "glorot_normal", "glorot_uniform",
                               "he_normal", "he_uniform", "lecun_normal", "lecun_uniform", "variance_scaling",
                               "orthogonal"})
REGULARIZER_NAMES = frozenset({"l1", "l2", "l1l2", "orthogonal_regularizer"})
CONSTRAINT_NAMES = frozenset({"max_norm", "min_max_norm", "non_neg", "unit_norm"})
DTYPE_NAMES = frozenset({"float16", "bfloat16", "float32", "float64"})
POLICY_NAMES = DTYPE_NAMES | {"mixed_float16", "mixed_bfloat16"}
NAMED_BY_KEY = (  # (how a config key ends, the names it may hold, what they are): Keras looks these strings up
    ("activation", ACTIVATION_NAMES, "activation"), ("_initializer", INITIALIZER_NAMES, "initializer"),
    ("_regularizer", REGULARIZER_NAMES, "regularizer"), ("_constraint", CONSTRAINT_NAMES, "constraint"),
    ("dtype", DTYPE_NAMES, "dtype"),
)
STANDARD_ONLY = ("Only models made of standard Keras layers are accepted (nothing that could run code when loaded); "
                 "see the list in mnist_core/model/checks.py.")


class ModelFileError(DigitLabError, ValueError):
    """An uploaded or stored ``.keras`` file that is refused before Keras reads it; the message says what was found."""


# --- the archive ----------------------------------------------------------------------------------------------------


def read_members(content: bytes) -> dict[str, bytes]:
    """The members of a ``.keras`` archive, each checked for its name, declared size and compression ratio before
    it is decompressed (into memory, never to disk)."""
    if len(content) > MAX_ARCHIVE_BYTES:
        raise ModelFileError(f"refused: the file is larger than {MAX_ARCHIVE_BYTES:,} bytes, the most an MNIST "
                             "model file here may take.")
    directory = central_directory_size(content[-TAIL_BYTES:])
    if directory is None:
        raise ModelFileError("not a Keras model file (.keras files are zip archives); it may be truncated or corrupt.")
    if directory > MAX_CENTRAL_DIRECTORY_BYTES:
        raise ModelFileError("refused: the archive's member list is far longer than the three files of a .keras "
                             f"model ({', '.join(MEMBER_LIMITS)}), or it is a ZIP64 archive of gigabytes.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ModelFileError("not a Keras model file (.keras files are zip archives); it may be truncated or "
                             "corrupt.") from None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        unexpected = sorted({name for name in names if name not in MEMBER_LIMITS})
        if unexpected:
            shown = ", ".join(repr(name) for name in unexpected[:3]) + (" …" if len(unexpected) > 3 else "")
            raise ModelFileError(f"refused: the archive holds {len(unexpected)} unexpected member(s) ({shown}); a "
                                 f".keras model holds only {', '.join(MEMBER_LIMITS)}.")
        if len(set(names)) != len(names):
            raise ModelFileError("refused: the archive holds the same member twice.")
        missing = [name for name in REQUIRED_MEMBERS if name not in names]
        if missing:
            raise ModelFileError(f"not a Keras model file: the archive lacks {', '.join(missing)}.")
        for info in infos:
            limit = MEMBER_LIMITS[info.filename]
            if info.file_size > limit:
                raise ModelFileError(f"refused: {info.filename} declares {info.file_size:,} bytes; at most "
                                     f"{limit:,} are accepted for an MNIST model.")
            if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise ModelFileError(f"refused: {info.filename} would expand {info.file_size:,} bytes from "
                                     f"{info.compress_size:,} (more than {MAX_COMPRESSION_RATIO}×): a zip bomb.")
        try:
            return {name: archive.read(name) for name in names}
        except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError) as error:
            raise ModelFileError(f"the model file is damaged ({error}).") from None


# --- the config -----------------------------------------------------------------------------------------------------


def parse_config(raw: bytes) -> dict:
    """``config.json`` as a dict; any malformed text, too deep nesting included, is a ``ModelFileError``."""
    try:
        config = json.loads(raw)
    except RecursionError:
        raise ModelFileError("refused: config.json is nested too deeply to be a model's config.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"config.json is not valid JSON ({error}).") from None
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ModelFileError(f"refused: config.json describes {str(found)[:80]!r}, not a Sequential or Functional "
                             "model.")
    return config


def described(item: dict) -> str:
    """How a refused config object is named in a message."""
    class_name, module = str(item.get("class_name"))[:80], item.get("module")
    inner = item.get("config")
    if class_name == "function":
        return f"a reference to the function {str(module)[:80]}.{str(inner)[:80]}"
    if class_name == "Lambda":
        return "a Lambda layer (Python code)"
    if class_name == "__lambda__":
        return "a Python lambda (code)"
    if class_name.startswith("__") and class_name.endswith("__"):
        return f"a {class_name} value"
    if module is None:
        return f"{class_name!r} without a module"
    return f"{class_name!r} from the module {str(module)[:80]!r}"


def check_object(item: dict, top: bool) -> None:
    """Refuse a config object (anything with a ``class_name``) that is not on the allowlist."""
    class_name, module = item.get("class_name"), item.get("module")
    if class_name == SYMBOLIC_TENSOR:
        if module is not None or set(item) - {"class_name", "config"}:
            raise ModelFileError(f"refused: the model has a malformed {SYMBOLIC_TENSOR} entry. {STANDARD_ONLY}")
        return
    if not isinstance(class_name, str) or not isinstance(module, str) or (module, class_name) not in ALLOWED_CLASSES:
        raise ModelFileError(f"refused: the model contains {described(item)}, which is not on Digit Lab's list of "
                             f"standard layers. {STANDARD_ONLY}")
    if item.get("registered_name") not in (None, class_name):
        raise ModelFileError(f"refused: the model contains {class_name!r} registered as "
                             f"{str(item['registered_name'])[:80]!r} (a disguised class). {STANDARD_ONLY}")
    if item.get("compile_config") and not top:  # Keras compiles a nested model from it, even with compile=False
        raise ModelFileError(f"refused: a nested {class_name} carries training settings (compile_config). "
                             f"{STANDARD_ONLY}")
    if class_name == "DTypePolicy":
        name = (item.get("config") or {}).get("name") if isinstance(item.get("config"), dict) else None
        if name not in POLICY_NAMES:
            raise ModelFileError(f"refused: the model uses the dtype policy {str(name)[:80]!r}; expected one of "
                                 f"{', '.join(sorted(POLICY_NAMES))}.")


def check_named(key: str, value: str) -> None:
    """Refuse a string Keras would look up (an activation, initializer, ...) unless it is a registered name."""
    for ending, names, kind in NAMED_BY_KEY:
        if key.endswith(ending) and value not in names:
            raise ModelFileError(f"refused: the model names the {kind} {value[:80]!r} ({key}), which is not one of "
                                 f"Keras's standard {kind}s: {', '.join(sorted(names))}.")


def whole_number(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelFileError(f"refused: {what} is {str(value)[:80]!r}; expected a whole number.")
    return value


def layer_params(item: dict) -> int:
    """Parameters a weight-holding layer will allocate, from its config and the input shape saved in its
    ``build_config``; refused when that shape is missing, since then the size cannot be known before building."""
    class_name, config = item["class_name"], item.get("config")
    config = config if isinstance(config, dict) else {}
    name = str(config.get("name", "?"))[:80]
    build = item.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if not isinstance(shape, list) or len(shape) < 2:
        raise ModelFileError(f"refused: the {class_name} layer {name!r} has no saved input shape (build_config), "
                             "so its size cannot be checked; save the model after building it.")

    def dimension(axis) -> int:
        axis = whole_number(axis + len(shape) if isinstance(axis, int) and axis < 0 else axis, f"{name}'s axis")
        if axis >= len(shape):
            raise ModelFileError(f"refused: the {class_name} layer {name!r} has axis {axis} for a "
                                 f"{len(shape)}-dimensional input.")
        return whole_number(shape[axis], f"the input size of {name!r}")

    if class_name == "Dense":
        return (dimension(-1) + 1) * whole_number(config.get("units"), f"{name}'s units")
    if class_name == "Conv2D":
        kernel = config.get("kernel_size")
        kernel = kernel if isinstance(kernel, list) else [kernel, kernel]
        channels = dimension(-1 if config.get("data_format", "channels_last") == "channels_last" else 1)
        filters = whole_number(config.get("filters"), f"{name}'s filters")
        return math.prod(whole_number(side, f"{name}'s kernel size") for side in kernel) * channels * filters + filters
    axes = config.get("axis", -1)  # BatchNormalization and LayerNormalization: at most 4 numbers per feature
    return 4 * math.prod(dimension(axis) for axis in (axes if isinstance(axes, list) else [axes]))


WEIGHTED_LAYERS = frozenset({"Dense", "Conv2D", "BatchNormalization", "LayerNormalization"})


def check_config(raw: bytes) -> dict:
    """Parse ``config.json`` and walk all of it (iteratively, depth-capped): every object on the allowlist, every
    looked-up name registered, at most ``MAX_LAYERS`` layers and ``MAX_PARAMS`` parameters. Returns the config."""
    config = parse_config(raw)
    pending: list[tuple[object, int, str]] = [(config, 0, "")]
    layers = params = 0
    while pending:
        item, depth, key = pending.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ModelFileError(f"refused: config.json is nested deeper than {MAX_CONFIG_DEPTH} levels.")
        if isinstance(item, list):
            pending.extend((value, depth + 1, key) for value in item)
        elif isinstance(item, dict):
            top = item is config
            if "class_name" in item:
                check_object(item, top)
                layers += item.get("module") == "keras.layers"
                if item["class_name"] in WEIGHTED_LAYERS and item.get("module") == "keras.layers":
                    params += layer_params(item)
            # a top-level compile_config is never read: models are loaded with compile=False
            pending.extend((value, depth + 1, str(name)) for name, value in item.items()
                           if not (top and name == "compile_config"))
        elif isinstance(item, str):
            check_named(key, item)
    if layers > MAX_LAYERS:
        raise ModelFileError(f"refused: the model has {layers} layers; at most {MAX_LAYERS} are accepted.")
    if params > MAX_PARAMS:
        raise ModelFileError(f"refused: the model would hold {params:,} parameters; an MNIST model here may hold "
                             f"at most {MAX_PARAMS:,}.")
    return config


# --- the weights ----------------------------------------------------------------------------------------------------


def check_weights(raw: bytes) -> None:
    """Refuse a weights file whose arrays declare more than ``MAX_WEIGHT_BYTES`` (an HDF5 dataset can declare
    gigabytes in a few bytes: unwritten chunks read as their fill value), or that links outside itself."""
    import h5py

    try:
        with h5py.File(io.BytesIO(raw), "r") as weights:
            declared = 0
            found: list[str] = []

            def visit(name: str, link) -> None:
                if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                    found.append(f"a link ({name})")
                    return
                entry = weights.get(name)
                if isinstance(entry, h5py.Dataset):
                    nonlocal declared
                    if entry.dtype.kind not in "biuf" or entry.is_virtual or entry.external:
                        found.append(f"an array that is not plain numbers ({name})")
                    declared += math.prod(entry.shape or (1,)) * entry.dtype.itemsize

            weights.visititems_links(visit)
    except ModelFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ModelFileError(f"{WEIGHTS} is not a readable HDF5 weights file ({error}).") from None
    if found:
        raise ModelFileError(f"refused: {WEIGHTS} holds {found[0]}; a model's weights are plain arrays of numbers.")
    if declared > MAX_WEIGHT_BYTES:
        raise ModelFileError(f"refused: {WEIGHTS} declares arrays of {declared:,} bytes; an MNIST model's weights "
                             f"take at most {MAX_WEIGHT_BYTES:,}.")


# --- all together ---------------------------------------------------------------------------------------------------


def write_checked_archive(content: bytes, path: Path) -> None:
    """Run every check on a ``.keras`` file's bytes, then write to ``path`` a new archive of exactly the members
    checked (so Keras reads nothing the checks did not); raises ``ModelFileError`` with the reason, writing nothing."""
    members = read_members(content)
    check_config(members[CONFIG])
    check_weights(members[WEIGHTS])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def check_serialized_model(model) -> None:
    """Refuse a loaded model whose re-saved config would not pass ``check_config`` (a later load would refuse it)."""
    import keras

    check_config(json.dumps(keras.saving.serialize_keras_object(model)).encode())
