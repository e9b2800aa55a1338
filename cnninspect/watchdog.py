"""The watchdog: a command that reads a file runs in a child process watched by its parent.

Damaged files can make a C library (libhdf5) loop forever holding the GIL, or crash the
process; no Python-level timer can stop the former. The parent says once on stderr when
reading is slow, stops the child at the limit, and turns both a hang and a crash into a
one-line error with an exit code from ``ExitStatus``.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from typing import Callable, Mapping, Sequence

from .environment import Environment
from .errors import ExitStatus, UsageError

DEFAULT_TIMEOUT = 300.0  # seconds; CNNINSPECT_TIMEOUT overrides, 0 disables
SLOW_AFTER = 5.0  # seconds before the parent says that reading is slow


def timeout_from(environ: Mapping[str, str]) -> float:
    """``CNNINSPECT_TIMEOUT`` in seconds (unset or empty: the default; 0: no watchdog)."""
    text = environ.get("CNNINSPECT_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UsageError(f"CNNINSPECT_TIMEOUT={text!r}: give the limit in seconds, a number >= 0 (0 turns the watchdog off)")
    return seconds


def available() -> bool:
    return hasattr(os, "fork")


def subject_of(argv: Sequence[str]) -> str:
    """What the messages name: the first argument after the command that is a path."""
    return next((a for a in argv[1:] if not a.startswith("-") and os.path.exists(a)), "cnninspect")


def watch(
    work: Callable[[], int], timeout: float, env: Environment, subject: str, slow_after: float = SLOW_AFTER
) -> ExitStatus:
    """``work()`` in a child process; its exit status, or TIMEOUT / BROKEN for a child
    that did not finish in ``timeout`` seconds or was killed by a signal."""
    env.stdout.flush()
    env.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(work)
    return _supervise(pid, timeout, env, subject, slow_after)


def _child(work: Callable[[], int]) -> None:
    code = int(ExitStatus.INTERNAL)
    try:
        code = int(work())
    except KeyboardInterrupt:  # Ctrl-C before or after the command's own handling
        code = int(ExitStatus.INTERRUPTED)
    except SystemExit as exc:  # --help into a closed pipe: rich exits on the broken pipe
        broken = isinstance(exc.__context__, BrokenPipeError)
        code = int(ExitStatus.CLOSED_PIPE) if broken else exc.code if isinstance(exc.code, int) else int(ExitStatus.INTERNAL)
    except BaseException:  # only --debug lets an exception through: show it as Python would
        import traceback

        traceback.print_exc()
    finally:
        leave(code)


def leave(code: int) -> None:
    """Exit now, with the output flushed but no interpreter teardown: neither process of
    the watchdog pair holds anything to clean up, and unloading the modules the parent
    imported (typer and its click) costs several milliseconds, a sizeable part of a
    small model's whole ``shapes``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a full disk: already reported
            pass
    os._exit(code)


class _Expired(Exception):
    pass


def _expire(*_: object) -> None:
    raise _Expired


def _supervise(pid: int, timeout: float, env: Environment, subject: str, slow_after: float) -> ExitStatus:
    deadlines = ([slow_after] if slow_after < timeout else []) + [timeout]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGALRM, _expire)
    # Ctrl-C reaches the child, which exits with INTERRUPTED.
    status, elapsed = None, 0.0
    try:
        for deadline in deadlines:
            signal.setitimer(signal.ITIMER_REAL, deadline - elapsed)
            try:
                status = os.waitpid(pid, 0)[1]
                break
            except _Expired:
                elapsed = deadline
                if deadline < timeout:
                    env.error(f"{subject}: reading is slow; the watchdog stops it at {timeout:g} s (CNNINSPECT_TIMEOUT sets the limit)")
        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGALRM, previous[1])
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        env.error(f"{subject}: gave up after {timeout:g} s: reading this file does not finish (damaged?); "
                  "CNNINSPECT_TIMEOUT sets the limit")  # fmt: skip
        return ExitStatus.TIMEOUT
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: a C library crashed on this file
        env.error(f"{subject}: a file-reading library crashed on this file ({signal.Signals(-code).name}): damaged or hostile")
        return ExitStatus.BROKEN
    try:
        return ExitStatus(code)
    except ValueError:  # no code of ours: the child failed before it could choose one
        return ExitStatus.INTERNAL
