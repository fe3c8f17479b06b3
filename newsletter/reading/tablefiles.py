"""The compact table's files beside the corpus cache's database: the table, and the rows
changed since it was written (``compact.py`` encodes both).

Each is replaced by a rename, without waiting for the disk: they are a cache, and a file
torn by a power cut fails its checksum, which costs only reads. Changes name the table they
apply to, so a table written since makes them stale, never wrong.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable
from pathlib import Path

from .compact import CompactBuilder, Known


class TableFiles:
    def __init__(self, database: Path, fingerprint: str, note: Callable[[str], None]) -> None:
        self.table_path = database.with_suffix(".table")
        self.changes_path = database.with_suffix(".changes")
        self.fingerprint = fingerprint
        self.note = note

    def load(self) -> Known:
        """The table with its changes; an empty one when there is none, or it is damaged or
        from another version (damage noted: the next reading writes it again)."""
        try:
            with open(self.table_path, "rb") as handle:
                known = Known.read(handle, self.fingerprint)
        except FileNotFoundError:
            return Known.empty()
        except ValueError as error:
            if str(error) != "written by another version":
                self.note(f"corpus cache {self.table_path} is unreadable ({error}): "
                          "rebuilding it")
            return Known.empty()
        try:
            known.apply_changes(self.changes_path.read_bytes(), self.fingerprint)
        except FileNotFoundError:
            pass
        except ValueError as error:  # its rows are read again, and the file replaced
            if str(error) != "written for another table":
                self.note(f"corpus cache {self.changes_path} is unreadable ({error}): "
                          "reading the files it named again")
        return known

    def save(self, compact: CompactBuilder) -> None:
        """Replace the table at once (a reader sees the old or the new one); the changes to
        the old one go with it."""
        if self._replace(self.table_path, compact.encode(self.fingerprint)):
            with contextlib.suppress(OSError):
                os.unlink(self.changes_path)

    def save_changes(self, parts: list[bytes | memoryview]) -> None:
        """Replace the changes at once (see :func:`compact.encode_changes`)."""
        self._replace(self.changes_path, parts)

    def remove(self) -> None:
        for path in (self.table_path, self.changes_path):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _replace(self, path: Path, parts: list[bytes | memoryview]) -> bool:
        self._remove_stale(path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        replaced = False
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.writelines(parts)
            os.replace(temporary, path)
            replaced = True
        except OSError as error:
            self.note(f"corpus cache {path} was not updated ({error.strerror or error}); the "
                      "next build compares every file again")
        finally:  # whatever stopped the write: the temporary file is as big as the table
            if not replaced:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
        return replaced

    @staticmethod
    def _remove_stale(path: Path) -> None:
        """The temporary files of ``path`` left by processes killed before their rename
        (no ``finally`` runs then). A file is another process's write in progress while
        that process lives; every process sharing the cache runs on this machine (SQLite's
        WAL mode needs memory they share), so a process number says whether it does."""
        with contextlib.suppress(OSError):
            for temporary in path.parent.glob(f".{glob.escape(path.name)}.*"):
                pid = temporary.name.rpartition(".")[2]
                if pid.isdigit() and not _running(int(pid)):
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier process with this number
    if os.name != "posix":
        return True  # os.kill would end the process there: left alone
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True  # another user's process
    return True
