"""A real, private PostgreSQL server for tests: ``initdb`` in a temporary folder, ``pg_ctl start`` on a free
localhost port (as the unprivileged ``postgres`` user when the tests run as root, since PostgreSQL refuses to run
as root), and ``pg_ctl stop -m fast`` at the end. Needs Debian's ``postgresql`` package (``.ci/run`` installs it).

Use it by importing the fixture into a test module: ``from postgres_fixture import postgres_url``; outside pytest
(the sweep benchmark), ``with private_postgres() as url: ...``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the system account the Debian package creates
DATABASE_USER = "digitlab"
START_TIMEOUT_S = 60


class PostgresError(RuntimeError):
    """The private server could not be set up (not installed, initdb or pg_ctl failed); says why."""


def postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb`` and ``pg_ctl``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    if not found:
        raise PostgresError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                            "`apt-get install postgresql` (.ci/run does this as root).")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    """Run ``command`` as the unprivileged ``postgres`` account when we are root, else as ourselves."""
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def run_quietly(command: list[str], log: Path) -> None:
    """Run a PostgreSQL tool with its output in ``log`` (never a pipe: the server keeps its output open)."""
    with open(log, "ab") as output:
        finished = subprocess.run(as_server_user(command), stdout=output, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=START_TIMEOUT_S)
    if finished.returncode != 0:
        raise PostgresError(f"{Path(command[0]).name} failed ({finished.returncode}):\n"
                            f"{log.read_text(errors='replace')}")


@contextmanager
def private_postgres():
    """A fresh PostgreSQL server for the block; yields its SQLAlchemy URL (psycopg 3); stopped and removed after."""
    binaries = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="digitlab-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    data, log, port = folder / "data", folder / "tools.log", free_port()
    try:
        run_quietly([str(binaries / "initdb"), "-D", str(data), "-U", DATABASE_USER, "-A", "trust", "--no-sync"],
                    log)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        run_quietly([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options,
                     "-w", "-t", str(START_TIMEOUT_S), "start"], log)
    except PostgresError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield f"postgresql+psycopg://{DATABASE_USER}@127.0.0.1:{port}/postgres"
    finally:
        run_quietly([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], log)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url():
    """The URL of a private PostgreSQL server that lives as long as the test module."""
    try:
        with private_postgres() as url:
            yield url
    except PostgresError as error:
        pytest.fail(str(error), pytrace=False)
