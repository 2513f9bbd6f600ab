"""Reports of ``llmprep bench``: the terminal table, ``results.json`` and ``results.md``.

Every figure in the table and in ``results.md`` is derived from the raw times in ``results.json``
(MB/s = bytes / 1e6 / median seconds; ratio = the baseline's median / this median).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "markdown", "table", "write_json"]

#: Bumped when results.json changes incompatibly.
SCHEMA = "llmprep-bench/1"


def write_json(results: dict[str, Any], path: Path) -> None:
    """Writes ``results`` as indented UTF-8 JSON, atomically (a temporary file renamed into place)."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)


def _mbs(row: dict[str, Any]) -> str:
    value = row.get("mb_per_s")
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2g}"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _status(row: dict[str, Any]) -> str:
    if row["status"] == "timed":
        return f"exact, ±{row['spread'] * 50:.0f}%"
    detail = row.get("detail") or ""
    return detail if detail.startswith(row["status"]) else f"{row['status']}: {detail}" if detail else row["status"]


def _grid(header: list[str], body: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return lines + ["| " + " | ".join(cells) + " |" for cells in body]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    right = {i for i, h in enumerate(header) if h in ("MB/s", "x ref", "per s", "threads", "s", "peak RSS MB")}

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in body]


def _sections(results: dict[str, Any], markdown: bool) -> list[str]:
    out: list[str] = []
    head = "### " if markdown else ""
    rows = results["tokenizers"]
    encodings = list(dict.fromkeys(r["encoding"] for r in rows)) or results["settings"]["encodings"]
    for encoding in encodings:
        reference = "the chapter's SimpleTokenizerV2" if encoding == "simple" else "tiktoken"
        out += ["", f"{head}Tokenizers: {encoding} (MB/s: median of {results['settings']['repeats']}; "
                f"x ref: {reference}'s fastest call at the same thread count / this)", ""]  # fmt: skip
        body = [
            [r["corpus"], str(r["threads"]), r["tool"], r["api"], f"{r['input']} -> {r['output']}", _mbs(r),
             _ratio(r.get("vs_baseline")), _status(r)]
            for r in rows if r["encoding"] == encoding and r["status"] != "not available"
        ]  # fmt: skip
        out += _grid(
            ["corpus", "threads", "tool", "call", "input -> output", "MB/s", "x ref", "status"], body, markdown
        )
        for a in results["unavailable"]:
            if a["encoding"] == encoding:
                out.append(f"{'- ' if markdown else '  '}{a['tool']}: {a['status']} ({a['detail']})")
    comparisons = results["comparisons"]
    if comparisons:
        by_id = {r["id"]: r for r in rows}
        out += ["", f"{head}llmprep vs peers (peer's median time / llmprep's; above 1: llmprep is faster)", ""]
        body = [
            [c["encoding"], c["corpus"], str(c["threads"]), c["output"], by_id[c["ours_id"]]["api"],
             f"{c['peer']} {by_id[c['peer_id']]['api']}", _ratio(c["ratio"])]
            for c in comparisons
        ]  # fmt: skip
        out += _grid(["encoding", "corpus", "threads", "output", "llmprep", "peer", "x peer"], body, markdown)
    if results["pipeline"]:
        out += ["", f"{head}Pipeline: whole corpus to a token file, one process per run (median wall time)", ""]
        body = [
            [r["encoding"], str(r["threads"]), r["tool"],
             f"{r['median_s']:.2f}" if "median_s" in r else "-", _mbs(r),
             f"{r['peak_rss_max_bytes'] / 1e6:.0f}" if "peak_rss_max_bytes" in r else "-",
             _ratio(r.get("vs_baseline")), _status(r) if r["status"] != "timed" else "same ids"]
            for r in results["pipeline"]
        ]  # fmt: skip
        out += _grid(["encoding", "threads", "command", "s", "MB/s", "peak RSS MB", "x ref", "status"], body, markdown)
    batch_rows = results["batches"] + results["gpu"]
    if batch_rows:
        out += ["", f"{head}Batches (x ref: the chapter's / plain nn.Embedding's median time / this)", ""]
        body = [
            [r["suite"], r["corpus"], r["tool"], r["measure"],
             f"{r['per_s'] / 1e6:.1f} MB/s" if r["unit"] == "bytes" else f"{r['per_s']:,.1f} {r['unit']}/s",
             _ratio(r.get("vs_baseline"))]
            for r in batch_rows
        ]  # fmt: skip
        out += _grid(["suite", "corpus", "tool", "what", "per s", "x ref"], body, markdown)
    if results["notes"]:
        out += ["", f"{head}Notes", ""] + [f"- {n}" for n in results["notes"]]
    return out


def table(results: dict[str, Any]) -> str:
    """The terminal report (plain text)."""
    return "\n".join(_sections(results, markdown=False)).lstrip("\n")


def markdown(results: dict[str, Any]) -> str:
    """``results.md``: the command, the machine, the corpora and every table."""
    m = results["machine"]
    lines = [
        "# llmprep bench",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores ({m['logical_cpus']} logical), "
        f"{(m['memory_bytes'] or 0) / 2**30:.1f} GiB memory, Python {m['python']}"
        + (f", GPU {m['gpu']}" if m.get("gpu") else ""),
        "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v),
        "",
        f"Threads: {', '.join(map(str, results['settings']['threads']))}; repeats {results['settings']['repeats']}, "
        f"warm-up {results['settings']['warmup']}, tools alternating within each round.",
        "",
        "| corpus | bytes | documents | sha256 | origin |",
        "|---|---|---|---|---|",
    ]
    for c in results["corpora"]:
        cut = f" (first part of {c['truncated_from_bytes']:,} bytes)" if c["truncated_from_bytes"] else ""
        lines.append(f"| {c['name']} | {c['bytes']:,}{cut} | {c['documents']} | `{c['sha256'][:16]}` | {c['origin']} |")
    return "\n".join(lines + _sections(results, markdown=True)) + "\n"
