"""The leak check of the ASan Python run (sanitizers/lsan_at_exit.py, installed by scripts/sanitize.sh).

Its logic is checked everywhere with stand-ins for the sanitizer runtime; under ``sanitize.sh asan``
child interpreters that leak show that the check really runs and fails them (a check that never
fires would pass every leak).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import ROOT, SANITIZER

spec = importlib.util.spec_from_file_location("lsan_at_exit", ROOT / "sanitizers" / "lsan_at_exit.py")
assert spec is not None and spec.loader is not None
lsan_at_exit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lsan_at_exit)


class Exited(Exception):
    """What the stand-in os._exit raises instead of ending the test process."""


def test_install_is_a_no_op_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[object] = []
    monkeypatch.setattr(lsan_at_exit.atexit, "register", lambda *args: registered.append(args))
    monkeypatch.delenv(lsan_at_exit.ENV, raising=False)
    lsan_at_exit.install()
    monkeypatch.setenv(lsan_at_exit.ENV, "0")
    lsan_at_exit.install()
    assert registered == []


def test_install_registers_the_runtime_check(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[tuple[object, ...]] = []
    monkeypatch.setattr(lsan_at_exit.atexit, "register", lambda *args: registered.append(args))
    monkeypatch.setattr(lsan_at_exit, "find_leak_check", lambda: "the check")
    monkeypatch.setenv(lsan_at_exit.ENV, "1")
    lsan_at_exit.install()
    assert registered == [(lsan_at_exit.check_now, "the check")]


def test_missing_runtime_is_an_error_not_a_silent_pass() -> None:
    with pytest.raises(RuntimeError, match="LeakSanitizer is not loaded.*scripts/sanitize.sh asan"):
        lsan_at_exit.find_leak_check(types.SimpleNamespace())  # a process without the runtime


def test_the_runtime_function_is_found_by_name() -> None:
    def check() -> int:
        return 0

    process = types.SimpleNamespace(__lsan_do_recoverable_leak_check=check)
    assert lsan_at_exit.find_leak_check(process) is check


@pytest.mark.parametrize(("leaked", "exits"), [(0, False), (1, True)])
def test_a_leak_ends_the_process_with_lsan_status(monkeypatch: pytest.MonkeyPatch, leaked: int, exits: bool) -> None:
    def fake_exit(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr(lsan_at_exit.os, "_exit", fake_exit)
    if exits:
        with pytest.raises(Exited) as exited:
            lsan_at_exit.check_now(lambda: leaked)
        assert exited.value.args == (23,)
    else:
        lsan_at_exit.check_now(lambda: leaked)


# Child interpreters of the sanitized venv (its .pth installs the check; LD_PRELOAD, ASAN_OPTIONS and
# PYTHONMALLOC=malloc are inherited). Each writes its report under tmp_path, not into sanitize.sh's log
# folder, where any report fails the run. The leaked blocks are big and several, so that no stale copy
# of one pointer in live memory can make them all look reachable: LeakSanitizer scans conservatively,
# and a stale copy (one CI run: the last malloc's address left on libffi's stack) can hide one or two,
# so the test asks for most of them, each reported at its own size.
LEAK_BYTES = 4099
LEAKS = 8
MOST_LEAKS = 5
DIRECT_LEAK = re.compile(r"Direct leak of (\d+) byte\(s\) in (\d+) object\(s\)")


def leaked_blocks(reports: str) -> int:
    """How many blocks of LEAK_BYTES the reports call direct leaks (a line per allocation stack)."""
    return sum(int(n) for size, n in DIRECT_LEAK.findall(reports) if int(size) == int(n) * LEAK_BYTES)


CHILDREN = {
    "clean": "import llmprep; print(len(llmprep.get_encoding('gpt2').encode('hello world')))",
    # A C allocation never freed (what a C++ `new` without `delete` in _core would be).
    "malloc": "import ctypes\n"
    "malloc = ctypes.CDLL(None).malloc\n"
    "malloc.restype = ctypes.c_void_p\n"
    f"for _ in range({LEAKS}): malloc({LEAK_BYTES})\n",
    # A Python object with one reference too many (what a binding's missing Py_DECREF would be).
    "reference": "import ctypes\n"
    # A bytes object of n bytes is one block of 33 + n.
    f"for i in range({LEAKS}): ctypes.pythonapi.Py_IncRef(ctypes.py_object(bytes({LEAK_BYTES - 34}) + bytes([i])))\n",
}


@pytest.mark.skipif(SANITIZER != "asan", reason="needs the ASan build's venv (scripts/sanitize.sh asan)")
@pytest.mark.parametrize("child", sorted(CHILDREN))
def test_the_asan_run_fails_a_leaking_interpreter(tmp_path: Path, child: str) -> None:
    env = dict(os.environ)
    assert env.get(lsan_at_exit.ENV) == "1" and env.get("PYTHONMALLOC") == "malloc"
    env["ASAN_OPTIONS"] = f"{env['ASAN_OPTIONS']}:log_path={tmp_path / 'asan'}"
    done = subprocess.run([sys.executable, "-c", CHILDREN[child]], env=env, capture_output=True, text=True)
    reports = "".join(path.read_text() for path in tmp_path.glob("asan.*"))
    if child == "clean":
        assert (done.returncode, reports) == (0, ""), done.stderr
        return
    assert done.returncode == lsan_at_exit.EXIT_STATUS, done.stderr
    assert "ERROR: LeakSanitizer: detected memory leaks" in reports
    assert MOST_LEAKS <= leaked_blocks(reports) <= LEAKS, reports


def test_leaked_blocks_adds_every_stack_and_skips_other_sizes() -> None:
    reports = (
        f"Direct leak of {3 * LEAK_BYTES} byte(s) in 3 object(s) allocated from:\n"
        "Direct leak of 64 byte(s) in 1 object(s) allocated from:\n"
        f"Indirect leak of {LEAK_BYTES} byte(s) in 1 object(s) allocated from:\n"
        f"Direct leak of {4 * LEAK_BYTES} byte(s) in 4 object(s) allocated from:\n"
    )
    assert leaked_blocks(reports) == 7
