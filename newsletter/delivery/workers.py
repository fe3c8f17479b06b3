"""Worker processes of one send (``newsletter send --workers N``): each runs the senders of
:func:`~.senders.run_worker` on its own interpreter, and the run merges what they report.

They are started fresh (``spawn``), not forked, as the caller may have threads. A worker
stops when the process that started it is gone. One that dies (killed, out of memory) is
named, and loses nothing: its claims are freed or run out, the other workers take them over,
and the run reads its outcome back from the ledger rather than from the workers' reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Iterator
from typing import Any

from .senders import STOPPING, Halt, Log, WorkerOutcome, WorkerSpec, run_worker


def _worker_process(spec: WorkerSpec, results: Any, halt: Any) -> None:
    """The body of one worker process: its lines go to the inherited stdout. Ctrl-C reaches
    every process of the terminal's foreground group: a worker leaves it to the run, which
    asks it to stop (``halt``) after the message it has in flight, never in the middle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outcome = run_worker(spec, log=lambda line: print(line, flush=True), halt=halt)
    results.put((os.getpid(), outcome))


@contextlib.contextmanager
def _no_interrupt_for_children() -> Iterator[None]:
    """SIGINT blocked while the workers start: they inherit the blocked signal through
    exec, so that a Ctrl-C while one is still loading (before :func:`_worker_process` runs)
    stops nobody with a traceback. This process gets it once unblocked."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_processes(spec: WorkerSpec, count: int, log: Log,
                  halt: Halt | None = None) -> tuple[WorkerOutcome, list[str]]:
    """``count`` worker processes (started fresh, not forked: the caller may have threads);
    their outcomes merged, and a line per process that did not finish. ``halt`` set (Ctrl-C):
    each worker stops after the messages it has in flight. Interrupted while waiting for
    them (a second Ctrl-C), they are killed, as a kill of the whole send would."""
    context = multiprocessing.get_context("spawn")
    results = context.SimpleQueue()
    stopping = context.Event()
    spec = dataclasses.replace(spec, parent=os.getpid())
    processes = [context.Process(target=_worker_process, args=(spec, results, stopping),
                                 name=f"newsletter-send-{i + 1}") for i in range(count)]
    with _no_interrupt_for_children():
        for process in processes:
            process.start()
    merged = WorkerOutcome()
    lost: list[str] = []

    def drain() -> None:
        while not results.empty():
            _, outcome = results.get()
            merged.in_flight.extend(outcome.in_flight)
            merged.fatal.extend(outcome.fatal)
            merged.refused.extend(outcome.refused)
            merged.unbuildable.extend(outcome.unbuildable)

    try:
        while any(process.is_alive() for process in processes):  # is_alive reaps the dead
            drain()
            if halt is not None and halt.is_set() and not stopping.is_set():
                stopping.set()
                merged.interrupted = True
                log(STOPPING)
            processes[0].join(0.1)
    except BaseException:  # a second Ctrl-C: at once, the ledger left as a kill leaves it
        for process in processes:
            process.kill()
        raise
    for process in processes:
        process.join()
    drain()
    for index, process in enumerate(processes, 1):
        if process.exitcode:
            how = (f"was killed by signal {-process.exitcode}" if process.exitcode < 0
                   else f"exited with status {process.exitcode}")
            lost.append(f"worker {index} (PID {process.pid}) {how}")
    for line in lost:
        log(f"warning: {line}; the other workers took over what it held")
    return merged, lost
