"""The pipeline suite: ``llmprep tokenize`` vs the straightforward script, each in its own process.

The script is what readers write first: read every file, encode them (tiktoken's
``encode_ordinary_batch``), append ``<|endoftext|>`` after each, ``np.array(ids, dtype)``, ``tofile``.
Each run is a fresh child process that records its own peak RSS (``VmHWM``: a child's ``ru_maxrss``
from ``wait4`` would include the parent's pages copied at the fork, which exec does not reset); the two
commands alternate, and the first round checks that both wrote the same ids and is not timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from llmprep.bench.corpora import Corpus
from llmprep.bench.exactness import first_difference
from llmprep.bench.timing import summarize
from llmprep.tokens import narrowest_id_dtype

__all__ = ["SCRIPT", "TOKENIZE", "run_child", "run_pipeline"]

#: The straightforward script (argv: file list, output, threads, encoding, dtype).
SCRIPT = r"""
import sys
import numpy as np, tiktoken
listing, out, threads, name, dtype = sys.argv[1:6]
paths = [line for line in open(listing, encoding="utf-8").read().splitlines() if line]
enc = tiktoken.get_encoding(name)
texts = [open(p, encoding="utf-8").read() for p in paths]
ids = []
for doc in enc.encode_ordinary_batch(texts, num_threads=int(threads)):
    ids.extend(doc)
    ids.append(enc.eot_token)
np.array(ids, dtype=dtype).tofile(out)
"""

#: Runs ``llmprep tokenize`` in the child (argv: the command line after ``llmprep``).
TOKENIZE = r"""
import sys
from llmprep.cli import main
status = main(sys.argv[1:])
if status:
    sys.exit(status)
"""

#: Appended to each child's code: writes the process's peak RSS in bytes to $LLMPREP_BENCH_PEAK_FILE.
PEAK = r"""
import os as _os, sys as _sys
def _peak():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if _sys.platform == "darwin" else rss * 1024
with open(_os.environ["LLMPREP_BENCH_PEAK_FILE"], "w") as _f:
    _f.write(str(_peak()))
"""


def run_child(code: str, args: list[str]) -> tuple[float, int]:
    """Runs ``python -c code args`` to completion: (wall seconds, the child's own peak RSS in bytes).

    Raises:
        RuntimeError: the command failed (the last line of its standard error is in the message).
    """
    with tempfile.TemporaryDirectory(prefix="llmprep-bench-") as tmp, tempfile.TemporaryFile() as err:
        peak_file = os.path.join(tmp, "peak")
        env = dict(os.environ, LLMPREP_BENCH_PEAK_FILE=peak_file)
        start = time.perf_counter()
        status = subprocess.run(
            [sys.executable, "-c", code + PEAK, *args], stdout=subprocess.DEVNULL, stderr=err, env=env
        ).returncode
        wall = time.perf_counter() - start
        if status != 0:
            err.seek(0)
            message = err.read().decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"{args[:2]} failed with status {status}: {message[-1] if message else ''}")
        with open(peak_file, encoding="ascii") as f:
            return wall, int(f.read())


def run_pipeline(
    corpora: list[Corpus],
    encodings: list[str],
    threads: list[int],
    repeats: int,
    tick: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the pipeline suite (one per encoding, thread count and command), and notes."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    bpe = [e for e in encodings if e != "simple"]
    if len(bpe) < len(encodings):
        notes.append("pipeline: --encodings simple has no tiktoken script to compare with; left out")
    with tempfile.TemporaryDirectory(prefix="llmprep-bench-") as tmp:
        paths = []
        for i, corpus in enumerate(corpora):
            if corpus.path is not None and corpus.truncated_from is None:
                paths.append(corpus.path)
            else:  # generated, or cut by --quick or --max-mb: the same text the other suites measured
                path = Path(tmp) / f"{i:03d}-{Path(corpus.name).stem}.txt"
                path.write_bytes(corpus.text.encode("utf-8"))
                paths.append(str(path))
        listing = Path(tmp) / "files.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        nbytes = sum(c.nbytes for c in corpora)
        for encoding in bpe:
            for t in threads:
                rows.extend(_one_step(encoding, t, paths, listing, Path(tmp), nbytes, repeats))
                tick(f"pipeline {encoding} {t} thread(s)")
    return rows, notes


def _one_step(
    encoding: str, threads: int, paths: list[str], listing: Path, tmp: Path, nbytes: int, repeats: int
) -> list[dict[str, Any]]:
    import llmprep

    dtype = narrowest_id_dtype(vocab_size=llmprep.get_encoding(encoding).n_vocab).name
    base_out, ours_out = tmp / "script.bin", tmp / "ours.tok"
    commands = {
        "script": (
            "read, tiktoken encode_ordinary_batch, append EOT, np.array, tofile",
            SCRIPT,
            [str(listing), str(base_out), str(threads), encoding, dtype],
        ),
        "llmprep tokenize": (
            f"llmprep tokenize FILES -o OUT --encoding {encoding} --workers {threads} --input-format text",
            TOKENIZE,
            ["tokenize", *paths, "-o", str(ours_out), "--encoding", encoding, "--workers", str(threads),
             "--input-format", "text", "--force", "--quiet"],
        ),
    }  # fmt: skip
    rows: dict[str, dict[str, Any]] = {
        name: {
            "encoding": encoding,
            "threads": threads,
            "tool": name,
            "command": what,
            "bytes": nbytes,
            "files": len(paths),
            "status": "timed",
            "detail": "",
            "first_difference": None,
            "times_s": [],
            "peak_rss_bytes": [],
        }
        for name, (what, _, _) in commands.items()
    }
    try:
        for _, code, argv in commands.values():  # the untimed first round: warms the file cache, checks the ids
            run_child(code, argv)
    except RuntimeError as e:
        for row in rows.values():
            row["status"], row["detail"] = "failed", str(e)
        return list(rows.values())
    expected = np.fromfile(base_out, dtype=dtype)
    got = llmprep.open_tokens(ours_out).tokens
    diff = first_difference(got, expected)
    rows["script"]["tokens"] = rows["llmprep tokenize"]["tokens"] = len(expected)
    if diff is not None:
        ours = rows["llmprep tokenize"]
        ours["status"], ours["first_difference"] = "not exact", diff
        ours["detail"] = f"not exact at token offset {diff}: not timed"
        commands.pop("llmprep tokenize")
    for r in range(repeats):
        order = list(commands)
        for name in order[r % len(order) :] + order[: r % len(order)]:
            wall, rss = run_child(*commands[name][1:])
            rows[name]["times_s"].append(wall)
            rows[name]["peak_rss_bytes"].append(rss)
    for name in commands:
        row = rows[name]
        summary = summarize(row["times_s"])
        row.update(median_s=summary.median, min_s=summary.min, max_s=summary.max, spread=summary.spread)
        row["mb_per_s"] = nbytes / 1e6 / summary.median
        row["peak_rss_max_bytes"] = max(row["peak_rss_bytes"])
    script = rows["script"]
    for row in rows.values():
        row["vs_baseline"] = script["median_s"] / row["median_s"] if "median_s" in row else None
    return list(rows.values())
