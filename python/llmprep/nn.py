"""Token and positional embeddings (the chapter's sections 2.7-2.8) as checked PyTorch modules.

``GPTEmbedding`` is ``token_embedding(ids) + positional_embedding(arange(T))``, exactly as the chapter
builds its input embeddings, with the checks a training loop needs: ids out of range raise a Python
error that names them (instead of a device-side assert that poisons the CUDA context), and a
sequence longer than the context raises ``ValueError``.

This module imports torch; ``import llmprep`` does not import it.
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
except ModuleNotFoundError as e:  # torch is an optional dependency: the tokenizers work without it
    if e.name != "torch":
        raise
    raise ModuleNotFoundError(
        'llmprep.nn needs PyTorch, which is not installed; install it with pip install "llmprep[torch]"', name="torch"
    ) from e

__all__ = ["GPTEmbedding", "PositionalEmbedding", "TokenEmbedding"]


def _check_ids(ids: object, vocab_size: int, check_range: bool) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"ids must be a torch.Tensor of int32 or int64, not {type(ids).__name__}")
    if ids.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"ids must have dtype torch.int32 or torch.int64, not {ids.dtype}; convert with ids.long()")
    if check_range and ids.numel() > 0:
        # One fused reduction and one host sync; far cheaper than a poisoned CUDA context.
        out_of_range = (ids < 0) | (ids >= vocab_size)
        if bool(out_of_range.any()):
            where = out_of_range.nonzero()
            first = tuple(where[0].tolist())
            raise IndexError(
                f"ids must be in [0, {vocab_size}); found {len(where)} out-of-range id(s), the first "
                f"{ids[first].item()} at index {list(first)}; check the tokenizer's vocabulary size"
            )
    return ids


class TokenEmbedding(nn.Embedding):
    """``nn.Embedding`` for token ids, with ids checked before the lookup.

    Initialised exactly like ``nn.Embedding`` (N(0, 1)), so under ``torch.manual_seed(123)``
    ``TokenEmbedding(6, 3).weight`` is the chapter's 6x3 matrix.

    Args:
        vocab_size: Number of token ids.
        emb_dim: Embedding width.
        check_ids: Raise ``IndexError`` naming out-of-range ids (default). On CUDA the check costs
            one small reduction and a host sync per call; ``False`` skips it, and then an
            out-of-range id is undefined behaviour (a device-side assert on CUDA).
        device, dtype: As for ``nn.Embedding``.

    >>> _ = torch.manual_seed(123)
    >>> TokenEmbedding(6, 3)(torch.tensor([3])).detach()
    tensor([[-0.4015,  0.9666, -1.1481]])
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        *,
        check_ids: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        _check_sizes(vocab_size=vocab_size, emb_dim=emb_dim)
        super().__init__(vocab_size, emb_dim, device=device, dtype=dtype)
        self.check_ids = check_ids

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return super().forward(_check_ids(ids, self.num_embeddings, self.check_ids))


class PositionalEmbedding(nn.Embedding):
    """Absolute learned positions (GPT-2 style): ``forward(T)`` is the weight's first ``T`` rows.

    Equal to the chapter's ``pos_embedding_layer(torch.arange(T))`` without building the index
    tensor (a slice of the weight; gradients flow to those rows only).

    Args:
        context_length: The longest supported sequence.
        emb_dim: Embedding width.
        device, dtype: As for ``nn.Embedding``.

    Raises:
        ValueError: ``T`` is larger than ``context_length``, or negative.

    >>> PositionalEmbedding(4, 256)(4).shape
    torch.Size([4, 256])
    """

    def __init__(
        self,
        context_length: int,
        emb_dim: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        _check_sizes(context_length=context_length, emb_dim=emb_dim)
        super().__init__(context_length, emb_dim, device=device, dtype=dtype)

    @property
    def context_length(self) -> int:
        return self.num_embeddings

    def forward(self, seq_len: int) -> torch.Tensor:  # type: ignore[override]
        if isinstance(seq_len, bool) or not isinstance(seq_len, int):
            raise TypeError(f"seq_len must be an int, not {type(seq_len).__name__}")
        if not 0 <= seq_len <= self.num_embeddings:
            raise ValueError(
                f"sequence length {seq_len} is outside 0..context_length={self.num_embeddings}; "
                "use shorter windows (max_length) or a larger context_length"
            )
        return self.weight[:seq_len]


class GPTEmbedding(nn.Module):
    """Input embeddings of a GPT model: token embedding + positional embedding (+ dropout).

    ``forward(ids[B, T]) -> [B, T, emb_dim]`` equals the chapter's
    ``token_embedding_layer(ids) + pos_embedding_layer(torch.arange(T))``. Token weights are created
    first, then positional, so under the same seed both equal the chapter's layers.

    Args:
        vocab_size: Number of token ids (50,257 for GPT-2).
        emb_dim: Embedding width.
        context_length: The longest supported sequence.
        dropout: Dropout probability applied to the sum (GPT-2's ``drop_emb``; 0 disables it).
        check_ids: See :class:`TokenEmbedding`.
        device, dtype: Where and in which floating type the weights live (fp32, bf16, fp16).

    Raises:
        TypeError: ``ids`` is not an int32/int64 tensor.
        ValueError: ``ids`` is not 2-D, or ``T`` > ``context_length``.
        IndexError: An id outside ``[0, vocab_size)``.

    >>> emb = GPTEmbedding(vocab_size=50257, emb_dim=256, context_length=4)
    >>> emb(torch.zeros(8, 4, dtype=torch.long)).shape
    torch.Size([8, 4, 256])
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        context_length: int,
        dropout: float = 0.0,
        *,
        check_ids: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
        self.token = TokenEmbedding(vocab_size, emb_dim, check_ids=check_ids, device=device, dtype=dtype)
        self.position = PositionalEmbedding(context_length, emb_dim, device=device, dtype=dtype)
        self.dropout = nn.Dropout(dropout)

    @property
    def vocab_size(self) -> int:
        return self.token.num_embeddings

    @property
    def context_length(self) -> int:
        return self.position.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if isinstance(ids, torch.Tensor) and ids.dim() != 2:
            raise ValueError(
                f"ids must have shape [batch, seq_len]; got {list(ids.shape)}"
                + ("; add a batch dimension with ids[None]" if ids.dim() == 1 else "")
            )
        tokens = self.token(ids)
        seq_len = ids.shape[1]
        if seq_len > self.context_length:
            raise ValueError(
                f"sequence length {seq_len} exceeds context_length {self.context_length}; "
                "use shorter windows (max_length) or a larger context_length"
            )
        embeddings: torch.Tensor = tokens + self.position(seq_len)
        # nn.Dropout(p=0) in training mode still launches a kernel: skip it when it cannot drop.
        if self.dropout.p == 0:
            return embeddings
        dropped: torch.Tensor = self.dropout(embeddings)
        return dropped


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, not {value!r}")
