"""`llmprep tokenize` of many files vs gigatoken's `encode_files` + a flat uint16 file (issue #12, target 4).

    python benchmarks/bench_tokenize_files.py [--files 20000] [--kb 52] [--repeat 2]

The corpus: --files text files of about --kb KB each (>= 1 GB by default), slices of ../shared/data
at staggered offsets, each slice varied (a different fifth of its long words have their letters
rotated, bench_tokenize.py's recipe) so that piece caches cannot make repetition free; built once
under a cache folder. Each side runs in its own fresh process, alternating, best of --repeat: wall
time of the whole process and peak RSS (VmHWM). gigatoken (optional: `pip install gigatoken`) reads
the files with its own `TextFileSource` (one document per file), on all cores (rayon), and the script
then appends <|endoftext|> to each document and writes one uint16 file, which is what `llmprep
tokenize` produces; the two outputs are checked equal before anything counts. Targets: llmprep with
2 workers >= 1.5x gigatoken's speed, peak RSS < 300 MB, 2 workers >= 1.8x 1 worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import concatenated_corpus, require_exact
from bench_tokenize import OURS, _vary, run

GIGATOKEN = r"""
import json, os, sys, time
t0 = time.perf_counter()
import awkward as ak
import numpy as np
import gigatoken
from llmprep.bench.peers import Gigatoken
files, out = sys.argv[1], sys.argv[2]
paths = [line for line in open(files, encoding="utf-8").read().splitlines() if line]
tok = Gigatoken("gpt2").tok
t1 = time.perf_counter()
docs = tok.encode_files(gigatoken.TextFileSource(paths), parallel=True)
lengths = ak.to_numpy(ak.num(docs)).astype(np.int64)
flat = ak.to_numpy(ak.flatten(docs, axis=None)).astype(np.uint16)
ids = np.empty(len(flat) + len(lengths), dtype=np.uint16)
ends = np.cumsum(lengths + 1)
ids[ends - 1] = 50256  # <|endoftext|> after each document
mask = np.ones(len(ids), dtype=bool)
mask[ends - 1] = False
ids[mask] = flat
ids.tofile(out)
print(json.dumps({"seconds": time.perf_counter() - t0, "work": time.perf_counter() - t1}))
"""


def build_corpus(folder: Path, n_files: int, kb: float) -> list[Path]:
    """n_files varied slices of ../shared/data, about kb KB each, cut at line ends."""
    text = concatenated_corpus()
    size = int(kb * 1000)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    step = max(1, (len(text) - size) // 97)  # 97 staggered offsets; copy k = i // 97 varies them
    for i in range(n_files):
        path = folder / f"{i:06d}.txt"
        if not path.exists():
            start = text.find("\n", (i % 97) * step) + 1
            end = text.find("\n", start + size)
            body = _vary(text[start : end if end > 0 else len(text)], i // 97 + 1)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(body, encoding="utf-8")
            tmp.replace(path)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--kb", type=float, default=52)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "llmprep-bench-files"))
    args = parser.parse_args()
    try:
        import gigatoken  # noqa: F401
    except ImportError:
        print("gigatoken is not installed (pip install gigatoken): nothing to compare with")
        return 1

    paths = build_corpus(Path(args.cache) / f"{args.files}x{args.kb:g}KB", args.files, args.kb)
    nbytes = sum(p.stat().st_size for p in paths)
    print(f"corpus: {len(paths):,} files, {nbytes / 1e9:.2f} GB; best of {args.repeat}, alternating, fresh processes")
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "files.txt"
        listing.write_text("\n".join(map(str, sorted(paths))), encoding="utf-8")
        giga_out, our_out = Path(tmp) / "giga.bin", Path(tmp) / "ours.tok"
        folder = str(paths[0].parent)

        def ours(workers: int) -> dict:
            argv = ["tokenize", folder, "--glob", "*.txt", "-o", str(our_out), "--force", "--quiet"]
            return run(OURS, *argv, "--workers", str(workers))

        sides: dict[str, list[dict]] = {"gigatoken encode_files + uint16 file": [], "llmprep tokenize, 2 workers": [],
                                        "llmprep tokenize, 1 worker": []}  # fmt: skip
        for i in range(args.repeat):
            sides["gigatoken encode_files + uint16 file"].append(run(GIGATOKEN, str(listing), str(giga_out)))
            sides["llmprep tokenize, 2 workers"].append(ours(2))
            if i == 0:
                import llmprep

                require_exact("llmprep tokenize vs gigatoken", llmprep.open_tokens(our_out).tokens,
                              np.fromfile(giga_out, dtype=np.uint16))  # fmt: skip
                print("outputs equal")
            sides["llmprep tokenize, 1 worker"].append(ours(1))
        walls = {label: min(r["seconds"] for r in runs) for label, runs in sides.items()}
        giga = walls["gigatoken encode_files + uint16 file"]
        for label, runs in sides.items():
            wall = walls[label]
            print(
                f"  {label:<40} {wall:7.2f} s wall {nbytes / 1e6 / wall:7.1f} MB/s"
                f"  peak RSS {max(r['rss_mb'] for r in runs):6.0f} MB  {giga / wall:5.2f}x gigatoken"
            )
        two, one = walls["llmprep tokenize, 2 workers"], walls["llmprep tokenize, 1 worker"]
        print(f"  2 workers / 1 worker: {one / two:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
