"""`llmprep bench`: the command on a tiny corpus, its JSON and the arithmetic of every derived figure,
peers simulated absent or wrong, plots, and one-line errors on bad input. No timing assertions: the
figures are only checked against the raw times they come from."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest
from conftest import SANITIZER
from llmprep import cli
from llmprep.bench import machine, peers, timing
from llmprep.bench.corpora import Corpus, first_part, generated_sample, split_documents
from llmprep.bench.exactness import first_difference


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, verdict_text) -> Path:
    # The story twice (~40 KB, enough for a few batches of 4 x 256 tokens) plus non-ASCII lines.
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(verdict_text + "\nCafé naïve, Zürich 東京 1234.\n" + verdict_text, encoding="utf-8")
    return path


def bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    status = cli.main(["bench", *args, "--out", str(out), "--quick", "--repeats", "1", "--quiet"])
    assert status == 0
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def check_arithmetic(results: dict) -> None:
    """Every derived figure equals what the raw times in the JSON give."""
    rows = {r["id"]: r for r in results["tokenizers"]}
    for r in rows.values():
        if r["status"] != "timed":
            assert r["times_s"] == [] and "median_s" not in r
            continue
        assert len(r["times_s"]) == results["settings"]["repeats"]
        assert r["median_s"] == pytest.approx(statistics.median(r["times_s"]))
        assert (r["min_s"], r["max_s"]) == (min(r["times_s"]), max(r["times_s"]))
        assert r["mb_per_s"] == pytest.approx(r["bytes"] / 1e6 / r["median_s"])
        assert r["tokens_per_s"] == pytest.approx(r["tokens"] / r["median_s"])
        base = rows[r["baseline_id"]]
        assert base["tool"] == ("chapter" if r["encoding"] == "simple" else "tiktoken")
        assert r["vs_baseline"] == pytest.approx(base["median_s"] / r["median_s"])
    for c in results["comparisons"]:
        ours, theirs = rows[c["ours_id"]], rows[c["peer_id"]]
        assert ours["tool"] == "llmprep" and theirs["tool"] == c["peer"]
        assert c["ratio"] == pytest.approx(theirs["median_s"] / ours["median_s"])
    for r in results["pipeline"]:
        if "median_s" in r:
            assert r["mb_per_s"] == pytest.approx(r["bytes"] / 1e6 / statistics.median(r["times_s"]))
    for r in results["batches"]:
        assert r["per_s"] == pytest.approx(r["count"] / statistics.median(r["times_s"]))


def test_tokenizers_suite_json_schema_and_arithmetic(tmp_path, corpus) -> None:
    results = bench(tmp_path, str(corpus), "--threads", "1,2", "--suites", "tokenizers")
    assert results["schema"] == "llmprep-bench/1"
    assert results["command"].startswith(f"llmprep bench {corpus} --encodings gpt2 --threads 1,2")
    machine = results["machine"]
    for key in ("cpu_model", "logical_cpus", "usable_cores", "memory_bytes", "python", "libraries"):
        assert machine[key]
    assert machine["libraries"]["tiktoken"] and machine["libraries"]["numpy"]
    assert set(machine["thread_environment"]) >= {"LLMPREP_NUM_THREADS", "RAYON_NUM_THREADS"}
    (c,) = results["corpora"]
    data = corpus.read_bytes()
    import hashlib

    assert (c["bytes"], c["sha256"], c["truncated_from_bytes"]) == (len(data), hashlib.sha256(data).hexdigest(), None)
    assert results["settings"]["threads"] == [1, 2]
    tools = {(r["tool"], r["threads"]) for r in results["tokenizers"] if r["status"] == "timed"}
    assert {("tiktoken", 1), ("llmprep", 1), ("tiktoken", 2), ("llmprep", 2)} <= tools
    assert all(r["status"] in ("timed", "not available") for r in results["tokenizers"])
    check_arithmetic(results)
    out = tmp_path / "out"
    md = (out / "results.md").read_text(encoding="utf-8")
    assert results["command"] in md and c["sha256"][:16] in md and "llmprep" in md


def test_absent_peers_are_rows_saying_so(tmp_path, corpus, monkeypatch) -> None:
    for name in ("gigatoken", "quicktok", "tokenizers"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers", "--encodings", "cl100k_base")
    absent = {a["tool"]: a for a in results["unavailable"]}
    for tool in ("gigatoken", "quicktok", "HF tokenizers"):
        assert absent[tool]["status"] == "not installed" and "pip install" in absent[tool]["detail"]
    assert {r["tool"] for r in results["tokenizers"]} == {"tiktoken", "llmprep"}
    assert results["comparisons"] == []
    check_arithmetic(results)


@pytest.mark.parametrize(("module", "tool"), [("gigatoken", "gigatoken"), ("tokenizers", "HF tokenizers")])
def test_installed_peers_are_checked_and_timed(tmp_path, corpus, module, tool) -> None:
    pytest.importorskip(module)
    # "all", not 2: gigatoken runs on all cores or one, so it is timed at 2 threads only on 2 cores.
    results = bench(tmp_path, str(corpus), "--threads", "1,all", "--suites", "tokenizers")
    rows = [r for r in results["tokenizers"] if r["tool"] == tool]
    assert {r["threads"] for r in rows if r["status"] == "timed"} == {1, machine.all_cores()}
    assert all(r["status"] == "timed" for r in rows)
    assert any(c["peer"] == tool for c in results["comparisons"])
    check_arithmetic(results)


class WrongPeer(peers.Tool):
    """Returns tiktoken's ids with one id changed at token offset 7 (or the ids plus one extra)."""

    name = "wrong"

    def __init__(self, encoding: str, extra: bool = False) -> None:
        import tiktoken

        self.enc = tiktoken.get_encoding(encoding)
        self.extra = extra

    def variants(self, corpus, threads, all_cores):
        def wrong():
            ids = self.enc.encode_ordinary(corpus.text)
            if self.extra:
                return [*ids, 0]
            ids[7] += 1
            return ids

        return [peers.Variant(self.name, "encode", "text", "list", threads, wrong)]


def test_a_peer_with_different_ids_is_not_exact_and_not_timed(tmp_path, corpus, monkeypatch) -> None:
    monkeypatch.setitem(peers.PEERS, "wrong", WrongPeer)
    monkeypatch.setitem(peers.PEERS, "longer", lambda e: WrongPeer(e, extra=True))
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers")
    (wrong,) = [r for r in results["tokenizers"] if r["tool"] == "wrong" and r["api"] == "encode"][:1]
    assert wrong["status"] == "not exact" and wrong["first_difference"] == 7
    assert wrong["times_s"] == [] and "not exact at token offset 7" in wrong["detail"]
    longer = [r for r in results["tokenizers"] if r["status"] == "not exact" and r["first_difference"] != 7]
    assert len(longer) == 1 and longer[0]["first_difference"] == longer[0]["tokens"]
    md = (tmp_path / "out" / "results.md").read_text(encoding="utf-8")
    assert "not exact at token offset 7" in md
    check_arithmetic(results)


def test_a_failing_peer_is_a_row(tmp_path, corpus, monkeypatch) -> None:
    def broken(encoding):
        raise RuntimeError("cannot load")

    monkeypatch.setitem(peers.PEERS, "broken", broken)
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers")
    (row,) = [a for a in results["unavailable"] if a["tool"] == "broken"]
    assert row["status"] == "not available" and "cannot load" in row["detail"]


def test_simple_encoding_against_the_chapter(tmp_path, corpus) -> None:
    results = bench(tmp_path, str(corpus), "--threads", "1,2", "--suites", "tokenizers", "--encodings", "simple")
    timed = {(r["tool"], r["api"], r["threads"]) for r in results["tokenizers"] if r["status"] == "timed"}
    assert ("chapter", "SimpleTokenizerV2.encode", 1) in timed
    assert {("llmprep", "encode", 1), ("llmprep", "encode_to_numpy", 1), ("llmprep", "encode_batch", 2)} <= timed
    check_arithmetic(results)


def test_pipeline_and_batches_suites(tmp_path, corpus) -> None:
    pytest.importorskip("torch")
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "pipeline,batches")
    script, ours = results["pipeline"]
    assert (script["tool"], ours["tool"]) == ("script", "llmprep tokenize")
    for r in (script, ours):
        assert r["status"] == "timed" and len(r["times_s"]) == 1 and r["tokens"] > 10_000
        assert all(rss > 1_000_000 for rss in r["peak_rss_bytes"])
        assert r["peak_rss_max_bytes"] == max(r["peak_rss_bytes"])
    assert ours["vs_baseline"] == pytest.approx(script["median_s"] / ours["median_s"])
    kinds = {(r["suite"], r["tool"]) for r in results["batches"]}
    assert kinds == {(s, t) for s in ("construction", "epoch") for t in ("chapter", "llmprep")}
    check_arithmetic(results)


def test_batches_without_torch_is_a_note(tmp_path, corpus, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "batches")
    assert results["batches"] == []
    assert any("batches: skipped" in n and "PyTorch is not installed" in n for n in results["notes"])


def test_plots_written_when_matplotlib_is_present(tmp_path, corpus) -> None:
    pytest.importorskip("matplotlib")
    results = bench(tmp_path, str(corpus), "--threads", "1,2", "--suites", "tokenizers")
    assert set(results["plots"]) == {"throughput.png", "throughput.svg", "scaling.png", "scaling.svg"}
    for name in results["plots"]:
        assert (tmp_path / "out" / name).stat().st_size > 1000


def test_no_matplotlib_means_no_plots_and_a_note(tmp_path, corpus, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers")
    assert results["plots"] == [] and not list((tmp_path / "out").glob("*.png"))
    assert any("no plots" in n and "llmprep[bench]" in n for n in results["notes"])


# Under a sanitizer the generated sample is 50 KB (--max-mb), not --quick's 300 KB: these tests check which
# corpora and notes the bench picks (Python); the encoders' C++ runs on generated text in the tests above.
SAMPLE_ARGS, SAMPLE_NAME = (["--max-mb", "0.05"], "generated-50KB") if SANITIZER else ([], "generated-300KB")


def test_without_corpus_uses_the_story_and_a_generated_sample(tmp_path, verdict_path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "the-verdict.txt").write_bytes(verdict_path.read_bytes())
    monkeypatch.setenv("LLMPREP_CACHE_DIR", str(cache))
    results = bench(tmp_path, "--threads", "1", "--suites", "tokenizers", *SAMPLE_ARGS)
    names = [c["name"] for c in results["corpora"]]
    assert names == ["the-verdict.txt", SAMPLE_NAME]
    assert results["corpora"][0]["truncated_from_bytes"] is None
    assert "the chapter's story" in results["corpora"][0]["origin"]
    assert "generated" in results["corpora"][1]["origin"]
    assert any("no corpus given" in n for n in results["notes"])


def test_without_corpus_or_network_the_sample_alone_and_a_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LLMPREP_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("LLMPREP_STORY_URL", "file:///nonexistent/the-verdict.txt")
    results = bench(tmp_path, "--threads", "1", "--suites", "tokenizers", "--encodings", "simple", *SAMPLE_ARGS)
    assert [c["name"] for c in results["corpora"]] == [SAMPLE_NAME]
    assert any("story is not available" in n for n in results["notes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt"], "corpus file not found: missing.txt"),
        (["--encodings", "gpt3"], "unknown encoding 'gpt3' in --encodings"),
        (["--threads", "0"], "--threads takes positive thread counts or 'all'"),
        (["--threads", "1,two"], "--threads takes positive thread counts or 'all'"),
        (["--suites", "speed"], "unknown suite 'speed'"),
        (["--repeats", "0"], "--repeats must be >= 1"),
        (["--max-mb", "0"], "--max-mb must be a size in MB of at least one byte"),
        (["--max-mb", "-2"], "--max-mb must be a size in MB of at least one byte"),
        (["--max-mb", "nan"], "--max-mb must be a size in MB of at least one byte"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, args, message) -> None:
    status = cli.main(["bench", *args, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("llmprep: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(tmp_path, corpus, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    status = cli.main(["bench", str(corpus), "--out", str(target), "--quiet", "--suites", "tokenizers"])
    assert status == 1 and "is not a folder" in capsys.readouterr().err


def test_empty_or_invalid_corpus_is_an_error(tmp_path, capsys) -> None:
    empty, latin = tmp_path / "empty.txt", tmp_path / "latin.txt"
    empty.write_text("")
    latin.write_bytes("naïve".encode("latin-1"))
    assert cli.main(["bench", str(empty), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "is empty" in capsys.readouterr().err
    assert cli.main(["bench", str(latin), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "latin.txt" in capsys.readouterr().err


def test_interleaved_rotates_the_order_and_warms_up() -> None:
    calls: list[str] = []
    times = timing.interleaved({k: (lambda k=k: calls.append(k)) for k in "abc"}, repeats=3, warmup=2)
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [len(v) for v in times.values()] == [3, 3, 3]
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        timing.interleaved({"a": lambda: None}, repeats=0)


def test_summary_and_exactness() -> None:
    s = timing.summarize([4.0, 1.0, 2.0, 3.0])
    assert (s.median, s.min, s.max, s.spread) == (2.5, 1.0, 4.0, 1.2)
    import numpy as np

    assert first_difference(np.array([1, 2, 3], dtype=np.uint32), [[1, 2], [3]]) is None
    assert first_difference([[1, 2], [4]], [1, 2, 3]) == 2
    assert first_difference([], []) is None and first_difference([], [1]) == 0


def test_documents_join_to_the_text_and_the_sample_is_reproducible() -> None:
    text = generated_sample(50_000)
    assert text == generated_sample(50_000) and len(text.encode()) >= 50_000
    docs = split_documents(text, 4096)
    assert "".join(docs) == text and len(docs) > 5


@pytest.mark.parametrize("name", ["llmprep.bench", "llmprep.bench.timing", "llmprep.bench.exactness"])
def test_doctests(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_max_mb_is_parsed_and_not_a_number_is_argparses_error(capsys) -> None:
    parser = cli._parser()
    assert parser.parse_args(["bench", "--max-mb", "0.5"]).max_mb == 0.5
    assert parser.parse_args(["bench"]).max_mb is None
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["bench", "--max-mb", "lots"])
    assert exit_info.value.code == 2 and "invalid float value: 'lots'" in capsys.readouterr().err


def test_first_part_ends_at_a_line_end_within_the_limit() -> None:
    lines = [f"line {i} caf\u00e9 \u6771\u4eac\n" for i in range(200)]
    corpus = Corpus("c.txt", "".join(lines), "file")
    ends = [len("".join(lines[: i + 1]).encode()) for i in range(200)]
    for limit in (ends[0], ends[0] + 1, ends[10] - 1, ends[10], ends[150] + 7):
        cut = first_part(corpus, limit)
        assert cut.nbytes == max(e for e in ends if e <= limit)  # the longest run of whole lines that fits
        assert corpus.text.startswith(cut.text) and cut.text.endswith("\n")
        assert (cut.truncated_from, cut.name, cut.origin) == (corpus.nbytes, "c.txt", "file")
    assert first_part(corpus, corpus.nbytes) is corpus and first_part(corpus, None) is corpus
    # No line end in the first part: cut after the last whole character (never inside one's UTF-8 bytes).
    one_line = Corpus("x", "\u6771" * 100, "file")
    assert first_part(one_line, 10).text == "\u6771" * 3


def test_max_mb_cuts_each_corpus_and_results_record_it(tmp_path, corpus) -> None:
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers", "--max-mb", "0.01")
    (c,) = results["corpora"]
    data = corpus.read_bytes()
    assert c["truncated_from_bytes"] == len(data) and 9_000 < c["bytes"] <= 10_000
    assert data[: c["bytes"]].endswith(b"\n")  # whole lines
    assert results["settings"]["max_bytes"] == 10_000
    assert "--max-mb 0.01" in results["command"]
    assert any(n.startswith("--max-mb 0.01: tiny.txt measured on its first") for n in results["notes"])
    assert {r["bytes"] for r in results["tokenizers"]} == {c["bytes"]}
    md = (tmp_path / "out" / "results.md").read_text(encoding="utf-8")
    assert f"{c['bytes']:,} (first part of {len(data):,} bytes)" in md


def test_quick_keeps_its_300_kb_cut(tmp_path, corpus) -> None:
    results = bench(tmp_path, str(corpus), "--threads", "1", "--suites", "tokenizers", "--encodings", "simple")
    assert results["settings"]["max_bytes"] == 300_000 and results["settings"]["quick"] is True
    assert results["corpora"][0]["truncated_from_bytes"] is None  # the tiny corpus fits whole
