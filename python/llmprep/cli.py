"""The ``llmprep`` command line. Each subcommand is one ``_add_<name>`` / ``_run_<name>`` pair.

Errors a user can cause (missing files, invalid UTF-8, bad arguments) print one line on stderr
and exit with status 1; they never show a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import llmprep
from llmprep import _core
from llmprep.simple import DEFAULT_SPECIALS, SimpleTokenizer

__all__ = ["main"]


def _add_vocab(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vocab",
        help="build the chapter's word-level vocabulary from a text file",
        description="Build a SimpleTokenizer vocabulary as the chapter does (sorted unique words, then "
        "the special tokens), print its size, the token count and the first entries, and save it as JSON.",
    )
    parser.add_argument("file", help="UTF-8 text file")
    parser.add_argument("-o", "--output", help="write the vocabulary here (JSON, UTF-8)")
    parser.add_argument("--errors", choices=("strict", "replace"), default="strict", help="invalid UTF-8 policy")
    parser.add_argument(
        "--specials",
        nargs="*",
        default=list(DEFAULT_SPECIALS),
        metavar="TOKEN",
        help="special tokens appended after the words (default: %(default)s); give none for the V1 vocabulary",
    )
    parser.add_argument(
        "--unknown",
        choices=("unk", "error"),
        default=None,
        help="unknown-word mode saved with the vocabulary (default: unk when <|unk|> is a special, else error)",
    )
    parser.add_argument("--show", type=int, default=10, metavar="N", help="entries to print (default: %(default)s)")
    parser.set_defaults(run=_run_vocab)


def _run_vocab(args: argparse.Namespace) -> int:
    if args.show < 0:
        raise ValueError(f"--show must be >= 0, not {args.show}")
    unknown = args.unknown or ("unk" if "<|unk|>" in args.specials else "error")
    text = _core.read_text(os.fsdecode(args.file), args.errors == "replace")
    tokenizer = SimpleTokenizer.from_text(text, specials=tuple(args.specials), unknown=unknown)
    n_tokens = len(tokenizer.encode_to_numpy(text)) if unknown == "unk" else len(tokenizer.split(text))
    n_words = len(tokenizer) - sum(1 for s in dict.fromkeys(args.specials) if s in tokenizer.vocab)
    print(f"vocabulary: {len(tokenizer):,} entries ({n_words:,} words + specials {args.specials}) from {args.file}")
    print(f"tokens: {n_tokens:,}")
    if args.show:
        print(f"first {min(args.show, len(tokenizer))} entries:")
        for i, (word, index) in enumerate(tokenizer.vocab.items()):
            if i >= args.show:
                break
            print(f"  {index:>6}  {word!r}")
    if args.output:
        tokenizer.save(args.output)
        print(f"saved to {args.output}")
    return 0


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run chapter 2 end to end and print what it prints, timed against the chapter's code",
        description="Run chapter 2 end to end: word tokenizer, vocabularies, <|unk|>, GPT-2 BPE, sliding-window "
        "batches, token and positional embeddings, printing the chapter's values and each step's time for the "
        "chapter's code and for llmprep. Without --text it uses the chapter's story from llmprep's cache folder "
        "($LLMPREP_CACHE_DIR or ~/.cache/llmprep), downloading it there on first use.",
    )
    parser.add_argument("--text", help="the text to use (default: the chapter's story, the-verdict.txt)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the embeddings run")
    parser.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from llmprep import demo

    demo.run(args.text, args.device)
    return 0


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_vocab, _add_demo]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmprep", description="Fast, exact text-to-training-batch preprocessing for GPT-style models."
    )
    parser.add_argument("--version", action="version", version=f"llmprep {llmprep.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("llmprep: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"llmprep: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
