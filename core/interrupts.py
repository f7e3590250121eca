"""Stopping on Ctrl-C or SIGTERM: within seconds, with the run recorded as interrupted.

The command's main thread gets KeyboardInterrupt (SIGINT) or Terminated (SIGTERM); threads doing
HTTP work (Prefect runs concurrent tasks in threads, which signals never reach) see
`stop_requested` and stop retrying and waiting. Exit codes follow the shell: 128 + signal number.
"""

from __future__ import annotations

import signal
import threading

stop_requested = threading.Event()


class Terminated(BaseException):
    """SIGTERM arrived (`timeout`, `systemctl stop`, `kill`): stop like Ctrl-C, exit 143.

    A BaseException, like KeyboardInterrupt, so `except Exception` clauses never swallow it.
    """


class Interrupted(BaseException):
    """Raised in a worker thread that notices a stop was requested (never a fetch failure)."""


INTERRUPTS = (KeyboardInterrupt, Terminated, Interrupted)
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


def is_interrupt(error: BaseException) -> bool:
    """Ctrl-C, SIGTERM or a stop request, including Prefect's TerminationSignal (which a flow run
    raises for SIGTERM instead of ours), named without importing Prefect."""
    return isinstance(error, INTERRUPTS) or any(c.__name__ == "TerminationSignal" for c in type(error).__mro__)


def is_sigterm(error: BaseException) -> bool:
    return isinstance(error, Terminated) or any(c.__name__ == "TerminationSignal" for c in type(error).__mro__)


def exit_code(error: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return EXIT_SIGTERM if is_sigterm(error) else EXIT_SIGINT


def _on_sigint(signum, frame) -> None:
    stop_requested.set()
    raise KeyboardInterrupt


def _on_sigterm(signum, frame) -> None:
    stop_requested.set()
    raise Terminated()


def install() -> None:
    """Route SIGINT and SIGTERM to the main thread as exceptions and tell worker threads to stop.

    Call from the main thread only (Python's rule for signal handlers).
    """
    stop_requested.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)


def check() -> None:
    """Raise Interrupted when a stop was requested (call between units of work in any thread)."""
    if stop_requested.is_set():
        raise Interrupted()


def pause(seconds: float) -> None:
    """Sleep up to `seconds`, ending early (with Interrupted) when a stop is requested."""
    if stop_requested.wait(max(seconds, 0.0)):
        raise Interrupted()
