"""`llmprep.distributed.tokenize` on a two-node Ray cluster on one machine (`ray.cluster_utils.Cluster`,
two real raylets): tasks run on both nodes, and the shards still merge to the single-machine file."""

from __future__ import annotations

from _ray_corpus import import_ray, make_corpus, merged, single_machine
from llmprep import distributed

ray = import_ray()


def test_two_nodes(tmp_path) -> None:
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()
    inputs = make_corpus(tmp_path / "in")
    one = single_machine(inputs, tmp_path / "one.tok")
    # Node addresses stay at their defaults: forcing 127.0.0.1 on some nodes hung the driver here.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        stats = distributed.tokenize(inputs, tmp_path / "out", shards=8)
        assert stats.nodes == 2, "SPREAD puts shards on both nodes"
        assert merged(tmp_path / "out", tmp_path / "m.tok") == one
    finally:
        ray.shutdown()
        cluster.shutdown()
