"""Child processes for the fault cases in tests/test_core_registry.py and tests/test_core_jobs.py
(run as ``python tests/faults_child.py MODE ...``).

save-loop ROOT
    Saves, renames and deletes runs in ROOT without end, printing "saved ID" / "renaming ID" / "deleting ID"
    before or after each step, until the parent kills it with SIGKILL at a random moment.
train ROOT NAME UNITS EPOCHS SUBSET BATCH GO_FILE
    Loads MNIST from $MNIST_PATH, prints "ready", waits until GO_FILE exists (so two children start together),
    trains one run through its own JobRunner and prints the run's id and status as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


def save_loop(root: str) -> None:
    import keras

    from mnist_core.store.records import RunRecord
    from mnist_core.store.registry import Registry

    registry = Registry(root)
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    print("ready", flush=True)
    saved = []
    for index in range(1_000_000):
        record = RunRecord(id="", name=f"loop {os.getpid()} {index}", architecture="custom", spec=[], config={},
                           status="finished", created="", params=int(model.count_params()))
        saved.append(registry.save_run(model, record).id)
        print("saved", saved[-1], flush=True)
        if index % 3 == 2:
            print("renaming", saved[-2], flush=True)
            registry.rename(saved[-2], f"renamed {index}")
        if index % 4 == 3:
            doomed = saved.pop(0)
            print("deleting", doomed, flush=True)
            registry.delete(doomed)


def train_one(root, name, units, epochs, subset, batch, go_file) -> None:
    from mnist_core.data.sources import load_mnist
    from mnist_core.jobs.requests import RunRequest
    from mnist_core.jobs.runner import JobRunner
    from mnist_core.model.config import TrainConfig
    from mnist_core.store.registry import Registry

    data = load_mnist()
    runner = JobRunner(Registry(root), lambda: data)
    request = RunRequest(name, "custom", [{"type": "Dense", "units": int(units)}],
                         TrainConfig(epochs=int(epochs), subset_size=int(subset), batch_size=int(batch),
                                     validation_split=0.1, seed=int(units)))
    print("ready", flush=True)
    deadline = time.monotonic() + 120
    while not Path(go_file).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.time()
    view = runner.wait(runner.submit(request), timeout=240)
    print(json.dumps({"id": view.record.id if view.record else None, "status": view.status, "reason": view.reason,
                      "started": started, "ended": time.time()}), flush=True)


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    {"save-loop": save_loop, "train": train_one}[mode](*arguments)
