"""The chapter's code (../shared/seed, sections 2.2-2.6), re-expressed as the tests' reference.

SimpleTokenizerV1/V2, GPTDatasetV1 and create_dataloader_v1 are the chapter's code verbatim; the
only change is that create_dataloader_v1 accepts an optional tokenizer so tests can reuse one
tiktoken encoding. (llmprep._chapter holds another copy for the demo's timings; the tests keep
their own so that the reference cannot drift with the package.)
"""

from __future__ import annotations

import re

import torch
from torch.utils.data import DataLoader, Dataset

_PATTERN = r'([,.:;?_!"()\']|--|\s)'


def chapter_split(text: str, pattern: str = _PATTERN) -> list[str]:
    preprocessed = re.split(pattern, text)
    return [item.strip() for item in preprocessed if item.strip()]


def chapter_vocab(text: str, specials: tuple[str, ...] = ()) -> dict[str, int]:
    all_tokens = sorted(set(chapter_split(text)))
    all_tokens.extend(specials)
    return {token: integer for integer, token in enumerate(all_tokens)}


class SimpleTokenizerV1:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text):
        preprocessed = re.split(r'([,.:;?_!"()\']|--|\s)', text)
        preprocessed = [item.strip() for item in preprocessed if item.strip()]
        return [self.str_to_int[s] for s in preprocessed]

    def decode(self, ids):
        text = " ".join([self.int_to_str[i] for i in ids])
        return re.sub(r'\s+([,.?!"()\'])', r"\1", text)


class SimpleTokenizerV2:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text):
        preprocessed = re.split(r'([,.:;?_!"()\']|--|\s)', text)
        preprocessed = [item.strip() for item in preprocessed if item.strip()]
        preprocessed = [item if item in self.str_to_int else "<|unk|>" for item in preprocessed]
        return [self.str_to_int[s] for s in preprocessed]

    def decode(self, ids):
        text = " ".join([self.int_to_str[i] for i in ids])
        return re.sub(r'\s+([,.:;?!"()\'])', r"\1", text)


class GPTDatasetV1(Dataset):
    def __init__(self, txt, tokenizer, max_length, stride):
        self.input_ids = []
        self.target_ids = []

        # Tokenize the entire text
        token_ids = tokenizer.encode(txt, allowed_special={"<|endoftext|>"})

        # Use a sliding window to chunk the book into overlapping sequences of max_length
        for i in range(0, len(token_ids) - max_length, stride):
            input_chunk = token_ids[i : i + max_length]
            target_chunk = token_ids[i + 1 : i + max_length + 1]
            self.input_ids.append(torch.tensor(input_chunk))
            self.target_ids.append(torch.tensor(target_chunk))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, idx):
        return self.input_ids[idx], self.target_ids[idx]


def create_dataloader_v1(
    txt, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True, num_workers=0, tokenizer=None
):
    # Initialize the tokenizer
    if tokenizer is None:
        import tiktoken

        tokenizer = tiktoken.get_encoding("gpt2")

    # Create dataset
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)

    # Create dataloader
    dataloader = DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, num_workers=num_workers
    )

    return dataloader


class IdsTokenizer:
    """A tokenizer whose encode returns given ids: feeds GPTDatasetV1 a token array instead of text."""

    def __init__(self, ids):
        self.ids = [int(i) for i in ids]

    def encode(self, txt, allowed_special=None):
        return self.ids
