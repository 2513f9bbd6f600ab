"""The ``llmprep`` command line. Each subcommand is one ``_add_<name>`` / ``_run_<name>`` pair.

Errors a user can cause (missing files, invalid UTF-8, bad arguments) print one line on stderr
and exit with status 1; they never show a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import llmprep
from llmprep import _core
from llmprep.simple import DEFAULT_SPECIALS, SimpleTokenizer

__all__ = ["main"]


def _add_vocab(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "vocab",
        help="build the chapter's word-level vocabulary from a text file",
        description="Build a SimpleTokenizer vocabulary as the chapter does (sorted unique words, then "
        "the special tokens), print its size, the token count and the first entries, and save it as JSON.",
    )
    parser.add_argument("file", help="UTF-8 text file")
    parser.add_argument("-o", "--output", help="write the vocabulary here (JSON, UTF-8)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
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
    unknown: Literal["unk", "error"] = args.unknown or ("unk" if "<|unk|>" in args.specials else "error")
    if args.output:
        from llmprep._outputs import check_output

        check_output(args.output, inputs=[args.file], overwrite=args.force)
    text = _core.read_text(os.fsdecode(args.file), args.errors == "replace")
    tokenizer = SimpleTokenizer.from_text(text, specials=tuple(args.specials), unknown=unknown)
    n_tokens = len(tokenizer.encode_to_numpy(text)) if unknown == "unk" else len(tokenizer.split(text))
    n_words = len(tokenizer) - sum(1 for s in dict.fromkeys(args.specials) if s in tokenizer.vocab)
    print(f"vocabulary: {len(tokenizer):,} entries ({n_words:,} words + specials {args.specials}) from {args.file}")
    print(f"tokens: {_count(n_tokens, 'token')}")
    if args.show:
        print(f"first {min(args.show, len(tokenizer))} entries:")
        for i, (word, index) in enumerate(tokenizer.vocab.items()):
            if i >= args.show:
                break
            print(f"  {index:>6}  {word!r}")
    if args.output:
        tokenizer.save(args.output, overwrite=args.force)
        print(f"saved to {args.output}")
    return 0


def _add_tokenize(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tokenize",
        help="tokenize text, JSONL or Parquet files (plain or compressed), directories or stdin into a token file",
        description="Tokenize a corpus into one token file, streaming (bounded memory) and in parallel. Each "
        "text file, JSONL record or Parquet row is a document; each document is followed by <|endoftext|> unless "
        "--no-eot. Compressed inputs (.gz, .bz2, .xz, .zst) are decompressed as they are read. The output appears "
        "only when the run succeeds; an existing file is replaced only with --force.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="text, .jsonl/.ndjson/.json or .parquet files (optionally compressed), directories, or - for stdin",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="the token file to write; - streams --format raw ids to standard output",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument(
        "--encoding",
        default="gpt2",
        help="gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, o200k_harmony, ... or simple (default: %(default)s)",
    )
    parser.add_argument("--vocab", help="vocabulary for --encoding simple (saved by llmprep vocab -o FILE)")
    parser.add_argument(
        "--vocab-files",
        nargs=2,
        metavar=("ENCODER_JSON", "VOCAB_BPE"),
        help="load the BPE vocabulary from local GPT-2 files (encoder.json, vocab.bpe) instead of tiktoken's cache",
    )
    parser.add_argument(
        "--tiktoken-file",
        metavar="PATH",
        help="load the BPE vocabulary from a local .tiktoken rank file, pre-tokenized with --encoding's pattern "
        "(e.g. --encoding cl100k_base for a Llama-3-style file)",
    )
    parser.add_argument(
        "--input-format",
        choices=("auto", "text", "jsonl", "parquet"),
        default="auto",
        help="auto: by extension, then by content (a first line holding a JSON object means JSONL)",
    )
    parser.add_argument(
        "--text-column", default="text", metavar="NAME", help="text column of Parquet inputs (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="encoder threads (default: all cores; with --ray, per task: the CPUs of the smallest node)",
    )
    parser.add_argument(
        "--jsonl-field", default="text", metavar="NAME", help="text field of JSONL records (default: %(default)s)"
    )
    parser.add_argument("--glob", metavar="PATTERN", help="file-name filter for directory inputs, e.g. '*.txt'")
    parser.add_argument("--no-eot", action="store_true", help="do not append <|endoftext|> after each document")
    parser.add_argument("--errors", choices=("strict", "replace"), default="strict", help="invalid UTF-8 policy")
    parser.add_argument(
        "--format",
        choices=("llmprep", "raw"),
        default="llmprep",
        help="llmprep (header + index) or raw ids + .json sidecar",
    )
    parser.add_argument(
        "--dtype",
        choices=("auto", "uint16", "uint32"),
        default="auto",
        help="id type (default: uint16 when the vocabulary fits)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="only shard I of N (0-based): contiguous runs of documents of about equal input bytes",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        type=_ray_address,
        metavar="ADDRESS",
        help="tokenize across a Ray cluster into the folder -o names (one task per shard, resumable; "
        "merging its shards gives the single-machine file). ADDRESS: host:port, ray://host:port or auto; "
        "none: the cluster RAY_ADDRESS or ray start names, else a local one. Needs pip install 'llmprep[ray]'",
    )
    parser.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="with --ray: number of shards (default: 4 per task slot, at most ~1 GiB each)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--chunk-bytes", type=int, default=None, help=argparse.SUPPRESS)  # tests
    parser.set_defaults(run=_run_tokenize)


def _ray_address(value: str) -> str:
    """``--ray``'s optional address; a path there is an input that argparse took as the address."""
    if value in ("", "auto", "local") or ":" in value:
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a cluster address (host:port, ray://host:port or auto): "
        "give the inputs before --ray, or write --ray=ADDRESS"
    )


def _note(message: str) -> None:
    print(f"llmprep: note: {message}", file=sys.stderr)


def _count(n: int, noun: str) -> str:
    """``1 token``, ``2 tokens``, ``1,000 tokens``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _run_tokenize(args: argparse.Namespace) -> int:
    from llmprep._outputs import is_in_place
    from llmprep.corpus import DEFAULT_CHUNK_BYTES, get_chunk_encoder, parse_shard, plan_inputs, tokenize_corpus

    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0, not {args.workers}")
    if args.chunk_bytes is not None and args.chunk_bytes < 1:
        raise ValueError("--chunk-bytes must be >= 1")
    if args.ray is not None:
        return _run_tokenize_ray(args)
    if args.shards is not None:
        raise ValueError("--shards is for --ray; one machine's part of a corpus is --shard I/N")
    shard = parse_shard(args.shard) if args.shard else None
    # Inputs and output are checked before any vocabulary is loaded (which may need the network).
    planned = plan_inputs(
        args.inputs,
        args.output,
        glob=args.glob,
        input_format=args.input_format,
        overwrite=args.force,
        format=args.format,
        note=_note,
    )
    if args.workers == 0:
        _core.default_num_threads()  # an invalid LLMPREP_NUM_THREADS is an error now, not after the encoder loads
    encoder = get_chunk_encoder(
        args.encoding,
        args.vocab,
        vocab_files=tuple(args.vocab_files) if args.vocab_files else None,
        tiktoken_file=args.tiktoken_file,
    )
    to_stdout = args.output == "-"
    in_place = is_in_place(args.output)
    report = sys.stderr if to_stdout else sys.stdout  # stdout carries the ids with -o -
    bar: Any
    if args.quiet or not sys.stderr.isatty():
        bar = _NoProgress()  # importing tqdm alone is ~10 ms of start-up
    else:
        from tqdm import tqdm

        bar = tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            desc="tokenize",
            file=sys.stderr,
            dynamic_ncols=True,
        )
    tokens = 0
    started = time.perf_counter()

    def progress(nbytes: int, ntokens: int) -> None:
        nonlocal tokens
        tokens += ntokens
        bar.update(nbytes)
        bar.set_postfix_str(f"{tokens / max(time.perf_counter() - started, 1e-9):,.0f} tokens/s", refresh=False)

    try:
        stats = tokenize_corpus(
            args.inputs,
            args.output,
            encoder,
            workers=args.workers,
            jsonl_field=args.jsonl_field,
            eot=not args.no_eot,
            errors=args.errors,
            format=args.format,
            dtype=args.dtype,
            glob=args.glob,
            shard=shard,
            chunk_bytes=args.chunk_bytes or DEFAULT_CHUNK_BYTES,
            progress=progress,
            on_total=lambda total: setattr(bar, "total", total),
            overwrite=args.force,
            input_format=args.input_format,
            text_column=args.text_column,
            note=_note,
            planned=planned,  # planned once, above
        )
    finally:
        bar.close()
    header = stats.header
    assert header is not None
    shown = "standard output" if to_stdout else args.output
    print(f"tokenized {stats.summary()} -> {shown} ({header.dtype.name}, {header.encoding})", file=report)
    if shard is not None and stats.documents == 0:
        print(
            f"llmprep: warning: shard {shard[0]}/{shard[1]} is empty: the inputs have fewer documents than shards "
            "(or one document outweighs several shards)",
            file=sys.stderr,
        )
    if args.format == "raw" and in_place:
        _note(
            f"{shown} is not a regular file, so no .json sidecar was written: the ids are {header.dtype.name} "
            f"({header.encoding}, vocabulary {header.vocab_size:,}, end-of-text id {header.eot_token})"
        )
    return 0


def _run_tokenize_ray(args: argparse.Namespace) -> int:
    """``llmprep tokenize ... --ray``: `llmprep.distributed.tokenize` with one progress bar."""
    from llmprep import distributed
    from llmprep.corpus import DEFAULT_CHUNK_BYTES

    for option, given in (("--shard", args.shard), ("--format raw", args.format == "raw")):
        if given:
            raise ValueError(f"{option} does not go with --ray, which writes llmprep-format shards of the whole corpus")
    if args.output == "-":
        raise ValueError("--ray writes a folder of shards: -o names a folder, not standard output")
    bar: Any = _NoProgress()
    show = not args.quiet and sys.stderr.isatty()

    def progress(p: distributed.Progress) -> None:
        nonlocal bar, show
        if show:  # made at the first report, after Ray's start-up and its notes
            from tqdm import tqdm

            bar = tqdm(
                total=p.bytes_total, unit="B", unit_scale=True, unit_divisor=1000, desc="tokenize", file=sys.stderr
            )
            show = False
        bar.total = p.bytes_total
        bar.update(p.bytes_done - bar.n)
        bar.set_postfix_str(
            f"{_count(p.documents, 'document')}, shards {p.shards_done}/{p.shards_total}", refresh=False
        )

    try:
        stats = distributed.tokenize(
            args.inputs,
            args.output,
            args.encoding,
            address=args.ray or None,
            shards=args.shards,
            workers=args.workers,
            vocab=args.vocab,
            vocab_files=tuple(args.vocab_files) if args.vocab_files else None,
            tiktoken_file=args.tiktoken_file,
            jsonl_field=args.jsonl_field,
            text_column=args.text_column,
            input_format=args.input_format,
            glob=args.glob,
            eot=not args.no_eot,
            errors=args.errors,
            dtype=args.dtype,
            force=args.force,
            chunk_bytes=args.chunk_bytes or DEFAULT_CHUNK_BYTES,
            progress=progress,
            note=_note,
        )
    finally:
        bar.close()
    n = len(stats.shards)
    start, stop = ("start-up", "shutdown") if stats.started_ray else ("connection", "disconnection")
    ray_time = f"Ray {start} {stats.startup_seconds:.2f} s and {stop} {stats.shutdown_seconds:.2f} s not included"
    if n and stats.skipped == n:
        print(f"{args.output}: all {_count(n, 'shard')} already done and verified, nothing to tokenize ({ray_time})")
        return 0
    done = f"; {stats.skipped} of them already done and verified" if stats.skipped else ""
    kind = f"{stats.header.dtype.name}, {stats.header.encoding}" if stats.header is not None else "empty"
    nodes = f" on {_count(stats.nodes, 'node')}" if stats.nodes > 1 else ""
    print(f"tokenized {stats.summary()} -> {args.output} ({_count(n, 'shard')}{nodes}{done}; {kind}); {ray_time}")
    return 0


class _NoProgress:
    """The part of tqdm's bar `_run_tokenize` uses, doing nothing: for runs that show no bar."""

    total: int | None = None
    n = 0

    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def _add_inspect(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print a token file's header, statistics and first tokens",
        description="Print the header of a token file, statistics of its documents and its first tokens, decoded.",
    )
    parser.add_argument("file", help="a token file (llmprep format, or raw with its .json sidecar)")
    parser.add_argument("--show", type=int, default=20, metavar="N", help="tokens to decode (default: %(default)s)")
    parser.add_argument("--vocab", help="vocabulary to decode a --encoding simple file")
    parser.set_defaults(run=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    import numpy as np

    from llmprep.corpus import get_chunk_encoder
    from llmprep.tokens import open_tokens

    if args.show < 0:
        raise ValueError(f"--show must be >= 0, not {args.show}")
    tf = open_tokens(args.file)
    h = tf.header
    print(f"file:       {args.file} ({'raw ids + sidecar' if tf.raw else f'llmprep token file v{h.version}'})")
    print(f"encoding:   {h.encoding} (vocabulary {h.vocab_size:,}, end-of-text id {tf.eot_token})")
    print(f"dtype:      {h.dtype.name}")
    print(f"tokens:     {h.n_tokens:,}")
    print(f"documents:  {h.n_documents:,}")
    if tf.document_offsets is not None and h.n_documents:
        low, high, block = None, 0, 1 << 22  # blockwise: bounded memory for huge indexes
        for start in range(0, h.n_documents, block):
            lengths = np.diff(np.asarray(tf.document_offsets[start : start + block + 1], dtype=np.int64))
            low = int(lengths.min()) if low is None else min(low, int(lengths.min()))
            high = max(high, int(lengths.max()))
        print(f"doc tokens: min {low:,}, mean {h.n_tokens / h.n_documents:,.1f}, max {high:,}")
    if h.n_tokens:
        low_id, high_id, block = None, 0, 1 << 24  # blockwise: bounded memory, every id seen
        for start in range(0, h.n_tokens, block):
            part = np.asarray(tf.tokens[start : start + block])
            low_id = int(part.min()) if low_id is None else min(low_id, int(part.min()))
            high_id = max(high_id, int(part.max()))
        print(f"ids:        min {low_id}, max {high_id}")
        if high_id >= h.vocab_size:
            print(
                f"llmprep: warning: {args.file} holds id {high_id}, outside its {h.encoding} vocabulary of "
                f"{h.vocab_size:,} ids: the file is corrupted or was written with another vocabulary",
                file=sys.stderr,
            )
    print(f"checksums:  {'CRC-32C per block (check them with llmprep verify)' if tf.has_checksums else 'none'}")
    if args.show and h.n_tokens:
        first = [int(i) for i in tf.tokens[: args.show]]
        print(f"first {len(first)} ids: {first}")
        try:
            encoder = get_chunk_encoder(h.encoding, args.vocab) if (h.encoding != "simple" or args.vocab) else None
        except (ValueError, OSError) as e:
            print(f"(cannot decode: {e})")
            encoder = None
        if encoder is not None:
            print(f"decoded:    {encoder.decode(first)!r}")
        elif h.encoding == "simple":
            print("(pass --vocab FILE to decode a simple-encoding file)")
    return 0


def _add_merge(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="concatenate token files (e.g. shards) without re-tokenizing",
        description="Concatenate llmprep token files and their document indexes in the order given, in "
        "bounded memory. Merging the shards of a run in order gives the unsharded file byte for byte.",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE", help="token files, in order")
    parser.add_argument(
        "-o", "--output", required=True, help="the merged token file; - streams --format raw ids to standard output"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--format", choices=("llmprep", "raw"), default="llmprep", help="output format")
    parser.set_defaults(run=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    from llmprep.tokens import merge_token_files

    if args.output == "-" and args.format != "raw":
        raise ValueError(
            "-o - streams ids to standard output only with --format raw: the llmprep format needs a seekable file"
        )
    header = merge_token_files(args.inputs, args.output, format=args.format, overwrite=args.force)
    print(
        f"merged {_count(len(args.inputs), 'file')}: {_count(header.n_documents, 'document')}, "
        f"{_count(header.n_tokens, 'token')} ({header.dtype.name}, {header.encoding}) -> "
        f"{'standard output' if args.output == '-' else args.output}",
        file=sys.stderr if args.output == "-" else sys.stdout,
    )
    return 0


def _add_verify(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check token files against their checksums",
        description="Check every CRC-32C of each token file (ids, document index, checksum table), reading "
        "blocks in parallel. Exit status 1 names the first bad block of the first bad file.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="token files (llmprep format, or raw with sidecar)")
    parser.add_argument("--workers", type=int, default=0, metavar="N", help="threads (default: all cores)")
    parser.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from llmprep.tokens import verify_tokens

    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0, not {args.workers}")
    status = 0
    for name in args.files:
        try:
            tf = verify_tokens(name, args.workers)
        except (OSError, ValueError) as e:
            print(f"llmprep: error: {e}", file=sys.stderr)
            status = 1
            continue
        what = "checksums match" if tf.has_checksums else "no checksums to check (structure checked only)"
        kind = "raw ids + sidecar" if tf.raw else f"llmprep v{tf.header.version}"
        print(f"{name}: ok, {what} ({kind}, {_count(tf.n_tokens, 'token')}, {_count(tf.n_documents, 'document')})")
    return status


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_bench(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="compare llmprep with tiktoken, gigatoken, quicktok and the chapter's code on your own corpus",
        description="Side-by-side comparisons on your corpus and machine: each tokenizer's ids are checked against "
        "the reference (tiktoken; the chapter's code for 'simple') before it is timed, per core and on all cores; "
        "then llmprep tokenize vs the straightforward script (wall time, peak RSS) and create_dataloader vs the "
        "chapter's (needs torch). Prints a table and writes results.json, results.md and, with matplotlib "
        '(pip install "llmprep[bench]"), throughput and scaling plots. Without CORPUS it uses the chapter\'s story '
        "and a generated sample.",
    )
    parser.add_argument("corpus", nargs="*", metavar="CORPUS", help="UTF-8 text files (default: the chapter's story "
                        "and a generated sample)")  # fmt: skip
    parser.add_argument(
        "--encodings", default="gpt2", help="comma-separated encodings, or simple (default: %(default)s)"
    )
    parser.add_argument(
        "--threads", default="1,all", help="comma-separated thread counts, or all (default: %(default)s)"
    )
    parser.add_argument("--out", default="llmprep-bench", metavar="DIR", help="results folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="first ~300 KB of each corpus, 3 repeats: under a minute")
    parser.add_argument("--max-mb", type=float, default=None, metavar="N", help="measure at most the first N MB of "
                        "each corpus, cut at a line end (with --quick: instead of its 300 KB)")  # fmt: skip
    parser.add_argument(
        "--suites", default="tokenizers,pipeline,batches", help="comma-separated suites (default: %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per figure (default: 5, --quick 3)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_bench)


def _bench_command(args: argparse.Namespace) -> str:
    """The run's command line, as recorded in the reports (every setting spelled out)."""
    import shlex

    words = ["llmprep", "bench", *args.corpus, "--encodings", args.encodings, "--threads", args.threads]
    words += ["--out", args.out, "--suites", args.suites] + (["--quick"] if args.quick else [])
    words += ["--max-mb", f"{args.max_mb:g}"] if args.max_mb is not None else []
    words += ["--repeats", str(args.repeats)] if args.repeats is not None else []
    return shlex.join(words)


def _run_bench(args: argparse.Namespace) -> int:
    from llmprep import bench
    from llmprep.bench import machine, report

    threads = bench.parse_threads(args.threads, machine.all_cores())
    encodings = bench.parse_encodings(args.encodings)
    suites = bench.parse_suites(args.suites)
    for path in args.corpus:  # before any vocabulary loads or anything is timed
        if not os.path.isfile(path):
            raise FileNotFoundError(f"corpus file not found: {path} (give UTF-8 text files)")
    bar: Any
    if args.quiet or not sys.stderr.isatty():
        bar = _NoProgress()
    else:
        from tqdm import tqdm

        bar = tqdm(total=None, unit="step", desc="bench", file=sys.stderr, dynamic_ncols=True)

    def tick(step: str) -> None:
        bar.update(1)
        bar.set_postfix_str(step, refresh=False)

    try:
        results = bench.run(
            args.corpus,
            encodings=encodings,
            threads=threads,
            out=args.out,
            quick=args.quick,
            max_mb=args.max_mb,
            suites=suites,
            repeats=args.repeats,
            command=_bench_command(args),
            on_total=lambda total: setattr(bar, "total", total),
            tick=tick,
        )
    finally:
        bar.close()
    print(report.table(results))
    written = ", ".join(["results.json", "results.md", *results["plots"]])
    print(f"\nwrote {written} to {args.out}/ in {results['seconds']:.1f} s")
    return 0


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_vocab,
    _add_demo,
    _add_tokenize,
    _add_inspect,
    _add_merge,
    _add_verify,
    _add_bench,
]


class _VersionAction(argparse.Action):
    """argparse's "version" action, reading the version only when asked (importlib.metadata costs
    ~30 ms, which every other command would pay)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: object, values: object, option_string: str | None = None
    ) -> None:
        print(f"llmprep {llmprep.__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmprep", description="Fast, exact text-to-training-batch preprocessing for GPT-style models."
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
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
    import signal

    # SIGTERM unwinds like Ctrl-C, so every writer removes its temporary files on the way out.
    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("llmprep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (`llmprep inspect x.tok | head`): stop quietly, and point
        # stdout at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, ImportError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"llmprep: error: {message}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
