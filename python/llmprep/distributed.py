"""Tokenizing a corpus across a Ray cluster: ``llmprep tokenize INPUT... -o OUT_DIR --ray [ADDRESS]``.

The driver plans and the cluster reads. The plan: the inputs (expanded and recognised exactly as
`llmprep.corpus.tokenize_corpus` does) are cut into pieces without being read (`corpus.plan_units`:
files, line-aligned byte ranges of plain JSONL files, Parquet row groups), and `corpus.shard_bounds`
groups consecutive pieces into shards of about equal bytes. Each shard is one Ray task running the
single-machine pipeline (`corpus.tokenize_pieces`) into ``OUT_DIR/part-NNNNN.tok`` (temporary file,
renamed when complete). Shards are consecutive runs of documents, so ``llmprep merge OUT_DIR/*.tok``
is the single-machine file byte for byte, whatever the number of shards or workers.

The run is recorded in ``OUT_DIR/.llmprep-run.json`` before any task starts (inputs with sizes and
modification times, the arguments that change the ids, the plan) and in ``OUT_DIR/manifest.json``
last (the same, plus each shard's documents, tokens and checksum; `GPTDataset(Path(OUT_DIR))` reads
its ``shards`` order). A re-run with the same inputs and arguments skips shards that exist and pass
`llmprep.tokens.verify_tokens` (checked by the tasks, on the cluster); a re-run with anything
different is refused unless ``force``. A task whose worker dies is retried by Ray (``max_retries``);
it writes the same bytes again.

``import llmprep.distributed`` does not import Ray; calling `tokenize` does (``pip install
"llmprep[ray]"``).
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmprep.corpus import (
    DEFAULT_CHUNK_BYTES,
    ChunkEncoder,
    InputPiece,
    TokenizeStats,
    _expand_inputs,
    _Source,
    check_options,
    file_dtype,
    get_chunk_encoder,
    plan_units,
    shard_bounds,
    tokenize_pieces,
)
from llmprep.sources import MANIFEST_NAME, write_record, write_shard_manifest

__all__ = ["RUN_RECORD", "DistributedStats", "Progress", "tokenize"]

#: The run record in the output folder (hidden: folder readers skip it).
RUN_RECORD = ".llmprep-run.json"
_PREFIX = "part"
# Shards of at most ~1 GiB by default (and at least 4 per task slot, so a slow node is not the
# tail): a re-run after a failure redoes at most that much per shard.
_SHARD_BYTES = 1 << 30
_TASKS_PER_SLOT = 4
# Plain JSONL files are cut into pieces of total / (16 * shards) bytes, so a shard's bytes differ
# from an equal share by at most 1/16 of it; never below 64 KiB (one seek and read per cut).
_PIECES_PER_SHARD = 16
_MIN_PIECE_BYTES = 1 << 16
_REPORT_SECONDS = 0.25
# Tests only: a task of shard i waits, at its first progress report, while <dir>/hold-i exists.
_HOLD_ENV = "LLMPREP_TEST_HOLD_DIR"


@dataclass
class Progress:
    """What the driver knows of a run, passed to ``progress`` (about four times a second)."""

    bytes_done: int
    bytes_total: int
    documents: int
    tokens: int
    shards_done: int
    shards_total: int


@dataclass
class DistributedStats(TokenizeStats):
    """`TokenizeStats` of the shards this run wrote, plus the run's shape.

    ``shards``: shard file names in order; ``skipped``: shards found complete and verified;
    ``nodes``: how many nodes wrote shards; ``startup_seconds``: connecting to Ray (or starting a
    local cluster: ``started_ray``); ``shutdown_seconds``: disconnecting (or stopping that cluster),
    0 when the caller had connected; neither is counted in ``seconds``.
    """

    output_dir: Path = field(default_factory=Path)
    shards: list[str] = field(default_factory=list)
    skipped: int = 0
    nodes: int = 0
    startup_seconds: float = 0.0
    shutdown_seconds: float = 0.0
    started_ray: bool = False


@dataclass
class _ShardJob:
    """What one task needs (pickled to the worker): small, paths only."""

    index: int
    path: str
    packed: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # its pieces, by `_pack`
    nbytes: int
    encoder: tuple[Any, ...]  # the arguments of `get_chunk_encoder`
    options: dict[str, Any]
    env: dict[str, str]


def tokenize(
    inputs: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    encoding: str = "gpt2",
    *,
    address: str | None = None,
    shards: int | None = None,
    workers: int = 0,
    vocab: str | os.PathLike[str] | None = None,
    vocab_files: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
    tiktoken_file: str | os.PathLike[str] | None = None,
    jsonl_field: str = "text",
    text_column: str = "text",
    input_format: str = "auto",
    glob: str | None = None,
    eot: bool = True,
    errors: str = "strict",
    dtype: str = "auto",
    force: bool = False,
    max_retries: int = 3,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Callable[[Progress], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> DistributedStats:
    """Tokenizes a corpus into a folder of shards, one Ray task per shard.

    The inputs, ``encoding`` and the options mean what they mean for
    `llmprep.corpus.tokenize_corpus`; merging the shards in order (``llmprep merge
    OUT_DIR/*.tok``) gives its file byte for byte. Inputs, vocabulary files and ``output_dir``
    must be at the same paths on every node (a shared file system).

    Args:
        inputs: Regular files or directories (not stdin or pipes: the plan needs sizes).
        output_dir: The folder for ``part-NNNNN.tok``, ``manifest.json`` and the run record
            (created if missing; its parent must exist).
        encoding: As ``--encoding`` (``simple`` with ``vocab``).
        address: The Ray cluster (``"host:port"``, ``"ray://host:port"``, ``"auto"``); None joins
            the cluster ``RAY_ADDRESS`` or ``ray start`` names, else starts a local one. Inside a
            program that already called ``ray.init``, that connection is used.
        shards: Number of shards; default: at least 4 per task slot, at most ~1 GiB each (on a
            re-run, the recorded number). Fewer are written when the inputs have fewer pieces.
        workers: Encoder threads per task, and the CPUs each task asks Ray for; 0 (the default):
            the CPUs of the cluster's smallest node, so that a node runs one task at a time whose
            threads share one piece cache (tasks of one thread each learned the corpus once per
            process).
        force: Discard a different earlier run's outputs in ``output_dir`` (and shard files
            there that no run recorded) instead of refusing.
        max_retries: Times Ray reruns a task whose worker died.
        progress: Called on the driver with a `Progress` about four times a second.
        note: Called with informational messages.

    Returns:
        Counts of the shards written by this run, timing (Ray's start-up apart) and the shard names.

    Raises:
        ValueError: Bad arguments or inputs (also those a task finds, re-raised on the driver), or
            an output folder holding a different run (names the difference).
        FileExistsError: Shard files that no run recorded are in the way (without ``force``).
        ImportError: Ray is not installed (names the extra).
        RuntimeError: A task failed for a reason of Ray's (its worker died more than
            ``max_retries`` times, a node was lost).

    >>> stats = tokenize(["corpus/"], "out/", shards=8)  # doctest: +SKIP
    >>> stats.summary()  # doctest: +SKIP
    '1,024 documents, 3,145,728 tokens, 12,582,912 bytes in 9.40 s (1.3 MB/s, 334,652 tokens/s)'
    """
    check_options(errors, dtype)
    for what, value, low in (("shards", shards, 1), ("workers", workers, 0), ("max_retries", max_retries, 0)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise ValueError(f"{what} must be an integer >= {low}, not {value!r}")
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be >= 1")
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file: --ray writes a folder of shards, so -o names a folder")
    if not out.exists() and not out.resolve().parent.is_dir():
        raise FileNotFoundError(f"cannot create {out}: folder {out.resolve().parent} does not exist")
    sources = _expand_inputs([os.fspath(i) for i in inputs], glob, None, input_format, note, output_folder=out)
    for s in sources:
        if s.size is None:
            name = "stdin ('-')" if s.path == "-" else s.path
            raise ValueError(f"--ray reads regular files (the driver plans from their sizes), not {name}")
        s.path = os.path.abspath(s.path)  # the same path on every node
    encoder_args = _encoder_args(encoding, vocab, vocab_files, tiktoken_file)
    encoder = _encoder(encoder_args)  # fails here, on the driver, before Ray starts
    chosen = file_dtype(encoder, dtype, eot)
    arguments: dict[str, Any] = {
        "encoding": encoding,
        "vocab": _file_identity(vocab),
        "vocab_files": None if vocab_files is None else [_file_identity(f) for f in vocab_files],
        "tiktoken_file": _file_identity(tiktoken_file),
        "eot": eot,
        "errors": errors,
        "dtype": chosen,
        "jsonl_field": jsonl_field,
        "text_column": text_column,
    }
    identity: dict[str, Any] = {
        "inputs": [
            {
                "path": s.path,
                "size": s.size,
                "mtime_ns": s.mtime_ns,
                "format": s.format,
                "compressed": s.compressed,
            }
            for s in sources
        ],
        "arguments": arguments,
    }
    previous = _previous_run(out)
    if previous is not None:
        recorded_shards = previous.get("arguments", {}).get("shards")
        differences = _differences(previous, identity)
        if shards is not None and recorded_shards is not None and shards != recorded_shards:
            differences.append(f"shards: {recorded_shards} -> {shards}")
        if differences and not force:
            raise ValueError(
                f"{out} holds the outputs of a run with other inputs or arguments ({'; '.join(differences[:3])}"
                f"{'; ...' if len(differences) > 3 else ''}): write to a new folder, or pass --force "
                "(force=True) to replace them"
            )
        if differences:
            _remove_run(out, previous)
            previous = None
        elif shards is None:
            shards = recorded_shards

    env = {k: os.environ[k] for k in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR") if k in os.environ}
    started = time.perf_counter()
    ray, connected, started_ray = _connect(address, note)
    try:
        if workers == 0:
            workers = _smallest_node_cpus(ray)
        slots = max(int(ray.cluster_resources().get("CPU", 1)) // workers, 1)
        reporter = _get_ready(ray, slots, workers, encoder_args, env)
        startup = time.perf_counter() - started
        if shards is None:
            total = sum(s.size or 0 for s in sources)
            shards = max(_TASKS_PER_SLOT * slots, math.ceil(total / _SHARD_BYTES))
        arguments["shards"] = shards
        groups = _plan(sources, text_column, shards)
        width = max(5, len(str(len(groups) - 1)))
        names = [f"{_PREFIX}-{i:0{width}d}.tok" for i in range(len(groups))]
        if previous is None:
            in_the_way = [n for n in names if (out / n).exists()]
            if in_the_way and not force:
                raise FileExistsError(
                    f"{out / in_the_way[0]} exists but no llmprep run recorded it: write to a new folder, "
                    "or pass --force (force=True) to replace it"
                )
        out.mkdir(exist_ok=True)
        index = {id(s): i for i, s in enumerate(sources)}
        record: dict[str, Any] = {
            **identity,
            "complete": False,
            "plan": [_describe(g, index) for g in groups],
        }
        write_record(out / RUN_RECORD, record)
        _remove_temporaries(out, names)
        options = {
            "num_threads": workers,
            "dtype": chosen,
            "jsonl_field": jsonl_field,
            "text_column": text_column,
            "eot": eot,
            "errors": errors,
            "chunk_bytes": chunk_bytes,
        }
        jobs = [
            _ShardJob(i, str((out / n).absolute()), _pack(g), sum(p.nbytes for p in g), encoder_args, options, env)
            for i, (n, g) in enumerate(zip(names, groups))
        ]
        results = _run(ray, reporter, jobs, workers, max_retries, progress, cancel_on_error=not connected)
        finished = time.perf_counter()
    finally:
        if connected:
            _disconnect(ray, started_ray)
    shutdown = time.perf_counter() - finished if connected else 0.0
    _remove_temporaries(out, names)
    stats = DistributedStats(
        output_dir=out, shards=names, startup_seconds=startup, shutdown_seconds=shutdown, started_ray=started_ray
    )
    for r in results:
        if r["skipped"]:
            stats.skipped += 1
        else:
            stats.documents += r["documents"]
            stats.tokens += r["tokens"]
            stats.bytes += r["bytes"]
    stats.nodes = len({r["node"] for r in results})
    stats.seconds = time.perf_counter() - started - startup - shutdown
    stats.header = results[0]["header"] if results else None
    details = [
        {"name": n, **{k: r[k] for k in ("documents", "tokens", "checksum")}, "bytes": j.nbytes, **p}
        for n, r, j, p in zip(names, results, jobs, record["plan"])
    ]
    manifest = {**identity, "complete": True, "documents": sum(r["documents"] for r in results)}
    manifest["tokens"] = sum(r["tokens"] for r in results)
    manifest["shard_details"] = details
    write_shard_manifest(out, names, manifest)
    (out / RUN_RECORD).unlink(missing_ok=True)
    return stats


# -- the plan ----------------------------------------------------------------------------------


def _plan(sources: Sequence[Any], text_column: str, shards: int) -> list[list[InputPiece]]:
    """Consecutive pieces grouped into at most ``shards`` non-empty shards of about equal bytes."""
    total = sum(s.size or 0 for s in sources)
    unit = max(total // (_PIECES_PER_SHARD * shards), _MIN_PIECE_BYTES)
    units = plan_units(sources, text_column, unit)
    sizes = [u.nbytes for u in units]
    groups = []
    for i in range(shards):
        first, last = shard_bounds(sizes, i, shards)
        if last > first:
            groups.append(units[first:last])
    return groups


_SOURCE_FIELDS = tuple(f.name for f in fields(_Source))
_PIECE_FIELDS = tuple(f.name for f in fields(InputPiece) if f.name != "source")


def _pack(pieces: Sequence[InputPiece]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A shard's pieces as plain tuples (its sources', its pieces') for the trip to the worker. Ray
    pickles a task's arguments with cloudpickle, which spends its time per object: the 20,000
    InputPiece objects (and sources) of a 20,000-file shard took ~0.2 s to send and receive, more than
    5% of tokenizing them; as tuples ~0.09 s."""
    return (
        [tuple(getattr(p.source, n) for n in _SOURCE_FIELDS) for p in pieces],
        [tuple(getattr(p, n) for n in _PIECE_FIELDS) for p in pieces],
    )


def _unpack(packed: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]) -> list[InputPiece]:
    """The pieces `_pack` packed."""
    return [InputPiece(_Source(*s), *p) for s, p in zip(*packed)]


def _describe(group: list[InputPiece], index: dict[int, int]) -> dict[str, Any]:
    """A shard's pieces for the record (``index``: input index by ``id`` of its source): where cut,
    the input with its bytes or rows; a run of whole inputs as one item, ``{"inputs": [first,
    stop]}`` (an item per input made a 20,000-file run's record 40,000 lines)."""
    pieces: list[dict[str, Any]] = []
    for p in group:
        i = index[id(p.source)]
        if p.byte_range is not None:
            pieces.append({"input": i, "bytes": list(p.byte_range)})
        elif p.source.format == "parquet":
            pieces.append({"input": i, "rows": [p.first, p.stop]})
        elif pieces and pieces[-1].get("inputs", (0, -1))[1] == i:
            pieces[-1]["inputs"][1] = i + 1
        else:
            pieces.append({"inputs": [i, i + 1]})
    return {"pieces": pieces}


def _encoder_args(
    encoding: str,
    vocab: str | os.PathLike[str] | None,
    vocab_files: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None,
    tiktoken_file: str | os.PathLike[str] | None,
) -> tuple[Any, ...]:
    files = None if vocab_files is None else (_absolute(vocab_files[0]), _absolute(vocab_files[1]))
    return (encoding, _absolute(vocab), files, _absolute(tiktoken_file))


def _absolute(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.path.abspath(os.fspath(path))


@lru_cache(maxsize=4)
def _encoder(args: tuple[Any, ...]) -> ChunkEncoder:
    """The encoder, loaded once per process (a Ray worker runs many tasks)."""
    encoding, vocab, vocab_files, tiktoken_file = args
    return get_chunk_encoder(encoding, vocab, vocab_files=vocab_files, tiktoken_file=tiktoken_file)


def _file_identity(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    if path is None:
        return None
    name = os.path.abspath(os.fspath(path))
    try:
        st = os.stat(name)
    except OSError:
        return {"path": name}  # the encoder's loader reports it
    return {"path": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


# -- the output folder -------------------------------------------------------------------------


def _previous_run(out: Path) -> dict[str, Any] | None:
    """The record of the run whose outputs are in ``out``: its manifest, else its run record."""
    import json

    for name in (MANIFEST_NAME, RUN_RECORD):
        path = out / name
        if path.is_file():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise ValueError(f"{path} cannot be read ({e}): remove it, or write to a new folder") from None
            if isinstance(record, dict) and "arguments" in record and "inputs" in record:
                return record
            if name == MANIFEST_NAME:  # a shard folder made otherwise (write_shard_manifest)
                shards = record.get("shards", []) if isinstance(record, dict) else []
                return {"foreign": True, "inputs": [], "arguments": {}, "shards": shards}
    return None


def _differences(previous: dict[str, Any], identity: dict[str, Any]) -> list[str]:
    """What differs between a recorded run and this one, in words (empty: the same run)."""
    if previous.get("foreign"):
        return ["its manifest.json was not written by tokenize --ray"]
    found = []
    before, now = previous.get("inputs", []), identity["inputs"]
    if [i.get("path") for i in before] != [i["path"] for i in now]:
        old = {i.get("path") for i in before}
        new = {i["path"] for i in now}
        added, removed = sorted(new - old), sorted(old - new)
        if added:
            found.append(f"new input {added[0]}" + (f" and {len(added) - 1} more" if len(added) > 1 else ""))
        if removed:
            found.append(f"input {removed[0]} is gone" + (f" and {len(removed) - 1} more" if len(removed) > 1 else ""))
        if not added and not removed:
            found.append("the inputs are in another order")
    else:
        for b, n in zip(before, now):
            for key in ("size", "mtime_ns", "format"):
                if b.get(key) != n[key]:
                    what = {"size": "size", "mtime_ns": "modification time", "format": "format"}[key]
                    found.append(f"input {n['path']} changed ({what} {b.get(key)} -> {n[key]})")
                    break
    recorded = previous.get("arguments", {})
    for key, value in identity["arguments"].items():
        if recorded.get(key) != value:
            found.append(f"{key}: {recorded.get(key)!r} -> {value!r}")
    return found


def _remove_run(out: Path, previous: dict[str, Any]) -> None:
    """Removes what a recorded run wrote (its shards, manifest and record), nothing else."""
    names = list(previous.get("shards", []))
    names += [d["name"] for d in previous.get("shard_details", []) if isinstance(d, dict) and "name" in d]
    if "plan" in previous:
        width = max(5, len(str(len(previous["plan"]) - 1)))
        names += [f"{_PREFIX}-{i:0{width}d}.tok" for i in range(len(previous["plan"]))]
    for name in {*names, MANIFEST_NAME, RUN_RECORD}:
        if Path(name).name == name:  # never outside the folder
            (out / name).unlink(missing_ok=True)


def _remove_temporaries(out: Path, names: Sequence[str]) -> None:
    """Removes temporary files of our shards left by killed workers (`_outputs.Output` names them
    ``.NAME.<random>.tmp``); called before tasks start and after all have finished."""
    ours = set(names)
    if not out.is_dir():
        return
    for path in out.glob(".*.tmp"):
        stem = path.name[1:].rsplit(".", 2)[0]
        if stem in ours:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# -- Ray ---------------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install 'llmprep[ray]' (or pip install 'ray[default]')") from None
    return ray


def _connect(address: str | None, note: Callable[[str], None] | None) -> tuple[Any, bool, bool]:
    """Ray, connected; whether this call connected (and must disconnect); whether it started a
    local cluster to do so."""
    import logging

    ray = _import_ray()
    if ray.is_initialized():
        return ray, False, False
    # Errors reach the caller as exceptions; Ray's own notices (start-up, authentication) would
    # interleave with the progress bar.
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None and "RAY_ADDRESS" not in os.environ:
        try:
            ray.init(address="auto", **quiet)  # a cluster started with `ray start` on this node
            return ray, True, False
        except ConnectionError:
            if note is not None:
                note("no Ray cluster found: starting a local one (ray start --head starts one to join)")
            with _local_cluster_settings():
                ray.init(include_dashboard=False, **quiet)
        return ray, True, True
    try:
        ray.init(address=address, **quiet)
    except ConnectionError as e:
        raise ConnectionError(f"cannot join the Ray cluster at {address or os.environ['RAY_ADDRESS']}: {e}") from None
    return ray, True, False


# Ray settings for a local cluster this run starts (its processes, and this driver's core worker,
# read them from the environment as they start; unknown names are ignored, so another Ray version at
# worst runs slower). Task events feed the dashboard and state API, which such a cluster does not
# run, and the driver's shutdown waited for their reporter's next tick (0.35 s of a 0.45 s stop,
# 0.10-0.15 s without). Ray runs workers at nice 15 so that its own daemons come first; here the
# tokenizing is the job, as it is for the plain command at nice 0 (20,000 files: 3.55 -> 3.41 s).
_LOCAL_CLUSTER_ENV = {"RAY_task_events_report_interval_ms": "0", "RAY_worker_niceness": "0"}


@contextlib.contextmanager
def _local_cluster_settings() -> Iterator[None]:
    """`_LOCAL_CLUSTER_ENV` while `ray.init` starts a local cluster (other threads of this process
    see it then), except a setting the user made."""
    added = [k for k in _LOCAL_CLUSTER_ENV if k not in os.environ]
    os.environ.update({k: _LOCAL_CLUSTER_ENV[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _disconnect(ray: Any, started_cluster: bool) -> None:
    """Disconnects from Ray; a local cluster this run started stops with it.

    Its autoscaler monitor (idle: a local cluster has a fixed size) is killed first. Ray stops the
    monitor after the GCS, and the monitor's SIGTERM handler reports its exit to that GCS, which is
    gone, until Ray's one-second grace runs out: that was 1.0 s of the 1.2-1.4 s shutdown here. This
    reaches for Ray's node handle (private); if Ray changes it, the shutdown is just the slower one.
    """
    if started_cluster:
        try:
            from ray._private import ray_constants, worker

            node = worker._global_node
            monitors: list[Any] = node.all_processes.get(ray_constants.PROCESS_TYPE_MONITOR, []) if node else []
            for info in monitors:
                info.process.kill()
                info.process.wait(timeout=10)
        except (ImportError, AttributeError, OSError, subprocess.TimeoutExpired):
            pass
    ray.shutdown()


def _smallest_node_cpus(ray: Any) -> int:
    """The CPUs of the live node with the fewest (nodes without CPUs, such as a head started with
    ``--num-cpus=0``, run no tasks and do not count); 1 if Ray reports none."""
    cpus = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    return min((c for c in cpus if c >= 1), default=1)


def _get_ready(ray: Any, slots: int, workers: int, encoder: tuple[Any, ...], env: dict[str, str]) -> Any:
    """Ray's part of the start-up, done before the clock for tokenizing starts: the progress actor
    running, and a worker process for each task slot with llmprep imported and the encoder loaded
    (best effort: SPREAD over the nodes). Ray starts worker processes as tasks ask for them; in a
    run of a few shards on a small machine that start took ~20% of the tasks' time. Returns the
    progress actor."""
    reporter = ray.remote(num_cpus=0)(_Reporter).remote()
    warm = ray.remote(_load_encoder).options(num_cpus=workers, scheduling_strategy="SPREAD")
    ray.get([reporter.snapshot.remote(), *(warm.remote(encoder, env) for _ in range(slots))])
    return reporter


def _load_encoder(encoder: tuple[Any, ...], env: dict[str, str]) -> ChunkEncoder:
    """The encoder in a worker process (loaded once per process), with the driver's vocabulary
    cache settings; also the warm-up task."""
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return _encoder(encoder)


def _run(
    ray: Any,
    reporter: Any,
    jobs: list[_ShardJob],
    workers: int,
    max_retries: int,
    progress: Callable[[Progress], None] | None,
    cancel_on_error: bool,
) -> list[dict[str, Any]]:
    """Runs one task per shard; results in shard order. A task's error is re-raised as itself.

    On an error (or Ctrl-C) the other tasks are cancelled if ``cancel_on_error``; a driver that
    disconnects next does not need to: Ray ends a job's tasks when its driver disconnects."""
    task = ray.remote(_tokenize_shard).options(
        num_cpus=workers, max_retries=max_retries, retry_exceptions=False, scheduling_strategy="SPREAD"
    )
    pending = {task.remote(job, reporter): job.index for job in jobs}
    results: dict[int, dict[str, Any]] = {}
    total = sum(j.nbytes for j in jobs)
    counts: dict[int, tuple[int, int, int]] = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=_REPORT_SECONDS, fetch_local=False)
            for ref in done:
                index = pending.pop(ref)
                results[index] = _result(ray, ref, jobs[index])
            if progress is not None:
                counts.update(ray.get(reporter.snapshot.remote()))
                for index, r in results.items():
                    counts[index] = (jobs[index].nbytes, r["documents"], r["tokens"])
                progress(
                    Progress(
                        bytes_done=sum(c[0] for c in counts.values()),
                        bytes_total=total,
                        documents=sum(c[1] for c in counts.values()),
                        tokens=sum(c[2] for c in counts.values()),
                        shards_done=len(results),
                        shards_total=len(jobs),
                    )
                )
    except BaseException:
        # Cancelling queued tasks sometimes trips a check in Ray's core worker ("Tried to complete
        # task that was not pending", a stack trace on stderr), so only when the tasks would
        # otherwise outlive this call. Not force=True: a running task is interrupted, and removes
        # its temporary file.
        if cancel_on_error:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
        raise
    return [results[i] for i in range(len(jobs))]


def _result(ray: Any, ref: Any, job: _ShardJob) -> dict[str, Any]:
    """A task's result, or its own exception (a ValueError for bad input stays a ValueError)."""
    from ray import exceptions

    try:
        return ray.get(ref)  # type: ignore[no-any-return]
    except exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise RuntimeError(f"shard {Path(job.path).name} failed: {str(e).splitlines()[0]}") from None
    except exceptions.RayError as e:
        raise RuntimeError(
            f"shard {Path(job.path).name} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None


class _Reporter:
    """A Ray actor: the latest (bytes, documents, tokens) each shard's task reported. A retried
    task starts again from zero and replaces its shard's entry, so nothing is counted twice."""

    def __init__(self) -> None:
        self.shards: dict[int, tuple[int, int, int]] = {}

    def update(self, index: int, nbytes: int, documents: int, tokens: int) -> None:
        self.shards[index] = (nbytes, documents, tokens)

    def snapshot(self) -> dict[int, tuple[int, int, int]]:
        return self.shards


def _tokenize_shard(job: _ShardJob, reporter: Any) -> dict[str, Any]:
    """One Ray task: verify the shard if a file is there, else write it. Runs on a worker."""
    from llmprep.tokens import TokenFileError, verify_tokens

    encoder = _load_encoder(job.encoder, job.env)
    o = job.options
    eot = encoder.eot_token if o["eot"] else None
    path = Path(job.path)
    if path.exists():  # written by an earlier run, or by an attempt killed after its rename
        try:
            tf = verify_tokens(path, o["num_threads"])
            h = tf.header
            expected = (encoder.name, encoder.vocab_size, -1 if eot is None else eot, o["dtype"])
            if not tf.raw and (h.encoding, h.vocab_size, h.eot_token, h.dtype.name) == expected:
                reporter.update.remote(job.index, job.nbytes, h.n_documents, h.n_tokens)
                return _shard_result(h, skipped=True, nbytes=0)
        except (TokenFileError, OSError, ValueError):
            pass  # damaged or foreign: written again below
    done = [0, 0, 0]
    last = [0.0]
    hold = os.environ.get(_HOLD_ENV)

    def report(nbytes: int, ntokens: int, ndocs: int) -> None:
        if hold:
            _hold(Path(hold), job.index)
        done[0] += nbytes
        done[1] += ndocs
        done[2] += ntokens
        now = time.monotonic()
        if now - last[0] >= _REPORT_SECONDS:
            last[0] = now
            reporter.update.remote(job.index, min(done[0], job.nbytes), done[1], done[2])

    pieces = _unpack(job.packed)
    stats = tokenize_pieces(
        pieces,
        path,
        encoder,
        num_threads=o["num_threads"],
        dtype=o["dtype"],
        jsonl_field=o["jsonl_field"],
        eot=o["eot"],
        errors=o["errors"],
        chunk_bytes=o["chunk_bytes"],
        progress=report,
        overwrite=True,  # only a file that failed verification (or a killed attempt's) is replaced
        text_column=o["text_column"],
        inputs=[p.source.path for p in pieces],
    )
    assert stats.header is not None
    reporter.update.remote(job.index, job.nbytes, stats.documents, stats.tokens)
    return _shard_result(stats.header, skipped=False, nbytes=stats.bytes)


def _shard_result(header: Any, *, skipped: bool, nbytes: int) -> dict[str, Any]:
    import ray

    return {
        "node": ray.get_runtime_context().get_node_id(),
        "documents": header.n_documents,
        "tokens": header.n_tokens,
        # The CRC-32C of the shard's checksum table, which holds the CRC-32C of every 1 MiB block of
        # its ids and index: one number that changes with any byte of the data.
        "checksum": f"crc32c:{header.checksum_crc:08x}",
        "bytes": nbytes,
        "skipped": skipped,
        "header": header,
    }


def _hold(folder: Path, index: int) -> None:
    flag = folder / f"hold-{index}"
    if flag.exists():
        (folder / f"held-{index}").write_text(str(os.getpid()), encoding="utf-8")
        while flag.exists():
            time.sleep(0.05)
