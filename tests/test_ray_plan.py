"""The distributed planner without Ray: `corpus.plan_units` cuts inputs where the single-machine reader
would see the same documents, so the pieces, tokenized one file each and merged, are the
single-machine file byte for byte (the property every `--ray` run relies on)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmprep.corpus import (
    _expand_inputs,
    _jsonl_records,
    _lines_between,
    get_chunk_encoder,
    plan_units,
    tokenize_corpus,
    tokenize_pieces,
)
from llmprep.tokens import merge_token_files

_LINE = st.one_of(
    st.just(""),
    st.just("   "),
    st.builds(
        lambda t: json.dumps({"text": t}, ensure_ascii=False),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    ),
    st.builds(lambda n: json.dumps({"text": "x" * n}), st.integers(0, 300)),  # longer than a cut step
)


def _records(path: str, pieces) -> list[str]:
    texts = []
    for p in pieces:
        if p.byte_range is None:
            with open(path, "rb") as f:
                texts += [t for t, _, _ in _jsonl_records(f, path, "text", False)]
        else:
            lines = _lines_between(path, *p.byte_range)
            texts += [t for t, _, _ in _jsonl_records(lines, path, "text", False, base=p.byte_range[0])]
    return texts


@given(
    lines=st.lists(_LINE, max_size=30),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
    step=st.integers(1, 200),
)
def test_jsonl_cuts_keep_every_record_whole(tmp_path_factory, lines, newline, trailing, step) -> None:
    path = tmp_path_factory.mktemp("plan") / "c.jsonl"
    body = newline.join(lines) + (newline if trailing and lines else "")
    path.write_bytes(body.encode("utf-8"))
    sources = _expand_inputs([str(path)], None)
    pieces = plan_units(sources, "text", step)
    with open(path, "rb") as f:
        whole = [t for t, _, _ in _jsonl_records(f, str(path), "text", False)]
    assert _records(str(path), pieces) == whole
    ranges = [p.byte_range for p in pieces if p.byte_range is not None]
    if ranges:  # contiguous, covering the file, each starting at a line start
        assert ranges[0][0] == 0 and ranges[-1][1] == len(body.encode())
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        data = body.encode()
        assert all(r[0] == 0 or data[r[0] - 1 : r[0]] == b"\n" for r in ranges)


def test_pieces_merged_equal_the_single_machine_file(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"doc {i} " * (i % 17)}) + "\n" for i in range(300)))
    text = tmp_path / "b.txt"
    text.write_text("one text document, " * 100)
    inputs = [str(jsonl), str(text)]
    encoder = get_chunk_encoder("gpt2")
    tokenize_corpus(inputs, tmp_path / "one.tok", encoder)
    pieces = plan_units(_expand_inputs(inputs, None), "text", 1000)
    assert sum(p.byte_range is not None for p in pieces) > 5
    parts = []
    for i, piece in enumerate(pieces):
        parts.append(tmp_path / f"p{i:03d}.tok")
        tokenize_pieces([piece], parts[-1], encoder, num_threads=1, dtype="uint16")
    merge_token_files(parts, tmp_path / "merged.tok")
    assert (tmp_path / "merged.tok").read_bytes() == (tmp_path / "one.tok").read_bytes()


def test_parquet_pieces_are_row_groups(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'llmprep[parquet]')")
    import pyarrow.parquet as pq

    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(10)]}), path, row_group_size=4)
    pieces = plan_units(_expand_inputs([str(path)], None), "text", 1)
    assert [(p.first, p.stop) for p in pieces] == [(0, 4), (4, 8), (8, 10)]
    assert all(p.nbytes > 0 for p in pieces)
    with pytest.raises(ValueError, match="has no column 'body'"):
        plan_units(_expand_inputs([str(path)], None), "body", 1)


def test_stdin_cannot_be_planned() -> None:
    with pytest.raises(ValueError, match="stdin is not a regular file"):
        plan_units(_expand_inputs(["-"], None), "text", 1)


def test_default_task_width_is_the_smallest_node_with_cpus() -> None:
    # workers=0 under --ray: one task per node at a time, its threads sharing one piece cache.
    from llmprep.distributed import _smallest_node_cpus

    class FakeRay:
        def __init__(self, nodes: list[dict]) -> None:
            self._nodes = nodes

        def nodes(self) -> list[dict]:
            return self._nodes

    def node(cpus: float | None, alive: bool = True) -> dict:
        return {"Alive": alive, "Resources": {} if cpus is None else {"CPU": cpus}}

    assert _smallest_node_cpus(FakeRay([node(16), node(8), node(32)])) == 8
    # A head without CPUs (ray start --head --num-cpus=0) and dead nodes run no tasks.
    assert _smallest_node_cpus(FakeRay([node(0), node(None), node(2, alive=False), node(4)])) == 4
    assert _smallest_node_cpus(FakeRay([])) == 1


def test_nothing_inside_the_output_folder_is_an_input(tmp_path) -> None:
    # --ray's output folder, by (device, inode): a listed file in it is skipped, whatever path or
    # link leads there; an explicit input in it is an error.
    corpus = tmp_path / "corpus"
    out = corpus / "tok"
    out.mkdir(parents=True)
    (corpus / "a.txt").write_text("a story", encoding="utf-8")
    (out / "part-00000.tok").write_bytes(b"not text")
    (corpus / "link.txt").symlink_to(out / "part-00000.tok")
    listed = _expand_inputs([str(corpus)], None, output_folder=out)
    assert [Path(s.path).name for s in listed] == ["a.txt"]
    assert listed[0].size == 7 and listed[0].mtime_ns == (corpus / "a.txt").stat().st_mtime_ns
    for explicit in (out / "part-00000.tok", corpus / "link.txt"):
        with pytest.raises(ValueError, match="is inside the output folder"):
            _expand_inputs([str(explicit)], None, output_folder=out)
    # A folder that does not exist yet holds nothing.
    assert len(_expand_inputs([str(corpus)], None, output_folder=tmp_path / "new")) == 3


def test_records_are_json_with_a_line_per_key_and_per_listed_object(tmp_path) -> None:
    from llmprep.sources import write_record

    body = {"inputs": [{"path": "a\nb", "size": 1}, {"path": "ü", "size": 2}], "shards": ["x", "y"], "n": 3, "e": []}
    write_record(tmp_path / "r.json", body)
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert json.loads(text) == body
    assert len(text.splitlines()) == 2 + len(body) + 3  # braces, keys, the two objects and the list's end
    assert not list(tmp_path.glob(".*.tmp"))


def test_shard_pieces_travel_as_tuples_and_come_back_equal(tmp_path) -> None:
    # What a task receives (`_pack`, pickled) is every field of every piece and source: whole files,
    # JSONL byte ranges, counted documents, a file without a known size.
    import pickle

    from llmprep.corpus import InputPiece, _Source
    from llmprep.distributed import _pack, _unpack

    (tmp_path / "a.txt").write_text("a story", encoding="utf-8")
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(200)))
    pieces = plan_units(_expand_inputs([str(tmp_path / "a.txt"), str(jsonl)], None), "text", 500)
    assert any(p.byte_range is not None for p in pieces)
    pieces.append(InputPiece(_Source("x.jsonl", "jsonl", None, True, [3, 4, 5], None), 1, 2, None, 9))
    back = _unpack(pickle.loads(pickle.dumps(_pack(pieces))))
    assert back == pieces
    assert [type(p.source) for p in back] == [_Source] * len(pieces)


def test_a_shards_record_names_runs_of_whole_inputs_as_ranges(tmp_path) -> None:
    from llmprep.distributed import _describe

    for name in "abcde":
        (tmp_path / f"{name}.txt").write_text(f"story {name}", encoding="utf-8")
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(200)))
    names = [str(tmp_path / f"{n}.txt") for n in "abc"] + [str(jsonl)] + [str(tmp_path / f"{n}.txt") for n in "de"]
    sources = _expand_inputs(names, None)
    pieces = plan_units(sources, "text", 1000)
    index = {id(s): i for i, s in enumerate(sources)}
    described = _describe(pieces, index)["pieces"]
    assert described[0] == {"inputs": [0, 3]} and described[-1] == {"inputs": [4, 6]}
    cuts = described[1:-1]
    assert len(cuts) > 1 and all(c["input"] == 3 and len(c["bytes"]) == 2 for c in cuts)
    # Each input named once, in order.
    covered = [i for d in described for i in (range(*d["inputs"]) if "inputs" in d else [d["input"]])]
    assert sorted(set(covered)) == list(range(6)) and covered == sorted(covered)
