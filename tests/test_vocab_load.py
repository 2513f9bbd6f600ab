"""Loading vocabularies in C++: the same ranks as tiktoken's Python loader, its cache and hash rules, bad files.

`get_encoding` reads tiktoken's cached GPT-2 files itself (same file names, same sha256 check) and
parses them in C++; these tests hold it to tiktoken's loader on every token, on tiktoken's cache
naming and on what happens to a missing, corrupt or altered file.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tiktoken
import tiktoken.load
from conftest import TIKTOKEN_CACHE, corpus_paths
from hypothesis import given
from hypothesis import strategies as st
from llmprep import Encoding, _core
from llmprep.encoding import load, registry
from llmprep.encoding.patterns import PATTERN_OF_NAME

URLS = {"vocab.bpe": (load.GPT2_VOCAB_BPE.url, load.GPT2_VOCAB_BPE.sha256),
        "encoder.json": (load.GPT2_ENCODER_JSON.url, load.GPT2_ENCODER_JSON.sha256)}  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> tiktoken.Encoding:
    return tiktoken.get_encoding("gpt2")


@pytest.fixture()
def cache(tmp_path, monkeypatch, gpt2_dir) -> Path:
    """A private tiktoken cache holding good copies of GPT-2's files, and no network for tiktoken."""
    folder = tmp_path / "tiktoken-cache"
    folder.mkdir()
    for name, (url, _) in URLS.items():
        shutil.copy(gpt2_dir / name, load.tiktoken_cache_path_in(folder, url))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    monkeypatch.setattr(tiktoken.load, "read_file", _offline)
    return folder


def _offline(blobpath: str) -> bytes:
    raise ConnectionError(f"no network in tests (wanted {blobpath})")


def _cached(folder: Path, name: str) -> Path:
    return load.tiktoken_cache_path_in(folder, URLS[name][0])


# ---------------------------------------------------------------------------------------------
# The fast path equals tiktoken's loader


def test_fast_path_ranks_equal_tiktoken(cache, reference) -> None:
    enc = registry._load("gpt2")
    assert enc._ranks is None  # built in C++: no Python dict was made
    assert enc._mergeable_ranks == reference._mergeable_ranks  # all 50,256 ordinary tokens
    assert len(enc._mergeable_ranks) == 50256
    assert enc._special_tokens == reference._special_tokens == {"<|endoftext|>": 50256}
    assert enc.n_vocab == reference.n_vocab == 50257
    assert enc.decode_tokens_bytes(range(50257)) == reference.decode_tokens_bytes(range(50257))


def test_fast_path_single_tokens(cache, reference) -> None:
    enc = registry._load("gpt2")
    for token in (b"!", b"hello", b" world", bytes([255])):
        assert enc.encode_single_token(token) == reference.encode_single_token(token)
    assert enc.encode_single_token("<|endoftext|>") == 50256
    with pytest.raises(KeyError):
        enc.encode_single_token(b"hello world!")
    with pytest.raises(KeyError):
        enc.encode_single_token("not one token at all")


@pytest.mark.slow
def test_fast_path_ids_on_corpora(cache, reference) -> None:
    paths = corpus_paths()
    if not paths:
        pytest.skip("no corpora in ../shared/data")
    enc = registry._load("gpt2")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        ids = enc.encode_to_numpy(text)
        assert np.array_equal(ids, np.asarray(reference.encode_ordinary(text), dtype=np.uint32)), path.name


def test_constants_are_tiktokens(monkeypatch) -> None:
    # Every encoding's files, hashes, special tokens, size and pattern are exactly those tiktoken's
    # constructors in tiktoken_ext/openai_public.py pass to its loaders.
    import tiktoken_ext.openai_public as openai_public

    seen: list = []
    monkeypatch.setattr(
        openai_public, "data_gym_to_mergeable_bpe_ranks", lambda **kw: seen.append(("data_gym", kw)) or {}
    )
    monkeypatch.setattr(
        openai_public,
        "load_tiktoken_bpe",
        lambda path, expected_hash: seen.append(("tiktoken", path, expected_hash)) or {},
    )
    assert list(registry.ENCODING_NAMES) == list(openai_public.ENCODING_CONSTRUCTORS)
    for name, constructor in openai_public.ENCODING_CONSTRUCTORS.items():
        seen.clear()
        spec = constructor()
        ours = registry._SPECS[name]
        if seen[0][0] == "data_gym":
            kw = seen[0][1]
            expected = [
                (kw["vocab_bpe_file"], kw["vocab_bpe_hash"]),
                (kw["encoder_json_file"], kw["encoder_json_hash"]),
            ]
        else:
            expected = [(seen[0][1], seen[0][2])]
        assert [(f.url, f.sha256) for f in ours.sources[0].files] == expected, name
        assert ours.special_tokens == spec["special_tokens"], name
        assert ours.explicit_n_vocab == spec.get("explicit_n_vocab"), name
        assert PATTERN_OF_NAME[ours.pattern] == spec["pat_str"], name
    assert registry._SPECS["r50k_base"].sources[1] == registry._GPT2_FILES


def test_cache_file_names_are_tiktokens(cache) -> None:
    # tiktoken itself, with no network, finds the files where we put them.
    for url, sha256 in URLS.values():
        assert tiktoken.load.read_file_cached(url, sha256) == load.tiktoken_cache_path(url).read_bytes()


def test_cache_folder_follows_tiktokens_variables(monkeypatch, tmp_path) -> None:
    url = load.GPT2_VOCAB_BPE.url
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path))
    assert load.tiktoken_cache_path(url).parent == tmp_path
    monkeypatch.delenv("DATA_GYM_CACHE_DIR")
    assert load.tiktoken_cache_path(url).parent.name == "data-gym-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert load.tiktoken_cache_path(url) is None  # caching off: tiktoken's loader does it all


# ---------------------------------------------------------------------------------------------
# Missing, corrupt or altered files


@pytest.mark.parametrize("name", ["vocab.bpe", "encoder.json"])
@pytest.mark.parametrize("damage", ["tampered", "truncated", "empty"])
def test_altered_file_is_rejected_offline(cache, name, damage) -> None:
    path = _cached(cache, name)
    data = path.read_bytes()
    if damage == "tampered":  # same size, one token respelled: a parser alone might accept it
        data = (
            data.replace(b"hello", b"jello", 1) if name == "encoder.json" else data.replace(b"\nh e\n", b"\nh f\n", 1)
        )
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = b""
    assert data != path.read_bytes()
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match=rf"cached copy of {name} at .* is corrupt or was altered") as info:
        registry._load("gpt2")
    assert "no network in tests" in str(info.value)
    assert "TIKTOKEN_CACHE_DIR" in str(info.value)


def test_altered_file_is_replaced_when_tiktoken_can_download(cache, gpt2_dir, monkeypatch, reference) -> None:
    # As tiktoken does: a bad cached copy is deleted and downloaded again (hash-checked).
    path = _cached(cache, "encoder.json")
    path.write_bytes(path.read_bytes()[:-10])
    good = {url: (gpt2_dir / name).read_bytes() for name, (url, _) in URLS.items()}
    monkeypatch.setattr(tiktoken.load, "read_file", lambda url: good[url])
    enc = registry._load("gpt2")
    assert enc._mergeable_ranks == reference._mergeable_ranks
    assert path.read_bytes() == good[URLS["encoder.json"][0]]
    assert registry._load("gpt2")._ranks is None  # and the next load takes the fast path again


def test_bad_download_is_rejected(cache, monkeypatch) -> None:
    _cached(cache, "vocab.bpe").unlink()
    monkeypatch.setattr(tiktoken.load, "read_file", lambda url: b"#version: 0.2\n")
    with pytest.raises(RuntimeError, match="Hash mismatch"):
        registry._load("gpt2")


def test_missing_files_offline_give_the_clear_error(cache) -> None:
    _cached(cache, "vocab.bpe").unlink()
    with pytest.raises(RuntimeError, match="could not load the 'gpt2' vocabulary.*set TIKTOKEN_CACHE_DIR"):
        registry._load("gpt2")


def test_cache_switched_off_uses_tiktokens_loader(monkeypatch, reference) -> None:
    if not TIKTOKEN_CACHE.is_dir():
        pytest.skip("no shared tiktoken cache")
    files = {
        url: (TIKTOKEN_CACHE / load.tiktoken_cache_path_in(TIKTOKEN_CACHE, url).name).read_bytes()
        for url, _ in URLS.values()
    }
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    monkeypatch.setattr(tiktoken.load, "read_file", lambda url: files[url])
    enc = registry._load("gpt2")
    assert enc._ranks is not None  # tiktoken's dict
    assert enc.encode("hello world") == [31373, 995]


# ---------------------------------------------------------------------------------------------
# Local files: encoder.json + vocab.bpe


def _write_pair(tmp_path: Path, encoder: dict | str | bytes, vocab: str | bytes) -> tuple[Path, Path]:
    e, v = tmp_path / "encoder.json", tmp_path / "vocab.bpe"
    if isinstance(encoder, dict):
        encoder = json.dumps(encoder)
    (e.write_bytes if isinstance(encoder, bytes) else e.write_text)(encoder)
    (v.write_bytes if isinstance(vocab, bytes) else v.write_text)(vocab)
    return e, v


@pytest.fixture(scope="module")
def gpt2_files(gpt2_dir) -> tuple[dict, str]:
    return json.loads((gpt2_dir / "encoder.json").read_text(encoding="utf-8")), (gpt2_dir / "vocab.bpe").read_text(
        encoding="utf-8"
    )


def test_other_spellings_of_the_same_files_load(tmp_path, gpt2_files, reference) -> None:
    data, vocab = gpt2_files
    shuffled = dict(sorted(data.items(), key=lambda kv: -kv[1]))
    variants = [
        (json.dumps(shuffled, ensure_ascii=True, indent=1), vocab.replace("\n", "\r\n")),  # \u escapes, CRLF
        (b"\xef\xbb\xbf" + json.dumps(data, ensure_ascii=False).encode(), vocab.rstrip("\n")),  # BOM, no final newline
        (json.dumps(data, separators=(",", ":")).replace("/", "\\/"), vocab + "\n\n"),
    ]
    for encoder_text, vocab_text in variants:
        e, v = _write_pair(tmp_path, encoder_text, vocab_text)
        enc = Encoding.from_files(e, v)
        assert enc._mergeable_ranks == reference._mergeable_ranks
        assert enc._special_tokens == {"<|endoftext|>": 50256}


def test_small_pair_of_files(tmp_path) -> None:
    # A toy vocabulary in the data-gym alphabet: bytes are spelled as GPT-2 spells them.
    byte_to_char = {b: c for c, b in _reference_byte_map().items()}
    spell = lambda bs: "".join(byte_to_char[b] for b in bs)  # noqa: E731
    order = list(_reference_byte_map().values())
    encoder = {spell(bytes([b])): i for i, b in enumerate(order)}
    encoder |= {spell(b" a"): 256, spell(b" ab"): 257, "<|endoftext|>": 258, "<|startoftext|>": 259}
    vocab = f"#version: 0.2\n{spell(b' ')} {spell(b'a')}\n{spell(b' a')} {spell(b'b')}\n"
    enc = Encoding.from_files(*_write_pair(tmp_path, encoder, vocab), name="toy")
    assert enc.encode(" ab<|startoftext|>", allowed_special="all") == [257, 259]
    assert enc._special_tokens == {"<|endoftext|>": 258, "<|startoftext|>": 259}


def _reference_byte_map() -> dict[str, int]:
    """tiktoken's data_gym_byte_to_byte, re-derived as tiktoken derives it."""
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    mapping = {chr(b): b for b in printable}
    n = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + n)] = b
            n += 1
    return mapping


@pytest.mark.parametrize(
    ("encoder_text", "message"),
    [
        ('{"a": 1,', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"!": 0} x', "extra data"),
        ('{"!": 0.0}', "should be an integer id"),
        ('{"!": "0"}', "should be an integer id"),
        ('{"!": NaN}', "should be an integer id"),
        ('{"!": 01}', "not valid JSON"),
        ('{"!\n": 0}', "not valid JSON .control character"),
        ('{"\\q": 0}', "invalid escape"),
        ('{"\\ud800": 0}', "U\\+D800, which no byte maps to"),
        ('{"\\u4e00": 0}', "U\\+4E00, which no byte maps to"),
        ('{"!": 0, "!": 0}', "lists token '!' .id 0. twice"),
        ('{"!": -1}', "disagree"),
        ('{"!": 99999999999999999999}', "disagree"),
        ('{"!": 1}', "disagree .token '!' has the id 1 but .* gives that rank to '\"'"),
        ('{"!": 0}', "disagree .* e.g. rank 1"),
        ('{"<|endoftext|>": -5}', "outside 0..4294967294"),
        ('{"<|endoftext|>": 5, "<|endoftext|>": 5}', "lists <\\|endoftext\\|> twice"),
    ],
)
def test_bad_encoder_json(tmp_path, gpt2_files, encoder_text, message) -> None:
    e, v = _write_pair(tmp_path, encoder_text, "#version: 0.2\n")
    with pytest.raises(ValueError, match=message):
        Encoding.from_files(e, v)


def test_bad_vocab_bpe(tmp_path, gpt2_files) -> None:
    data, vocab = gpt2_files
    lines = vocab.split("\n")
    cases = [
        ("\n".join(lines[:3] + ["Ġ"] + lines[4:]), "line 4 should be two tokens, not '\\\\xc4\\\\xa0'"),
        ("\n".join(lines[:3] + ["Ġ t x"] + lines[4:]), "line 4 should be two tokens"),
        ("\n".join(lines[:3] + ["Ġ \u4e00"] + lines[4:]), "line 4 has the character U\\+4E00, which no byte maps to"),
        (
            "\n".join(lines[:3] + ["Ġ\u00a0 t"] + lines[4:]),
            "line 4 has the character U\\+00A0",
        ),  # NBSP: not in the alphabet
        ("\n".join(lines[:3] + lines[4:]), "disagree"),
        ("", "#version"),
    ]
    for text, message in cases:
        e, v = _write_pair(tmp_path, data, text)
        with pytest.raises(ValueError, match=message):
            Encoding.from_files(e, v)
    e, v = _write_pair(tmp_path, data, b"#version\nabc \xc3\n")
    with pytest.raises(ValueError, match="not UTF-8 text .invalid continuation byte at byte 13"):
        Encoding.from_files(e, v)
    e, v = _write_pair(tmp_path, b'{"\xff": 1}', "#version\n")
    with pytest.raises(ValueError, match="encoder.json file: it is not UTF-8 text .invalid start byte at byte 2"):
        Encoding.from_files(e, v)


def test_directory_is_not_a_vocabulary_file(tmp_path, gpt2_dir) -> None:
    with pytest.raises(FileNotFoundError, match="vocab.bpe file not found"):
        Encoding.from_files(gpt2_dir / "encoder.json", tmp_path)


# ---------------------------------------------------------------------------------------------
# .tiktoken files


def _tiktoken_lines(ranks: dict[bytes, int]) -> list[bytes]:
    return [base64.b64encode(t) + b" " + str(r).encode() for t, r in ranks.items()]


def test_tiktoken_file_line_endings_and_specials(tmp_path, reference) -> None:
    path = tmp_path / "gpt2.tiktoken"
    lines = _tiktoken_lines(reference._mergeable_ranks)
    for separator in (b"\n", b"\r\n", b"\r"):
        path.write_bytes(separator.join(lines) + separator)
        enc = Encoding.from_tiktoken_file(path, special_tokens={"<|endoftext|>": 50256, "<|pad|>": 60000})
        assert enc._mergeable_ranks == reference._mergeable_ranks
        assert enc.n_vocab == 60001
        assert enc.encode("<|pad|>", allowed_special="all") == [60000]
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="holds no tokens"):
        Encoding.from_tiktoken_file(path)
    path.write_bytes(b"\n".join(lines[:300]) + b"\nYQ== -1\n")
    with pytest.raises(ValueError, match="line 301 should be 'base64-token rank', not 'YQ== -1'"):
        Encoding.from_tiktoken_file(path)
    path.write_bytes(b"\n".join(lines[:300]))
    with pytest.raises(ValueError, match="surrogate|outside"):
        Encoding.from_tiktoken_file(path, special_tokens={"\ud800": 400})


@given(st.text(alphabet="AQgwB/+=a!\n ", max_size=10))
def test_base64_tokens_match_python(token: str) -> None:
    # Ours accepts a token exactly when base64.b64decode(validate=True) does, with the same bytes.
    singles = [base64.b64encode(bytes([b])) + b" " + str(b).encode() for b in range(256)]
    contents = b"\n".join(singles) + b"\n" + token.encode() + b" 256\n"
    lines = [line for line in contents.splitlines() if line]
    fields = lines[-1].split() if len(lines) == 257 else []
    try:
        if len(fields) != 2:
            raise ValueError
        expected = base64.b64decode(fields[0], validate=True)
    except (ValueError, binascii.Error):
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match="should be 'base64-token rank'"):
            _core.bpe_encoder_from_tiktoken(contents, "x.tiktoken", {})
    elif len(expected) <= 1:
        with pytest.raises(ValueError, match="empty token|same token bytes twice"):
            _core.bpe_encoder_from_tiktoken(contents, "x.tiktoken", {})
    else:
        core, n_mergeable, special = _core.bpe_encoder_from_tiktoken(contents, "x.tiktoken", {})
        assert (n_mergeable, special) == (257, {})
        assert _core.bpe_token_rank(core, expected) == 256
