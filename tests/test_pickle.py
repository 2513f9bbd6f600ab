"""Pickling encodings: by name when registered, by ranks otherwise; across spawn processes too.

tiktoken encodings pickle, so `multiprocessing.Pool.map(enc.encode_ordinary, ...)`, `copy.deepcopy`,
`datasets.map(num_proc=...)` and DataLoader workers started with spawn all work with them; these
tests hold llmprep's encodings to the same.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle

import llmprep
import numpy as np
import pytest
from llmprep import Encoding, get_encoding
from llmprep.encoding import registry

TEXTS = ["hello world", "It's 2024: <|endoftext|> naïve café 😀", "", "   \n\n  x", "데이터 処理 данные"]


@pytest.fixture(scope="module")
def enc(tiktoken_gpt2) -> Encoding:
    return get_encoding("gpt2")


def _custom(enc: Encoding) -> Encoding:
    return Encoding(
        "custom", pat_str=enc._pat_str, mergeable_ranks=enc._mergeable_ranks, special_tokens={"<|pickle|>": 100_000}
    )


def _same_ids(a: Encoding, b: Encoding) -> None:
    for text in TEXTS:
        assert a.encode(text, allowed_special="all") == b.encode(text, allowed_special="all")
        assert a.encode_ordinary(text) == b.encode_ordinary(text)
    assert a._mergeable_ranks == b._mergeable_ranks
    assert (a.name, a._pat_str, a._special_tokens, a.n_vocab) == (b.name, b._pat_str, b._special_tokens, b.n_vocab)


def test_registered_encoding_pickles_as_its_name(enc) -> None:
    data = pickle.dumps(enc)
    assert len(data) < 200  # the name, not 50k ranks
    assert b"gpt2" in data
    assert pickle.loads(data) is enc  # memoized per process: the same object comes back
    assert copy.deepcopy(enc) is enc
    assert copy.copy(enc) is enc
    assert registry.is_registered(enc)


def test_registered_name_is_loaded_when_not_yet_cached(enc, monkeypatch) -> None:
    # A process that never loaded the encoding (a spawn worker) loads it on unpickling.
    data = pickle.dumps(enc)
    monkeypatch.setattr(registry, "_ENCODINGS", {})
    fresh = pickle.loads(data)
    assert fresh is not enc and fresh is get_encoding("gpt2")
    _same_ids(fresh, enc)


def test_custom_encoding_pickles_by_ranks(enc) -> None:
    custom = _custom(enc)
    assert not registry.is_registered(custom)
    for copied in (pickle.loads(pickle.dumps(custom)), copy.deepcopy(custom)):
        assert copied is not custom
        _same_ids(copied, custom)
        assert copied.encode("<|pickle|>", allowed_special="all") == [100_000]


def test_encoding_loaded_from_files_pickles_by_ranks(enc, gpt2_dir) -> None:
    # Named "gpt2" but not the registry's object: it travels as its table (its ranks live in C++).
    local = Encoding.from_files(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
    assert local._ranks is None and not registry.is_registered(local)
    copied = pickle.loads(pickle.dumps(local))
    _same_ids(copied, local)


def test_fallback_encoding_pickles(enc, monkeypatch) -> None:
    from llmprep.encoding import core

    monkeypatch.setattr(core, "_warned_patterns", {r"\w+|\s+|[^\w\s]+"})  # warned already: no warning here
    other = Encoding("words", pat_str=r"\w+|\s+|[^\w\s]+", mergeable_ranks=enc._mergeable_ranks, special_tokens={})
    copied = pickle.loads(pickle.dumps(other))
    assert type(copied) is type(other)
    _same_ids(copied, other)


def _encode_in_worker(args: tuple[bytes, str]) -> list[int]:
    encoding = pickle.loads(args[0])
    again = pickle.loads(args[0])
    assert (again is encoding) == registry.is_registered(encoding)  # memoized in the worker too
    return encoding.encode(args[1], allowed_special="all")  # type: ignore[no-any-return]


@pytest.mark.slow
def test_spawn_pool_maps_bound_methods(enc) -> None:
    custom = _custom(enc)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        assert pool.map(enc.encode_ordinary, TEXTS) == [enc.encode_ordinary(t) for t in TEXTS]
        got = pool.map(_encode_in_worker, [(pickle.dumps(e), t) for e in (enc, custom) for t in TEXTS])
    assert got == [e.encode(t, allowed_special="all") for e in (enc, custom) for t in TEXTS]


class _TextDataset:
    """A map-style dataset that tokenizes in the worker with the encoding it was given."""

    def __init__(self, encoding: Encoding, texts: list[str]) -> None:
        self.encoding = encoding
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.encoding.encode_to_numpy(self.texts[index], allowed_special="all").copy()


def _as_is(ids: np.ndarray) -> np.ndarray:
    return ids


@pytest.mark.slow
def test_spawn_dataloader_worker_uses_the_encoding(enc) -> None:
    torch = pytest.importorskip("torch")
    texts = TEXTS * 3
    for encoding in (enc, _custom(enc)):
        loader = torch.utils.data.DataLoader(
            _TextDataset(encoding, texts),
            batch_size=None,
            num_workers=1,
            multiprocessing_context="spawn",
            collate_fn=_as_is,
        )
        got = [ids.tolist() for ids in loader]
        assert got == [encoding.encode(t, allowed_special="all") for t in texts]


def test_package_exports_the_fallback_warning() -> None:
    assert issubclass(llmprep.TiktokenFallbackWarning, UserWarning)
