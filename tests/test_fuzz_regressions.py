"""Every crash or mismatch the fuzzers (fuzz/) found, as a test with its minimized input inline.

Each test names the harness that found it. A bug not fixed yet is an ``xfail(strict=True)``
with the reason, so fixing it turns the test into a failure that asks for the marker's removal.
"""

from __future__ import annotations

import pytest
from llmprep import _core


@pytest.fixture(scope="module")
def gpt2():
    import llmprep

    return llmprep.get_encoding("gpt2")


def test_empty_bytes_are_not_a_token(gpt2, tiktoken_gpt2) -> None:
    # fuzz_encoding: encode_single_token("") returned 0 ('!'): the empty key matched an empty slot
    # of the short-key table (its packed form is 0, the empty-slot marker).
    with pytest.raises(KeyError):
        tiktoken_gpt2.encode_single_token("")
    with pytest.raises(KeyError):
        gpt2.encode_single_token("")
    with pytest.raises(KeyError):
        gpt2.encode_single_token(b"")
    assert _core.bpe_token_rank(gpt2._core, b"") is None


def test_key_error_names_a_word_with_nul() -> None:
    # fuzz_simple: V1's KeyError named '-' for the unknown word '-\x00\x00...'.
    import llmprep

    tok = llmprep.SimpleTokenizer({"a": 0}, "error")
    with pytest.raises(KeyError) as info:
        tok.encode("a -\x00x")
    assert info.value.args == ("-\x00x",)


def test_load_of_a_file_that_is_not_a_vocabulary_is_value_error(tmp_path) -> None:
    # fuzz_simple_vocab: a misspelled "format" made the file a plain word -> id object whose ids are
    # strings, and load raised TypeError; its documented error is ValueError.
    import llmprep

    path = tmp_path / "vocab.json"
    cases = {
        '{"format": "llmprep.SimpkoelTenizer", "version": 1}': "does not hold a valid vocabulary: vocab ids must be",
        '{"a": 1.5}': "does not hold a valid vocabulary",
        '{"a": true}': "does not hold a valid vocabulary",
        '{"format": "llmprep.SimpleTokenizer", "version": 1, "vocab": {"a": 0}, "pattern": 5}': "'pattern'",
        '{"format": "llmprep.SimpleTokenizer", "version": 1, "vocab": {"a": "0"}}': "valid vocabulary",
        "[" * 100_000: "nested too deeply",
    }
    for document, message in cases.items():
        path.write_text(document, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            llmprep.SimpleTokenizer.load(path)


def test_vocabulary_file_errors_name_the_file() -> None:
    # fuzz_vocab_tiktoken: a .tiktoken file without every single byte was rejected by the encoder's
    # own check, whose message named no file.
    import base64

    lines = [base64.b64encode(bytes([b])) + b" " + str(b).encode() for b in range(256) if b != 181]
    with pytest.raises(ValueError, match=r"^fuzz\.tiktoken: .*single byte 181"):
        _core.bpe_encoder_from_tiktoken(b"\n".join(lines), "fuzz.tiktoken", None)
    lines = [base64.b64encode(bytes([b])) + b" " + str(b).encode() for b in range(256)]
    with pytest.raises(ValueError, match=r"^fuzz\.tiktoken: "):
        _core.bpe_encoder_from_tiktoken(b"\n".join(lines), "fuzz.tiktoken", {"<|endoftext|>": 7})


def test_data_gym_build_errors_name_the_files() -> None:
    # fuzz_vocab_data_gym: encoder.json gave <|endoftext|> an id that an ordinary token has; the
    # encoder's "id 260 is used twice" named neither file.
    import json

    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    others = [b for b in range(256) if b not in printable]
    spell = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(others)}
    encoder = {spell[b]: rank for rank, b in enumerate(printable + others)} | {"<|endoftext|>": 5}
    with pytest.raises(ValueError, match=r"^vocab\.bpe with encoder\.json: id 5 is used twice"):
        _core.bpe_encoder_from_data_gym(
            b"#version: 0.2\n", json.dumps(encoder).encode(), "vocab.bpe", "encoder.json", None
        )


def test_jsonl_record_nested_too_deeply_names_its_line(tmp_path) -> None:
    # fuzz_tokenize (by inspection while writing it): json.loads raises RecursionError, not
    # JSONDecodeError, for deep nesting; it escaped `llmprep tokenize` as a traceback.
    from llmprep.corpus import get_chunk_encoder, tokenize_corpus

    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "ok"}\n' + "[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not valid JSON: it is nested too deeply"):
        tokenize_corpus([str(source)], tmp_path / "out.tok", get_chunk_encoder("gpt2"))


@pytest.mark.parametrize(
    "sidecar",
    [
        '{"dtype": "uint16", "n_tokens": 1, "n_documents": 1, "vocab_size": 5, "eot_token": Infinity, "encoding": "x"}',
        '{"dtype": "uint16", "n_tokens": 1, "n_documents": 1e400, "vocab_size": 5, "eot_token": 1, "encoding": "x"}',
        "[" * 100_000,
        # numpy parses a dtype string with a comma as a record format, through ast.literal_eval:
        # this escaped as SyntaxError.
        '{"dtype": ",int32", "n_tokens": 1, "n_documents": 1, "vocab_size": 5, "eot_token": 1, "encoding": "x"}',
    ],
    ids=["infinity", "1e400", "nested-too-deeply", "dtype-comma-string"],
)
def test_raw_sidecar_with_bad_numbers_is_token_file_error(tmp_path, sidecar: str) -> None:
    # fuzz_token_file (raw files): these escaped open_tokens as OverflowError / RecursionError.
    import llmprep

    path = tmp_path / "t.bin"
    path.write_bytes(b"\x01\x00")
    (tmp_path / "t.bin.json").write_text(sidecar, encoding="utf-8")
    with pytest.raises(llmprep.TokenFileError, match="sidecar"):
        llmprep.open_tokens(path)


def test_text_beginning_with_bzh_is_text(tmp_path) -> None:
    # fuzz_tokenize: a file starting with the letters "BZh" was taken for bzip2 ("not valid bzip2
    # data"); bzip2 is now recognised by its full stream magic, not its first three letters.
    from llmprep._inputs import _compression_of
    from llmprep.corpus import get_chunk_encoder, tokenize_corpus

    source = tmp_path / "in.jsonl"
    source.write_text('BZhang wrote {"text": "le"}\n', encoding="utf-8")
    assert _compression_of(str(source), source.read_bytes()[:16]) is None
    assert _compression_of("x", b"BZh91AY&SY" + b"\0" * 6) == "bzip2"
    text = tmp_path / "in.txt"
    text.write_text("BZhang wrote this.", encoding="utf-8")
    tokenize_corpus([str(text)], tmp_path / "out.tok", get_chunk_encoder("gpt2"))
    import llmprep

    # tiktoken's GPT-2 ids of "BZhang wrote this.", then <|endoftext|>.
    assert llmprep.open_tokens(tmp_path / "out.tok").tokens.tolist() == [33, 57, 33255, 2630, 428, 13, 50256]
