"""`python -m generator` with a crash or a pause at a chosen point of the output write (tests only).

    FLEET_TEST_HOOK=kill-before-lock         SIGKILL once generation is done, before the lock
    FLEET_TEST_HOOK=kill-mid-write:N         SIGKILL after N files of the new tree are written
    FLEET_TEST_HOOK=kill-before-swap         SIGKILL with the new tree complete beside the old one
    FLEET_TEST_HOOK=kill-after-exchange      SIGKILL right after the atomic exchange, old tree not yet removed
    FLEET_TEST_HOOK=kill-between-renames     no renameat2: SIGKILL after the first rename of the fallback swap
    FLEET_TEST_HOOK=pause-before-lock:FILE   generation done: create FILE.ready, wait until FILE exists, go on
    FLEET_TEST_HOOK=hold-lock:FILE           lock taken: create FILE.ready, wait until FILE exists, go on

Run as `python hooked_fleet.py ARGS...` with the repository on PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wait_for(path: str) -> None:
    with open(path + ".ready", "w"):
        pass
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


def _kill_before_lock(output, arg: str) -> None:
    output.OutputLock.__enter__ = lambda self: _die()


def _pause_before_lock(output, arg: str) -> None:
    enter = output.OutputLock.__enter__

    def paused(self):
        _wait_for(arg)
        return enter(self)
    output.OutputLock.__enter__ = paused


def _hold_lock(output, arg: str) -> None:
    enter = output.OutputLock.__enter__

    def held(self):
        result = enter(self)
        _wait_for(arg)
        return result
    output.OutputLock.__enter__ = held


def _kill_mid_write(output, arg: str) -> None:
    limit, count = int(arg), [0]

    real_write = output._write_new_file

    def counting_write(path, data, **kw):
        count[0] += 1
        if count[0] > limit:
            _die()
        return real_write(path, data, **kw)
    output._write_new_file = counting_write


def _kill_before_swap(output, arg: str) -> None:
    output._swap = lambda tmp, out_dir: _die()


def _kill_after_exchange(output, arg: str) -> None:
    exchange = output._EXCHANGE
    assert exchange is not None, "renameat2 is not available here"

    def exchange_then_die(a, b):
        if exchange(a, b):
            _die()
        return False
    output._EXCHANGE = exchange_then_die


def _kill_between_renames(output, arg: str) -> None:
    output._EXCHANGE = None
    rename = os.rename

    def rename_then_die(src, dst):
        rename(src, dst)
        if ".old-" in os.fspath(dst):
            _die()
    output.os.rename = rename_then_die


HOOKS = {
    "kill-before-lock": _kill_before_lock,
    "pause-before-lock": _pause_before_lock,
    "hold-lock": _hold_lock,
    "kill-mid-write": _kill_mid_write,
    "kill-before-swap": _kill_before_swap,
    "kill-after-exchange": _kill_after_exchange,
    "kill-between-renames": _kill_between_renames,
}


def install(hook: str) -> None:
    from generator import output

    kind, _, arg = hook.partition(":")
    if kind not in HOOKS:
        raise SystemExit(f"unknown FLEET_TEST_HOOK {hook!r}")
    HOOKS[kind](output, arg)


if __name__ == "__main__":
    if os.environ.get("FLEET_TEST_HOOK"):
        install(os.environ["FLEET_TEST_HOOK"])
    from generator.cli import main

    sys.argv[0] = "fleet"
    main()
