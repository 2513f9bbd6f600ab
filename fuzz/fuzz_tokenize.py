"""Fuzz the readers of ``llmprep tokenize`` (`llmprep.corpus.tokenize_corpus`): JSONL and text files.

Input: one flag byte, then the file's contents. Flags: bit 0 ``errors="replace"``, bit 1 a
``.jsonl`` file (else ``.txt``), bit 2 the JSONL field is ``content`` (else ``text``), bit 3 no
end-of-text id, bits 4-7 the chunk size (1..16 bytes, so documents are cut often). The token file
written must hold, document by document, tiktoken's GPT-2 ids of each record's field (or of the
whole text file) followed by the end-of-text id; a bad record must raise ValueError naming its line
(`llmprep.InvalidUTF8Error`, with the byte offset in the file, for invalid UTF-8), and invalid
UTF-8 in a text file InvalidUTF8Error with Python's offset.
"""

from __future__ import annotations

import atexit
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import llmprep
from _harness import SAMPLE_TEXTS, Mismatch, check, check_equal, encoding_pairs, error_feature, feature, main
from llmprep._inputs import _compression_of
from llmprep.corpus import get_chunk_encoder, tokenize_corpus

_ENCODER = get_chunk_encoder("gpt2")
_REF = next(ref for name, _, ref in encoding_pairs() if name == "gpt2")
_DIR = Path(tempfile.mkdtemp(prefix="llmprep-fuzz-tokenize-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
atexit.register(shutil.rmtree, _DIR, True)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Bad(Exception):
    """The reference's verdict on a bad input: which error, on which line, at which offset."""

    def __init__(self, kind: str, line: int | None, offset: int | None = None) -> None:
        super().__init__(kind, line, offset)
        self.kind, self.line, self.offset = kind, line, offset


def reference_jsonl(body: bytes, field: str, replace: bool) -> list[str]:
    """The texts of the records, read as the JSONL format is documented."""
    texts = []
    offset = 0
    for line_no, line in enumerate(io.BytesIO(body), start=1):
        start, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            decoded = line.decode("utf-8", "replace" if replace else "strict")
        except UnicodeDecodeError as e:
            raise _Bad("utf8", line_no, start + e.start) from None
        try:
            record = json.loads(decoded)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            raise _Bad("value", line_no) from None
        if not isinstance(record, dict) or not isinstance(record.get(field), str):
            raise _Bad("value", line_no)
        text = record[field]
        if _SURROGATE.search(text):
            if not replace:
                raise _Bad("value", line_no)
            text = _SURROGATE.sub("\ufffd", text)
        texts.append(text)
    return texts


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, body = data[0], data[1:]
    replace, jsonl = bool(flags & 1), bool(flags & 2)
    field = "content" if flags & 4 else "text"
    eot = not flags & 8
    chunk_bytes = 1 + (flags >> 4)
    if _compression_of("input", body[:16]) is not None:
        # A compressed input (recognised by its magic bytes, whatever its name) is decompressed before
        # anything else; tests/test_inputs.py covers that path, this harness the plain one.
        feature("compressed magic")
        return
    source = _DIR / ("input.jsonl" if jsonl else "input.txt")
    source.write_bytes(body)
    output = _DIR / "out.tok"
    try:
        if jsonl:
            texts = reference_jsonl(body, field, replace)
        else:
            try:
                texts = [body.decode("utf-8", "replace" if replace else "strict")]
            except UnicodeDecodeError as e:
                raise _Bad("utf8", None, e.start) from None
    except _Bad as bad:
        feature("bad", bad.kind, jsonl, replace)
        try:
            _tokenize(source, output, field, eot, replace, chunk_bytes)
        except llmprep.InvalidUTF8Error as e:
            error_feature("tokenize", e)
            check_equal(("utf8", e.offset), (bad.kind, bad.offset), f"the error for invalid UTF-8 ({e})")
            check(bad.line is None or f"line {bad.line}" in str(e), f"the error names line {bad.line}: {e}")
            return
        except ValueError as e:
            error_feature("tokenize", e)
            check_equal("value", bad.kind, f"the kind of error ({e})")
            check(f"line {bad.line}" in str(e), f"the error names line {bad.line}: {e}")
            return
        raise Mismatch(f"a bad input was accepted (the reference: {bad.kind} error on line {bad.line})") from None
    _tokenize(source, output, field, eot, replace, chunk_bytes)
    feature("ok", jsonl, min(len(texts), 16), eot)
    tf = llmprep.open_tokens(output)
    documents = [_REF.encode_ordinary(text) + ([_REF.eot_token] if eot else []) for text in texts]
    check_equal(tf.n_documents, len(documents), "number of documents")
    for i, expected in enumerate(documents):
        check_equal(tf.document(i).tolist(), expected, f"document {i}")
    check_equal(tf.tokens.tolist(), [i for doc in documents for i in doc], "all ids")
    del tf


def _tokenize(source: Path, output: Path, field: str, eot: bool, replace: bool, chunk_bytes: int) -> None:
    tokenize_corpus(
        [str(source)],
        output,
        _ENCODER,
        workers=1 + chunk_bytes % 2,
        jsonl_field=field,
        eot=eot,
        errors="replace" if replace else "strict",
        chunk_bytes=chunk_bytes,
        batch_bytes=48,
        overwrite=True,  # one scratch output, rewritten for every input
        # The format named, as the harness means it: detection by content (a text whose first line is a
        # JSON object, Parquet magic) is tests/test_inputs.py's subject, not this harness's.
        input_format="jsonl" if source.suffix == ".jsonl" else "text",
    )


def write_seeds(folder: Path) -> None:
    """JSONL files (good and bad records) and text files under each setting."""
    good = "\n".join(json.dumps({"text": t, "id": i}, ensure_ascii=i % 2 == 0) for i, t in enumerate(SAMPLE_TEXTS))
    cases = {
        "jsonl-good": (0x32, good.encode() + b"\n\n  \n"),
        "jsonl-content": (0x16, b'{"content": "a b"}\r\n{"content": "\\ud83d\\ude00 x"}\n'),
        "jsonl-bad-json": (0x02, b'{"text": "ok"}\n{"text": oops}\n'),
        "jsonl-no-field": (0x02, b'{"text": "ok"}\n[1, 2]\n{"body": "x"}\n'),
        "jsonl-not-str": (0x02, b'{"text": 12}\n'),
        "jsonl-surrogate": (0x02, b'{"text": "lone \\ud800 here"}\n'),
        "jsonl-surrogate-replace": (0x03, b'{"text": "lone \\ud800 here"}\n'),
        "jsonl-bad-utf8": (0x0A, b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
        "jsonl-bad-utf8-replace": (0x0B, b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
        "text-bad-utf8": (0x40, b"word word caf\xe9 more"),
        "text-bad-utf8-replace": (0x41, b"word word caf\xe9 more \xf0\x9f"),
    }
    for i, text in enumerate(SAMPLE_TEXTS[:8]):
        cases[f"text{i:02d}"] = ((i * 0x30) & 0xF0 | (i & 8), text.encode("utf-8"))
    for name, (flags, body) in cases.items():
        (folder / name).write_bytes(bytes([flags]) + body)


if __name__ == "__main__":
    main(test_one_input)
