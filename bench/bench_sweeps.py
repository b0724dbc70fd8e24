"""Sweep throughput: trials per minute for the ``quick`` and ``cnn`` spaces with one worker (SQLite, in this
process), and a ``quick`` study on a private PostgreSQL server worked by one, then two worker processes at once
(wall time, trials per minute, speed-up). Needs PostgreSQL's binaries (Debian ``postgresql``) for the second part.

Run:  MNIST_PATH=/path/to/mnist.npz python bench/bench_sweeps.py [--quick N] [--cnn N] [--shared N]
On a quiet machine; ``--cnn 0`` or ``--shared 0`` skips that part.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "tests")]

from mnist_core.data.sources import load_mnist  # noqa: E402
from mnist_core.store.registry import Registry  # noqa: E402
from mnist_core.sweeps.spaces import load_space  # noqa: E402
from mnist_core.sweeps.study import create_sweep, load_study, open_storage, summarize, trial_rows, work  # noqa: E402


def in_process(space: str, trials: int, data, folder: Path) -> None:
    """One worker in this process on an SQLite study; prints trials per minute (TensorFlow already loaded)."""
    registry = Registry(folder / space)
    storage = open_storage(f"sqlite:///{registry.root / 'sweeps.db'}")
    create_sweep(space, load_space(space), trials, storage)
    started = time.perf_counter()
    work(space, storage, data, registry)
    seconds = time.perf_counter() - started
    rows = trial_rows(load_study(space, storage))
    states = summarize(load_study(space, storage)).counts
    per_trial = sorted(row.seconds for row in rows if row.seconds is not None)
    print(f"{space:<6} 1 worker  {trials:>3} trials {seconds:>8.1f} s  {60 * trials / seconds:>6.1f} trials/min  "
          f"median trial {per_trial[len(per_trial) // 2]:.1f} s  {states['complete']} complete, "
          f"{states['pruned']} pruned, {states['fail']} failed")


def with_workers(url: str, name: str, trials: int, workers: int, folder: Path) -> float:
    """``workers`` CLI worker processes at once on a new ``quick`` study; wall seconds from start to the last exit
    (each process imports TensorFlow and loads MNIST first, as a real worker does)."""
    create_sweep(name, load_space("quick"), trials, open_storage(url))
    command = [sys.executable, "-m", "mnist_core", "sweep", "work", name, "--storage", url,
               "--models", str(folder / name), "--json"]
    started = time.perf_counter()
    processes = [subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL) for _ in range(workers)]
    codes = [process.wait() for process in processes]
    seconds = time.perf_counter() - started
    assert codes == [0] * workers, codes
    complete = summarize(load_study(name, open_storage(url))).counts["complete"]
    print(f"quick  {workers} worker{'s' if workers > 1 else ' '} {trials:>3} trials {seconds:>8.1f} s  "
          f"{60 * trials / seconds:>6.1f} trials/min  {complete} complete (PostgreSQL, process start included)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", type=int, default=20, help="trials of the quick space (one worker)")
    parser.add_argument("--cnn", type=int, default=4, help="trials of the cnn space (one worker)")
    parser.add_argument("--shared", type=int, default=12, help="quick trials on PostgreSQL, with 1 then 2 workers")
    args = parser.parse_args()
    data = load_mnist()
    print(f"{os.cpu_count()} CPUs visible")
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as temporary:
        folder = Path(temporary)
        for space, trials in (("quick", args.quick), ("cnn", args.cnn)):
            if trials:
                in_process(space, trials, data, folder)
        if args.shared:
            from postgres_fixture import private_postgres

            with private_postgres() as url:
                one = with_workers(url, "one-worker", args.shared, 1, folder)
                two = with_workers(url, "two-workers", args.shared, 2, folder)
            print(f"two workers vs one: {one / two:.2f}x the throughput")


if __name__ == "__main__":
    main()
