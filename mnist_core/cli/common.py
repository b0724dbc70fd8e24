"""What every command of the CLI shares: printing results, writing files, the data set and the run it works on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mnist_core.data.sources import load_mnist
from mnist_core.errors import UsageError
from mnist_core.store.records import RegistryError
from mnist_core.store.registry import DEFAULT_ID, Registry


def emit(args, payload, text: str) -> None:
    print(json.dumps(payload) if args.json else text)


def download_progress(done: int, total: int) -> None:
    """A one-line download progress bar on stderr (the CLI's stdout stays for results)."""
    width = 30
    filled = int(width * done / total)
    end = "\n" if done >= total else ""
    print(f"\rDownloading MNIST [{'=' * filled}{'.' * (width - filled)}] {done / 1e6:5.1f} of {total / 1e6:.1f} MB",
          end=end, file=sys.stderr, flush=True)


def write_output(path, content: str | bytes) -> None:
    """Write a file named on the command line; one that cannot be written is the user's error, said in one line."""
    try:
        Path(path).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    except OSError as error:
        raise UsageError(f"{path}: cannot be written ({error.strerror or error}).") from None


def dataset(args):
    """MNIST as the command's options say, downloaded (with a progress bar) when nothing else has it."""
    return load_mnist(args.data, on_progress=None if args.json else download_progress)


def chosen_run(registry: Registry, run_id: str | None) -> str:
    chosen = run_id or registry.default_id()
    if chosen is None:
        raise RegistryError(f"no model named and no {DEFAULT_ID!r} model installed; pass --model RUN_ID "
                            "(see `python -m mnist_core list`).")
    return chosen
