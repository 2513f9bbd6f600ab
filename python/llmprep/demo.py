"""``llmprep demo``: chapter 2 end to end, printing what the chapter prints, with each step timed
for llmprep and for the chapter's own code (pure Python, and tiktoken for BPE) side by side."""

from __future__ import annotations

import functools
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from llmprep import _chapter, _core
from llmprep._timing import best_of
from llmprep.simple import DEFAULT_SPECIALS, SimpleTokenizer

__all__ = ["STORY_URL", "cache_dir", "load_story", "run"]

#: Where the chapter downloads its short story from (section 2.2).
STORY_URL = "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/01_main-chapter-code/the-verdict.txt"
STORY_NAME = "the-verdict.txt"


def cache_dir() -> Path:
    """llmprep's cache folder: ``$LLMPREP_CACHE_DIR``, else ``$XDG_CACHE_HOME/llmprep``, else ``~/.cache/llmprep``."""
    if os.environ.get("LLMPREP_CACHE_DIR"):
        return Path(os.environ["LLMPREP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llmprep"


def load_story(text_path: str | None) -> tuple[str, str]:
    """The demo's text and where it came from: ``text_path``, the cache, or a download into the cache.

    Raises:
        OSError: The file cannot be read, or there is no cached copy and the download failed (the
            message says how to pass ``--text``).
    """
    if text_path is not None:
        return _core.read_text(os.fsdecode(text_path), False), text_path
    cached = cache_dir() / STORY_NAME
    if cached.is_file():
        return _core.read_text(str(cached), False), f"{cached} (cache)"
    url = os.environ.get("LLMPREP_STORY_URL", STORY_URL)
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            data = response.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise OSError(
            f"the chapter's story is not cached at {cached} and downloading it from {url} failed ({reason}); "
            "pass a local copy with --text PATH (e.g. --text the-verdict.txt)"
        ) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=cached.parent, prefix=".download-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, cached)
    except BaseException:
        os.unlink(temp)
        raise
    return data.decode("utf-8"), f"{url} (downloaded to {cached})"


def run(text_path: str | None = None, device: str = "cpu", print_fn: Callable[[str], None] = print) -> None:
    """Runs the chapter end to end. See the module docstring."""
    import torch

    import llmprep
    from llmprep.data import create_dataloader
    from llmprep.nn import GPTEmbedding, TokenEmbedding

    if device not in ("cpu", "cuda"):
        raise ValueError(f'device must be "cpu" or "cuda", not {device!r}')
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    raw_text, origin = load_story(text_path)
    if not raw_text.strip():
        raise ValueError(f"{origin} holds no words: the demo needs some text")
    out = print_fn
    best = functools.partial(best_of, repeat=5)
    timings: list[tuple[str, float, float]] = []

    out(f"text: {origin}")
    out("\n## 2.2 Tokenizing text")
    out(f"Total number of character: {len(raw_text)}")
    out(raw_text[:99])
    plain = SimpleTokenizer({})
    preprocessed = plain.split(raw_text)
    out(str(preprocessed[:30]))
    out(str(len(preprocessed)))

    out("\n## 2.3 Converting tokens into token IDs")
    v1 = SimpleTokenizer.from_text(raw_text, specials=(), unknown="error")
    out(str(len(v1)))
    for i, item in enumerate(v1.vocab.items()):
        out(str(item))
        if i >= 50:
            break
    text = '"It\'s the last he painted, you know,"\n           Mrs. Gisburn said with pardonable pride.'
    # On another text the chapter's sentence may hold words the vocabulary lacks: the chapter's V1
    # then raises KeyError, which the demo shows as text, as the chapter shows it, and goes on.
    try:
        ids = v1.encode(text)
        out(f"SimpleTokenizerV1.encode: {ids}")
        out(f"SimpleTokenizerV1.decode: {v1.decode(ids)!r}")
    except KeyError as e:
        out(f"SimpleTokenizerV1.encode: KeyError: {e} (a word of the chapter's sentence is not in this text)")

    out("\n## 2.4 Adding special context tokens")
    try:
        ids = v1.encode("Hello, do you like tea. Is this-- a test?")
        out(f"SimpleTokenizerV1 on the chapter's new sentence: {ids} (every word is in this text)")
    except KeyError as e:
        out(f"SimpleTokenizerV1 on an unknown word: KeyError: {e}")
    v2 = SimpleTokenizer.from_text(raw_text)
    out(str(len(v2)))
    for item in list(v2.vocab.items())[-5:]:
        out(str(item))
    text = " <|endoftext|> ".join(("Hello, do you like tea?", "In the sunlit terraces of the palace."))
    out(text)
    out(f"SimpleTokenizerV2.encode: {v2.encode(text)}")
    out(f"SimpleTokenizerV2.decode: {v2.decode(v2.encode(text))!r}")
    ref_vocab = _chapter.build_vocab(raw_text, DEFAULT_SPECIALS)
    ref_v2 = _chapter.SimpleTokenizerV2(ref_vocab)  # the chapter's code, verbatim
    timings.append(
        (
            "word vocabulary (2.3-2.4)",
            best(lambda: _chapter.build_vocab(raw_text, DEFAULT_SPECIALS)),
            best(lambda: SimpleTokenizer.from_text(raw_text)),
        )
    )
    timings.append(
        (
            "SimpleTokenizerV2.encode(story)",
            best(lambda: ref_v2.encode(raw_text)),
            best(lambda: v2.encode(raw_text)),
        )
    )

    out("\n## 2.5 BytePair encoding")
    tokenizer = llmprep.get_encoding("gpt2")
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace."
    integers = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
    out(str(integers))
    out(tokenizer.decode(integers))
    enc_text = tokenizer.encode(raw_text)
    out(f"GPT-2 tokens in the text: {len(enc_text)}")
    import tiktoken

    reference_bpe = tiktoken.get_encoding("gpt2")
    timings.append(
        (
            "GPT-2 BPE encode(story) [tiktoken]",
            best(lambda: reference_bpe.encode(raw_text)),
            best(lambda: tokenizer.encode(raw_text)),
        )
    )

    out("\n## 2.6 Data sampling with a sliding window")
    # The chapter's batches need 8 windows of 4 tokens (33 tokens); a shorter text is repeated.
    needed = 8 * 4 + 1
    if len(enc_text) < needed:
        repeats = -(-needed // max(len(enc_text), 1))
        out(f"(the text has {len(enc_text)} GPT-2 tokens; the batches need {needed}: repeated {repeats}x)")
        raw_text = " ".join([raw_text] * repeats)
        enc_text = tokenizer.encode(raw_text)
    enc_sample = enc_text[50:]
    context_size = 4
    out(f"x: {enc_sample[:context_size]}")
    out(f"y:      {enc_sample[1 : context_size + 1]}")
    dataloader = create_dataloader(raw_text, batch_size=1, max_length=4, stride=1, shuffle=False, tokenizer=tokenizer)
    data_iter = iter(dataloader)
    out(f"first batch: {next(data_iter)}")
    out(f"second batch: {next(data_iter)}")
    dataloader = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False, tokenizer=tokenizer)
    inputs, targets = next(iter(dataloader))
    out(f"Inputs:\n {inputs}")
    out(f"\nTargets:\n {targets}")

    def chapter_batches() -> None:
        for _ in _chapter.create_dataloader_v1(
            raw_text, reference_bpe, batch_size=8, max_length=4, stride=4, shuffle=False
        ):
            pass

    def llmprep_batches() -> None:
        for _ in create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False, tokenizer=tokenizer):
            pass

    timings.append(("dataset + all batches (8, 4, 4)", best(chapter_batches), best(llmprep_batches)))

    out("\n## 2.7 Creating token embeddings")
    torch.manual_seed(123)
    embedding_layer = TokenEmbedding(6, 3)
    out(str(embedding_layer.weight))
    out(str(embedding_layer(torch.tensor([2, 3, 5, 1]))))

    out("\n## 2.8 Encoding word positions")
    vocab_size, output_dim, max_length = 50257, 256, 4
    embedding = GPTEmbedding(vocab_size, output_dim, context_length=max_length, device=device)
    inputs = inputs.to(device)
    out(f"Inputs shape: {inputs.shape}")
    out(f"token embeddings shape: {embedding.token(inputs).shape}")
    out(f"positional embeddings shape: {embedding.position(max_length).shape}")
    out(f"input embeddings shape: {embedding(inputs).shape}")
    torch.manual_seed(123)
    token_layer = torch.nn.Embedding(vocab_size, output_dim, device=device)
    pos_layer = torch.nn.Embedding(max_length, output_dim, device=device)
    positions = torch.arange(max_length, device=device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def chapter_embeddings() -> torch.Tensor:
        result: torch.Tensor = token_layer(inputs) + pos_layer(positions)
        sync()
        return result

    def llmprep_embeddings() -> torch.Tensor:
        result: torch.Tensor = embedding(inputs)
        sync()
        return result

    timings.append(("input embeddings (8, 4, 256)", best(chapter_embeddings), best(llmprep_embeddings)))

    out("\n## Time per step: the chapter's code vs llmprep (best of 5)")
    out(f"  {'step':<38} {'chapter':>12} {'llmprep':>12} {'ratio':>8}")
    for name, t_ref, t_ours in timings:
        out(f"  {name:<38} {t_ref * 1e3:9.3f} ms {t_ours * 1e3:9.3f} ms {t_ref / t_ours:7.1f}x")
