"""Where MNIST comes from, in order: a path given, ``$MNIST_PATH``, the Keras cache, else a download into that
cache (``download``); reading and checking a file is ``mnist``'s."""

from __future__ import annotations

import os
from pathlib import Path

from mnist_core.data.download import download_mnist
from mnist_core.data.mnist import ENV_VAR, HOW_TO_FIX, DataSetError, MnistData, keras_cache_path, read_dataset


def load_mnist(path: str | os.PathLike | None = None, *, keras_cache: Path | None = None,
               allow_download: bool = True, on_progress=None) -> MnistData:
    """Load MNIST from ``path``, else ``$MNIST_PATH``, else the Keras cache, else download it into that cache.

    A path that is given (argument or variable) but broken is an error at once, not silently skipped.
    When nothing works, one ``DataSetError`` lists every attempt and how to fix it. ``on_progress(done, total)``
    follows a download.
    """
    explicit = path if path is not None else os.environ.get(ENV_VAR) or None
    if explicit is not None:
        origin = "given path" if path is not None else f"${ENV_VAR}"
        try:
            return read_dataset(explicit)
        except DataSetError as error:
            raise DataSetError(f"Could not load MNIST from the {origin}: {error}\n{HOW_TO_FIX}") from None
    keras_cache = keras_cache or keras_cache_path()
    attempts = [f"no path given and ${ENV_VAR} is not set"]
    if keras_cache.exists():
        try:
            return read_dataset(keras_cache)
        except DataSetError as error:
            attempts.append(f"Keras cache: {error}")
    else:
        attempts.append(f"Keras cache {keras_cache} does not exist")
    if allow_download:
        try:
            return download_mnist(on_progress, cache=keras_cache)
        except DataSetError as error:
            attempts.append(str(error))
    raise DataSetError("Could not load MNIST. Tried: " + "; ".join(attempts) + ".\n" + HOW_TO_FIX)
