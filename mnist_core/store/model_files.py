"""Saving a run's Keras model without its optimizer, and loading one only after the file checks."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mnist_core.model.checks import MAX_ARCHIVE_BYTES, ModelFileError, write_checked_archive
from mnist_core.model.precision import in_native_precision
from mnist_core.store.files import MODEL_FILE
from mnist_core.store.records import RegistryError

ACCEPTED_INPUTS = ((784,), (28, 28), (28, 28, 1))


def save_without_optimizer(model, path: Path) -> None:
    """Save weights and architecture only: an uncompiled clone carries no optimizer state (Keras 3 ignores
    ``include_optimizer=False`` for ``.keras`` files)."""
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.save(path)


def check_mnist_classifier(model) -> None:
    """Refuse a model whose input is not a 28×28 image (or 784 pixels) or whose output is not 10 classes."""
    input_shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    output_shape = tuple(model.output_shape[1:]) if not isinstance(model.output_shape, list) else None
    if input_shape not in ACCEPTED_INPUTS:
        raise RegistryError(f"not an MNIST classifier: its input shape is {input_shape}; expected 784, 28×28 or "
                            "28×28×1.")
    if output_shape != (10,):
        raise RegistryError(f"not an MNIST classifier: its output shape is {output_shape}; expected 10 classes.")


def load_model_bytes(content: bytes):
    """Load a ``.keras`` file's bytes after every check in ``model_checks`` (bounded archive, allowlisted config,
    bounded weights) with ``safe_mode=True``, check it is an MNIST classifier, and return it computing in a precision
    this CPU runs natively (``in_native_precision``). Any failure is a ``RegistryError`` saying why; only a file that
    passed the checks is written (to a temporary folder, for Keras to read), and TensorFlow is imported only then."""
    with tempfile.TemporaryDirectory(prefix="digit-lab-model-") as folder:
        checked = Path(folder) / MODEL_FILE
        try:
            write_checked_archive(content, checked)
        except ModelFileError as error:
            raise RegistryError(str(error)) from None
        import keras

        try:
            model = keras.saving.load_model(checked, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for bad files; all mean "cannot use this file"
            raise RegistryError(f"the model file could not be read ({type(error).__name__}: "
                                f"{str(error)[:300]}).") from None
    check_mnist_classifier(model)
    return in_native_precision(model)


def load_model_file(path: Path):
    """Load a stored ``.keras`` file like ``load_model_bytes``; reading stops past the largest size accepted."""
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as error:
        raise RegistryError(f"the model file cannot be read ({error}).") from None
    return load_model_bytes(content)
