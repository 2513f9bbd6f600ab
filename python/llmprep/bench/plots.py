"""Plots of ``llmprep bench`` (matplotlib, the ``llmprep[bench]`` extra): throughput per tool per corpus,
and throughput against the thread count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["matplotlib_missing", "write_plots"]


def matplotlib_missing() -> str | None:
    """None when matplotlib can be imported, else a note saying how to get plots."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return 'no plots: matplotlib is not installed (pip install "llmprep[bench]")'
    return None


def write_plots(results: dict[str, Any], folder: Path) -> list[Path]:
    """Writes throughput.png/.svg and, with more than one thread count, scaling.png/.svg; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    rows = results["tokenizers"]
    written: list[Path] = []
    if not rows:
        return written
    # Throughput: each tool's fastest timed call per (encoding, corpus) at one thread (else the fewest
    # threads measured); tools that were not exact are marked at the axis with an x.
    threads = min(r["threads"] for r in rows)
    groups = list(dict.fromkeys((r["encoding"], r["corpus"]) for r in rows))
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * len(tools) / 2), 4.5))
    width = 0.8 / max(len(tools), 1)
    floor = min((r["mb_per_s"] for r in rows if r["status"] == "timed"), default=1.0) / 2
    for j, tool in enumerate(tools):
        xs, ys, bad = [], [], []
        for i, (encoding, corpus) in enumerate(groups):
            mine = [r for r in rows if (r["encoding"], r["corpus"], r["tool"], r["threads"]) ==
                    (encoding, corpus, tool, threads)]  # fmt: skip
            timed = [r["mb_per_s"] for r in mine if r["status"] == "timed"]
            x = i + (j - (len(tools) - 1) / 2) * width
            if timed:
                xs.append(x)
                ys.append(max(timed))
            elif any(r["status"] == "not exact" for r in mine):
                bad.append(x)
        bars = ax.bar(xs, ys, width, label=tool)
        if bad:
            ax.scatter(bad, [floor] * len(bad), marker="x", color=bars.patches[0].get_facecolor() if xs else "k",
                       label=f"{tool}: not exact", zorder=3)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{c}\n{e}" for e, c in groups], fontsize=8)
    ax.set_ylabel("MB/s (median, log scale)")
    ax.set_title(f"Tokenizer throughput, {threads} thread(s), exactness-checked against the reference")
    ax.legend(fontsize=8)
    written += _save(fig, folder, "throughput")

    counts = sorted({r["threads"] for r in rows})
    encodings = list(dict.fromkeys(r["encoding"] for r in rows))
    if len(counts) > 1:
        fig, axes = plt.subplots(len(encodings), 1, figsize=(9.0, 3.2 * len(encodings)), squeeze=False)
        for ax, encoding in zip(axes[:, 0], encodings):
            # One line per (tool, call, input->output): bytes of all corpora / summed median time.
            lines: dict[str, dict[int, tuple[int, float]]] = {}
            for r in rows:
                if r["status"] != "timed" or r["encoding"] != encoding:
                    continue
                key = f"{r['tool']} {r['api']} ({r['input']}->{r['output']})"
                nbytes, seconds = lines.setdefault(key, {}).get(r["threads"], (0, 0.0))
                lines[key][r["threads"]] = (nbytes + r["bytes"], seconds + r["median_s"])
            for key, points in lines.items():
                if len(points) > 1:
                    seen = sorted(points)
                    ax.plot(seen, [points[t][0] / 1e6 / points[t][1] for t in seen], marker="o", label=key)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(counts)
            ax.set_xticklabels([str(c) for c in counts])
            ax.set_xlabel("threads")
            ax.set_ylabel("MB/s, all corpora")
            ax.set_title(f"Scaling with threads: {encoding}")
            ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1.0), loc="upper left")
        written += _save(fig, folder, "scaling")
    return written


def _save(fig: Any, folder: Path, stem: str) -> list[Path]:
    """Writes the figure as STEM.png and STEM.svg in folder, closes it, and returns the two paths."""
    import matplotlib.pyplot as plt

    paths = [folder / f"{stem}.{suffix}" for suffix in ("png", "svg")]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths
