"""`llmprep tokenize --ray` / `llmprep.distributed.tokenize` on a local Ray cluster: the shards merge
to the single-machine file byte for byte (every input format, any shard count), a killed worker is
retried, a killed driver's run is resumed, a different run is refused, bad input is one error."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _ray_corpus import import_ray, make_corpus, merged, single_machine
from llmprep import distributed
from llmprep.sources import open_shards, write_shard_manifest

ray = import_ray()

HOLD_ENV = "LLMPREP_TEST_HOLD_DIR"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local cluster for the module: 4 logical CPUs on this 2-core machine (fewer deadlocked a
    read task here), the dashboard on for the state API. Its raylet and workers inherit the hold
    folder of the tests that pause a task."""
    assert not ray.is_initialized()
    hold = tmp_path_factory.mktemp("hold")
    os.environ[HOLD_ENV] = str(hold)
    ray.init(num_cpus=4, logging_level="WARNING", log_to_driver=False)
    try:
        yield SimpleNamespace(address=ray.get_runtime_context().gcs_address, hold=hold)
    finally:
        ray.shutdown()
        del os.environ[HOLD_ENV]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    inputs = make_corpus(folder / "in")
    return SimpleNamespace(inputs=inputs, one=single_machine(inputs, folder / "one.tok"), folder=folder)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmprep", *args], capture_output=True, text=True)


@pytest.mark.parametrize(("shards", "workers"), [(1, 1), (3, 1), (8, 2), (40, 1)])
def test_shards_merge_to_the_single_machine_file(cluster, corpus, tmp_path, shards, workers) -> None:
    out = tmp_path / "out"
    seen: list[distributed.Progress] = []
    stats = distributed.tokenize(corpus.inputs, out, shards=shards, workers=workers, progress=seen.append)
    assert merged(out, tmp_path / "m.tok") == corpus.one
    manifest = json.loads((out / "manifest.json").read_text())
    names = manifest["shards"]
    assert names == stats.shards == sorted(p.name for p in out.glob("*.tok"))
    assert 1 <= len(names) <= shards and stats.skipped == 0
    # The manifest: inputs with sizes and times, the arguments, each shard's counts and checksum.
    assert [i["size"] for i in manifest["inputs"]] == [os.stat(i["path"]).st_size for i in manifest["inputs"]]
    assert manifest["arguments"]["encoding"] == "gpt2" and manifest["arguments"]["shards"] == shards
    one = open_shards([tmp_path / "m.tok"])
    assert sum(d["documents"] for d in manifest["shard_details"]) == manifest["documents"] == one.n_documents
    assert manifest["tokens"] == stats.tokens == len(one)
    assert all(d["checksum"].startswith("crc32c:") for d in manifest["shard_details"])
    if len(names) > 4:  # a plain JSONL file and a Parquet file are cut, not read whole by one task
        pieces = [p for d in manifest["shard_details"] for p in d["pieces"]]
        assert any("bytes" in p for p in pieces) and any("rows" in p for p in pieces)
    # GPTDataset(Path(out)) reads the folder by its manifest: the same ids and documents.
    shard_set = open_shards(out)
    assert np.array_equal(shard_set.read(0, len(shard_set)), one.read(0, len(one)))
    assert np.array_equal(shard_set.document_offsets, one.document_offsets)
    assert not list(out.glob(".*")), "the run record and temporary files are gone"
    assert seen and seen[-1].shards_done == seen[-1].shards_total == len(names)
    assert seen[-1].bytes_done == seen[-1].bytes_total and seen[-1].tokens == len(one)


def test_options_that_change_ids_are_honoured(cluster, corpus, tmp_path) -> None:
    kwargs = {"eot": False, "errors": "replace", "dtype": "uint32"}
    one = single_machine(corpus.inputs, tmp_path / "one.tok", **kwargs)
    distributed.tokenize(corpus.inputs, tmp_path / "out", shards=5, **kwargs)  # type: ignore[arg-type]
    assert merged(tmp_path / "out", tmp_path / "m.tok") == one


def test_rerun_skips_verified_shards_and_rewrites_damaged_ones(cluster, corpus, tmp_path) -> None:
    out = tmp_path / "out"
    first = distributed.tokenize(corpus.inputs, out, shards=4)
    times = {n: (out / n).stat().st_mtime_ns for n in first.shards}
    again = distributed.tokenize(corpus.inputs, out)  # the recorded shard count is reused
    assert again.shards == first.shards and again.skipped == len(first.shards) and again.documents == 0
    assert times == {n: (out / n).stat().st_mtime_ns for n in first.shards}
    damaged = out / first.shards[1]
    data = bytearray(damaged.read_bytes())
    data[300] ^= 0x01  # an id: its block's CRC-32C no longer matches
    damaged.write_bytes(bytes(data))
    repaired = distributed.tokenize(corpus.inputs, out)
    assert repaired.skipped == len(first.shards) - 1
    assert merged(out, tmp_path / "m.tok") == corpus.one


def test_a_different_run_is_refused(cluster, corpus, tmp_path) -> None:
    out = tmp_path / "out"
    distributed.tokenize(corpus.inputs, out, shards=3)
    with pytest.raises(ValueError, match=r"other inputs or arguments \(eot: True -> False\): write to a new folder"):
        distributed.tokenize(corpus.inputs, out, eot=False)
    with pytest.raises(ValueError, match=r"shards: 3 -> 5\).*--force"):
        distributed.tokenize(corpus.inputs, out, shards=5)
    with pytest.raises(ValueError, match=r"input .*big.jsonl is gone"):
        distributed.tokenize([corpus.inputs[0]], out)
    changed = Path(corpus.inputs[1])
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    try:
        with pytest.raises(ValueError, match=r"big.jsonl changed \(modification time"):
            distributed.tokenize(corpus.inputs, out)
    finally:
        os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns - 10**9))
    replaced = distributed.tokenize(corpus.inputs, out, shards=5, force=True)
    assert len(replaced.shards) == 5 and replaced.skipped == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*replaced.shards, "manifest.json"])
    assert merged(out, tmp_path / "m.tok") == corpus.one


def test_files_of_no_run_are_not_overwritten(cluster, corpus, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000.tok").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="no llmprep run recorded it"):
        distributed.tokenize(corpus.inputs, out, shards=2)
    assert (out / "part-00000.tok").read_bytes() == b"someone else's"
    distributed.tokenize(corpus.inputs, out, shards=2, force=True)
    assert merged(out, tmp_path / "m.tok") == corpus.one
    other = tmp_path / "other"
    other.mkdir()
    write_shard_manifest(other, ["a.tok"])
    with pytest.raises(ValueError, match=r"\(its manifest.json was not written by tokenize --ray\)"):
        distributed.tokenize(corpus.inputs, other, shards=2)


def _wait_for(what, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_task_is_retried(cluster, corpus, tmp_path) -> None:
    from ray.util.state import list_tasks

    out = tmp_path / "out"
    flag, held = cluster.hold / "hold-1", cluster.hold / "held-1"
    flag.touch()
    result: dict[str, object] = {}

    def drive() -> None:
        try:
            result["stats"] = distributed.tokenize(corpus.inputs, out, shards=3, max_retries=2)
        except BaseException as e:
            result["error"] = e

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        _wait_for(lambda: held.exists() and held.read_text())  # shard 1's task waits before its rename
        pid = int(held.read_text())

        def running_pids() -> set[int]:  # task events reach the state API about a second late
            filters = [("func_or_class_name", "=", "_tokenize_shard"), ("state", "=", "RUNNING")]
            return {t.worker_pid for t in list_tasks(filters=filters)}

        _wait_for(lambda: pid in running_pids())  # the state API names the worker the task runs in
        assert list(out.glob(".part-00001.tok.*.tmp")), "killed in the middle of writing"
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _alive(pid))
    finally:
        flag.unlink()
        driver.join(120)
    assert "error" not in result, result.get("error")
    assert merged(out, tmp_path / "m.tok") == corpus.one
    assert not list(out.glob(".*")), "the killed attempt's temporary file is removed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_killed_driver_is_resumed(cluster, corpus, tmp_path) -> None:
    out = tmp_path / "out"
    flags = [cluster.hold / "hold-2", cluster.hold / "hold-3"]
    for f in flags:
        f.touch()
    # One CPU per task, so that shards 2 and 3 are held at once while 0 and 1 finish.
    args = [*corpus.inputs, "-o", str(out), "--ray", cluster.address, "--shards", "4", "--workers", "1", "--quiet"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "llmprep", "tokenize", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(lambda: all((out / f"part-0000{i}.tok").exists() for i in (0, 1)))
        _wait_for(lambda: all((cluster.hold / f"held-{i}").exists() for i in (2, 3)))
        driver.kill()  # between shards: two written, two still running
        driver.wait()
    finally:
        for f in flags:
            f.unlink()
    assert not (out / "manifest.json").exists() and (out / distributed.RUN_RECORD).exists()
    again = run_cli("tokenize", *args)
    assert again.returncode == 0, again.stderr
    # Shards 0 and 1 at least were kept (2 and 3 too if their orphaned tasks finished first).
    assert "already done and verified" in again.stdout and "4 shards" in again.stdout, again.stdout
    # It joined the cluster, started none.
    assert re.search(r"Ray connection \d+\.\d\d s and disconnection \d+\.\d\d s not included", again.stdout)
    assert merged(out, tmp_path / "m.tok") == corpus.one
    assert json.loads((out / "manifest.json").read_text())["complete"] is True


def test_bad_input_is_one_error(cluster, corpus, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps({"text": f"line {i} " * 50}) + "\n" for i in range(2000)]
    lines[1500] = '{"text": "unterminated\n'
    bad.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl \(from byte \d+\) line \d+ is not valid JSON"):
        distributed.tokenize([str(bad)], tmp_path / "o1", shards=6)
    assert not (tmp_path / "o1" / "manifest.json").exists()
    out = run_cli("tokenize", str(bad), "-o", str(tmp_path / "o2"), "--ray", cluster.address, "--shards", "6")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("llmprep: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "is not valid JSON" in out.stderr
    no_column = tmp_path / "no_text.parquet"
    if "rows.parquet" in " ".join(corpus.inputs):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"body": ["x"]}), no_column)
        with pytest.raises(ValueError, match="has no column 'text'"):
            distributed.tokenize([str(no_column)], tmp_path / "o3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt", "-o", "o", "--ray"], "input missing.txt does not exist"),
        (["-", "-o", "o", "--ray"], "not stdin"),
        (["{text}", "-o", "-", "--ray"], "-o names a folder"),
        (["{text}", "-o", "o", "--ray", "--shard", "0/2"], "--shard does not go with --ray"),
        (["{text}", "-o", "o", "--ray", "--format", "raw"], "--format raw does not go with --ray"),
        (["{text}", "-o", "{text}", "--ray"], "is a file: --ray writes a folder"),
        (["{text}", "-o", "o", "--shards", "2"], "--shards is for --ray"),
        (["{text}", "-o", "o", "--ray", "--shards", "0"], "shards must be an integer >= 1"),
    ],
)
def test_bad_arguments_fail_before_ray_starts(corpus, tmp_path, args, message) -> None:
    text = str(Path(corpus.inputs[0]) / "short.txt")
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", "tokenize", *(a.replace("{text}", text) for a in args)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "RAY_ADDRESS": "127.0.0.1:1"},  # would fail, differently, if Ray were reached
    )
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr, out.stderr


def test_an_input_where_the_address_goes_is_a_usage_error(corpus) -> None:
    out = run_cli("tokenize", "--ray", corpus.inputs[0], "-o", "o")
    assert out.returncode == 2 and "is not a cluster address" in out.stderr and "--ray=ADDRESS" in out.stderr
