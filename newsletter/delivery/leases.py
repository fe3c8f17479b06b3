"""Who holds a lease on an issue's recipients, and whether that sender is still alive.

A sender's name (``host/boot-id.pid-namespace/pid/random#thread``) is written into every
claim it takes. A sender on another machine is judged only by its lease, which runs out
after ``smtp.lease_seconds``; one on this machine whose process is gone is judged dead at
once and its claims freed, so that the others take over its batch without waiting. The boot
id tells machines apart: hostnames repeat (cloned images) and the PID namespace's inode is
the same on every Linux host.
"""

from __future__ import annotations

import os
import socket
import uuid

from ..state.database import Database


def _pid_namespace() -> str:
    """This boot of this machine, and this PID namespace: the namespace's inode alone is the
    same on every Linux host and hostnames repeat (cloned images), so the boot id, random at
    each boot, tells machines apart. "-" when unknown: nothing is then judged dead here."""
    try:
        inode = os.stat("/proc/self/ns/pid").st_ino
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            boot_id = boot.read().strip()
    except OSError:
        return "-"
    return f"{boot_id}.{inode}"


def process_name() -> str:
    """``host/pid-namespace/pid/random``: unique per sender process, and enough to tell, on
    the same machine, whether the process is still alive."""
    return f"{socket.gethostname()}/{_pid_namespace()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is dead for us
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def dead_here(worker: str) -> bool:
    """Whether ``worker`` names a sender process on this machine that no longer runs."""
    parts = worker.split("#", 1)[0].split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    host, namespace, pid, _ = parts
    return (host == socket.gethostname() and namespace == _pid_namespace() != "-"
            and not _alive(int(pid)))


def release_dead_here(db: Database, slug: str) -> list[str]:
    """Free at once the recipients held by dead sender processes of this machine."""
    dead = [worker for (worker,) in db.run("claims.holders", (slug,)).fetchall()
            if dead_here(worker)]
    for worker in dead:
        db.run("claims.release", (slug, worker))
    return dead
