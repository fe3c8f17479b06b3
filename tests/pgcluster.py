"""A throwaway PostgreSQL cluster for the tests, CI and the benchmarks.

    python tests/pgcluster.py start      # prints shell exports: NEWSLETTER_TEST_POSTGRES=...
    python tests/pgcluster.py stop DIR   # stops it and deletes DIR

``initdb`` in a fresh folder under the temporary directory, a server listening on a unix
socket in that folder and on a free loopback port, a superuser ``newsletter`` with trust
authentication (nothing but this machine can reach it). ``initdb`` refuses to run as root,
so under root the folder is handed to an unprivileged user (``nobody``) that runs the server.
Nothing is durable by default (``fsync=off``): the cluster dies with the run.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "NEWSLETTER_TEST_POSTGRES"  # an admin URL: its user may create databases
ENV_DIR = "NEWSLETTER_TEST_POSTGRES_DIR"
SUPERUSER = "newsletter"
UNPRIVILEGED = "nobody"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian's newest version first), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"


def _run_as(user: str | None, args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, user=user, capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")


def start(*, durable: bool = False, folder: Path | None = None) -> Cluster:
    """Start a cluster in a new temporary folder; :func:`stop` ends it."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's initdb was not found (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="newsletter-pg-", dir=folder))
    user = UNPRIVILEGED if os.geteuid() == 0 else None
    if user is not None:
        shutil.chown(folder, user)
    data, sockets = folder / "data", folder / "socket"
    _run_as(user, ["mkdir", str(sockets)], folder)
    _run_as(user, [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                   "-E", "UTF8", "--no-locale", "--no-sync"], folder)
    settings = ["-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={sockets}",
                "-c max_connections=200", "-c shared_buffers=32MB"]
    if not durable:
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    for attempt in range(5):  # a free port can be taken by someone else in between
        port = _free_port()
        try:
            _run_as(user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-l",
                           str(folder / "server.log"), "-w", "-t", "60",
                           "-o", " ".join([*settings, f"-p {port}"]), "start"], folder)
            return Cluster(folder, port)
        except RuntimeError:
            if attempt == 4:
                log = folder / "server.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                stop(folder)
                raise RuntimeError(f"PostgreSQL did not start:\n{tail}") from None
            time.sleep(0.2)
    raise AssertionError("unreachable")


def stop(folder: Path) -> None:
    """Stop the cluster (at once: nothing in it is worth a clean shutdown) and delete it."""
    bin_dir = binaries()
    data = folder / "data"
    if bin_dir is not None and (data / "postmaster.pid").exists():
        user = UNPRIVILEGED if os.geteuid() == 0 else None
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run_as(user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                           "-w", "stop"], folder)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        cluster = start(durable="--durable" in argv)
        print(f"export {ENV_URL}={shlex.quote(cluster.url)}")
        print(f"export {ENV_DIR}={shlex.quote(str(cluster.folder))}")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop(Path(argv[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
