"""GPTDataset / create_dataloader against the chapter's GPTDatasetV1 / create_dataloader_v1 and nanoGPT.

Same process, outputs checked equal before timing, warm-up, best of several runs:

1. dataset construction from the same token ids (tokenization excluded for both): time, and peak
   memory measured in a fresh subprocess per side;
2. tokens/s through the DataLoader (shuffle=True, drop_last=True, num_workers=0) vs the chapter's
   loader and vs nanoGPT-style ``torch.stack`` of numpy slices, at (8, 256, 128) and (32, 1024, 1024);
3. gather bandwidth (all windows into preallocated int64 buffers) vs ``np.copyto`` of the same bytes;
4. a set of 1,000 shard files (``GPTDataset(folder)``) vs the one file ``llmprep merge`` makes of them:
   batches/s through the DataLoader, same batches checked first.

    python benchmarks/bench_loader.py [--tokens 6000000] [--shards 1000]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _chapter_ch2 import GPTDatasetV1, IdsTokenizer  # noqa: E402  (the chapter's code, verbatim)
from _common import SHARED, best_of, interleaved  # noqa: E402
from llmprep import _core  # noqa: E402
from llmprep import tokens as token_files  # noqa: E402
from llmprep.data import GPTDataset, create_dataloader  # noqa: E402


def corpus_ids(n_tokens: int) -> np.ndarray:
    """GPT-2 ids of the shared corpora (tiktoken, once), repeated to n_tokens."""
    import tiktoken

    enc = tiktoken.get_encoding("gpt2")
    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED / "data").glob("*.txt"))]
    ids = np.concatenate([np.asarray(enc.encode(t, allowed_special={"<|endoftext|>"}), dtype=np.uint16) for t in texts])
    reps = -(-n_tokens // len(ids))
    return np.tile(ids, reps)[:n_tokens]


def peak_rss_child(kind: str, ids_path: str, max_length: int, stride: int) -> None:
    """Runs in a subprocess: prints (construction seconds, peak RSS growth in bytes)."""

    def hwm() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    ids = np.load(ids_path)
    tokenizer = IdsTokenizer(ids) if kind == "chapter" else None
    gc.collect()
    before = hwm()
    start = time.perf_counter()
    if kind == "chapter":
        dataset = GPTDatasetV1("unused", tokenizer, max_length, stride)
    else:
        dataset = GPTDataset(ids, max_length=max_length, stride=stride)
    elapsed = time.perf_counter() - start
    print(elapsed, hwm() - before, len(dataset))


def construction(ids: np.ndarray, max_length: int, stride: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ids.npy")
        np.save(path, ids)
        results = {}
        for kind in ("chapter", "llmprep"):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", kind, path, str(max_length), str(stride)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            results[kind] = (float(out[0]), int(out[1]), int(out[2]))
    assert results["chapter"][2] == results["llmprep"][2], "window counts differ"
    # In-process timing, best of several, for ours (the subprocess figure is a single cold run).
    ours = best_of(lambda: GPTDataset(ids, max_length=max_length, stride=stride), 20)
    chapter_t, chapter_mem, n_windows = results["chapter"]
    print(f"construction, {len(ids):,} tokens, L={max_length} S={stride}, {n_windows:,} windows:")
    print(f"  chapter GPTDatasetV1: {chapter_t:8.3f} s   peak memory +{chapter_mem / 2**20:8.1f} MiB")
    print(
        f"  llmprep GPTDataset:   {ours * 1e6:8.1f} us  peak memory +{results['llmprep'][1] / 2**20:8.1f} MiB "
        f"(ids held: {ids.nbytes / 2**20:.1f} MiB, the caller's array)"
    )
    print(f"  ratio: {chapter_t / ours:,.0f}x faster")


def nanogpt_batches(
    data: np.ndarray, batches: list[list[int]], max_length: int, stride: int
) -> Iterator[list[torch.Tensor]]:
    """nanoGPT's get_batch (torch.stack of numpy slices), over the same window starts."""
    for batch in batches:
        starts = [w * stride for w in batch]
        x = torch.stack([torch.from_numpy(data[i : i + max_length].astype(np.int64)) for i in starts])
        y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + max_length].astype(np.int64)) for i in starts])
        yield [x, y]


def median_ratio(reference: list[float], ours: list[float]) -> float:
    """The median over rounds of reference time / our time."""
    return statistics.median(a / b for a, b in zip(reference, ours))


def throughput(ids: np.ndarray, batch_size: int, max_length: int, stride: int, runs: int) -> None:
    chapter_dataset = GPTDatasetV1("unused", IdsTokenizer(ids), max_length, stride)
    chapter = DataLoader(chapter_dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    ours = create_dataloader(ids, batch_size, max_length, stride)

    # Same order from the same seed: record ours, check the chapter's and nanoGPT's against it.
    torch.manual_seed(0)
    ours_batches = list(ours)
    current = ours.window_sampler.current
    assert current is not None and current[1] is not None
    permutation = torch.randperm(len(chapter_dataset), generator=torch.Generator().manual_seed(current[1]["seed"]))
    order = [b.tolist() for b in torch.split(permutation, batch_size)][: len(ours_batches)]
    torch.manual_seed(0)
    for mine, theirs, nano in zip(ours_batches, chapter, nanogpt_batches(ids, order, max_length, stride)):
        assert torch.equal(mine[0], theirs[0]) and torch.equal(mine[1], theirs[1])
        assert torch.equal(mine[0], nano[0]) and torch.equal(mine[1], nano[1])
    del ours_batches

    tokens = len(order) * batch_size * max_length

    def drain(iterable: Iterable[object]) -> None:
        for _ in iterable:
            pass

    # Alternating rounds, ratios of each round's times, median: the machine's speed drifts more
    # between two blocks of runs than between neighbouring runs.
    times = interleaved(
        {
            "chapter create_dataloader_v1": lambda: drain(chapter),
            "nanoGPT torch.stack of slices": lambda: drain(nanogpt_batches(ids, order, max_length, stride)),
            "llmprep create_dataloader": lambda: drain(ours),
        },
        max(runs, 7),
    )
    print(
        f"DataLoader, batch {batch_size}, L={max_length}, S={stride}: {len(order):,} batches, {tokens:,} tokens/epoch"
    )
    for name, t in times.items():
        print(f"  {name:31s} {tokens / min(t) / 1e6:9.1f} M tokens/s  ({min(t) * 1e3:8.1f} ms/epoch, best)")
    ours_t = times["llmprep create_dataloader"]
    vs_chapter = median_ratio(times["chapter create_dataloader_v1"], ours_t)
    vs_nano = median_ratio(times["nanoGPT torch.stack of slices"], ours_t)
    print(f"  ratio vs chapter: {vs_chapter:.1f}x   vs nanoGPT: {vs_nano:.1f}x   (median of the rounds' ratios)")


def bandwidth(ids: np.ndarray, max_length: int, stride: int, runs: int) -> None:
    n = _core.window_count(len(ids), max_length, stride)
    inputs = np.empty((n, max_length), dtype=np.int64)
    targets = np.empty((n, max_length), dtype=np.int64)
    windows = np.arange(n, dtype=np.int64)
    expected_in, expected_tg = _core.materialize_windows(ids, max_length, stride)
    _core.gather_windows(ids, max_length, stride, windows, inputs, targets, 1)
    assert np.array_equal(inputs, expected_in) and np.array_equal(targets, expected_tg)
    del expected_in, expected_tg
    src_a, src_b = np.ones_like(inputs), np.ones_like(targets)
    out_bytes = inputs.nbytes + targets.nbytes
    threads = os.environ.get("LLMPREP_NUM_THREADS") or os.cpu_count()

    def copy() -> None:
        np.copyto(inputs, src_a)
        np.copyto(targets, src_b)

    t_copy = best_of(copy, runs)
    t_one = best_of(lambda: _core.gather_windows(ids, max_length, stride, windows, inputs, targets, 1), runs)
    t_all = best_of(lambda: _core.gather_windows(ids, max_length, stride, windows, inputs, targets, 0), runs)
    gb = out_bytes / 1e9
    print(f"gather bandwidth, all {n:,} windows of L={max_length} S={stride} into int64 buffers ({gb:.2f} GB written):")
    print(f"  np.copyto of the same bytes (1 thread): {gb / t_copy:6.2f} GB/s")
    print(f"  gather, 1 thread:                       {gb / t_one:6.2f} GB/s  = {t_copy / t_one:.0%} of the copy")
    print(f"  gather, default threads ({threads}):         {gb / t_all:6.2f} GB/s  = {t_copy / t_all:.0%} of the copy")


def shard_set(ids: np.ndarray, n_shards: int, runs: int) -> None:
    """The same ids as n_shards token files (a folder) and as their merged file, through the DataLoader."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shards"
        folder.mkdir()
        bounds = np.linspace(0, len(ids), n_shards + 1).astype(np.int64)
        paths = []
        for i in range(n_shards):
            path = folder / f"part-{i:05d}.tok"
            with token_files.TokenFileWriter(
                path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=None
            ) as w:
                w.write(ids[bounds[i] : bounds[i + 1]])
                w.end_document()
            paths.append(path)
        merged = Path(tmp) / "merged.tok"
        token_files.merge_token_files(paths, merged)
        for batch_size, max_length, stride in ((8, 256, 128), (32, 1024, 1024)):
            sharded = create_dataloader(folder, batch_size, max_length, stride, seed=0)
            single = create_dataloader(merged, batch_size, max_length, stride, seed=0)
            for mine, theirs in zip(sharded, single):  # the same batches (and every shard mapped once)
                assert torch.equal(mine[0], theirs[0]) and torch.equal(mine[1], theirs[1])

            def drain(loader: Iterable[object]) -> None:
                for _ in loader:
                    pass

            # Alternating rounds, median ratio (as in throughput).
            times = interleaved({"merged": lambda: drain(single), "shards": lambda: drain(sharded)}, max(runs, 7))
            singles, shardeds = times["merged"], times["shards"]
            ratio = median_ratio(singles, shardeds)
            n = len(single)
            print(
                f"shard set of {n_shards:,} files vs the merged file, batch {batch_size}, L={max_length}, S={stride}:"
            )
            print(f"  merged file: {n / min(singles):10,.0f} batches/s")
            print(f"  shard set:   {n / min(shardeds):10,.0f} batches/s = {ratio:.0%} of the merged file (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=6_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--memory-child", nargs=4, metavar=("KIND", "IDS", "L", "S"))
    args = parser.parse_args()
    if args.memory_child:
        kind, path, length, stride = args.memory_child
        peak_rss_child(kind, path, int(length), int(stride))
        return
    torch.set_num_threads(1)  # the chapter's loader and ours both run on the calling thread
    ids = corpus_ids(args.tokens)
    print(
        f"{len(ids):,} GPT-2 tokens (uint16); torch {torch.__version__}; {os.cpu_count()} CPUs; "
        f"LLMPREP_NUM_THREADS={os.environ.get('LLMPREP_NUM_THREADS', 'unset')}\n"
    )
    construction(ids, 256, 128)
    print()
    throughput(ids, 8, 256, 128, args.runs)
    print()
    throughput(ids, 32, 1024, 1024, args.runs)
    print()
    bandwidth(ids, 256, 128, args.runs)
    print()
    shard_set(ids, args.shards, args.runs)
    if torch.cuda.is_available():
        print("\n(a GPU is present: pinned vs pageable feeding is not measured by this script yet)")


if __name__ == "__main__":
    main()
