"""Worker processes of one send (``newsletter send --workers N``): each runs the senders of
:func:`~.senders.run_worker` on its own interpreter, and the run merges what they report.

They are started fresh (``spawn``), not forked, as the caller may have threads. A worker
stops when the process that started it is gone. One that dies (killed, out of memory) is
named, and loses nothing: its claims are freed or run out, the other workers take them over,
and the run reads its outcome back from the ledger rather than from the workers' reports.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from typing import Any

from .senders import Log, WorkerOutcome, WorkerSpec, run_worker


def _worker_process(spec: WorkerSpec, results: Any) -> None:
    """The body of one worker process: its lines go to the inherited stdout."""
    outcome = run_worker(spec, log=lambda line: print(line, flush=True))
    results.put((os.getpid(), outcome))


def run_processes(spec: WorkerSpec, count: int, log: Log) -> tuple[WorkerOutcome, list[str]]:
    """``count`` worker processes (started fresh, not forked: the caller may have threads);
    their outcomes merged, and a line per process that did not finish."""
    context = multiprocessing.get_context("spawn")
    results = context.SimpleQueue()
    spec = dataclasses.replace(spec, parent=os.getpid())
    processes = [context.Process(target=_worker_process, args=(spec, results),
                                 name=f"newsletter-send-{i + 1}") for i in range(count)]
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

    while any(process.is_alive() for process in processes):  # is_alive reaps the dead
        drain()
        processes[0].join(0.1)
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
