"""Core benchmarks: shape inference, incremental re-check and compile of a 500-node network
(figure A), and forward + backward speed of compiled models against hand-written ones
(figure B). Every figure is measured next to a baseline in the same run; goals are printed as
PASS / FAIL, never asserted.

    .venv/bin/python bench/bench_core.py            # full run (a few minutes on 2 cores)
    .venv/bin/python bench/bench_core.py --quick    # smoke run (seconds)

See bench/README.md for what each figure means and the latest numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import fx, nn  # noqa: E402

import builder  # noqa: E402
from bench.generators import resnet_like, resnet_like_torch  # noqa: E402
from graph.document import Network  # noqa: E402

# Goals (see DESIGN.md / bench/README.md).
GOAL_FULL_INFER_S = 1.0
GOAL_INCREMENTAL_S = 0.050
GOAL_COMPILE_S = 2.0
GOAL_TRAIN_RATIO = 0.97

RESULTS: dict[str, dict] = {}
VERDICTS: list[tuple[str, bool, str]] = []


def now() -> float:
    return time.perf_counter()


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def ms(s: float) -> str:
    return f"{s * 1e3:9.2f} ms"


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t = now()
    fn()
    return now() - t


def interleaved(
    a: Callable[[], object], b: Callable[[], object], repeat: int
) -> tuple[list[float], list[float]]:
    """Time ``a`` and ``b`` alternately (ABBA...), so drift and noise hit both alike."""
    ta, tb = [], []
    for i in range(repeat):
        if i % 2 == 0:
            ta.append(timed(a))
            tb.append(timed(b))
        else:
            tb.append(timed(b))
            ta.append(timed(a))
    return ta, tb


def verdict(name: str, ok: bool, detail: str) -> None:
    VERDICTS.append((name, ok, detail))


# ----------------------------------------------------------------------------- figure A


def figure_a(quick: bool) -> None:
    print("\n== A. 500-node ResNet-like network: shape inference, incremental re-check, compile")
    reps = 5 if quick else 30
    compile_reps = 2 if quick else 10

    t_build = timed(lambda: resnet_like())
    net = resnet_like()
    hand = resnet_like_torch()
    n_params = sum(p.numel() for p in hand.parameters())
    print(f"   nodes {len(net)}, edges {len(net.edges())}, parameters {n_params:,}")
    print(f"   building the document through the API: {ms(t_build)} (info)")

    # --- full inference vs torch's own shape propagation (meta tensors: no data, no FLOPs)
    with torch.device("meta"):
        meta_model = resnet_like_torch()
    meta_x = torch.empty(1, 3, 64, 64, device="meta")

    def meta_forward() -> None:
        with torch.no_grad():
            meta_model(meta_x)

    for _ in range(2):  # warm-up
        builder.infer(net)
        meta_forward()

    def fresh_check() -> None:
        checker = builder.ShapeChecker(net)
        checker.check()
        checker.close()

    t_infer, t_meta = interleaved(lambda: builder.infer(net), meta_forward, reps)
    t_fresh, _ = interleaved(fresh_check, meta_forward, reps)
    full = max(med(t_infer), med(t_fresh))
    print(f"   builder.infer(net)                  {ms(med(t_infer))}  (max {ms(max(t_infer))})")
    print(f"   ShapeChecker(net).check() (fresh)   {ms(med(t_fresh))}  (max {ms(max(t_fresh))})")
    print(
        f"   baseline: torch meta-tensor forward {ms(med(t_meta))}"
        f"   ratio infer/meta = {med(t_infer) / med(t_meta):.2f}x"
    )
    verdict("A1 full shape inference < 1 s", full < GOAL_FULL_INFER_S, f"{full * 1e3:.1f} ms")
    RESULTS["A_full"] = {
        "infer_s": med(t_infer),
        "fresh_check_s": med(t_fresh),
        "meta_forward_s": med(t_meta),
        "build_doc_s": t_build,
    }

    # --- incremental re-check after a param change, then after restoring it
    checker = builder.ShapeChecker(net)
    checker.check()
    cases = [
        ("late block conv (s4b2_conv2.out_channels 512->384)", "s4b2_conv2", "out_channels", 384),
        ("early block conv (s1b1_conv2.out_channels 64->48)", "s1b1_conv2", "out_channels", 48),
        ("stem conv (stem_conv.out_channels 64->32)", "stem_conv", "out_channels", 32),
        (
            "early block output (s1b1_conv3.out_channels 256->128:"
            " Add fails, all downstream blocked)",
            "s1b1_conv3",
            "out_channels",
            128,
        ),
        (
            "Input shape (3,64,64)->(3,96,96): every shape downstream changes",
            "input",
            "shape",
            (3, 96, 96),
        ),
    ]
    worst = 0.0
    RESULTS["A_incremental"] = {}
    for label, name, key, value in cases:
        node = net.find(name)
        old = net.params_of(node)[key]
        change, restore, counts = [], [], set()
        for _ in range(reps):
            for v, sink in ((value, change), (old, restore)):
                gc.collect()
                t = now()
                net.set_param(node, key, v)
                checker.check()
                sink.append(now() - t)
                counts.add(checker.last_checked)
        assert not checker.problems(), "restored network must be valid again"
        w = max(med(change), med(restore))
        worst = max(worst, w)
        print(f"   {label}")
        print(
            f"      change {ms(med(change))}  restore {ms(med(restore))}"
            f"  (max {ms(max(change + restore))}),"
            f" nodes re-checked {sorted(counts)}; vs full infer {w / med(t_infer):.2f}x"
        )
        RESULTS["A_incremental"][name] = {
            "change_s": med(change),
            "restore_s": med(restore),
            "rechecked": sorted(counts),
        }
    checker.close()
    verdict(
        "A2 incremental re-check < 50 ms (worst case, median)",
        worst < GOAL_INCREMENTAL_S,
        f"{worst * 1e3:.1f} ms",
    )

    # --- compile vs torch constructing the same modules (and fx-tracing them)
    def construct() -> None:
        resnet_like_torch()

    def construct_and_trace() -> None:
        fx.symbolic_trace(resnet_like_torch())

    for _ in range(2):  # warm-up (first allocations, lazy imports)
        builder.compile_network(net)
        construct_and_trace()
    t_compile, t_construct = interleaved(
        lambda: builder.compile_network(net), construct, compile_reps
    )
    _, t_traced = interleaved(lambda: None, construct_and_trace, compile_reps)
    c = med(t_compile)
    print(f"   builder.compile_network(net)        {ms(c)}  (max {ms(max(t_compile))})")
    print(
        f"   baseline: hand-written nn.Module    {ms(med(t_construct))}"
        f"   ratio compile/construct = {c / med(t_construct):.2f}x"
    )
    print(
        f"   baseline: construct + symbolic_trace{ms(med(t_traced))}"
        f"   ratio compile/(construct+trace) = {c / med(t_traced):.2f}x"
    )
    print(f"   compile overhead over torch's own construction: {ms(c - med(t_construct))}")
    verdict("A3 compile_network < 2 s", c < GOAL_COMPILE_S, f"{c * 1e3:.0f} ms")
    RESULTS["A_compile"] = {
        "compile_s": c,
        "construct_s": med(t_construct),
        "construct_trace_s": med(t_traced),
    }


# ----------------------------------------------------------------------------- figure B


def _chain(net: Network, *nodes: tuple[str, str, dict]) -> None:
    prev = None
    for type_id, name, params in nodes:
        node = net.add_node(type_id, name, params)
        if prev is not None:
            net.connect(prev, node)
        prev = node


def mlp_net() -> Network:
    net = Network(builder.CATALOG, "mlp")
    _chain(
        net,
        ("Input", "input", {"shape": (784,)}),
        ("Linear", "fc1", {"out_features": 512}),
        ("ReLU", "relu1", {}),
        ("Linear", "fc2", {"out_features": 256}),
        ("ReLU", "relu2", {}),
        ("Linear", "fc3", {"out_features": 10}),
        ("Output", "output", {}),
    )
    return net


class HandMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(512, 256)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


def cnn_net(size: int) -> Network:
    """LeNet-like: conv-relu-pool x2, flatten, linear, for 1 x size x size images."""
    net = Network(builder.CATALOG, f"cnn{size}")
    _chain(
        net,
        ("Input", "input", {"shape": (1, size, size)}),
        ("Conv2d", "conv1", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        ("ReLU", "relu1", {}),
        ("MaxPool2d", "pool1", {"kernel_size": 2}),
        ("Conv2d", "conv2", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
        ("ReLU", "relu2", {}),
        ("MaxPool2d", "pool2", {"kernel_size": 2}),
        ("Flatten", "flatten", {}),
        ("Linear", "fc", {"out_features": 10}),
        ("Output", "output", {}),
    )
    return net


class HandCNN(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * (size // 4) ** 2, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def compare_train(
    label: str, net: Network, hand: nn.Module, in_shape: tuple[int, ...], quick: bool, threads: int
) -> float:
    torch.set_num_threads(threads)
    compiled = builder.compile_network(net, seed=0)
    hand.load_state_dict(compiled.state_dict())  # identical weights, identical names
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, *in_shape, generator=gen)
    y = torch.randint(0, 10, (64,), generator=gen)

    # Same weights must give the same outputs and gradients, or the comparison is void.
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), hand(x))
    train_step(compiled, x, y)
    train_step(hand, x, y)
    for (name, p), q in zip(compiled.named_parameters(), hand.parameters(), strict=True):
        torch.testing.assert_close(
            p.grad, q.grad, msg=lambda m, name=name: f"{label} grad {name}: {m}"
        )

    for _ in range(3 if quick else 30):  # warm-up
        train_step(compiled, x, y)
        train_step(hand, x, y)
    # Each sample times `inner` steps (about 4 ms), so timer resolution and call overhead stay
    # small while a burst of load from other processes spoils few samples.
    per_step = med([timed(lambda: train_step(hand, x, y)) for _ in range(15)])
    inner = max(1, round(0.004 / per_step))
    reps = 20 if quick else 600

    def run(model: nn.Module) -> Callable[[], None]:
        def go() -> None:
            for _ in range(inner):
                train_step(model, x, y)

        return go

    a, b = run(compiled), run(hand)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        tc, th = [], []
        for i in range(reps):  # ABBA: alternate who goes first
            for fn, sink in ((a, tc), (b, th)) if i % 2 == 0 else ((b, th), (a, tc)):
                t = now()
                fn()
                sink.append((now() - t) / inner)
    finally:
        if gc_was:
            gc.enable()
    ratio = med(th) / med(tc)
    paired = med([h / c for h, c in zip(th, tc)])
    best = min(th) / min(tc)
    ok = ratio >= GOAL_TRAIN_RATIO
    print(
        f"   {label:<20} threads={threads}  compiled {ms(med(tc))}  hand {ms(med(th))}"
        f"  hand/compiled = {ratio:.3f} (paired median {paired:.3f}, min/min {best:.3f})"
        f"  [{reps} x {inner} steps]"
    )
    verdict(
        f"B  {label}, {threads} thread(s): hand/compiled >= {GOAL_TRAIN_RATIO}", ok, f"{ratio:.3f}"
    )
    RESULTS.setdefault("B", {})[f"{label} t{threads}"] = {
        "compiled_s": med(tc),
        "hand_s": med(th),
        "ratio": ratio,
        "paired_ratio": paired,
        "min_ratio": best,
        "samples": reps,
        "inner": inner,
    }
    return ratio


def figure_b(quick: bool, threads: list[int]) -> None:
    print(
        "\n== B. forward + backward (cross-entropy, batch 64, CPU):"
        " compiled vs hand-written, same weights"
    )
    for t in threads:
        compare_train("MLP 784-512-256-10", mlp_net(), HandMLP(), (784,), quick, t)
        compare_train("CNN 1x28x28", cnn_net(28), HandCNN(28), (1, 28, 28), quick, t)
        compare_train("CNN 1x8x8", cnn_net(8), HandCNN(8), (1, 8, 8), quick, t)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument(
        "--threads", default="1,2", help="torch threads for figure B, comma-separated (default 1,2)"
    )
    parser.add_argument("--only", choices=("A", "B"), help="run one figure only")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]

    torch.set_num_threads(threads[0])
    print(
        f"NeuralCanvas bench_core  {time.strftime('%Y-%m-%d %H:%M')}"
        f"  python {platform.python_version()}"
        f"  torch {torch.__version__}  cpus {os.cpu_count()}  threads(A)={torch.get_num_threads()}"
        f"  {'QUICK' if args.quick else 'full'}"
    )
    t0 = now()
    if args.only in (None, "A"):
        figure_a(args.quick)
    if args.only in (None, "B"):
        figure_b(args.quick, threads)

    print("\n== Summary")
    for name, ok, detail in VERDICTS:
        print(f"   {'PASS' if ok else 'FAIL'}  {name:<62} {detail}")
    print(f"   ({now() - t0:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "results": RESULTS,
            "verdicts": [{"goal": n, "pass": ok, "value": d} for n, ok, d in VERDICTS],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
