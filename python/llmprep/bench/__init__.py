"""``llmprep bench``: side-by-side, exactness-checked comparisons on the user's own corpus.

One module per concern: `machine` (what ran), `corpora` (what was measured), `timing` (how: warm-up,
alternating rounds, median and spread), `exactness`, `peers` (adapters for every tool), the suites
(`tokenizers`, `pipeline`, `batches`), `report` (table, JSON, Markdown) and `plots`. The developer
scripts in ``benchmarks/`` call the same code.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SUITES", "parse_encodings", "parse_threads", "run"]

SUITES = ("tokenizers", "pipeline", "batches")


def parse_threads(spec: str, all_cores: int) -> list[int]:
    """``"1,all"`` -> ``[1, all_cores]``: positive counts or ``all``, in the order given, without repeats.

    Raises:
        ValueError: an item is neither a positive integer nor ``all``.

    Example:
        >>> parse_threads("1,all", 8), parse_threads("4,2,4", 8)
        ([1, 8], [4, 2])
    """
    out: list[int] = []
    for item in spec.split(","):
        item = item.strip().lower()
        n = all_cores if item == "all" else int(item) if item.isdigit() else 0
        if n < 1:
            raise ValueError(
                f"--threads takes positive thread counts or 'all', comma-separated (e.g. 1,all), not {spec!r}"
            )
        if n not in out:
            out.append(n)
    return out


def parse_encodings(spec: str) -> list[str]:
    """``"gpt2,cl100k_base"`` -> names, each checked against llmprep's encodings (plus ``simple``).

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    from llmprep.encoding import list_encoding_names

    known = [*list_encoding_names(), "simple"]
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--encodings needs at least one name: {', '.join(known)}")
    for name in names:
        if name not in known:
            raise ValueError(f"unknown encoding {name!r} in --encodings: choose from {', '.join(known)}")
    return list(dict.fromkeys(names))


def parse_suites(spec: str) -> list[str]:
    """``"tokenizers,pipeline"`` -> suite names, checked.

    Raises:
        ValueError: an unknown suite.
    """
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for name in names:
        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r} in --suites: choose from {', '.join(SUITES)}")
    if not names:
        raise ValueError(f"--suites needs at least one of {', '.join(SUITES)}")
    return names


def run(
    corpus_paths: Sequence[str],
    *,
    encodings: Sequence[str] = ("gpt2",),
    threads: Sequence[int] = (1,),
    out: str | Path = "llmprep-bench",
    quick: bool = False,
    max_mb: float | None = None,
    suites: Sequence[str] = SUITES,
    repeats: int | None = None,
    command: str | None = None,
    on_total: Callable[[int], None] = lambda n: None,
    tick: Callable[[str], None] = lambda step: None,
) -> dict[str, Any]:
    """Runs the benchmark and writes ``results.json``, ``results.md`` and the plots into ``out``.

    Args:
        corpus_paths: UTF-8 text files; none: the chapter's story and a generated sample.
        encodings: names from `llmprep.list_encoding_names`, or ``simple`` (the chapter's word tokenizer).
        threads: thread counts to measure each tool at.
        out: the output folder (created; earlier results in it are replaced).
        quick: the first ~300 KB of each corpus, fewer repeats: a run of under a minute.
        max_mb: measure at most the first ``max_mb`` MB (10**6 bytes) of each corpus, cut at a line end
            (instead of --quick's 300 KB when both are given); the reports say "first part of".
        suites: any of ``tokenizers``, ``pipeline``, ``batches``.
        repeats: timed rounds per measurement (default 5, or 3 with ``quick``).
        command: the command line recorded in the reports.
        on_total: called once with the number of steps in the plan (a progress bar's total).
        tick: called after each step with its description.

    Returns:
        The results, as written to ``results.json``.

    Raises:
        FileNotFoundError: a corpus file is missing.
        ValueError: a corpus is not UTF-8 or empty, or an argument is out of range.
    """
    from llmprep.bench import batches, corpora, machine, pipeline, plots, report, tokenizers

    if repeats is not None and repeats < 1:
        raise ValueError(f"--repeats must be >= 1, not {repeats}")
    if max_mb is not None and not max_mb * 1e6 >= 1:  # also refuses NaN
        raise ValueError(f"--max-mb must be a size in MB of at least one byte (e.g. 100 or 0.5), not {max_mb}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} exists and is not a folder: give a folder for the results")
    notes: list[str] = []
    max_bytes = int(max_mb * 1e6) if max_mb is not None else corpora.QUICK_BYTES if quick else None
    if corpus_paths:
        texts = corpora.load_corpora(list(corpus_paths), max_bytes)
    else:
        texts, notes = corpora.default_corpora(max_bytes)
    option = f"--max-mb {max_mb:g}" if max_mb is not None else "--quick"
    for c in texts:
        if c.truncated_from is not None:
            notes.append(f"{option}: {c.name} measured on its first {c.nbytes:,} of {c.truncated_from:,} bytes")
    repeats = repeats or (3 if quick else 5)
    warmup = 1
    cores = machine.all_cores()
    encodings, threads = list(encodings), list(threads)
    torch_missing = batches.torch_available() if "batches" in suites else None
    bpe = [e for e in encodings if e != "simple"]
    plan = 0
    if "tokenizers" in suites:
        plan += len(encodings) * len(texts) * len(threads)
    if "pipeline" in suites:
        plan += len(bpe) * len(threads)
    if "batches" in suites and torch_missing is None:
        plan += len(texts)
    on_total(plan)
    started = time.time()
    results: dict[str, Any] = {
        "schema": report.SCHEMA,
        "command": command or "llmprep bench " + shlex.join(corpus_paths),
        "started_unix": started,
        "machine": machine.describe(),
        "settings": {
            "encodings": encodings,
            "threads": threads,
            "all_cores": cores,
            "quick": quick,
            "max_bytes": max_bytes,
            "repeats": repeats,
            "warmup": warmup,
            "suites": list(suites),
            "document_bytes": corpora.DOCUMENT_BYTES,
        },
        "corpora": [c.describe() for c in texts],
        "tokenizers": [],
        "unavailable": [],
        "comparisons": [],
        "pipeline": [],
        "batches": [],
        "gpu": [],
        "notes": notes,
        "plots": [],
    }
    if "tokenizers" in suites:
        rows, absent = tokenizers.run_tokenizers(texts, encodings, threads, cores, repeats, warmup, tick)
        results["tokenizers"], results["unavailable"] = rows, absent
        results["comparisons"] = tokenizers.comparisons(rows, peers=("gigatoken", "quicktok", "HF tokenizers"))
    if "pipeline" in suites:
        results["pipeline"], more = pipeline.run_pipeline(texts, encodings, threads, max(1, repeats - 2), tick)
        notes += more
    if "batches" in suites:
        if torch_missing is not None:
            notes.append(f"batches: skipped: {torch_missing}")
        else:
            results["batches"], more = batches.run_batches(texts, repeats, warmup, tick)
            notes += more
            import torch

            if torch.cuda.is_available():
                results["gpu"], more = batches.run_gpu(texts, repeats, warmup)
                notes += more
            else:
                notes.append("gpu: no CUDA device, so no device-feeding or embedding figures")
    results["seconds"] = time.time() - started
    folder.mkdir(parents=True, exist_ok=True)
    missing = plots.matplotlib_missing()
    if missing is None:
        results["plots"] = [p.name for p in plots.write_plots(results, folder)]
    else:
        notes.append(missing)
    report.write_json(results, folder / "results.json")
    (folder / "results.md").write_text(report.markdown(results), encoding="utf-8")
    return results
