"""One job per controller, in parallel, that Ctrl-C stops at once (`fleet push`, `fleet status`).

Ctrl-C (KeyboardInterrupt in the calling thread) sets `Running.stop`: no job starts, and every
request in flight is cut (JenkinsClient.abort shuts its socket down), so the jobs end within a
moment with what they did; those that have not reported after `grace` seconds are given up
(their threads are daemons: nothing waits for them at exit). A job that raises is reported as
that job's failure (the caller turns it into an internal-error row and exit code 4), never as
the end of the run: the other controllers, and the report, still come.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

GRACE = 2.0  # seconds the cut jobs get to report after Ctrl-C


class Running:
    """The stop flag and the clients in flight, so that Ctrl-C can cut their requests."""

    def __init__(self):
        self.stop = threading.Event()
        self._clients: list = []
        self._lock = threading.Lock()

    def factory(self, make: Callable) -> Callable:
        """`make` (a client factory) whose clients Ctrl-C aborts (aborting a closed one does nothing)."""
        def made(*args, **kwargs):
            client = make(*args, **kwargs)
            with self._lock:
                self._clients.append(client)
            if self.stop.is_set():
                client.abort()
            return client
        return made

    def interrupt(self) -> None:
        self.stop.set()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.abort()


@dataclass
class Finished:
    value: object = None  # the job's result
    error: BaseException | None = None  # a bug: the job raised
    started: bool = False
    done: bool = False


@dataclass
class RunResult:
    finished: list[Finished] = field(default_factory=list)  # in the order of the items
    interrupted: bool = False


def run_parallel(items: Sequence, job: Callable, *, jobs: int, running: Running,
                 progress: Callable | None = None, grace: float = GRACE) -> RunResult:
    """job(item) for every item, `jobs` at a time."""
    slots = [Finished() for _ in items]
    todo: queue.Queue = queue.Queue()
    for i in range(len(items)):
        todo.put(i)
    done: queue.Queue = queue.Queue()

    def worker() -> None:
        while not running.stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            slots[i].started = True
            try:
                done.put((i, job(items[i]), None))
            except Exception as exc:
                done.put((i, None, exc))

    threads = [threading.Thread(target=worker, name=f"fleet-{n}", daemon=True)
               for n in range(max(1, min(jobs, len(items))))]
    for t in threads:
        t.start()
    result = RunResult(slots)
    given_up_at = None
    remaining = len(items)
    while remaining:
        try:
            try:
                i, value, error = done.get(timeout=0.1)
            except queue.Empty:
                if given_up_at is not None and time.monotonic() >= given_up_at:
                    break
                if not any(t.is_alive() for t in threads) and done.empty():
                    break  # the rest never started: stopped
                continue
            slots[i].value, slots[i].error, slots[i].done = value, error, True
            remaining -= 1
            if progress is not None and error is None:
                progress(value)
        except KeyboardInterrupt:
            if given_up_at is None:
                result.interrupted = True
                running.interrupt()
                given_up_at = time.monotonic() + grace
    return result


def run_controllers(targets: Sequence, job: Callable, salvage: Callable, *, jobs: int, running: Running,
                    client_factory: Callable, progress: Callable | None = None) -> tuple[list, list, bool]:
    """job(target, client_factory, sink) for every target, through run_parallel: each job keeps what it
    has so far in sink[target.name], so that a job that raised or was cut still gives a result, from
    salvage(target, slot, sink.get(target.name)). Returns the results in the order of the targets,
    the bugs as (target name, what the job raised), and whether Ctrl-C stopped the run."""
    sink: dict = {}
    factory = running.factory(client_factory)
    run = run_parallel(targets, lambda t: job(t, factory, sink), jobs=jobs, running=running, progress=progress)
    results, bugs = [], []
    for target, slot in zip(targets, run.finished, strict=True):
        if slot.done and slot.error is None:
            results.append(slot.value)
            continue
        if slot.error is not None:  # a bug: this controller's result says so, the others went on
            bugs.append((target.name, slot.error))
        results.append(salvage(target, slot, sink.get(target.name)))
    return results, bugs, run.interrupted or running.stop.is_set()
