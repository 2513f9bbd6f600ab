"""LeakSanitizer for a Python process on the ASan build: one leak check when the program ends, run
before the interpreter finalizes.

scripts/sanitize.sh copies this file into its venv and imports it from a ``.pth`` file, so every
Python process of the test run (pytest and the subprocesses the tests start) calls ``install()`` at
start-up; it does nothing unless ``LLMPREP_LSAN_AT_EXIT=1`` (sanitize.sh sets it, with
``detect_leaks=1:leak_check_at_exit=0``).

Why not LeakSanitizer's own check at exit: it runs after ``Py_FinalizeEx``, which leaves part of
CPython's, numpy's and torch's objects allocated and unreferenced; those leaks have no useful stack
(libpython is built without frame pointers, so the fast unwinder stops at its first frame) and
could not be told apart from ours. Here the check runs from the first ``atexit`` callback registered,
i.e. the last one run: the program is done and its threads are joined, but the interpreter still
holds every object something refers to, so what LeakSanitizer finds unreachable is a real leak: a
C++ allocation never freed, or a Python object that nothing refers to and that is never freed (a
reference count one too high). Limitation: objects the garbage collector tracks (lists, dicts,
tuples, instances of Python classes) stay linked in its generation lists, hence reachable, even
when leaked; a leaked ``bytes``, ``str``, ``int``, numpy array or ``_core`` object is found.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
from collections.abc import Callable

ENV = "LLMPREP_LSAN_AT_EXIT"
# LeakSanitizer's own exit status for "leaks found" (its exitcode option).
EXIT_STATUS = 23


def find_leak_check(process: ctypes.CDLL | None = None) -> Callable[[], int]:
    """The sanitizer runtime's ``__lsan_do_recoverable_leak_check`` in this process.

    Raises:
        RuntimeError: the runtime is not loaded (the process was not started with libasan preloaded).
    """
    lib = ctypes.CDLL(None) if process is None else process
    try:
        check: Callable[[], int] = lib.__lsan_do_recoverable_leak_check
    except AttributeError:
        raise RuntimeError(
            f"{ENV}=1 but LeakSanitizer is not loaded in this process: "
            "run it through scripts/sanitize.sh asan (which preloads libasan), or unset " + ENV
        ) from None
    return check


def check_now(check: Callable[[], int]) -> None:
    """Runs the leak check; on a leak (the report went to stderr or ASan's log_path) ends the
    process with EXIT_STATUS, after flushing Python's output, whatever status it had."""
    if check() != 0:
        for stream in (sys.stdout, sys.stderr):
            # A closed or replaced stream has nothing to lose.
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        os._exit(EXIT_STATUS)


def install() -> None:
    """Registers the check at exit when ``LLMPREP_LSAN_AT_EXIT=1``; a no-op otherwise."""
    if os.environ.get(ENV) != "1":
        return
    atexit.register(check_now, find_leak_check())
