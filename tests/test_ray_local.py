"""`llmprep tokenize --ray` with no cluster to join: the command starts a local one, reports its
start-up and shutdown apart, stops it (its autoscaler monitor killed first rather than waited on),
and the shards still merge to the single-machine file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

from _ray_corpus import import_ray, make_corpus, merged, single_machine
from llmprep import distributed

ray = import_ray()


def test_the_command_starts_and_stops_a_local_cluster(tmp_path) -> None:
    inputs = make_corpus(tmp_path / "in")
    one = single_machine(inputs, tmp_path / "one.tok")
    # A Ray temp folder of its own, so that no running cluster is found (and a short path: Ray's
    # Unix sockets live in it).
    ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", "tokenize", *inputs, "-o", str(tmp_path / "out"), "--ray", "--shards", "3"],
        capture_output=True,
        text=True,
        env={**env, "RAY_TMPDIR": ray_tmp},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "starting a local one" in out.stderr
    assert re.search(r"Ray start-up \d+\.\d\d s and shutdown \d+\.\d\d s not included", out.stdout), out.stdout
    assert merged(tmp_path / "out", tmp_path / "m.tok") == one
    # Nothing of that cluster outlives the command (a process Ray killed may take a moment to be
    # gone from the process table on a busy machine: a few seconds' grace, polled).
    deadline = time.monotonic() + 10
    while survivors := subprocess.run(["pgrep", "-af", ray_tmp], capture_output=True, text=True).stdout.splitlines():
        assert time.monotonic() < deadline, survivors
        time.sleep(0.1)


class _FakeRay:
    def __init__(self) -> None:
        self.shut_down = False

    def shutdown(self) -> None:
        self.shut_down = True


def test_disconnect_kills_the_monitor_of_a_cluster_it_started(monkeypatch) -> None:
    from ray._private import ray_constants, worker

    def fake_node() -> tuple[subprocess.Popen[bytes], SimpleNamespace]:
        monitor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        info = SimpleNamespace(process=monitor)
        return monitor, SimpleNamespace(all_processes={ray_constants.PROCESS_TYPE_MONITOR: [info]})

    monitor, node = fake_node()
    monkeypatch.setattr(worker, "_global_node", node, raising=False)
    fake = _FakeRay()
    distributed._disconnect(fake, started_cluster=True)
    assert fake.shut_down and monitor.poll() is not None

    # A cluster it only joined: its processes are not ours to touch.
    monitor, node = fake_node()
    monkeypatch.setattr(worker, "_global_node", node, raising=False)
    fake = _FakeRay()
    try:
        distributed._disconnect(fake, started_cluster=False)
        assert fake.shut_down and monitor.poll() is None
    finally:
        monitor.kill()
        monitor.wait()

    # Ray's private handle not as expected: the plain shutdown still runs.
    monkeypatch.setattr(worker, "_global_node", None, raising=False)
    fake = _FakeRay()
    distributed._disconnect(fake, started_cluster=True)
    assert fake.shut_down


def test_a_started_cluster_gets_its_settings_only_while_it_starts(monkeypatch) -> None:
    # No task events (their reporter made the driver's shutdown wait) and workers at nice 0, for a
    # cluster the command starts; the environment is as before afterwards; a value the user set wins.
    names = sorted(distributed._LOCAL_CLUSTER_ENV)
    seen = []

    class FakeRay:
        def is_initialized(self) -> bool:
            return False

        def init(self, address=None, **kwargs) -> None:
            if address == "auto":
                raise ConnectionError("no cluster")
            seen.append([os.environ.get(n) for n in names])

    monkeypatch.setattr(distributed, "_import_ray", FakeRay)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for name in names:
        monkeypatch.delenv(name, raising=False)
    assert distributed._connect(None, None)[1:] == (True, True)
    assert seen == [[distributed._LOCAL_CLUSTER_ENV[n] for n in names]]
    assert not any(n in os.environ for n in names)
    monkeypatch.setenv(names[0], "500")
    distributed._connect(None, None)
    assert seen[-1] == ["500", *(distributed._LOCAL_CLUSTER_ENV[n] for n in names[1:])]
    assert os.environ[names[0]] == "500" and not any(n in os.environ for n in names[1:])
