"""The tokenize pipeline in-process: identical bytes for every engine, thread count, chunk and
batch size; the policy around encodings and inputs."""

from __future__ import annotations

import json
import random

import llmprep
import numpy as np
import pytest
from llmprep import _core
from llmprep.corpus import get_chunk_encoder, parse_shard, tokenize_corpus


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, verdict_path):
    """A story, a JSONL file with awkward records, and text with Unicode whitespace and contractions."""
    root = tmp_path_factory.mktemp("mixed")
    (root / "a.txt").write_bytes(verdict_path.read_bytes())
    records = ["", "x", "  leading spaces", "tab\tand\u3000ideographic space", "they'll've 1234567 ---", "😀" * 50]
    (root / "b.jsonl").write_text("".join(json.dumps({"text": r}) + "\n" for r in records), encoding="utf-8")
    (root / "c.txt").write_text(("word  \n\n\u00a0 it's 'Tis Ünïcödé \u2028 end!!! " * 300), encoding="utf-8")
    return root


def test_every_setting_gives_the_same_bytes(mixed, tmp_path, tiktoken_gpt2) -> None:
    reference = tmp_path / "ref.tok"
    tokenize_corpus([str(mixed)], reference, get_chunk_encoder("gpt2", engine="tiktoken"), workers=1)
    expected = reference.read_bytes()
    ours = get_chunk_encoder("gpt2")
    for workers, chunk_bytes, batch_bytes in [(1, 1 << 18, None), (2, 64, 1024), (3, 7, 200), (2, 1, 50)]:
        out = tmp_path / f"{workers}-{chunk_bytes}.tok"
        stats = tokenize_corpus(
            [str(mixed)], out, ours, workers=workers, chunk_bytes=chunk_bytes, batch_bytes=batch_bytes
        )
        assert out.read_bytes() == expected, (workers, chunk_bytes, batch_bytes)
        assert stats.documents == 8
    tf = llmprep.open_tokens(reference)
    jsonl_docs = [json.loads(line)["text"] for line in (mixed / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [(mixed / "a.txt").read_text(encoding="utf-8"), *jsonl_docs, (mixed / "c.txt").read_text(encoding="utf-8")]
    assert [tf.document(i).tolist() for i in range(tf.n_documents)] == [
        tiktoken_gpt2.encode_ordinary(t) + [50256] for t in texts
    ]


def test_r50k_base_is_gpt2_under_its_own_name(mixed, tmp_path) -> None:
    a, b = tmp_path / "a.tok", tmp_path / "b.tok"
    tokenize_corpus([str(mixed / "a.txt")], a, get_chunk_encoder("gpt2"))
    tokenize_corpus([str(mixed / "a.txt")], b, get_chunk_encoder("r50k_base"))
    assert llmprep.open_tokens(b).encoding == "r50k_base"
    assert llmprep.open_tokens(a).tokens.tolist() == llmprep.open_tokens(b).tokens.tolist()


def test_rerun_into_the_corpus_folder_skips_its_own_output(mixed, tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes((mixed / "a.txt").read_bytes())
    first = tokenize_corpus([str(corpus)], corpus / "out.tok", get_chunk_encoder("gpt2"))
    with pytest.raises(FileExistsError, match="already exists"):
        tokenize_corpus([str(corpus)], corpus / "out.tok", get_chunk_encoder("gpt2"))
    second = tokenize_corpus([str(corpus)], corpus / "out.tok", get_chunk_encoder("gpt2"), overwrite=True)
    assert first.documents == second.documents == 1 and first.tokens == second.tokens


def test_v1_vocabulary_unknown_word_is_a_clear_error(tmp_path) -> None:
    vocab = tmp_path / "v1.json"
    llmprep.SimpleTokenizer({"hello": 0, "<|endoftext|>": 1}).save(vocab)
    text = tmp_path / "t.txt"
    text.write_text("hello world")
    with pytest.raises(ValueError, match="word 'world' is not in the vocabulary .* no <.unk.>"):
        tokenize_corpus([str(text)], tmp_path / "o.tok", get_chunk_encoder("simple", vocab))
    assert not (tmp_path / "o.tok").exists()
    llmprep.SimpleTokenizer({"hello": 0}).save(vocab, overwrite=True)
    with pytest.raises(ValueError, match="no <.endoftext.> token: add it, or pass --no-eot"):
        tokenize_corpus([str(text)], tmp_path / "o.tok", get_chunk_encoder("simple", vocab))


def test_argument_checks(tmp_path) -> None:
    with pytest.raises(ValueError, match="--vocab is only for --encoding simple"):
        get_chunk_encoder("gpt2", tmp_path / "v.json")
    with pytest.raises(ValueError, match="engine must be"):
        get_chunk_encoder("gpt2", engine="hf")
    for bad in ("1/1", "a/b", "2", "-1/3"):
        with pytest.raises(ValueError, match="--shard must be I/N"):
            parse_shard(bad)
    assert parse_shard(" 2 / 5 ") == (2, 5)
    with pytest.raises(ValueError, match="stdin .* only once"):
        tokenize_corpus(["-", "-"], tmp_path / "o.tok", get_chunk_encoder("gpt2"))
    with pytest.raises(ValueError, match="--shard needs regular files"):
        tokenize_corpus(["-"], tmp_path / "o.tok", get_chunk_encoder("gpt2"), shard=(0, 2))


def test_vocabulary_ids_must_fit_a_token_file(tmp_path) -> None:
    vocab = tmp_path / "huge.json"
    llmprep.SimpleTokenizer({"a": 0, "b": 2**32}).save(vocab)
    with pytest.raises(ValueError, match="ids from 0 to 2..32 - 1; the vocabulary has 4294967296"):
        get_chunk_encoder("simple", vocab)


def test_a_named_pipe_is_an_input(tmp_path, tiktoken_gpt2) -> None:
    import os
    import threading

    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    text = "streamed through a pipe, like <(zcat corpus.gz)\n" * 1000

    def feed() -> None:
        with open(fifo, "w", encoding="utf-8") as f:
            f.write(text)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        stats = tokenize_corpus([str(fifo)], tmp_path / "o.tok", get_chunk_encoder("gpt2"), chunk_bytes=100)
    finally:
        writer.join(timeout=60)
    assert stats.bytes == len(text)
    assert llmprep.open_tokens(tmp_path / "o.tok").tokens.tolist() == tiktoken_gpt2.encode_ordinary(text) + [50256]


def test_file_dtype_is_the_narrowest_unless_forced() -> None:
    from llmprep.corpus import check_options, file_dtype

    gpt2 = get_chunk_encoder("gpt2")
    assert file_dtype(gpt2, "auto", eot=True) == "uint16"  # its largest id, 50256, fits
    assert file_dtype(gpt2, "uint32", eot=True) == "uint32"
    assert file_dtype(get_chunk_encoder("cl100k_base"), "auto", eot=True) == "uint32"
    for bad in ("int64", "uint8", "nonsense"):
        with pytest.raises(ValueError, match=f"token files hold uint16 or uint32 ids, not {bad}"):
            check_options("strict", bad)


def test_the_encoder_threads_keep_what_they_learned_across_calls(mixed, tmp_path) -> None:
    # The piece cache lives on the thread that calls the encoder: tokenize calls in a row (a Ray
    # worker's shards) use the same long-lived threads, so the second call starts from the first's
    # cache. A call with another number of workers gets threads of its own.
    from llmprep import corpus
    from llmprep._core import _testing

    enc = get_chunk_encoder("gpt2")
    core = enc._enc._core  # type: ignore[attr-defined]
    tokenize_corpus([str(mixed / "a.txt")], tmp_path / "1.tok", enc, workers=1)
    threads = corpus._encoder_threads
    assert threads is not None
    learned = threads.submit(_testing.piece_cache_stats, core).result()["size"]
    assert learned > 1000
    tokenize_corpus([str(mixed / "c.txt")], tmp_path / "2.tok", enc, workers=1)
    assert corpus._encoder_threads is threads
    assert threads.submit(_testing.piece_cache_stats, core).result()["size"] > learned
    tokenize_corpus([str(mixed)], tmp_path / "3.tok", enc, workers=2, batch_bytes=1 << 16)
    two = corpus._encoder_threads
    assert two is not threads and two is not None
    tokenize_corpus([str(mixed)], tmp_path / "4.tok", enc, workers=2, batch_bytes=1 << 16)
    assert corpus._encoder_threads is two
    assert (tmp_path / "3.tok").read_bytes() == (tmp_path / "4.tok").read_bytes()


class _Watched:
    """A ChunkEncoder that records how many threads each batch was given and how many batches ran
    at once. ``meet``: the first ``meet`` batches wait until all of them run at once (a pipeline
    that runs fewer at a time fails with BrokenBarrierError). ``fail_at``: that batch raises, and
    the ones after it take long enough to be still running when its error surfaces."""

    def __init__(self, inner, meet: int = 0, fail_at: int | None = None) -> None:
        import threading

        self._inner = inner
        self._lock = threading.Lock()
        self._running = 0
        self._meet = threading.Barrier(meet, timeout=30) if meet > 1 else None
        self.fail_at = fail_at
        self.calls: list[int] = []
        self.most_at_once = 0
        self.name, self.vocab_size, self.eot_token = inner.name, inner.vocab_size, inner.eot_token
        self.cut_rule = inner.cut_rule

    @property
    def running(self) -> int:
        return self._running

    def encode_chunks(self, chunks, num_threads):
        return self._inner.encode_chunks(chunks, num_threads)

    def decode(self, ids):
        return self._inner.decode(ids)

    def encode_documents(self, chunks, doc_ends, eot, dtype, num_threads, blocks=None):
        import time

        with self._lock:
            index = len(self.calls)
            self.calls.append(num_threads)
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            if self._meet is not None and index < self._meet.parties:
                self._meet.wait()
            if self.fail_at is not None and index > self.fail_at:
                time.sleep(0.3)
            if index == self.fail_at:
                raise RuntimeError("batch failed")
            return self._inner.encode_documents(chunks, doc_ends, eot, dtype, num_threads, blocks)
        finally:
            with self._lock:
                self._running -= 1


@pytest.fixture(scope="module")
def forty(tmp_path_factory, verdict_path):
    """Forty small files cut from the story: forty batches when a batch holds 2 KiB."""
    root = tmp_path_factory.mktemp("forty")
    story = verdict_path.read_text(encoding="utf-8")
    for i in range(40):
        (root / f"{i:02d}.txt").write_text(story[i * 400 : i * 400 + 3000], encoding="utf-8")
    return root


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_batches_go_one_per_thread_and_the_last_takes_the_idle_ones(mixed, forty, tmp_path, workers) -> None:
    # Each batch is encoded on one thread (share nothing: caches of their own), at most `workers`
    # at once; the last batch also gets the threads the others left idle, so an input of one batch
    # uses every worker. The bytes are those of one worker.
    enc = get_chunk_encoder("gpt2")
    tokenize_corpus([str(forty)], tmp_path / "ref.tok", enc, workers=1)
    many = _Watched(enc, meet=workers)
    tokenize_corpus([str(forty)], tmp_path / "many.tok", many, workers=workers, batch_bytes=2048)
    assert (tmp_path / "many.tok").read_bytes() == (tmp_path / "ref.tok").read_bytes()
    assert len(many.calls) >= 40  # (a document that ends a batch has its end in the next one)
    assert all(n == 1 for n in many.calls[:-1])
    assert 1 <= many.calls[-1] <= workers
    assert many.most_at_once == workers
    one = _Watched(enc)
    tokenize_corpus([str(mixed / "a.txt")], tmp_path / "one.tok", one, workers=workers)
    assert one.calls == [workers]


def test_a_failed_batch_leaves_no_other_batch_running(forty, tmp_path) -> None:
    # The error surfaces once the batches before it are written; batches queued behind it are
    # cancelled and the running ones finished before the call returns: nothing writes into the
    # discarded output's blocks, nothing is left queued for the next call, and no file remains.
    enc = get_chunk_encoder("gpt2")
    watched = _Watched(enc, meet=3, fail_at=5)
    with pytest.raises(RuntimeError, match="batch failed"):
        tokenize_corpus([str(forty)], tmp_path / "bad.tok", watched, workers=3, batch_bytes=2048)
    assert watched.running == 0
    assert 6 <= len(watched.calls) < 40
    assert not (tmp_path / "bad.tok").exists()
    tokenize_corpus([str(forty)], tmp_path / "ok.tok", enc, workers=3, batch_bytes=2048)
    tokenize_corpus([str(forty)], tmp_path / "ref.tok", enc, workers=1)
    assert (tmp_path / "ok.tok").read_bytes() == (tmp_path / "ref.tok").read_bytes()


def test_concurrent_and_failed_calls_each_get_their_own_bytes(mixed, tmp_path) -> None:
    import threading

    enc = get_chunk_encoder("gpt2")
    tokenize_corpus([str(mixed)], tmp_path / "ref.tok", enc, workers=1)
    expected = (tmp_path / "ref.tok").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.txt").write_bytes((mixed / "a.txt").read_bytes())
    (bad / "b.txt").write_bytes(b"fine text " * 50_000 + b"\xff")
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            tokenize_corpus([str(mixed)], tmp_path / f"{i}.tok", enc, workers=1 + i % 2, batch_bytes=4096)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    # A call that fails half-way (invalid UTF-8 in its second file) while the others run...
    with pytest.raises(llmprep.InvalidUTF8Error):
        tokenize_corpus([str(bad)], tmp_path / "bad.tok", enc, workers=2, batch_bytes=4096)
    for t in threads:
        t.join()
    assert not errors
    assert all((tmp_path / f"{i}.tok").read_bytes() == expected for i in range(4))
    assert not (tmp_path / "bad.tok").exists()
    # ... leaves nothing queued on the shared thread: the next call is exact.
    tokenize_corpus([str(mixed)], tmp_path / "after.tok", enc, workers=2)
    assert (tmp_path / "after.tok").read_bytes() == expected


def test_a_forked_child_tokenizes_without_the_parents_thread(mixed, tmp_path) -> None:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    enc = get_chunk_encoder("gpt2")
    tokenize_corpus([str(mixed)], tmp_path / "parent.tok", enc, workers=2)
    child = multiprocessing.get_context("fork").Process(
        target=tokenize_corpus, args=([str(mixed)], tmp_path / "child.tok", enc), kwargs={"workers": 2}
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert (tmp_path / "child.tok").read_bytes() == (tmp_path / "parent.tok").read_bytes()


def test_a_small_file_that_grew_since_planning_is_read_whole(tmp_path, tiktoken_gpt2) -> None:
    # Small files are read at once as one chunk; one that grew past the chunk size after planning
    # is streamed like any other, and nothing of it is lost.
    from llmprep.corpus import plan_inputs

    story = tmp_path / "in" / "story.txt"
    story.parent.mkdir()
    story.write_text("It had always been", encoding="utf-8")
    other = tmp_path / "in" / "z.txt"
    other.write_text("small and done", encoding="utf-8")
    planned = plan_inputs([str(story.parent)], tmp_path / "out.tok")
    grown = "It had always been " + "rather a shock to me. " * 200
    story.write_text(grown, encoding="utf-8")
    enc = get_chunk_encoder("gpt2")
    tokenize_corpus([str(story.parent)], tmp_path / "out.tok", enc, workers=1, chunk_bytes=64, planned=planned)
    tf = llmprep.open_tokens(tmp_path / "out.tok")
    assert tf.document(0).tolist() == tiktoken_gpt2.encode_ordinary(grown) + [50256]
    assert tf.document(1).tolist() == tiktoken_gpt2.encode_ordinary("small and done") + [50256]


def test_a_small_file_compressed_since_planning_is_decompressed(tmp_path, tiktoken_gpt2) -> None:
    # A small plain file is read with one read; what it holds now decides, not what planning saw.
    import gzip

    from llmprep.corpus import plan_inputs

    story = tmp_path / "in" / "story.txt"
    story.parent.mkdir()
    text = "It had always been rather a shock to me. " * 20
    story.write_text(text, encoding="utf-8")
    planned = plan_inputs([str(story.parent)], tmp_path / "out.tok")
    story.write_bytes(gzip.compress(text.encode()))
    tokenize_corpus([str(story.parent)], tmp_path / "out.tok", get_chunk_encoder("gpt2"), workers=1, planned=planned)
    assert llmprep.open_tokens(tmp_path / "out.tok").document(0).tolist() == tiktoken_gpt2.encode_ordinary(text) + [
        50256
    ]


def _joined_reference(chunk_ids, doc_ends, eot):
    """Each chunk's ids in order, eot after each document, and the documents' end offsets."""
    ids, ends, d = [], [], 0
    for k in range(len(chunk_ids) + 1):
        while d < len(doc_ends) and doc_ends[d] == k:
            ids += [] if eot is None else [eot]
            ends.append(len(ids))
            d += 1
        if k < len(chunk_ids):
            ids += chunk_ids[k]
    return ids, ends


@pytest.mark.parametrize(("name", "dtype"), [("gpt2", "uint16"), ("cl100k_base", "uint32"), ("o200k_base", "uint32")])
def test_encode_documents_joins_what_each_chunk_encodes_to(name, dtype, verdict_path) -> None:
    # One block of a token file per batch (the pipeline writes it with one call): a chunk of 1.5 MB
    # is encoded in parts on two threads, and its parts are joined in order.
    enc = llmprep.get_encoding(name)
    story = verdict_path.read_text(encoding="utf-8")
    rng = random.Random(3)
    texts = ["", story, "x", story * 75, " it's 😀 \u3000 ", "", story[:1000]]
    chunks = [t.encode() for t in texts]
    chunk_ids = [enc.encode_ordinary(t) for t in texts]
    encoder = get_chunk_encoder(name)
    for _ in range(4):
        doc_ends = sorted(rng.randrange(len(chunks) + 1) for _ in range(rng.randrange(6)))
        eot = rng.choice([None, enc.eot_token])
        want_ids, want_ends = _joined_reference(chunk_ids, doc_ends, eot)
        for threads in (1, 2):
            ids, ends = encoder.encode_documents(chunks, doc_ends, eot, dtype, threads)
            assert ids.dtype == np.dtype(dtype) and ends.dtype == np.uint64
            assert ids.tolist() == want_ids
            assert ends.tolist() == want_ends
    # The tiktoken engine's arrays go through the same join.
    ids, ends = get_chunk_encoder(name, engine="tiktoken").encode_documents(chunks[:3], [1, 3], 7, dtype, 1)
    assert (ids.tolist(), ends.tolist()) == _joined_reference(chunk_ids[:3], [1, 3], 7)


def test_encode_documents_faults_are_clear_errors() -> None:
    core = llmprep.get_encoding("cl100k_base")._core
    text = "ids above 65535: 中文 Kubernetes".encode()
    high = max(llmprep.get_encoding("cl100k_base").encode_ordinary(text.decode()))
    assert high > 65535
    with pytest.raises(ValueError, match=rf"token id {high} does not fit in uint16 \(max 65535\); write uint32 ids"):
        _core.bpe_encode_documents(core, [text], [1], None, "uint16", 1)
    with pytest.raises(ValueError, match=r"chunks\[1\] is not valid UTF-8"):
        _core.bpe_encode_documents(core, [b"ok", b"bad \xff"], [2], None, "uint32", 2)
    with pytest.raises(ValueError, match="non-decreasing"):
        _core.bpe_encode_documents(core, [b"a", b"b"], [2, 1], None, "uint32", 1)
    with pytest.raises(ValueError, match="dtype must be 'uint16' or 'uint32'"):
        _core.bpe_encode_documents(core, [b"a"], [1], None, "int64", 1)
    with pytest.raises(ValueError, match="end-of-text|does not fit in uint16"):
        _core.join_documents([np.array([1], dtype=np.uint16)], [1], 70000, "uint16")
    with pytest.raises(TypeError, match=r"arrays\[1\] must be a 1-D array of unsigned ids"):
        _core.join_documents([np.array([1], dtype=np.uint32), np.array([-1], dtype=np.int64)], [2], None, "uint32")


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


@pytest.mark.parametrize("engine", ["llmprep", "tiktoken"])
def test_blocks_are_written_into_again_only_once_their_array_is_freed(engine, verdict_path) -> None:
    # A pipeline run hands each written block back (its array freed) for the next batch to join
    # into: the ids are the same as into fresh memory, a block still in use is never reused, and a
    # batch that fails leaves the blocks usable.
    enc = llmprep.get_encoding("gpt2")
    story = verdict_path.read_text(encoding="utf-8")
    encoder = get_chunk_encoder("gpt2", engine=engine)
    blocks = _core.OutputBlocks()
    texts = [story * 40, story[:5000], "short", story * 3]  # the first block ~1.6 MB: mapped by malloc, not pooled
    want = [_joined_reference([enc.encode_ordinary(t)], [1], enc.eot_token)[0] for t in texts]  # one document per batch

    first, _ = encoder.encode_documents([texts[0].encode()], [1], enc.eot_token, "uint16", 1, blocks)
    kept = first.copy()
    second, _ = encoder.encode_documents([texts[1].encode()], [1], enc.eot_token, "uint16", 2, blocks)
    assert _address(second) != _address(first)  # first is still alive: its block is not free
    assert first.tolist() == kept.tolist() == want[0]
    assert second.tolist() == want[1]

    address = _address(first)
    del first
    third, _ = encoder.encode_documents([texts[2].encode()], [1], enc.eot_token, "uint16", 1, blocks)
    assert third.tolist() == want[2]  # nothing of the block's earlier ids shows
    assert _address(third) == address  # first's block, written into again
    del second, third

    cl100k = llmprep.get_encoding("cl100k_base")
    wide = "中文 Kubernetes".encode()
    with pytest.raises(ValueError, match="does not fit in uint16"):
        _core.join_documents(
            [np.array(cl100k.encode_ordinary(wide.decode()), dtype=np.uint32)], [1], None, "uint16", blocks
        )
    fourth, ends = encoder.encode_documents([texts[3].encode()], [1], enc.eot_token, "uint16", 2, blocks)
    assert fourth.tolist() == want[3] and ends.tolist() == [len(want[3])]
    # Arrays outlive the object that hands blocks out.
    del blocks
    assert fourth.tolist() == want[3]


def test_small_files_are_sniffed_when_read_not_at_planning(tmp_path, monkeypatch) -> None:
    # Planning leaves small files whose name settles nothing to be sniffed when they are read whole
    # (one open each, not two); what that decides, and the notes, equal planning's own sniffing,
    # for every kind of content, and for --shard, which counts documents by format first.
    import gzip

    import llmprep._inputs as inputs
    import pyarrow as pa
    import pyarrow.parquet as pq
    from llmprep.corpus import _expand_inputs, plan_inputs

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("plain text, the commonest case", encoding="utf-8")
    (folder / "b.txt").write_text('{"text": "a JSON object on the first line"}\n{"text": "second"}\n', encoding="utf-8")
    (folder / "c").write_bytes(gzip.compress(b"compressed without a suffix"))
    pq.write_table(pa.table({"text": ["row one", "row two"]}), folder / "d")
    (folder / "e.txt").write_bytes(b"")
    (folder / "f.jsonl").write_text('{"text": "named JSONL"}\n', encoding="utf-8")
    (folder / "g.txt").write_text("PAR1 is how this text begins", encoding="utf-8")
    enc = get_chunk_encoder("gpt2")

    sniffed: list[str] = []
    real = inputs.sniff_input
    monkeypatch.setattr(inputs, "sniff_input", lambda path, *a, **k: sniffed.append(path) or real(path, *a, **k))
    planned = plan_inputs([str(folder)], tmp_path / "out.tok")
    assert [s.format for s in planned] == ["auto"] * 5 + ["jsonl", "auto"]
    assert sniffed == [str(folder / "f.jsonl")]  # only the file its name decides is opened
    monkeypatch.setattr(inputs, "sniff_input", real)

    def tokenize(out: str, planned_sources, **kwargs) -> tuple[bytes, list[str]]:
        notes: list[str] = []
        tokenize_corpus(
            [str(folder)], tmp_path / out, enc, workers=1, planned=planned_sources, note=notes.append, **kwargs
        )
        return (tmp_path / out).read_bytes(), notes

    # The reference: every input sniffed at planning, as before (its note given there).
    planning_notes: list[str] = []
    eager = _expand_inputs([str(folder)], None, tmp_path / "ref.tok", note=planning_notes.append)
    assert [s.format for s in eager] == ["text", "jsonl", "text", "parquet", "text", "jsonl", "text"]
    want, _ = tokenize("ref.tok", eager)
    got, got_notes = tokenize("out.tok", planned)
    assert got == want
    assert got_notes == planning_notes and "b.txt: its first line is a JSON object" in got_notes[0]
    for i in range(3):  # shards count documents by format: JSONL records and Parquet rows
        eager = _expand_inputs([str(folder)], None, tmp_path / "ref.tok")
        want, _ = tokenize(f"ref{i}.tok", eager, shard=(i, 3))
        got, _ = tokenize(f"out{i}.tok", plan_inputs([str(folder)], tmp_path / f"out{i}.tok"), shard=(i, 3))
        assert got == want
