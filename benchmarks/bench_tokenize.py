"""End-to-end corpus tokenization: `llmprep tokenize` vs the straightforward tiktoken script.

The corpus is built from ../shared/data: copies of every file, each copy varied (a different 20% of
its words have their letters rotated), so that piece caches cannot make repetition free. It is
written as one file per (copy, source) under a cache folder, ~0.9 MB each.

The baseline is what readers write first: read every file, `encode_ordinary_batch` (2 threads),
append <|endoftext|>, `np.array(..., uint16)`, `tofile`. Each side runs in its own fresh process
(peak RSS is its own: the child's VmHWM, recorded as `llmprep bench` records it), best of --repeat runs,
alternating; the outputs are checked equal first.
Two times per side: the whole process, and the work after loading the vocabulary (the script loads
GPT-2's files through tiktoken's Python parser, ~0.19 s; llmprep reads the same cached files, checks
the same hashes and parses them in C++, ~0.03 s). Then `llmprep tokenize` alone on a corpus --scale
times larger shows that its peak RSS does not grow with the corpus.

    python benchmarks/bench_tokenize.py [--mb 52] [--workers 2] [--repeat 3] [--scale 4] [--scale-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import corpus_files, require_exact
from llmprep.bench.pipeline import PEAK

BASELINE = r"""
import json, os, sys, time
import numpy as np, tiktoken
t0 = time.perf_counter()
files, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
paths = [line for line in open(files, encoding="utf-8").read().splitlines() if line]
enc = tiktoken.get_encoding("gpt2")
t1 = time.perf_counter()
texts = [open(p, encoding="utf-8").read() for p in paths]
ids = []
for doc in enc.encode_ordinary_batch(texts, num_threads=threads):
    ids.extend(doc)
    ids.append(enc.eot_token)
np.array(ids, dtype=np.uint16).tofile(out)
print(json.dumps({"seconds": time.perf_counter() - t0, "work": time.perf_counter() - t1}))
"""

OURS = r"""
import contextlib, io, json, re, sys, time
t0 = time.perf_counter()
from llmprep.cli import main
summary = io.StringIO()
with contextlib.redirect_stdout(summary):
    rc = main(sys.argv[1:])
if rc:
    sys.exit(rc)
# The run's own timing (after loading the vocabulary), from its summary line.
work = float(re.search(r" in ([0-9.]+) s ", summary.getvalue()).group(1))
print(json.dumps({"seconds": time.perf_counter() - t0, "work": work}))
"""

_WORD = re.compile(r"[A-Za-z]{4,}")


def _rotate_table(k: int) -> dict[int, int]:
    shift = k % 25 + 1
    lower = "abcdefghijklmnopqrstuvwxyz"
    table = str.maketrans(
        lower + lower.upper(), lower[shift:] + lower[:shift] + (lower[shift:] + lower[:shift]).upper()
    )
    return table


def _vary(text: str, k: int) -> str:
    """Copy k: every fifth long word (a different fifth for each k) gets its letters rotated."""
    if k == 0:
        return text
    table = _rotate_table(k)
    counter = iter(range(1 << 62))
    return _WORD.sub(lambda m: m.group(0).translate(table) if (next(counter) + k) % 5 == 0 else m.group(0), text)


def build_corpus(folder: Path, megabytes: float) -> list[Path]:
    sources = [(p.stem, p.read_text(encoding="utf-8")) for p in corpus_files()]
    per_copy = sum(len(t.encode()) for _, t in sources)
    copies = max(1, int(np.ceil(megabytes * 1e6 / per_copy)))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(copies):
        for stem, text in sources:
            path = folder / f"{k:04d}-{stem}.txt"
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                tmp.write_text(_vary(text, k), encoding="utf-8")
                tmp.replace(path)
            paths.append(path)
    return sorted(paths)


def run(script: str, *args: str) -> dict:
    """Runs one side in a fresh process: its own timings, and its peak RSS (VmHWM) in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = os.path.join(tmp, "peak")
        env = dict(os.environ, LLMPREP_BENCH_PEAK_FILE=peak)
        out = subprocess.run([sys.executable, "-c", script + PEAK, *args], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise SystemExit(f"benchmark run failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        with open(peak, encoding="ascii") as f:
            result["rss_mb"] = int(f.read()) / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=52, help="corpus size in MB (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="threads for both sides (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    parser.add_argument("--scale", type=float, default=4, help="corpus multiple for the memory run (0: skip)")
    parser.add_argument(
        "--scale-baseline",
        action="store_true",
        help="also run the tiktoken script on the larger corpus (slow, ~16 bytes of RAM per byte)",
    )
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "llmprep-bench-corpus"))
    args = parser.parse_args()

    cache = Path(args.cache)
    paths = build_corpus(cache / f"{args.mb:g}MB", args.mb)
    nbytes = sum(p.stat().st_size for p in paths)
    print(
        f"corpus: {len(paths)} files, {nbytes / 1e6:.1f} MB (varied copies of ../shared/data), "
        f"{args.workers} threads, best of {args.repeat}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "files.txt"
        listing.write_text("\n".join(map(str, paths)), encoding="utf-8")
        base_out, our_out = Path(tmp) / "base.bin", Path(tmp) / "ours.tok"
        corpus_dir = str(paths[0].parent)
        ours_args = (
            "tokenize",
            corpus_dir,
            "--glob",
            "*.txt",
            "-o",
            str(our_out),
            "--workers",
            str(args.workers),
            "--quiet",
        )
        base, ours = [], []
        for i in range(args.repeat):
            base.append(run(BASELINE, str(listing), str(base_out), str(args.workers)))
            ours.append(run(OURS, *ours_args))
            if i == 0:  # outputs equal before any timing counts
                import llmprep

                expected = np.fromfile(base_out, dtype=np.uint16)
                got = llmprep.open_tokens(our_out).tokens
                require_exact("llmprep tokenize vs the tiktoken script", got, expected)
                print(f"outputs equal: {len(expected):,} tokens")
        print(f"  {'':<56} {'process':>9} {'':>9} {'after vocab load':>16}")
        rows = [("tiktoken script (read, encode_batch, np.array, tofile)", base), ("llmprep tokenize", ours)]
        best = {}
        for label, runs in rows:
            wall = min(r["seconds"] for r in runs)
            work = min(r["work"] for r in runs)
            best[label] = (wall, work)
            ratio = ""
            if label != rows[0][0]:
                b_wall, b_work = best[rows[0][0]]
                ratio = f"  ratio {b_wall / wall:4.1f}x / {b_work / work:4.1f}x"
            print(
                f"  {label:<56} {wall:7.2f} s {nbytes / 1e6 / wall:6.1f} MB/s {nbytes / 1e6 / work:7.1f} MB/s"
                f"  peak RSS {max(r['rss_mb'] for r in runs):5.0f} MB{ratio}"
            )

        if args.scale > 0:
            big = build_corpus(cache / f"{args.mb * args.scale:g}MB", args.mb * args.scale)
            big_bytes = sum(p.stat().st_size for p in big)
            runs = [
                run(
                    OURS,
                    "tokenize",
                    str(big[0].parent),
                    "--glob",
                    "*.txt",
                    "-o",
                    str(our_out),
                    "--workers",
                    str(args.workers),
                    "--quiet",
                )
                for _ in range(args.repeat)
            ]
            r = {
                "seconds": min(x["seconds"] for x in runs),
                "work": min(x["work"] for x in runs),
                "rss_mb": max(x["rss_mb"] for x in runs),
            }
            ratio = ""
            if args.scale_baseline:
                big_listing = Path(tmp) / "big-files.txt"
                big_listing.write_text("\n".join(map(str, big)), encoding="utf-8")
                bruns = [run(BASELINE, str(big_listing), str(base_out), str(args.workers)) for _ in range(args.repeat)]
                bb = min(x["seconds"] for x in bruns)
                bw = min(x["work"] for x in bruns)
                print(
                    f"  {f'tiktoken script, {big_bytes / 1e6:.0f} MB corpus':<56} {bb:7.2f} s "
                    f"{big_bytes / 1e6 / bb:6.1f} MB/s {big_bytes / 1e6 / bw:7.1f} MB/s"
                    f"  peak RSS {max(x['rss_mb'] for x in bruns):5.0f} MB"
                )
                ratio = f"  ratio {bb / r['seconds']:4.1f}x / {bw / r['work']:4.1f}x"
            print(
                f"  {f'llmprep tokenize, {big_bytes / 1e6:.0f} MB corpus':<56} {r['seconds']:7.2f} s "
                f"{big_bytes / 1e6 / r['seconds']:6.1f} MB/s {big_bytes / 1e6 / r['work']:7.1f} MB/s"
                f"  peak RSS {r['rss_mb']:5.0f} MB{ratio}"
            )


if __name__ == "__main__":
    main()
