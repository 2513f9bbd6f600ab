"""Fuzz `llmprep.SimpleTokenizer.load` (saved vocabularies) and tokenizers over arbitrary vocabularies.

Input: a vocabulary file (JSON: the format `SimpleTokenizer.save` writes, or a plain word -> id
object), `SEPARATOR`, then a text. Loading must raise ValueError (as documented) or give a
tokenizer that encodes the text and decodes ids exactly as the chapter's ``SimpleTokenizerV1``
(V2 when the vocabulary has ``<|unk|>``) does over the same dict: same ids, same ``KeyError``,
same text, including vocabularies the chapter never builds (ids shared by two words, gaps, huge
ids, words with spaces). A custom ``pattern`` runs Python's ``re`` by design, so such files are
skipped (a pattern can be slow on purpose).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

from _harness import (
    Mismatch,
    chapter,
    check_key_error,
    check_same_outcome,
    error_feature,
    feature,
    has_surrogates,
    main,
    outcome,
    text_of,
)
from llmprep import SimpleTokenizer

SEPARATOR = b"\n\x00=====\x00\n"
_CH = chapter()
_DIR = Path(tempfile.mkdtemp(prefix="llmprep-fuzz-vocab-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
atexit.register(shutil.rmtree, _DIR, True)
_PATH = _DIR / "vocab.json"


def test_one_input(data: bytes) -> None:
    document, _, text_bytes = data.partition(SEPARATOR)
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("pattern") is not None:
        return
    _PATH.write_bytes(document)
    loaded = outcome(lambda: SimpleTokenizer.load(_PATH))
    if loaded[0] == "raise":
        error_feature("load", loaded[1])
        if not isinstance(loaded[1], ValueError):
            raise Mismatch(f"load raised {type(loaded[1]).__name__}({loaded[1]}), not ValueError")
        return
    tok = loaded[1]
    feature("loaded", tok.unknown, tok.dtype.name, min(len(tok), 16))
    vocab = dict(tok.vocab)
    text = text_of(text_bytes)
    ref = (_CH.SimpleTokenizerV2 if tok.unknown == "unk" else _CH.SimpleTokenizerV1)(vocab)

    ours = outcome(lambda: tok.encode(text))
    if has_surrogates(text):
        if ours[0] == "ok" or not isinstance(ours[1], ValueError):
            raise Mismatch(f"encode of a lone surrogate should raise ValueError, got {ours}")
    else:
        reference = outcome(lambda: ref.encode(text))
        check_same_outcome(ours, reference, "encode")
        if reference[0] == "raise":
            check_key_error(ours[1], reference[1])
        check_same_outcome(outcome(lambda: tok.encode_to_numpy(text).tolist()), reference, "encode_to_numpy")
    values = list(vocab.values())
    ids = values[:32] + [values[ord(c) % len(values)] + (ord(c) & 1) for c in text[:32]] if values else []
    check_same_outcome(outcome(lambda: tok.decode(ids)), outcome(lambda: ref.decode(ids)), "decode")


def write_seeds(folder: Path) -> None:
    """Vocabularies as `save` writes them and as plain objects, each with a text to encode."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.json"
        story = 'I had always thought Jack Gisburn rather a cheap genius--though a good fellow enough. "Yes," she said.'
        cases = {
            "v2-saved": SimpleTokenizer.from_text(story),
            "v1-saved": SimpleTokenizer.from_text(story, specials=(), unknown="error"),
        }
        for name, tok in cases.items():
            tok.save(path, overwrite=True)
            (folder / name).write_bytes(path.read_bytes() + SEPARATOR + (story + " Unknown words here.").encode())
    plain = {
        "plain-v1": {"Hello": 0, ",": 1, "world": 2, "!": 3, ":": 4},
        "plain-v2-gaps": {"a": 5, "b": 70000, "<|unk|>": -(2**40), ";": 7},
        "plain-shared-ids": {"x": 1, "y": 1, "two words": 2, "": 3, "(": 4},
    }
    for name, vocab in plain.items():
        (folder / name).write_bytes(
            json.dumps(vocab, ensure_ascii=False).encode() + SEPARATOR + b"Hello, world! a b ; x y ( z :"
        )


if __name__ == "__main__":
    main(test_one_input)
