"""Child process for tests/test_core_model_checks.py: ``python tests/import_child.py REGISTRY MNIST_PATH FILE...``.

Acts as a Digit Lab server would: loads the default model and predicts a known MNIST test digit, then pushes each
FILE through the app's imports (``.keras`` through ``Registry.import_model``, ``.npz``/``.csv`` through
``read_uploaded_dataset``), and after each one reads its own peak memory (VmHWM) and bytes written (``wchar``),
predicts the digit again with the model already loaded and with a freshly loaded one, and notes Keras's
process-wide settings. Prints one JSON object per line: first the baseline, then one per FILE.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
KNOWN_DIGIT = 0  # index of the MNIST test image predicted before and after every upload


def proc_value(name: str, field: str) -> int:
    """A number from /proc/self/<name> (``status`` values are in kB, ``io`` values in bytes)."""
    for line in Path(f"/proc/self/{name}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def keras_settings() -> dict:
    import keras

    return {"floatx": keras.config.floatx(), "epsilon": repr(keras.config.epsilon()),
            "image_data_format": keras.config.image_data_format(),
            "dtype_policy": keras.config.dtype_policy().name}


def main(root: str, mnist_path: str, *files: str) -> None:
    import numpy as np

    from mnist_core.data.mnist import DataSetError, read_uploaded_dataset
    from mnist_core.data.sources import load_mnist
    from mnist_core.model.evaluation import ImagePredictor
    from mnist_core.store.records import RegistryError
    from mnist_core.store.registry import DEFAULT_ID, Registry

    registry = Registry(root)
    image = load_mnist(mnist_path).x_test[KNOWN_DIGIT].astype(np.float32) / 255.0
    predictor = ImagePredictor(registry.load_model(DEFAULT_ID))
    reference = predictor.probabilities(image)

    def state() -> dict:
        fresh = ImagePredictor(registry.load_model(DEFAULT_ID)).probabilities(image)
        return {"peak_kb": proc_value("status", "VmHWM"), "written": proc_value("io", "wchar"),
                "same_prediction": bool(np.allclose(predictor.probabilities(image), reference, atol=1e-6)
                                        and np.allclose(fresh, reference, atol=1e-6)),
                "digit": int(reference.argmax()), "settings": keras_settings(),
                "runs": sorted(record.id for record in registry.list_runs())}

    print(json.dumps({"file": None, **state()}), flush=True)
    for name in files:
        written = proc_value("io", "wchar")
        content = Path(name).read_bytes()
        try:
            if name.endswith(".keras"):
                outcome = f"accepted as {registry.import_model(Path(name).stem, content).id}"
            else:
                outcome = f"accepted: {read_uploaded_dataset(Path(name).name, content)!r}"
        except (RegistryError, DataSetError) as error:
            outcome = f"refused: {error}"
        written = proc_value("io", "wchar") - written  # before state() writes anything
        del content
        print(json.dumps({"file": name, "outcome": outcome, **state(), "written": written}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
