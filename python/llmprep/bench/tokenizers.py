"""The tokenizer suite: every encoding x corpus x thread count, each tool checked exact, then timed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmprep.bench.corpora import Corpus
from llmprep.bench.exactness import first_difference
from llmprep.bench.peers import Tool, Unavailable, Variant, reference_for, tools_for
from llmprep.bench.timing import interleaved, summarize

__all__ = ["comparisons", "run_tokenizers"]


def run_tokenizers(
    corpora: list[Corpus],
    encodings: list[str],
    threads: list[int],
    all_cores: int,
    repeats: int,
    warmup: int,
    tick: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the tokenizer suite, and the tools that could not run (one entry per encoding and tool).

    ``tick`` is called once per (encoding, corpus, thread count) with a description of the step.
    """
    rows: list[dict[str, Any]] = []
    absent: list[dict[str, Any]] = []
    for encoding in encodings:
        tools = tools_for(encoding)
        for name, tool in tools:
            if isinstance(tool, Unavailable):
                absent.append({"encoding": encoding, "tool": name, "status": tool.status, "detail": tool.detail})
        for corpus in corpora:
            try:
                reference = reference_for(encoding, tools, corpus)
            except RuntimeError as e:
                absent.append({"encoding": encoding, "tool": tools[0][0], "status": "not available", "detail": str(e)})
                for t in threads:
                    tick(f"{encoding} {corpus.name} {t} thread(s)")
                continue
            for t in threads:
                rows.extend(_one_step(encoding, corpus, t, all_cores, tools, reference, repeats, warmup))
                tick(f"{encoding} {corpus.name} {t} thread(s)")
    for i, row in enumerate(rows):
        row["id"] = i
    _add_baselines(rows)
    return rows, absent


def _one_step(
    encoding: str,
    corpus: Corpus,
    threads: int,
    all_cores: int,
    tools: list[tuple[str, Tool | Unavailable]],
    reference: dict[str, Any],
    repeats: int,
    warmup: int,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    timed: dict[str, tuple[Variant, dict[str, Any]]] = {}
    for _, tool in tools:
        if isinstance(tool, Unavailable):
            continue
        for v in tool.variants(corpus, threads, all_cores):
            row: dict[str, Any] = {
                "encoding": encoding,
                "corpus": corpus.name,
                "threads": threads,
                "tool": v.tool,
                "tool_version": tool.version,
                "api": v.api,
                "input": v.input,
                "output": v.output,
                "bytes": corpus.nbytes,
                "tokens": len(reference[v.input]),
                "status": "timed",
                "detail": v.detail,
                "first_difference": None,
                "times_s": [],
            }
            rows.append(row)
            if v.fn is None:
                row["status"] = "not available"
                continue
            try:
                diff = first_difference(v.to_ids(v.fn()), reference[v.input])
            except Exception as e:  # a peer that fails on this text is a row, not the end of the run
                row["status"] = "failed"
                row["detail"] = f"{type(e).__name__}: {e}"
                continue
            if diff is not None:
                row["status"] = "not exact"
                row["first_difference"] = diff
                row["detail"] = f"not exact at token offset {diff}: not timed"
                continue
            timed[f"{v.label} [{v.input}->{v.output}]"] = (v, row)
    times = interleaved({label: v.fn for label, (v, _) in timed.items() if v.fn is not None}, repeats, warmup)
    for label, (_, row) in timed.items():
        row["times_s"] = times[label]
        summary = summarize(times[label])
        row["median_s"] = summary.median
        row["min_s"] = summary.min
        row["max_s"] = summary.max
        row["spread"] = summary.spread
        row["mb_per_s"] = row["bytes"] / 1e6 / summary.median
        row["tokens_per_s"] = row["tokens"] / summary.median
    return rows


def _add_baselines(rows: list[dict[str, Any]]) -> None:
    """Each timed row's ratio to the reference tool (tiktoken; the chapter for ``simple``): the reference's
    fastest timed call on the same corpus at the same thread count (else at one thread)."""
    reference_tool = {"simple": "chapter"}
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in rows:
        if row["status"] != "timed" or row["tool"] != reference_tool.get(row["encoding"], "tiktoken"):
            continue
        key = (row["encoding"], row["corpus"], row["threads"])
        if key not in best or row["median_s"] < best[key]["median_s"]:
            best[key] = row
    for row in rows:
        row["baseline_id"] = None
        row["vs_baseline"] = None
        if row["status"] != "timed":
            continue
        base = best.get((row["encoding"], row["corpus"], row["threads"])) or best.get(
            (row["encoding"], row["corpus"], 1)
        )
        if base is not None:
            row["baseline_id"] = base["id"]
            row["vs_baseline"] = base["median_s"] / row["median_s"]


def comparisons(
    rows: list[dict[str, Any]], ours: str = "llmprep", peers: tuple[str, ...] = ("gigatoken",)
) -> list[dict[str, Any]]:
    """llmprep's fastest call against each peer's fastest, per encoding, corpus, thread count and output kind.

    ``ratio`` is the peer's median time / llmprep's: above 1, llmprep is faster.
    """
    fastest: dict[tuple[str, str, str, int, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] != "timed":
            continue
        key = (row["tool"], row["encoding"], row["corpus"], row["threads"], row["output"])
        if key not in fastest or row["median_s"] < fastest[key]["median_s"]:
            fastest[key] = row
    out = []
    for (tool, encoding, corpus, threads, output), mine in fastest.items():
        if tool != ours:
            continue
        for peer in peers:
            theirs = fastest.get((peer, encoding, corpus, threads, output))
            if theirs is None:
                continue
            out.append(
                {
                    "encoding": encoding,
                    "corpus": corpus,
                    "threads": threads,
                    "output": output,
                    "ours_id": mine["id"],
                    "peer": peer,
                    "peer_id": theirs["id"],
                    "ratio": theirs["median_s"] / mine["median_s"],
                }
            )
    return out
