"""Every registered encoding against tiktoken 0.14, through the public API only.

For each of tiktoken's encodings (gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base,
o200k_harmony): the shared corpora (slices of ../shared/data/large/ too), text across scripts from
hypothesis, the special-token policy, batches, the unstable-token and raw-bytes methods, and the
exception types. tiktoken reads the same offline cache (r50k/p50k rebuilt; see _vocab_cache.py).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import llmprep
import numpy as np
import pytest
from _vocab_cache import build_full_cache
from conftest import DATA, GPT2_DIR, TIKTOKEN_CACHE, corpus_paths, sanitizer_examples
from hypothesis import given
from hypothesis import strategies as st
from llmprep.encoding import registry

NAMES = list(registry.ENCODING_NAMES)
# Distinct (ranks, pattern) pairs: the heavier tests run once per engine configuration.
DISTINCT = ["gpt2", "p50k_base", "cl100k_base", "o200k_base"]


@pytest.fixture(scope="module", autouse=True)
def _every_vocabulary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not TIKTOKEN_CACHE.is_dir() or not (GPT2_DIR / "vocab.bpe").is_file():
        pytest.skip(f"needs the shared tiktoken cache ({TIKTOKEN_CACHE}) and GPT-2's files; no network here")
    folder = build_full_cache(tmp_path_factory.mktemp("tiktoken-cache"), TIKTOKEN_CACHE, GPT2_DIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
        yield


def _pair(name: str):
    import tiktoken

    return llmprep.get_encoding(name), tiktoken.get_encoding(name)


@pytest.mark.parametrize("name", NAMES)
def test_encodings_run_natively_with_tiktokens_tables(name) -> None:
    ours, ref = _pair(name)
    assert ours._native, f"{name} fell back to tiktoken's engine"  # the C++ pre-tokenizer runs it
    assert registry._load(name)._ranks is None  # built in C++ from the cached file, no Python dict made
    assert (ours.name, ours.n_vocab, ours.max_token_value) == (ref.name, ref.n_vocab, ref.max_token_value)
    assert ours._special_tokens == ref._special_tokens
    assert ours._pat_str == ref._pat_str
    assert ours.special_tokens_set == ref.special_tokens_set
    if name in DISTINCT:
        assert ours._mergeable_ranks == ref._mergeable_ranks
        assert ours.token_byte_values() == ref.token_byte_values()
    try:
        assert ours.eot_token == ref.eot_token
    except KeyError:
        with pytest.raises(KeyError):
            ref.eot_token  # noqa: B018


def _corpus_texts() -> list[tuple[str, str]]:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in corpus_paths()]
    large = DATA / "large"
    if large.is_dir():
        for path in sorted(large.glob("*.txt")):
            data = path.read_bytes()
            for at in (0, len(data) // 2):  # 1 MB from the start and from the middle
                piece = data[at : at + (1 << 20)].decode("utf-8", errors="ignore")
                texts.append((f"{path.name}@{at}", piece))
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTINCT)
def test_corpora_match_tiktoken(name) -> None:
    ours, ref = _pair(name)
    texts = _corpus_texts()
    if not texts:
        pytest.skip("no corpora in ../shared/data")
    for label, text in texts:
        expected = ref.encode_ordinary(text)
        got = ours.encode_to_numpy(text, num_threads=1)
        assert got.dtype == np.uint32 and not got.flags.writeable
        assert got.tolist() == expected, label
        assert np.array_equal(ours.encode_to_numpy(text, num_threads=2), got), label  # parallel == serial
        assert ours.decode(expected) == text, label
    # Batch == one by one, across documents of every corpus.
    lines = [line for _, text in texts for line in text.splitlines(keepends=True)[:2000]]
    assert ours.encode_ordinary_batch(lines, num_threads=2) == ref.encode_ordinary_batch(lines)


_SCRIPTS = st.sampled_from(
    [
        "hello world",
        " It's",
        " THEY'LL",
        "'Re",
        "’s",
        "naïve café",
        "Straße",
        "ǅemal",
        "ΑΒΓ αβγ",
        "Привет",
        "مرحبا",
        "שלום",
        "नमस्ते",
        "你好世界",
        "こんにちは",
        "한국어",
        "ไทย",
        "😀👍🏽👨‍👩‍👧",
        "123",
        "1234567",
        "٣٤٥",
        "½²",
        "\n",
        "\r\n",
        "\n\n\n",
        "   ",
        "\t",
        "\u3000",
        "\xa0",
        "!?",
        "...",
        "//",
        "<|endoftext|>",
        "<|fim_prefix|>",
        "<|endofprompt|>",
        "<|return|>",
        "e\u0301",
        "\u0301",
        "x/\n",
    ]
)
_text = st.lists(st.one_of(_SCRIPTS, st.text(max_size=6)), max_size=40).map("".join)


@pytest.mark.parametrize("name", DISTINCT)
@given(text=_text)
def test_hypothesis_text_matches_tiktoken(name, text) -> None:
    ours, ref = _pair(name)
    assert ours.encode_ordinary(text) == ref.encode_ordinary(text)
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    assert ours.encode(text, disallowed_special=()) == ref.encode(text, disallowed_special=())
    assert ours._encode_bytes(text.encode("utf-8", "replace")[:-1]) == ref._encode_bytes(
        text.encode("utf-8", "replace")[:-1]
    )


@pytest.mark.parametrize("name", DISTINCT)
# Under a sanitizer, 10 examples: encode_with_unstable is Python (bisect over the sorted vocabulary and
# tiktoken's reference, uninstrumented, most of the time); the C++ calls it makes (encode_ordinary of
# short texts, byte-pair encoding, token bytes) run under the sanitizer in the property tests above.
@sanitizer_examples(10)
@given(text=st.lists(_SCRIPTS, min_size=1, max_size=6).map("".join))
def test_unstable_tokens_match_tiktoken(name, text) -> None:
    ours, ref = _pair(name)
    if any(s in text for s in ref.special_tokens_set):
        text = text.replace("<|", "<")
    stable, completions = ours.encode_with_unstable(text)
    ref_stable, ref_completions = ref.encode_with_unstable(text)
    assert stable == ref_stable
    assert sorted(completions) == sorted(map(list, ref_completions))


@pytest.mark.parametrize("name", NAMES)
def test_special_token_policy_matches_tiktoken(name) -> None:
    ours, ref = _pair(name)
    specials = sorted(ref.special_tokens_set)[:6]
    text = "a " + " b ".join(specials) + " c"
    for allowed in ["all", set(), {specials[0]}, set(specials[-1:])]:
        for disallowed in ["all", (), {specials[0]}, set(specials)]:
            try:
                expected = ref.encode(text, allowed_special=allowed, disallowed_special=disallowed)
            except ValueError as e:
                with pytest.raises(ValueError, match=str(e).splitlines()[0].replace("|", "\\|")):
                    ours.encode(text, allowed_special=allowed, disallowed_special=disallowed)
                with pytest.raises(ValueError):
                    ours.encode_to_numpy(text, allowed_special=allowed, disallowed_special=disallowed)
                continue
            assert ours.encode(text, allowed_special=allowed, disallowed_special=disallowed) == expected
            assert ours.encode_batch([text, text], allowed_special=allowed, disallowed_special=disallowed) == [
                expected,
                expected,
            ]
    for special in specials:
        token = ref.encode_single_token(special)
        assert ours.encode_single_token(special) == ours.encode_single_token(special.encode()) == token
        assert ours.is_special_token(token) and ref.is_special_token(token)
        assert ours.decode_single_token_bytes(token) == ref.decode_single_token_bytes(token)


@pytest.mark.parametrize("name", DISTINCT)
def test_methods_and_errors_match_tiktoken(name) -> None:
    ours, ref = _pair(name)
    text = "hello world<|endoftext|> green cow 我非常渴望 நடிகர்"
    tokens = ref.encode(text, allowed_special="all")
    assert ours.decode_with_offsets(tokens) == ref.decode_with_offsets(tokens)
    batch = [tokens, tokens[:3], []]
    assert ours.decode_batch(batch) == ref.decode_batch(batch)
    assert ours.decode_bytes_batch(batch) == ref.decode_bytes_batch(batch)
    assert ours.decode_tokens_bytes(tokens) == ref.decode_tokens_bytes(tokens)
    assert ours._encode_single_piece("helloqqqq") == ref._encode_single_piece("helloqqqq")
    assert ours._encode_only_native_bpe(text) == ref._encode_only_native_bpe(text)
    gaps = [200_001] if name == "o200k_base" else []  # o200k's specials leave ids unused
    for bad in [ref.max_token_value + 1, -1, 2**32, 2**64, *gaps]:
        for method in ("decode", "decode_bytes", "decode_tokens_bytes"):
            with pytest.raises(Exception) as expected:
                getattr(ref, method)([1, bad])
            with pytest.raises(expected.type):
                getattr(ours, method)([1, bad])
    with pytest.raises(KeyError):
        ours.encode_single_token("not a single token at all")
    with pytest.raises(UnicodeEncodeError):
        ref.encode_with_unstable("a\ud800")
    with pytest.raises(UnicodeEncodeError):
        ours.encode_with_unstable("a\ud800")
    assert ours.encode("a\ud800b") == ref.encode("a\ud800b")


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_worst_cases_match_tiktoken(name) -> None:
    ours, ref = _pair(name)
    for unit in ["x", "7", " ", "\n", "-", "é", "'s", " \n", "A"]:
        text = unit * 200_000
        assert ours.encode_to_numpy(text).tolist() == ref.encode_ordinary(text), repr(unit)
    # Random letters in one piece: nearly every pair of letters is a token, so the long-piece merge
    # regroups its chunks (merge_groups); cased letters split into pieces at case changes (o200k).
    # Random marks fall apart into short spans with some longer ones between them (spans merged side
    # by side, the short ones after them as their tails, batches run early).
    rng = random.Random(name)
    for alphabet in (string.ascii_lowercase, string.ascii_letters, "ab", "-=_.,;:!?*#/+", "-=_.,;:"):
        text = "".join(rng.choice(alphabet) for _ in range(100_000))
        assert ours.encode_to_numpy(text).tolist() == ref.encode_ordinary(text), alphabet


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_tokenize_cli_writes_uint32_files(name, tmp_path, verdict_text) -> None:
    from llmprep.cli import main

    (tmp_path / "a.txt").write_text(verdict_text, encoding="utf-8")
    (tmp_path / "b.txt").write_text("데이터 처리 😀 " * 500, encoding="utf-8")
    out = tmp_path / "out.tok"
    assert main(["tokenize", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "-o", str(out), "--quiet"]
                + ["--encoding", name]) == 0  # fmt: skip
    ref = _pair(name)[1]
    tokens = llmprep.open_tokens(out)
    assert tokens.dtype == np.uint32  # ids go past 65,535
    assert tokens.encoding == name
    expected = []
    for doc in ((tmp_path / "a.txt").read_text(encoding="utf-8"), (tmp_path / "b.txt").read_text(encoding="utf-8")):
        expected += ref.encode_ordinary(doc) + [ref.eot_token]
    assert tokens.tokens.tolist() == expected
    assert max(expected) > 65535


def test_llama3_style_rank_file(tmp_path) -> None:
    # A .tiktoken file used with cl100k_base's pattern and its own special tokens (as Llama 3 does).
    import tiktoken
    from llmprep.encoding import load

    path = load.tiktoken_cache_path(load.CL100K_BASE.url)
    assert path is not None
    special = {"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001}
    ours = llmprep.Encoding.from_tiktoken_file(path, pattern="cl100k_base", special_tokens=special, name="llama3ish")
    ref = tiktoken.Encoding(
        "llama3ish",
        pat_str=tiktoken.get_encoding("cl100k_base")._pat_str,
        mergeable_ranks=tiktoken.get_encoding("cl100k_base")._mergeable_ranks,
        special_tokens=special,
    )
    assert ours._native == "cl100k_base" and ours.n_vocab == ref.n_vocab == 128002
    text = "<|begin_of_text|>Hello, world! It's 12345 — naïve\n\n  x<|end_of_text|>"
    assert ours.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    # A pattern string that is not native: parsed in C++, run by tiktoken's engine, with the warning.
    from llmprep.encoding import core

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core, "_warned_patterns", set())
        with pytest.warns(llmprep.TiktokenFallbackWarning):
            words = llmprep.Encoding.from_tiktoken_file(path, pattern=r"\w+|\s+|[^\w\s]+", special_tokens=special)
    ref_words = tiktoken.Encoding("w", pat_str=r"\w+|\s+|[^\w\s]+", mergeable_ranks=ref._mergeable_ranks,
                                  special_tokens=special)  # fmt: skip
    assert words.encode(text, allowed_special="all") == ref_words.encode(text, allowed_special="all")


def test_o200k_harmony_shared_special_id() -> None:
    # <|endofprompt|> and <|reserved_200018|> share id 200018 in o200k_harmony: both encode to it, it
    # decodes to <|endofprompt|> (tiktoken's choice), and allowing one leaves the other ordinary text.
    ours, ref = _pair("o200k_harmony")
    text = "a<|endofprompt|>b<|reserved_200018|>c"
    assert ours.decode_single_token_bytes(200018) == ref.decode_single_token_bytes(200018) == b"<|endofprompt|>"
    cases = [
        ("all", "all"),
        ({"<|endofprompt|>"}, ()),
        ({"<|reserved_200018|>"}, ()),
        ({"<|endofprompt|>", "<|reserved_200018|>"}, "all"),
        (set(), ()),
    ]
    for allowed, disallowed in cases:
        expected = ref.encode(text, allowed_special=allowed, disallowed_special=disallowed)
        assert ours.encode(text, allowed_special=allowed, disallowed_special=disallowed) == expected, allowed
        assert ours.encode_to_numpy(text, allowed_special=allowed, disallowed_special=disallowed).tolist() == expected
        assert ours.encode_batch([text, "x"], allowed_special=allowed, disallowed_special=disallowed)[0] == expected
    with pytest.raises(ValueError, match="reserved_200018"):
        ours.encode(text, allowed_special={"<|endofprompt|>"})
