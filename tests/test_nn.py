"""Embedding modules: the chapter's seeded values, equality with plain nn.Embedding + add (outputs
and gradients), dtypes, devices, and every bad input."""

from __future__ import annotations

import pytest
import torch
from llmprep.nn import GPTEmbedding, PositionalEmbedding, TokenEmbedding

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_seeded_weights_are_the_chapters(golden) -> None:
    torch.manual_seed(123)
    layer = TokenEmbedding(6, 3)
    expected = torch.tensor(golden["embedding_seed123_6x3_weight"])
    torch.testing.assert_close(layer.weight.detach(), expected, atol=1e-4, rtol=0)
    torch.manual_seed(123)
    torch.testing.assert_close(layer.weight, torch.nn.Embedding(6, 3).weight, atol=0, rtol=0)


def test_lookup_is_the_weight_rows(golden) -> None:
    torch.manual_seed(123)
    layer = TokenEmbedding(6, 3)
    ids = torch.tensor(golden["embedding_lookup_ids"])
    torch.testing.assert_close(layer(ids), layer.weight[[2, 3, 5, 1]])
    expected = torch.tensor(golden["embedding_seed123_6x3_weight"])[[2, 3, 5, 1]]
    torch.testing.assert_close(layer(ids).detach(), expected, atol=1e-4, rtol=0)


def test_story_batch_shape(golden) -> None:
    inputs = torch.tensor(golden["dataloader_b8_l4_s4_inputs"])
    emb = GPTEmbedding(50257, 256, context_length=4)
    assert list(emb(inputs).shape) == golden["input_embeddings_shape_b8_l4_d256"] == [8, 4, 256]


def test_embedding_is_one_hot_matmul() -> None:
    torch.manual_seed(0)
    layer = TokenEmbedding(6, 3)
    ids = torch.tensor([2, 3, 5, 1])
    one_hot = torch.nn.functional.one_hot(ids, num_classes=6).float()
    torch.testing.assert_close(layer(ids), one_hot @ layer.weight)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("id_dtype", [torch.int32, torch.int64])
def test_equals_chapter_layers_outputs_and_gradients(device: str, id_dtype: torch.dtype) -> None:
    vocab, dim, context = 50, 16, 8
    torch.manual_seed(7)
    ours = GPTEmbedding(vocab, dim, context, device=device)
    torch.manual_seed(7)
    tok = torch.nn.Embedding(vocab, dim, device=device)
    pos = torch.nn.Embedding(context, dim, device=device)
    ids = torch.randint(0, vocab, (4, 6), device=device)

    out = ours(ids.to(id_dtype))
    ref = tok(ids) + pos(torch.arange(6, device=device))
    torch.testing.assert_close(out, ref, atol=0, rtol=0)

    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(ours.token.weight.grad, tok.weight.grad)
    torch.testing.assert_close(ours.position.weight.grad, pos.weight.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_float_dtypes(device: str, dtype: torch.dtype) -> None:
    torch.manual_seed(1)
    emb = GPTEmbedding(20, 8, 5, dtype=dtype, device=device)
    ids = torch.randint(0, 20, (3, 5), device=device)
    out = emb(ids)
    assert out.dtype == dtype and out.device.type == device
    torch.testing.assert_close(out, emb.token.weight[ids] + emb.position.weight[:5])


def test_positional_equals_arange_lookup() -> None:
    torch.manual_seed(3)
    pos = PositionalEmbedding(10, 4)
    torch.testing.assert_close(pos(7), torch.nn.functional.embedding(torch.arange(7), pos.weight))
    assert pos(0).shape == (0, 4)
    assert pos.context_length == 10


def test_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    emb = GPTEmbedding(10, 64, 4, dropout=0.5)
    ids = torch.randint(0, 10, (2, 4))
    emb.eval()
    plain = emb(ids)
    emb.train()
    dropped = emb(ids)
    assert (dropped == 0).any() and not (plain == 0).any()


def test_shorter_sequences_than_context() -> None:
    emb = GPTEmbedding(10, 4, context_length=8)
    assert emb(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 3, 4)


# -- bad input ---------------------------------------------------------------------------------


def test_sequence_longer_than_context_names_both() -> None:
    emb = GPTEmbedding(10, 4, context_length=4)
    with pytest.raises(ValueError, match="sequence length 5 exceeds context_length 4"):
        emb(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="sequence length 5 is outside 0..context_length=4"):
        emb.position(5)


@pytest.mark.parametrize("device", DEVICES)
def test_out_of_range_ids_are_named(device: str) -> None:
    emb = GPTEmbedding(10, 4, context_length=4, device=device)
    ids = torch.tensor([[1, 2, 10, 3]], device=device)
    with pytest.raises(IndexError, match=r"\[0, 10\); found 1 out-of-range id\(s\), the first 10 at index \[0, 2\]"):
        emb(ids)
    with pytest.raises(IndexError, match="the first -1 at index"):
        emb(torch.tensor([[-1, 0]], device=device))
    # The module (and, on CUDA, the context) is still usable afterwards.
    assert emb(torch.tensor([[1, 2]], device=device)).shape == (1, 2, 4)


def test_wrong_ids_type_dtype_and_rank() -> None:
    emb = GPTEmbedding(10, 4, context_length=4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        emb([[1, 2]])
    with pytest.raises(TypeError, match="dtype torch.int32 or torch.int64, not torch.float32"):
        emb(torch.zeros(1, 2))
    with pytest.raises(TypeError, match="not torch.bool"):
        emb(torch.zeros(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[batch, seq_len\]; got \[4\]; add a batch dimension"):
        emb(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got \[1, 2, 3\]"):
        emb(torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="seq_len must be an int"):
        emb.position(torch.tensor(3))


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="vocab_size must be a positive int"):
        TokenEmbedding(0, 3)
    with pytest.raises(ValueError, match="context_length must be a positive int"):
        GPTEmbedding(10, 3, context_length=-1)
    with pytest.raises(ValueError, match="dropout must be in"):
        GPTEmbedding(10, 3, 4, dropout=1.5)


def test_unchecked_mode_skips_the_range_check() -> None:
    emb = TokenEmbedding(10, 4, check_ids=False)
    assert emb(torch.tensor([9])).shape == (1, 4)
    with pytest.raises(IndexError):  # PyTorch's own CPU error, not ours
        emb(torch.tensor([10]))
