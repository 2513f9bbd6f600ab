"""The batches suite: ``create_dataloader`` vs the chapter's ``create_dataloader_v1`` (needs torch), and
on a CUDA device: batches delivered to the device, and the input embedding vs plain ``nn.Embedding``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from llmprep.bench.corpora import Corpus
from llmprep.bench.timing import interleaved, summarize

__all__ = ["BATCH", "run_batches", "run_gpu", "torch_available"]

#: The chapter's create_dataloader_v1 defaults (batch_size, max_length, stride).
BATCH = (4, 256, 128)


def torch_available() -> str | None:
    """None when torch can be imported, else why not."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return 'PyTorch is not installed (pip install "llmprep[torch]")'
    return None


def _row(suite: str, corpus: str, tool: str, what: str, unit: str, count: int, times: list[float]) -> dict[str, Any]:
    summary = summarize(times)
    return {
        "suite": suite,
        "corpus": corpus,
        "tool": tool,
        "measure": what,
        "unit": unit,
        "count": count,
        "times_s": times,
        "median_s": summary.median,
        "min_s": summary.min,
        "max_s": summary.max,
        "spread": summary.spread,
        "per_s": count / summary.median,
    }


def _drain(loader: Iterable[Any]) -> int:
    n = 0
    for _ in loader:
        n += 1
    return n


def run_batches(
    corpora: list[Corpus], repeats: int, warmup: int, tick: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Construction time and batches/s per corpus, GPT-2 ids, the chapter's defaults, no shuffling."""
    import tiktoken
    import torch

    import llmprep
    from llmprep import _chapter
    from llmprep.data import create_dataloader

    batch_size, max_length, stride = BATCH
    reference, ours = tiktoken.get_encoding("gpt2"), llmprep.get_encoding("gpt2")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    for corpus in corpora:
        text = corpus.text

        def chapter_loader(text: str = text) -> Any:
            return _chapter.create_dataloader_v1(text, reference, batch_size, max_length, stride, shuffle=False)

        def our_loader(text: str = text) -> Any:
            return create_dataloader(text, batch_size, max_length, stride, shuffle=False, tokenizer=ours)

        chapter, mine = chapter_loader(), our_loader()
        n = 0
        same = True
        for a, b in zip(chapter, mine):
            same = same and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            n += 1
        if not same or n != len(mine) or n != len(chapter):
            notes.append(f"batches: {corpus.name}: create_dataloader's batches differ from the chapter's; not timed")
            tick(f"batches {corpus.name}")
            continue
        if n == 0:
            notes.append(f"batches: {corpus.name} is too short for one batch of {batch_size} x {max_length}; skipped")
            tick(f"batches {corpus.name}")
            continue
        what = f"batch {batch_size}, max_length {max_length}, stride {stride}, shuffle=False"
        build = interleaved({"chapter": chapter_loader, "llmprep": our_loader}, repeats, warmup)
        loaders: dict[str, Iterable[Any]] = {"chapter": chapter, "llmprep": mine}
        epoch = interleaved({tool: functools.partial(_drain, loader) for tool, loader in loaders.items()}, repeats, 0)
        for tool, name in (("chapter", "create_dataloader_v1"), ("llmprep", "create_dataloader")):
            rows.append(
                _row(
                    "construction", corpus.name, tool, f"{name} from text ({what})", "bytes", corpus.nbytes, build[tool]
                )
            )
            rows.append(_row("epoch", corpus.name, tool, f"{name}: one epoch ({what})", "batches", n, epoch[tool]))
        tick(f"batches {corpus.name}")
    _ratios(rows)
    return rows, notes


def _ratios(rows: list[dict[str, Any]]) -> None:
    """vs_baseline: the chapter's median time / this row's, for the same suite and corpus."""
    base = {(r["suite"], r["corpus"]): r for r in rows if r["tool"] in ("chapter", "nn.Embedding")}
    for r in rows:
        b = base.get((r["suite"], r["corpus"]))
        r["vs_baseline"] = b["median_s"] / r["median_s"] if b is not None else None


def run_gpu(corpora: list[Corpus], repeats: int, warmup: int) -> tuple[list[dict[str, Any]], list[str]]:
    """On the CUDA device: one epoch of batches copied to the device (the chapter's loader vs ours with
    pinned memory), and GPTEmbedding forward+backward vs nn.Embedding + positions, GPT-2 small's shape."""
    import tiktoken
    import torch

    import llmprep
    from llmprep import _chapter
    from llmprep.data import create_dataloader
    from llmprep.nn import GPTEmbedding

    rows: list[dict[str, Any]] = []
    batch_size, max_length, stride = BATCH
    reference, ours = tiktoken.get_encoding("gpt2"), llmprep.get_encoding("gpt2")
    corpus = max(corpora, key=lambda c: c.nbytes)
    chapter = _chapter.create_dataloader_v1(corpus.text, reference, batch_size, max_length, stride, shuffle=False)
    mine = create_dataloader(
        corpus.text, batch_size, max_length, stride, shuffle=False, tokenizer=ours, pin_memory=True
    )

    def feed(loader: Iterable[Any]) -> int:
        n = 0
        for x, y in loader:
            x.to("cuda", non_blocking=True)
            y.to("cuda", non_blocking=True)
            n += 1
        torch.cuda.synchronize()
        return n

    n = len(mine)
    if n:
        times = interleaved({"chapter": lambda: feed(chapter), "llmprep": lambda: feed(mine)}, repeats, warmup)
        for tool in times:
            rows.append(_row("to device", corpus.name, tool, "one epoch of batches copied to cuda", "batches", n,
                             times[tool]))  # fmt: skip

    vocab, dim, length, batch = 50257, 768, 1024, 8
    torch.manual_seed(0)
    embedding = GPTEmbedding(vocab, dim, length, device="cuda")
    token = torch.nn.Embedding(vocab, dim, device="cuda")
    position = torch.nn.Embedding(length, dim, device="cuda")
    token.weight.data.copy_(embedding.token.weight.data)
    position.weight.data.copy_(embedding.position.weight.data)
    ids = torch.randint(0, vocab, (batch, length), device="cuda")
    positions = torch.arange(length, device="cuda")
    notes = []
    if not torch.equal(embedding(ids), token(ids) + position(positions)):
        notes.append("gpu: GPTEmbedding's output differs from nn.Embedding's; not timed")
        return rows, notes

    def step(fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for p in (*embedding.parameters(), *token.parameters(), *position.parameters()):
                p.grad = None
            fn().sum().backward()
            torch.cuda.synchronize()

        return run

    times = interleaved(
        {"nn.Embedding": step(lambda: token(ids) + position(positions)), "llmprep": step(lambda: embedding(ids))},
        max(repeats, 5),
        max(warmup, 3),
    )
    for tool in times:
        rows.append(_row("embedding", "random ids", tool, f"forward+backward ({batch}, {length}, {dim})", "steps", 1,
                         times[tool]))  # fmt: skip
    _ratios(rows)
    return rows, notes
