"""Crafted files for the upload checks (mnist_core/model/checks.py): .keras archives edited to hold what Keras would
run or allocate while loading them, and data sets whose headers lie about their size. Shared by
tests/test_core_model_checks.py and the hostile-uploads journey (tests/e2e/test_hostile_uploads_journey.py)."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import keras
import numpy as np

from mnist_core.model.checks import CONFIG, METADATA, WEIGHTS
from mnist_core.store.model_files import save_without_optimizer

MB = 1024 * 1024
BOMB_BYTES = 1024 * MB  # what each bomb would make an unchecked reader allocate: far above every bound below
# a reference to a Keras function where a layer or a setting is expected
SET_EPSILON = {"module": "keras.config", "class_name": "function", "config": "set_epsilon",
               "registered_name": "set_epsilon"}


# --- crafting .keras files -----------------------------------------------------------------------------------------


def keras_bytes(model, folder) -> bytes:
    path = folder / "model.keras"
    save_without_optimizer(model, path)
    return path.read_bytes()


def members_of(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression, compresslevel=1) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def edited(content: bytes, edit) -> bytes:
    """``content`` with its config.json changed by ``edit(config)`` (in place) or replaced by the bytes it returns."""
    members = members_of(content)
    config = json.loads(members[CONFIG])
    replaced = edit(config)
    members[CONFIG] = replaced if isinstance(replaced, bytes) else json.dumps(config).encode()
    return zipped(members)


def functional_model():
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten(name="flatten")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="dense")(flat))


def sequential_model():
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax", name="dense")])


def side_node(layer: dict):
    """An edit adding ``layer`` to a Functional model, called on the flattened input but not on the way to the
    output: Keras rebuilds (and so runs) it anyway."""
    tensor = {"class_name": "__keras_tensor__",
              "config": {"shape": [None, 784], "dtype": "float32", "keras_history": ["flatten", 0, 0]}}

    def edit(config):
        config["config"]["layers"].append(layer | {"name": layer["config"]["name"],
                                                   "inbound_nodes": [{"args": [tensor], "kwargs": {}}]})
    return edit


def dense_layer(config) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")


def changed_dense(**changes):
    """An edit changing the Dense layer's entry (``config`` keys go into its config)."""
    def edit(config):
        layer = dense_layer(config)
        layer["config"].update(changes.pop("config", {}))
        layer.update(changes)
    return edit


def lambda_model_bytes(folder) -> bytes:
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Lambda(lambda x: x * 1.0),
                              keras.layers.Dense(10, activation="softmax")])
    path = folder / "lambda.keras"
    model.save(path)  # saving is allowed; loading is what must refuse it
    return path.read_bytes()


def weights_zip_bomb(content: bytes) -> bytes:
    """The weights member padded with zeros to ``BOMB_BYTES``: a few MB on disk, a GiB when read."""
    members = members_of(content)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(CONFIG, members[CONFIG])
        archive.writestr(METADATA, members[METADATA])
        with archive.open(WEIGHTS, "w") as weights:
            weights.write(members[WEIGHTS])
            zeros = bytes(64 * MB)
            for _ in range(BOMB_BYTES // len(zeros)):
                weights.write(zeros)
    return buffer.getvalue()


def padded_with_members(content: bytes, count: int = 150) -> bytes:
    """Many extra members of 1 MB of zeros each: Keras extracts every member of a larger archive to a temporary
    folder (its asset store) before loading."""
    return zipped(members_of(content) | {f"assets/pad{index:03}": bytes(MB) for index in range(count)},
                  zipfile.ZIP_DEFLATED)


def h5_dataset_bomb(content: bytes) -> bytes:
    """One weight array replaced by a gzip-chunked HDF5 dataset declaring ``BOMB_BYTES`` with no chunk written:
    the weights file stays tiny, and reading it yields a GiB of fill values."""
    members = members_of(content)
    raw = io.BytesIO(members[WEIGHTS])
    with h5py.File(raw, "r+") as weights:
        names = []
        weights.visititems(lambda name, entry: names.append(name) if isinstance(entry, h5py.Dataset) else None)
        del weights[names[0]]
        weights.create_dataset(names[0], shape=(BOMB_BYTES // 4,), dtype="float32", chunks=(MB,), compression="gzip")
    members[WEIGHTS] = raw.getvalue()
    return zipped(members)


def many_empty_members(count: int = 5000) -> bytes:
    return zipped({f"{index:x}": b"" for index in range(count)})


def external_link_weights(content: bytes) -> bytes:
    members = members_of(content)
    raw = io.BytesIO(members[WEIGHTS])
    with h5py.File(raw, "r+") as weights:
        weights["leak"] = h5py.ExternalLink("/etc/passwd.h5", "/")
    members[WEIGHTS] = raw.getvalue()
    return zipped(members)


# --- crafting data sets ----------------------------------------------------------------------------------------------


def npz_with_images(shape, write_data: bool) -> bytes:
    """A Keras-layout .npz whose x_train header declares ``shape`` (uint8); with ``write_data`` the zeros are really
    there (deflated), else the header alone."""
    small = {"y_train": np.zeros(shape[0] if write_data else 30, np.uint8), "x_test": np.zeros((10, 28, 28), np.uint8),
             "y_test": np.arange(10, dtype=np.uint8)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x_train.npy", "w") as member:
            header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 28, 28), np.uint8)) | {"shape": shape}
            np.lib.format.write_array_header_1_0(member, header)
            remaining = int(np.prod(shape)) if write_data else 0
            while remaining:
                chunk = min(remaining, 64 * MB)
                member.write(bytes(chunk))
                remaining -= chunk
        for key, array in small.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, array)
    return buffer.getvalue()


def header_only_csv() -> bytes:
    return (",".join(["label"] + [f"pixel{i}" for i in range(784)]) + "\n").encode()
