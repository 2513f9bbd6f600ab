"""llmprep.sources: the checks, text encoding with every kind of tokenizer, ids above 65,535, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import llmprep
import numpy as np
import pytest
import torch
from _chapter_ch2 import IdsTokenizer, create_dataloader_v1
from llmprep import sources, tokens
from llmprep.data import GPTDataset, create_dataloader

SECRET = "SECRET-CORPUS-TEXT-7f3a "


# ----------------------------------------------------------------------------------------------
# One helper per check, one exception type per kind of mistake.


def test_checks_raise_type_error_for_kinds_and_value_error_for_values() -> None:
    assert sources.positive_int("n", 3) == 3
    for bad in (1.5, "3", True, None):
        with pytest.raises(TypeError, match="n must be an int"):
            sources.positive_int("n", bad)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            sources.positive_int("n", bad)
    assert sources.check_num_threads(None) == 0 and sources.check_num_threads(3) == 3
    with pytest.raises(ValueError, match="num_threads must be a positive integer, got 0"):
        sources.check_num_threads(0)
    with pytest.raises(TypeError, match="num_threads must be an int, not float"):
        sources.check_num_threads(2.0)
    with pytest.raises(TypeError, match="not supported"):
        sources.token_dtype(np.float32)
    with pytest.raises(TypeError, match="not a numpy dtype"):
        sources.token_dtype("nonsense")


def test_id_dtype_is_uint16_exactly_below_65536() -> None:
    narrowest = tokens.narrowest_id_dtype
    assert narrowest(max_id=0) == narrowest(max_id=65535) == np.uint16
    assert narrowest(max_id=65536) == narrowest(max_id=2**32 - 1) == np.uint32
    # vocab_size counts ids 0 .. vocab_size - 1: 65,536 of them still fit uint16.
    assert narrowest(vocab_size=0) == narrowest(vocab_size=1) == narrowest(vocab_size=65536) == np.uint16
    assert narrowest(vocab_size=65537) == narrowest(vocab_size=2**32) == np.uint32
    assert narrowest(vocab_size=np.int64(50257)) == np.uint16


def test_id_dtype_names_an_id_no_token_file_holds() -> None:
    narrowest = tokens.narrowest_id_dtype
    with pytest.raises(ValueError, match="0 to 2..32 - 1; got id 4294967296"):
        narrowest(max_id=2**32)
    with pytest.raises(ValueError, match="0 to 2..32 - 1; the vocabulary has 4294967296"):
        narrowest(vocab_size=2**32 + 1)
    with pytest.raises(ValueError, match="must be >= 0; got id -1"):
        narrowest(max_id=-1)
    with pytest.raises(ValueError, match="vocab_size must be >= 0, not -1"):
        narrowest(vocab_size=-1)
    for bad in ({}, {"vocab_size": 3, "max_id": 2}):
        with pytest.raises(TypeError, match="exactly one of vocab_size= and max_id="):
            narrowest(**bad)
    with pytest.raises(TypeError):
        narrowest(max_id=1.5)


def test_check_id_dtype_accepts_only_what_token_files_hold() -> None:
    for good, name in (("uint16", "uint16"), (np.uint32, "uint32"), (">u2", "uint16"), (np.dtype("<u4"), "uint32")):
        resolved = tokens.check_id_dtype(good)
        assert resolved.name == name and resolved.byteorder in "<="
    # ",int32" and "(" make numpy raise SyntaxError / ValueError (record formats); "u2," is a record.
    for bad in ("int64", np.int32, "uint8", "uint64", "float32", "nonsense", None, ",int32", "(", "u2,"):
        with pytest.raises(ValueError, match="token files hold uint16 or uint32 ids, not"):
            tokens.check_id_dtype(bad)
    for bad in ("float32", "nonsense", ",int32", "(", "u2,"):  # token_dtype: the in-memory policy
        with pytest.raises(TypeError, match="dtype"):
            sources.token_dtype(bad)


def test_encoded_ids_above_uint32_are_an_error_not_a_wrap() -> None:
    class Huge:
        def encode(self, text: str) -> list[int]:
            return [1, 2**32 + 5]

    with pytest.raises(ValueError, match="got id 4294967301"):
        sources.encode_text("x", Huge())


def test_windows_accepts_a_thread_count(verdict_ids) -> None:
    dataset = GPTDataset(verdict_ids, max_length=8, stride=3)
    one, two = dataset.windows(num_threads=1), dataset.windows(num_threads=2)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        dataset.windows(num_threads=0)


@pytest.fixture(scope="module")
def verdict_ids(verdict_text, tiktoken_gpt2) -> np.ndarray:
    return np.array(tiktoken_gpt2.encode(verdict_text, allowed_special={"<|endoftext|>"}), dtype=np.uint16)


# ----------------------------------------------------------------------------------------------
# Tokenizers.


def _reference_ids(text: str, tiktoken_gpt2) -> list[int]:
    return tiktoken_gpt2.encode(text, allowed_special={"<|endoftext|>"})


@pytest.mark.parametrize("kind", ["name", "llmprep", "tiktoken", "default"])
def test_every_gpt2_tokenizer_gives_the_chapter_batches(kind, verdict_text, tiktoken_gpt2) -> None:
    text = verdict_text + "<|endoftext|>" + verdict_text[:500]
    tokenizer = {
        "name": "gpt2",
        "llmprep": llmprep.get_encoding("gpt2"),
        "tiktoken": tiktoken_gpt2,
        "default": None,
    }[kind]
    dataset = GPTDataset(text, tokenizer, max_length=16, stride=8)
    assert dataset.tokens.dtype == np.uint16
    assert dataset.tokens.tolist() == _reference_ids(text, tiktoken_gpt2)
    torch.manual_seed(4)
    ours = list(create_dataloader(text, 4, 16, 8, tokenizer=tokenizer))
    torch.manual_seed(4)
    reference = list(create_dataloader_v1(text, 4, 16, 8, tokenizer=tiktoken_gpt2))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(ours, reference))


def test_an_llmprep_encoding_is_used_through_encode_to_numpy(verdict_text) -> None:
    class NoLists(llmprep.Encoding):  # fails if a list of Python ints is ever built
        def encode(self, *args, **kwargs):
            raise AssertionError("encode() was called; encode_to_numpy() was expected")

    base = llmprep.get_encoding("gpt2")
    encoding = object.__new__(NoLists)
    encoding.__dict__.update(base.__dict__)
    dataset = GPTDataset(verdict_text, encoding, max_length=8, stride=8)
    assert np.array_equal(dataset.tokens, base.encode_to_numpy(verdict_text))


def test_o200k_by_name(verdict_text) -> None:
    try:
        llmprep.get_encoding("o200k_base")
    except ValueError as e:
        pytest.skip(f"llmprep has no o200k_base yet ({e})")
    import tiktoken

    dataset = GPTDataset(verdict_text, "o200k_base", max_length=8, stride=8)
    expected = tiktoken.get_encoding("o200k_base").encode(verdict_text, allowed_special={"<|endoftext|>"})
    assert dataset.tokens.tolist() == expected
    assert dataset.tokens.dtype == tokens.narrowest_id_dtype(max_id=max(expected))


def test_a_simple_tokenizer(verdict_text) -> None:
    tokenizer = llmprep.SimpleTokenizer.from_text(verdict_text)
    dataset = GPTDataset(verdict_text, tokenizer, max_length=4, stride=2)
    assert dataset.tokens.tolist() == tokenizer.encode(verdict_text)


def test_errors_never_quote_the_text() -> None:
    text = SECRET * 3

    class Floats:
        def encode(self, text):
            return [0.5] * 10

    class Negative:
        def encode(self, text):
            return [-1, 2, 3]

    cases = [
        (Floats(), TypeError),
        (Negative(), ValueError),
        (object(), TypeError),
        ("no-such-encoding", ValueError),
        ("gpt2", ValueError),  # too short for a window of 4096
    ]
    for tokenizer, error in cases:
        with pytest.raises(error) as info:
            GPTDataset(text, tokenizer, max_length=4096)
        assert SECRET not in str(info.value), f"{type(tokenizer).__name__}: {info.value}"


def test_a_str_naming_a_file_is_refused(tmp_path, monkeypatch) -> None:
    path = tmp_path / "x.tok"
    with tokens.TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=None) as w:
        w.write(np.arange(20, dtype=np.uint16))
        w.end_document()
    monkeypatch.chdir(tmp_path)
    for name in ("x.tok", str(path)):
        with pytest.raises(TypeError, match=r"a str is always text. Pass a token file as Path\("):
            GPTDataset(name, max_length=4)
    assert len(GPTDataset(Path("x.tok"), max_length=4, stride=4)) == 4


# ----------------------------------------------------------------------------------------------
# Ids above 65,535 (uint32) through the dataset and the DataLoader.


@pytest.fixture(scope="module")
def wide_ids() -> np.ndarray:
    ids = np.random.default_rng(2).integers(0, 200_019, 5_000).astype(np.uint32)
    assert ids.max() > 65535
    return ids


@pytest.mark.parametrize("as_file", [False, True])
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
@pytest.mark.filterwarnings(r"ignore:This process .* is multi-threaded, use of fork\(\):DeprecationWarning")
def test_uint32_ids_flow_through_the_loader(tmp_path, wide_ids, as_file, workers) -> None:
    source = wide_ids
    if as_file:
        source = tmp_path / "wide.tok"
        with tokens.TokenFileWriter(
            source, dtype="uint32", encoding="o200k_base", vocab_size=200_019, eot_token=None
        ) as w:
            w.write(wide_ids)
            w.end_document()
        assert llmprep.open_tokens(source).dtype == np.uint32
    torch.manual_seed(6)
    ours = list(create_dataloader(source, 8, 32, 16, num_workers=workers))
    torch.manual_seed(6)
    reference = list(create_dataloader_v1("unused", 8, 32, 16, tokenizer=IdsTokenizer(wide_ids)))
    assert len(ours) == len(reference)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(ours, reference))
    assert max(int(b[0].max()) for b in ours) > 65535


def test_uint32_text_ids_are_kept_wide() -> None:
    class Wide:
        def encode(self, text):
            return [70_000 + ord(c) for c in text]

    dataset = GPTDataset("abcdefgh", Wide(), max_length=4, stride=1)
    assert dataset.tokens.dtype == np.uint32
    assert dataset[0][0].tolist() == [70_097, 70_098, 70_099, 70_100]


# ----------------------------------------------------------------------------------------------
# Sources pickle by path and carry their document offsets.


def test_sources_pickle_by_path_and_carry_offsets(tmp_path) -> None:
    path = tmp_path / "docs.tok"
    with tokens.TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256) as w:
        for doc in ([1, 2, 3], [4], [5, 6]):
            w.write(np.array(doc))
            w.end_document()
    source = sources.open_source(path)
    assert isinstance(source, sources.FileSource) and source.dtype == np.uint16 and len(source) == 9
    assert source._array is None, "opening reads the header only"
    assert source.document_offsets.tolist() == [0, 4, 6, 9]  # each document ends with its EOT
    clone = pickle.loads(pickle.dumps(source))
    assert clone._array is None and clone.array().tolist() == source.array().tolist()
    assert len(pickle.dumps(source)) < 1_000
    assert sources.open_source(np.arange(4, dtype=np.uint16)).document_offsets is None
    assert isinstance(sources.open_source([path, path]), sources.ShardSet)
