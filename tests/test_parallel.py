"""The thread fan-out (cpp/src/parallel.cpp): results and errors independent of the thread count,
parallel_tasks_ordered's consume order, nested and concurrent calls, and fork safety of the pool."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import llmprep
import pytest
from llmprep._core import _testing

KINDS = ("for", "tasks", "ordered")
THREADS = (1, 2, 3, 8)


def probe(kind: str, n: int, threads: int, fail_work=(), fail_consume_at: int = -1, nested: bool = False):
    consumed: list[int] = []
    values = _testing.parallel_probe(kind, n, threads, list(fail_work), fail_consume_at, nested, consumed)
    return values, consumed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_every_index_once_for_every_thread_count(kind: str, threads: int, n: int) -> None:
    values, consumed = probe(kind, n, threads)
    assert values == [i * 3 + 1 for i in range(n)]
    assert consumed == (list(range(n)) if kind == "ordered" else [])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("threads", THREADS)
def test_lowest_failing_index_wins(kind: str, threads: int) -> None:
    consumed: list[int] = []
    with pytest.raises(ValueError, match=r"^work failed at 5$"):
        _testing.parallel_probe(kind, 500, threads, [400, 5, 17], -1, False, consumed)
    # Ordered: everything before the failure, and nothing after it, was handed over.
    assert consumed == (list(range(5)) if kind == "ordered" else [])


@pytest.mark.parametrize("threads", THREADS)
def test_a_failing_consume_stops_the_call(threads: int) -> None:
    consumed: list[int] = []
    with pytest.raises(IndexError, match=r"^consume failed at 10$"):
        _testing.parallel_probe("ordered", 500, threads, [50], 10, False, consumed)
    assert consumed == list(range(10))
    # A work failure before the consume failure is what surfaces: consume never gets that far.
    consumed.clear()
    with pytest.raises(ValueError, match=r"^work failed at 5$"):
        _testing.parallel_probe("ordered", 500, threads, [5], 10, False, consumed)
    assert consumed == list(range(5))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("threads", (2, 4))
def test_nested_calls_run_while_the_pool_is_busy(kind: str, threads: int) -> None:
    values, consumed = probe(kind, 300, threads, nested=True)
    assert values == [i * 3 + 29 for i in range(300)]
    assert consumed == (list(range(300)) if kind == "ordered" else [])


def test_unknown_probe_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        probe("sideways", 3, 2)


def test_concurrent_calls_from_python_threads(verdict_text) -> None:
    enc = llmprep.get_encoding("gpt2")
    docs = [line + "\n" for line in verdict_text.splitlines()] * 4
    big = verdict_text * 60  # over the 1 MiB line where one text is split into tasks
    want_docs = enc.encode_ordinary_batch(docs, num_threads=1)
    want_big = enc.encode_to_numpy(big, num_threads=1)
    tok = llmprep.SimpleTokenizer.from_text(verdict_text)
    want_words = tok.encode_batch(docs, num_threads=1)
    failures: list[str] = []

    def hammer(k: int) -> None:
        try:
            for _ in range(3):
                if enc.encode_ordinary_batch(docs, num_threads=2) != want_docs:
                    failures.append(f"thread {k}: bpe batch")
                if not (enc.encode_to_numpy(big, num_threads=3) == want_big).all():
                    failures.append(f"thread {k}: bpe numpy")
                if tok.encode_batch(docs, num_threads=2) != want_words:
                    failures.append(f"thread {k}: word batch")
                values, consumed = probe("ordered", 2000, 2, nested=True)
                if values != [i * 3 + 29 for i in range(2000)] or consumed != list(range(2000)):
                    failures.append(f"thread {k}: probe")
        except Exception as e:
            failures.append(f"thread {k}: {e!r}")

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_survives_fork() -> None:
    # The parent starts the pool; the child (a copy without the pool's threads) must build its own
    # on its first parallel call instead of waiting forever on the parent's. A deadlock fails via
    # an alarm in the child (and the timeout) instead of hanging the suite.
    script = textwrap.dedent(
        """
        import os, signal
        import llmprep
        from llmprep._core import _testing

        text = "Hello world, it's a test of 1234 tokens.\\n" * 40000
        docs = [text[i:i + 500] for i in range(0, 200000, 500)]
        enc = llmprep.get_encoding("gpt2")
        tok = llmprep.SimpleTokenizer.from_text(text)
        want = enc.encode_to_numpy(text, num_threads=2).tolist()
        want_docs = enc.encode_ordinary_batch(docs, num_threads=2)
        want_words = tok.encode_batch(docs, num_threads=2)
        assert want == enc.encode_ordinary(text, num_threads=1)

        def check() -> bool:
            values = _testing.parallel_probe("ordered", 1000, 2, [], -1, True, [])
            return (enc.encode_to_numpy(text, num_threads=2).tolist() == want
                    and enc.encode_ordinary_batch(docs, num_threads=2) == want_docs
                    and tok.encode_batch(docs, num_threads=2) == want_words
                    and values == [i * 3 + 29 for i in range(1000)])

        def descend(depth: int) -> bool:  # a child, and a child of that child
            pid = os.fork()
            if pid == 0:
                signal.alarm(30)  # a deadlocked child dies (and fails the test) instead of lingering
                os._exit(0 if check() and (depth == 0 or descend(depth - 1)) else 3)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status) == 0

        assert descend(1)
        assert check()  # the parent's pool still works
        print("ok")
        """
    )
    env = dict(os.environ, LLMPREP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_the_kept_learned_tables_are_locked() -> None:
    # A fork can land while another thread holds the mutex of the kept learned piece caches (taking
    # or giving back a table); in the child that mutex stays locked forever. The child must forget
    # the parent's kept tables and make its own (per_process.hpp) instead of waiting on it: a test
    # hook holds the lock across the fork, and the child, under an alarm, encodes in parallel.
    script = textwrap.dedent(
        """
        import os, signal
        import llmprep
        from llmprep._core import _testing

        enc = llmprep.get_encoding("gpt2")
        text = " ".join(f"w{i % 7919}x{i % 131}" for i in range(60000))
        docs = [text[i : i + 70000] for i in range(0, len(text), 70000)]
        want = enc.encode_ordinary_batch(docs, num_threads=1)
        assert enc.encode_ordinary_batch(docs, num_threads=2) == want  # tables kept in the parent
        _testing.hold_learned_caches_lock(True)
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)  # a child waiting on the parent's lock dies instead of hanging
            os._exit(0 if enc.encode_ordinary_batch(docs, num_threads=2) == want else 3)
        _testing.hold_learned_caches_lock(False)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert enc.encode_ordinary_batch(docs, num_threads=2) == want  # the parent's still work
        print("ok")
        """
    )
    env = dict(os.environ, LLMPREP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
