"""Which sender processes a machine may judge dead at once (rather than waiting out their
lease): only its own, told apart from another machine's by the boot id, since hostnames repeat
(cloned images) and the PID namespace's inode is the same on every Linux host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from newsletter.delivery import leases


def test_a_dead_sender_of_this_machine_is_seen_dead_and_a_live_one_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    here = leases.process_name().split("/")
    dead = "/".join([*here[:2], str(child.pid), "abcd1234"]) + "#1"
    alive = "/".join([*here[:2], str(os.getpid()), "abcd1234"]) + "#1"
    assert leases.dead_here(dead)
    assert not leases.dead_here(alive)


def test_a_sender_of_another_machine_with_the_same_hostname_is_never_judged_here() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    namespace = leases.process_name().split("/")[1]
    boot_id, inode = namespace.rsplit(".", 1)
    other_boot = "00000000-0000-4000-8000-000000000000"
    assert boot_id != other_boot
    # the same hostname and PID namespace inode (the initial namespace's is a constant)
    elsewhere = f"{socket.gethostname()}/{other_boot}.{inode}/{child.pid}/abcd1234#1"
    assert not leases.dead_here(elsewhere)


def test_without_a_known_machine_nothing_is_judged_dead(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(leases, "_pid_namespace", lambda: "-")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not leases.dead_here(f"{socket.gethostname()}/-/{child.pid}/abcd1234#1")
