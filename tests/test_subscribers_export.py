"""``newsletter subscribers export``: never over a file that is there unless told to
(``--force``), and ``-`` for standard output, as a real process writes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT, run, write_config


def project_with_two(folder: Path) -> Path:
    write_config(folder, topics=["AI", "Robotics"])
    for address in ("ada@example.org", "bob@example.org"):
        assert run(folder, "subscribers", "add", address, "--topics", "AI").exit_code == 0
    return folder


def newsletter(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT) + os.pathsep + os.environ.get(
        "PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "newsletter", "--config",
                           str(folder / "newsletter.yaml"), *args], cwd=folder, env=env,
                          capture_output=True, check=False)


EXPORTED = (b"email,name,topics,status\r\nada@example.org,,AI,active\r\n"
            b"bob@example.org,,AI,active\r\n")


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    folder = project_with_two(tmp_path)
    kept = folder / "people.csv"
    kept.write_bytes(b"my own list, not an export\n")
    refused = newsletter(folder, "subscribers", "export", str(kept))
    assert refused.returncode == 1, refused
    assert kept.read_bytes() == b"my own list, not an export\n"
    error = refused.stderr.decode()
    assert f"{kept} exists already" in error and "--force" in error, error
    assert refused.stdout == b""

    forced = newsletter(folder, "subscribers", "export", str(kept), "--force")
    assert forced.returncode == 0, forced
    assert kept.read_bytes() == EXPORTED
    assert b"Exported 2 subscriber(s)" in forced.stdout

    fresh = folder / "new.csv"  # a file that is not there needs nothing
    assert newsletter(folder, "subscribers", "export", str(fresh)).returncode == 0
    assert fresh.read_bytes() == EXPORTED


def test_a_dash_writes_the_csv_to_standard_output(tmp_path: Path) -> None:
    folder = project_with_two(tmp_path)
    result = newsletter(folder, "subscribers", "export", "-")
    assert result.returncode == 0, result
    assert result.stdout == EXPORTED  # the CSV alone: ready for a pipe or a redirect
    assert not (folder / "-").exists()
    assert "Exported 2 subscriber(s) to standard output." in result.stderr.decode()
    piped = subprocess.run(
        f"{sys.executable} -m newsletter --config newsletter.yaml subscribers export - "
        "| head -c 10", shell=True, cwd=folder, capture_output=True, check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert piped.returncode == 0 and piped.stdout == EXPORTED[:10], piped
