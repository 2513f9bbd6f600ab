"""GPTDataset reads the files `llmprep tokenize` writes: the llmprep format and raw ids with their
sidecar describe themselves, so no dtype= is needed, and the windows equal those over the ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import llmprep  # noqa: E402
from llmprep.corpus import get_chunk_encoder, tokenize_corpus  # noqa: E402


@pytest.mark.parametrize("fmt", ["llmprep", "raw"])
def test_dataset_over_a_token_file_equals_dataset_over_its_ids(tmp_path, verdict_path, fmt) -> None:
    out = tmp_path / ("story.tok" if fmt == "llmprep" else "story.bin")
    tokenize_corpus([str(verdict_path)], out, get_chunk_encoder("gpt2"), format=fmt)
    ids = np.asarray(llmprep.open_tokens(out).tokens)
    from_file = llmprep.GPTDataset(Path(out), max_length=8, stride=4)
    from_ids = llmprep.GPTDataset(ids.copy(), max_length=8, stride=4)
    assert len(from_file) == len(from_ids) > 1000
    for i in (0, 1, len(from_ids) - 1):
        for a, b in zip(from_file[i], from_ids[i]):
            assert torch.equal(a, b)


def test_a_wrong_dtype_and_a_damaged_file_are_named(tmp_path, verdict_path) -> None:
    out = tmp_path / "story.tok"
    tokenize_corpus([str(verdict_path)], out, get_chunk_encoder("gpt2"))
    with pytest.raises(ValueError, match="holds uint16 ids .* not uint32"):
        llmprep.GPTDataset(out, max_length=8, stride=4, dtype=np.uint32)
    out.write_bytes(out.read_bytes()[:-5])
    with pytest.raises(llmprep.TokenFileError, match="is truncated"):
        llmprep.GPTDataset(out, max_length=8, stride=4)
