"""Shard sets (a list of token files, or a folder) against the one file `llmprep merge` writes from them.

The reference is the merged file itself, produced by running the `merge` command: every comparison is
"the shard set behaves exactly like that file" (length, windows, batches, rank split, resume).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import llmprep  # noqa: E402
from llmprep import sources, tokens  # noqa: E402
from llmprep.cli import main as cli_main  # noqa: E402
from llmprep.data import GPTDataset, create_dataloader  # noqa: E402
from llmprep.sources import open_shards, write_shard_manifest  # noqa: E402

_FEW_CPUS = "ignore:This DataLoader will create:UserWarning"
_FORK_WITH_THREADS = (
    r"ignore:This process .* is multi-threaded, use of fork\(\) may lead to deadlocks:DeprecationWarning"
)

# Shard sizes in tokens: ordinary shards, empty ones, 1-token ones and ones shorter than a window.
LAYOUTS = {
    "even": [300, 300, 300, 300],
    "ragged": [0, 1, 250, 0, 7, 3, 400, 1, 0, 90, 2, 160],
    "tiny": [1] * 40 + [5] * 30 + [0] * 5 + [13] * 20,
    "one": [1000],
}


def write_shard(path: Path, ids: np.ndarray, dtype: str = "uint16", fmt: str = "llmprep") -> None:
    """A token file holding ids, cut into documents of up to 37 tokens (an index worth checking)."""
    with tokens.TokenFileWriter(
        path, dtype=dtype, encoding="gpt2", vocab_size=300_000, eot_token=None, format=fmt
    ) as w:
        for start in range(0, len(ids), 37):
            w.write(ids[start : start + 37])
            w.end_document()


def make_shards(folder: Path, sizes: list[int], seed: int = 0, dtype: str = "uint16", high: int = 50257):
    """Shards of random ids with the given sizes, plus the file `llmprep merge` makes of them."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.random.default_rng(seed).integers(0, high, sum(sizes)).astype(dtype)
    paths, at = [], 0
    for i, size in enumerate(sizes):
        path = folder / f"part-{i:05d}.tok"
        write_shard(path, ids[at : at + size], dtype)
        paths.append(path)
        at += size
    merged = folder.parent / f"{folder.name}-merged.tok"
    assert cli_main(["merge", *map(str, paths), "-o", str(merged)]) == 0
    assert np.array_equal(np.asarray(llmprep.open_tokens(merged).tokens), ids)
    return paths, merged


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def shard_set(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards") / request.param
    paths, merged = make_shards(folder, LAYOUTS[request.param], seed=len(request.param))
    return paths, merged


def assert_same_batches(ours, reference) -> None:
    assert len(ours) == len(reference)
    for mine, theirs in zip(ours, reference):
        assert torch.equal(mine[0], theirs[0]) and torch.equal(mine[1], theirs[1])


# ----------------------------------------------------------------------------------------------
# The same sequence and windows.


def test_the_set_reads_like_the_merged_file(shard_set) -> None:
    paths, merged = shard_set
    shards, single = open_shards(paths), llmprep.open_tokens(merged)
    assert len(shards) == single.n_tokens and shards.dtype == single.dtype
    assert shards.n_documents == single.n_documents
    assert np.array_equal(shards.document_offsets, single.document_offsets)
    ids = np.asarray(single.tokens)
    rng = np.random.default_rng(1)
    for _ in range(200):
        a, b = sorted(rng.integers(0, len(ids) + 1, 2).tolist())
        assert np.array_equal(shards.read(a, b), ids[a:b])


@pytest.mark.parametrize(("max_length", "stride"), [(1, 1), (4, 3), (16, 16), (33, 7), (64, 100)])
def test_windows_equal_the_merged_file(shard_set, max_length, stride) -> None:
    paths, merged = shard_set
    ours = GPTDataset(paths, max_length=max_length, stride=stride)
    reference = GPTDataset(merged, max_length=max_length, stride=stride)
    assert len(ours) == len(reference) and ours.n_tokens == reference.n_tokens
    inputs, targets = ours.windows()
    expected_inputs, expected_targets = reference.windows()
    assert torch.equal(inputs, expected_inputs) and torch.equal(targets, expected_targets)
    rng = np.random.default_rng(max_length)
    for rows in (1, 3, 17):
        index = rng.integers(0, len(ours), rows).tolist()
        for a, b in zip(ours.__getitems__(index), reference.__getitems__(index)):
            assert torch.equal(a, b)
    for i in (0, len(ours) // 2, -1):
        assert all(torch.equal(a, b) for a, b in zip(ours[i], reference[i]))


def test_a_folder_list_and_manifest_order(tmp_path) -> None:
    paths, merged = make_shards(tmp_path / "folder", [5, 0, 9, 4])
    (tmp_path / "folder" / ".part-00009.tok.abc.tmp").write_bytes(b"half-written")  # a writer's temp file
    expected = GPTDataset(merged, max_length=3, stride=2).windows()
    by_folder = GPTDataset(tmp_path / "folder", max_length=3, stride=2).windows()
    assert all(torch.equal(a, b) for a, b in zip(by_folder, expected))
    # A manifest decides the order: reversed here, so the ids are those of the reversed merge.
    write_shard_manifest(tmp_path / "folder", [p.name for p in reversed(paths)])
    reversed_merge = tmp_path / "reversed.tok"
    tokens.merge_token_files(list(reversed(paths)), reversed_merge)
    by_manifest = GPTDataset(tmp_path / "folder", max_length=3, stride=2).windows()
    expected = GPTDataset(reversed_merge, max_length=3, stride=2).windows()
    assert all(torch.equal(a, b) for a, b in zip(by_manifest, expected))


def test_raw_shards_with_and_without_sidecars(tmp_path) -> None:
    ids = np.random.default_rng(3).integers(0, 50257, 500).astype(np.uint16)
    with_sidecar, bare = [], []
    for i, (a, b) in enumerate([(0, 120), (120, 121), (121, 500)]):
        path = tmp_path / f"s{i}.bin"
        write_shard(path, ids[a:b], fmt="raw")
        with_sidecar.append(path)
        bare_path = tmp_path / f"bare{i}.bin"
        ids[a:b].tofile(bare_path)
        bare.append(bare_path)
    expected = GPTDataset(ids, max_length=8, stride=5).windows()
    for got in (
        GPTDataset(with_sidecar, max_length=8, stride=5),
        GPTDataset(bare, max_length=8, stride=5, dtype=np.uint16),
    ):
        assert all(torch.equal(a, b) for a, b in zip(got.windows(), expected))
    assert open_shards(bare, dtype=np.uint16).document_offsets is None


# ----------------------------------------------------------------------------------------------
# The same batches: epochs, ranks, resume, workers.


# Several ranks always shuffle with a seed (default 0), so the global-RNG order runs on one rank.
RANK_CASES = [("global", 1)] + [(mode, n) for mode in ("sequential", "seed") for n in (1, 2, 3, 5, 8)]


@pytest.mark.parametrize(("mode", "world_size"), RANK_CASES)
def test_loaders_equal_the_merged_file(shard_set, world_size, mode) -> None:
    paths, merged = shard_set
    kwargs = {"shuffle": mode != "sequential", "drop_last": world_size % 2 == 1}
    if mode == "seed":
        kwargs["seed"] = 4
    for rank in range(world_size):
        results = []
        for source in (paths, merged):
            torch.manual_seed(12)
            loader = create_dataloader(source, 6, 16, 9, rank=rank, world_size=world_size, **kwargs)
            results.append([list(loader) for _ in range(2)])
        for ours, reference in zip(*results):
            assert_same_batches(ours, reference)


def test_resume_at_every_batch_of_a_short_run(shard_set) -> None:
    paths, merged = shard_set

    def build(source, rank):
        return create_dataloader(source, 4, 16, 16, seed=9, rank=rank, world_size=2, drop_last=False)

    for rank in range(2):
        reference_loader = build(merged, rank)
        full, following = list(reference_loader), list(reference_loader)
        for stop in range(len(full) + 1):
            loader = build(paths, rank)
            it = iter(loader)
            for _ in range(stop):
                next(it)
            state = pickle.loads(pickle.dumps(loader.state_dict()))
            reference = build(merged, rank)
            reference.load_state_dict(state)  # a shard set's state resumes the merged file's loader too
            resumed = build(paths, rank)
            resumed.load_state_dict(state)
            expected = full[stop:] if stop < len(full) else following  # all out: the next epoch
            assert_same_batches(list(resumed), expected)
            assert_same_batches(list(reference), expected)


@pytest.mark.filterwarnings(_FEW_CPUS)
@pytest.mark.filterwarnings(_FORK_WITH_THREADS)
@pytest.mark.parametrize(("context", "workers"), [("fork", 2), ("spawn", 1)])  # a spawned worker starts slowly
def test_workers_map_the_shards_themselves(tmp_path, context, workers) -> None:
    paths, merged = make_shards(tmp_path / "w", LAYOUTS["ragged"], seed=5)
    torch.manual_seed(3)
    reference = list(create_dataloader(merged, 5, 12, 6))
    torch.manual_seed(3)
    dataset_loader = create_dataloader(paths, 5, 12, 6, num_workers=workers, multiprocessing_context=context)
    assert dataset_loader.dataset.source.n_mapped == 0, "the parent maps nothing"
    assert_same_batches(list(dataset_loader), reference)


@pytest.mark.filterwarnings(_FORK_WITH_THREADS)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_maps_again_what_the_parent_mapped(tmp_path) -> None:
    # The parent's table of mapped shards is dropped in the child by an os.register_at_fork hook
    # (its lock may have been held by a parent thread); the child maps what it reads itself.
    paths, _ = make_shards(tmp_path / "f", LAYOUTS["ragged"], seed=9)
    dataset = GPTDataset(paths, max_length=12, stride=6)
    expected = [t.tolist() for t in dataset[len(dataset) // 2]]
    assert dataset.source.n_mapped > 0
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        ok = dataset.source.n_mapped == 0 and [t.tolist() for t in dataset[len(dataset) // 2]] == expected
        os._exit(0 if ok and dataset.source.n_mapped > 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dataset.source.n_mapped > 0, "the parent keeps its table"


# ----------------------------------------------------------------------------------------------
# Laziness and scale.


def _bytes_read() -> int:
    """Bytes this process has read through read(2) and friends (memory-mapped pages are not counted)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts bytes read through /proc/self/io (Linux)")
def test_ten_thousand_shards_cost_only_their_headers(tmp_path) -> None:
    # 64 templates of 8,192-8,195 random ids (16 KiB bodies), written once; the 10,000 shards are
    # hard links to them. Reading the bodies would be 160 MB; the headers are 2.5 MB.
    rng = np.random.default_rng(7)
    templates = []
    for t in range(64):
        template_ids = rng.integers(0, 50257, 8192 + t % 4).astype(np.uint16)
        path = tmp_path / f"template{t}.tok"
        write_shard(path, template_ids)
        templates.append((template_ids, path))
    folder = tmp_path / "many"
    folder.mkdir()
    choice = rng.integers(0, 64, 10_000).tolist()
    for i, t in enumerate(choice):
        os.link(templates[t][1], folder / f"{i:05d}.tok")
    ids = np.concatenate([templates[t][0] for t in choice])
    before = _bytes_read()
    dataset = GPTDataset(folder, max_length=8000, stride=4000)
    read = _bytes_read() - before
    assert read < 10_000 * 2 * tokens.HEADER_SIZE, f"opening read {read:,} bytes, more than the headers"
    assert dataset.source.n_mapped == 0
    assert dataset.n_tokens == len(ids) and len(dataset) == len(GPTDataset(ids, max_length=8000, stride=4000))
    picks = [0, len(dataset) // 2, len(dataset) - 1]
    before = _bytes_read()
    inputs, targets = dataset.__getitems__(picks)
    assert _bytes_read() - before < 4096, "the ids are mapped, not read"
    assert 1 <= dataset.source.n_mapped <= 3 * 2, "only the shards under the three windows are mapped"
    for row, window in enumerate(picks):
        start = window * 4000
        assert inputs[row].tolist() == ids[start : start + 8000].tolist()
        assert targets[row].tolist() == ids[start + 1 : start + 8001].tolist()
    assert len(pickle.dumps(dataset)) < 3_000_000


def test_ten_thousand_tiny_shards(tmp_path) -> None:
    # Shards of 0-3 ids (hard links to 64 templates): every window spans several of them.
    rng = np.random.default_rng(8)
    templates = []
    for t in range(64):
        template_ids = rng.integers(0, 50257, t % 4).astype(np.uint16)
        write_shard(tmp_path / f"template{t}.tok", template_ids)
        templates.append((template_ids, tmp_path / f"template{t}.tok"))
    folder = tmp_path / "tiny"
    folder.mkdir()
    choice = rng.integers(0, 64, 10_000).tolist()
    for i, t in enumerate(choice):
        os.link(templates[t][1], folder / f"{i:05d}.tok")
    ids = np.concatenate([templates[t][0] for t in choice])
    ours, reference = GPTDataset(folder, max_length=8, stride=5), GPTDataset(ids, max_length=8, stride=5)
    assert all(torch.equal(a, b) for a, b in zip(ours.windows(), reference.windows()))
    assert np.array_equal(ours.source.read(0, len(ids)), ids)
    assert ours.source.n_mapped == sum(1 for t in choice if t % 4)  # every non-empty shard, none twice


def test_no_shard_is_read_until_a_window_needs_it(tmp_path) -> None:
    paths, merged = make_shards(tmp_path / "lazy", [100] * 10)
    dataset = GPTDataset(paths, max_length=20, stride=20)
    reference = GPTDataset(merged, max_length=20, stride=20)
    for path in paths[2:]:  # after opening, only the first two shards still exist
        path.unlink()
    for a, b in zip(dataset.__getitems__([0, 4, 8]), reference.__getitems__([0, 4, 8])):  # tokens 0..180
        assert torch.equal(a, b)
    assert dataset.source.n_mapped == 2
    with pytest.raises(FileNotFoundError, match=r"part-00002\.tok"):  # window 9's last target is token 200
        dataset.__getitems__([9])
    assert dataset.source.read(150, 200).tolist() == reference.source.read(150, 200).tolist()


def test_a_shard_that_shrank_since_opening_is_named(tmp_path) -> None:
    ids = np.arange(200, dtype=np.uint16)
    ids[:100].tofile(tmp_path / "a.bin")
    ids[100:].tofile(tmp_path / "b.bin")
    dataset = GPTDataset([tmp_path / "a.bin", tmp_path / "b.bin"], max_length=10, stride=10, dtype=np.uint16)
    ids[100:150].tofile(tmp_path / "b.bin")
    assert dataset[0][0].tolist() == list(range(10))
    with pytest.raises(ValueError, match=r"b\.bin' has 100 bytes, but its part of the sequence needs 200"):
        dataset[12]


def test_more_shards_than_open_file_descriptors(tmp_path) -> None:
    # Every shard stays mapped once used; none may keep a descriptor (numpy's memmap keeps one per
    # map), or a set of more shards than the open-file limit fails with "Too many open files".
    _, merged = make_shards(tmp_path / "fds", [3, 50, 0, 21] * 150)
    code = f"""
import resource, numpy as np, torch
from pathlib import Path
from llmprep.data import GPTDataset
resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
ours = GPTDataset(Path({str(tmp_path / "fds")!r}), max_length=9, stride=4)
reference = GPTDataset(Path({str(merged)!r}), max_length=9, stride=4)
assert all(torch.equal(a, b) for a, b in zip(ours.windows(), reference.windows()))
assert ours.source.n_mapped == 450, ours.source.n_mapped
assert np.array_equal(ours.source.document_offsets, reference.source.document_offsets)
"""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_gather_from_one_set_at_once(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths, merged = make_shards(tmp_path / "threads", LAYOUTS["tiny"] * 20, seed=2)
    reference = GPTDataset(merged, max_length=12, stride=5)
    dataset = GPTDataset(paths, max_length=12, stride=5)  # nothing mapped: the threads map concurrently
    batches = np.random.default_rng(4).integers(0, len(dataset), (64, 16))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(dataset.__getitems__, batches))
    for got, index in zip(results, batches):
        assert all(torch.equal(a, b) for a, b in zip(got, reference.__getitems__(index)))
    # A large materialization is split over threads; the result does not depend on it.
    big_paths, big_merged = make_shards(tmp_path / "big", [150_000, 7, 250_000, 200_001], seed=3)
    expected = GPTDataset(big_merged, max_length=1, stride=1).windows(num_threads=1)
    for threads in (1, 2, 3):
        got = GPTDataset(big_paths, max_length=1, stride=1).windows(num_threads=threads)
        assert all(torch.equal(a, b) for a, b in zip(got, expected))


# ----------------------------------------------------------------------------------------------
# Ids above 65,535 and bad sets.


def test_uint32_shards(tmp_path) -> None:
    paths, merged = make_shards(tmp_path / "wide", [50, 0, 70, 3, 200], dtype="uint32", high=200_000)
    ours, reference = GPTDataset(paths, max_length=7, stride=5), GPTDataset(merged, max_length=7, stride=5)
    assert ours.source.dtype == np.uint32 and int(np.asarray(llmprep.open_tokens(merged).tokens).max()) > 65535
    assert all(torch.equal(a, b) for a, b in zip(ours.windows(), reference.windows()))


def test_shards_of_different_dtypes_are_named(tmp_path) -> None:
    write_shard(tmp_path / "a.tok", np.arange(10, dtype=np.uint16), "uint16")
    write_shard(tmp_path / "b.tok", np.arange(10, dtype=np.uint32), "uint32")
    with pytest.raises(ValueError, match=r"a\.tok holds uint16.*b\.tok holds uint32"):
        GPTDataset([tmp_path / "a.tok", tmp_path / "b.tok"], max_length=2)


def test_bad_sets(tmp_path, verdict_path) -> None:
    write_shard(tmp_path / "a.tok", np.arange(10, dtype=np.uint16))
    with tokens.TokenFileWriter(
        tmp_path / "o.tok", dtype="uint16", encoding="r50k_base", vocab_size=50257, eot_token=None
    ) as w:
        w.write(np.arange(5, dtype=np.uint16))
        w.end_document()
    with pytest.raises(ValueError, match="different encoding"):
        GPTDataset([tmp_path / "a.tok", tmp_path / "o.tok"], max_length=2)
    with pytest.raises(TypeError, match=r"not str: pass \[Path\(name\)"):
        GPTDataset([str(tmp_path / "a.tok")], max_length=2)
    with pytest.raises(ValueError, match="looks like a text file"):
        GPTDataset([tmp_path / "a.tok", verdict_path], max_length=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no token files"):
        GPTDataset(empty)
    (empty / "manifest.json").write_text('{"format": "llmprep-shards", "version": 1, "shards": ["../a.tok"]}')
    with pytest.raises(ValueError, match="must be a path inside"):
        GPTDataset(empty)
    (empty / "manifest.json").write_text('{"format": "llmprep-shards", "version": 1, "shards": ["x.tok"]}')
    with pytest.raises(FileNotFoundError, match="lists 'x.tok'"):
        GPTDataset(empty)
    (empty / "manifest.json").write_text('{"shards": []}')
    with pytest.raises(ValueError, match="not a valid shard manifest"):
        GPTDataset(empty)
    only_empty = tmp_path / "only-empty"
    only_empty.mkdir()
    write_shard(only_empty / "z.tok", np.zeros(0, dtype=np.uint16))
    with pytest.raises(ValueError, match="has 0 tokens"):
        GPTDataset(only_empty, max_length=1)


def test_a_shard_set_has_no_single_array_but_reads_ranges(tmp_path) -> None:
    paths, merged = make_shards(tmp_path / "r", [3, 4, 5])
    dataset = GPTDataset(paths, max_length=2, stride=1)
    with pytest.raises(ValueError, match="no single token array: read a range"):
        dataset.tokens  # noqa: B018
    assert dataset.source.read(2, 9).tolist() == np.asarray(llmprep.open_tokens(merged).tokens)[2:9].tolist()
    assert "3 token files" in repr(dataset)


def test_negative_ids_in_a_raw_shard_are_named_by_position(tmp_path) -> None:
    ids = np.arange(40, dtype=np.int32)
    ids[25] = -1
    ids[:20].tofile(tmp_path / "a.bin")
    ids[20:].tofile(tmp_path / "b.bin")
    dataset = GPTDataset([tmp_path / "a.bin", tmp_path / "b.bin"], max_length=4, stride=4, dtype=np.int32)
    dataset[0]
    with pytest.raises(ValueError, match=r"token id -1 at position 25 is negative"):  # as in the whole sequence
        dataset[6]
    with pytest.raises(ValueError, match="token id -1 at position 25 is negative"):  # a window spanning a and b
        GPTDataset([tmp_path / "a.bin", tmp_path / "b.bin"], max_length=7, stride=3, dtype=np.int32)[6]


def test_the_sources_module_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, llmprep.sources; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert sources.ShardSet.__module__ == "llmprep.sources"


def test_token_parts_checks_its_inputs(tmp_path) -> None:
    from llmprep import _core

    ids = np.arange(8, dtype=np.uint16)
    ids[:3].tofile(tmp_path / "a.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "c.bin").write_bytes(b"\x00" * 6 + ids[3:].tobytes())  # the ids at byte 6
    paths = [os.fsencode(tmp_path / name) for name in ("a.bin", "empty.bin", "c.bin")]
    offsets = np.array([0, 0, 6])
    with pytest.raises(ValueError, match="non-decreasing"):
        _core.TokenParts(paths[:2], offsets[:2], np.array([5, 3]), np.dtype(np.uint16))
    with pytest.raises(TypeError, match="must have dtype"):
        _core.TokenParts(paths[:1], offsets[:1], np.array([5]), np.dtype(np.float32))
    with pytest.raises(ValueError, match="one path per part"):
        _core.TokenParts(paths[:2], offsets[:1], np.array([5]), np.dtype(np.uint16))
    with pytest.raises(ValueError, match="byte offset must be >= 0"):
        _core.TokenParts(paths[:1], np.array([-1]), np.array([3]), np.dtype(np.uint16))
    table = _core.TokenParts(paths, offsets, np.array([3, 3, 8]), np.dtype(np.uint16))
    inputs, targets = np.zeros((2, 4), np.int64), np.zeros((2, 4), np.int64)
    with pytest.raises(IndexError, match="window index 4 .* is out of range"):
        table.gather(4, 1, [0, 4], inputs, targets)
    assert table.n_mapped == 0 and not inputs.any(), "a bad batch maps and writes nothing"
    table.gather(4, 1, [0, 3], inputs, targets)
    assert table.n_mapped == 2, "the empty part is never mapped"
    assert inputs.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6]] and targets.tolist() == [[1, 2, 3, 4], [4, 5, 6, 7]]
    assert table.read(2, 6).tolist() == [2, 3, 4, 5] and table.read(-5, 99).tolist() == list(range(8))
    assert table.read(6, 2).tolist() == []
    missing = _core.TokenParts([os.fsencode(tmp_path / "nope.bin")], np.array([0]), np.array([4]), np.dtype(np.uint16))
    with pytest.raises(FileNotFoundError, match=r"cannot open token file .*nope\.bin"):
        missing.gather(2, 1, [0], inputs[:1, :2].copy(), targets[:1, :2].copy())
