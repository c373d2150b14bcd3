"""The benchmarks' generated 500-node network is real: valid, as large as claimed, and its
inferred parameter count is what torch counts in the compiled module (keeps bench/ honest)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import builder  # noqa: E402
from bench.generators import node_count, resnet_like, resnet_like_torch  # noqa: E402


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet_like_is_valid_and_counts_match_torch():
    net = resnet_like(500)
    assert len(net) >= 480
    assert len(net) == node_count(500)
    results = builder.infer(net)
    assert {info.status for info in results.values()} == {"ok"}
    inferred = sum(info.params for info in results.values())
    compiled = builder.compile_network(net, seed=0)
    assert inferred == _numel(compiled)
    assert inferred == _numel(resnet_like_torch(500))  # the hand-written baseline is the same net
    assert compiled.meta["outputs"][0].shape == builder.Shape.of(10)


def test_incremental_recheck_matches_full_inference_after_bench_edits():
    net = resnet_like(500)
    checker = builder.ShapeChecker(net)
    checker.check()
    for name, key, value in (
        ("s1b1_conv3", "out_channels", 128),  # breaks the Add: everything after is blocked
        ("input", "shape", (3, 96, 96)),
        ("s4b2_conv2", "out_channels", 384),
    ):
        node = net.find(name)
        old = net.params_of(node)[key]
        net.set_param(node, key, value)
        assert checker.check() == builder.infer(net)
        net.set_param(node, key, old)
        assert checker.check() == builder.infer(net)
    assert not checker.problems()
    checker.close()
