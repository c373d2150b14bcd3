"""Import benchmark: torchvision's own architectures read into NeuralCanvas.

I. *Import + compile* of ResNet-50, DenseNet-121 and ViT-B/16 (torchvision's code, weights=None, input
   3 × 224 × 224): ``builder.importer.convert_module`` (fx trace, mapping onto the catalog,
   the per-layer check) plus ``compile_network`` of the result, against
   ``torch.fx.symbolic_trace`` of the same model in the same run (the trace alone, which
   every import starts with). Medians of interleaved runs; ratio = ours / trace (the price
   of the whole import in traces).
F. *Training speed of an imported ResNet-18*: forward + backward + SGD step of the compiled
   import (the original's weights loaded) against torchvision's own module, batch 16 of
   3 × 64 × 64, CPU, one torch thread, interleaved; ratio = torchvision's time / ours, goal
   >= 0.97. The two give identical outputs first (checked).

    .venv/bin/python bench/bench_import.py            # about a minute on 2 cores
    .venv/bin/python bench/bench_import.py --quick    # fewer repetitions

See bench/README.md ("Import").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import fx, nn  # noqa: E402

from builder.compile import compile_network  # noqa: E402
from builder.importer import convert_module  # noqa: E402
from tests.builder.torchvision_models import models  # noqa: E402

GOAL_F = 0.97


def figure_i(reps: int) -> None:
    tv = models()
    for name in ("resnet50", "densenet121", "vit_b_16"):
        model = getattr(tv, name)().eval()
        ours, trace = [], []
        for i in range(reps):
            for which in ("ours", "trace") if i % 2 == 0 else ("trace", "ours"):
                start = time.perf_counter()
                if which == "ours":
                    imported = convert_module(model, [(3, 224, 224)])
                    compile_network(imported.project.network())
                    ours.append(time.perf_counter() - start)
                else:
                    fx.symbolic_trace(model)
                    trace.append(time.perf_counter() - start)
        nodes = len(imported.project.network().nodes)
        o, t = statistics.median(ours), statistics.median(trace)
        print(
            f"I  {name}: import + compile {o:.3f} s ({nodes} nodes) vs fx.symbolic_trace"
            f" {t:.3f} s: ratio {o / t:.1f}x the trace ({reps} runs each)"
        )


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def figure_f(reps: int, steps: int) -> bool:
    torch.manual_seed(0)
    original = models().resnet18()
    imported = convert_module(original.eval(), [(3, 64, 64)])
    ours = compile_network(imported.project.network())
    ours.load_state_dict(imported.state_dict, strict=True)
    x = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 1000, (16,), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), original.eval()(x))
    runs = {"torchvision": original.train(), "imported": ours.train()}
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3) for k, m in runs.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for name in runs:  # warm-up
        _step(runs[name], opts[name], x, y)
    for i in range(reps):
        for name in list(runs) if i % 2 == 0 else list(runs)[::-1]:
            start = time.perf_counter()
            for _ in range(steps):
                _step(runs[name], opts[name], x, y)
            times[name].append((time.perf_counter() - start) / steps)
    tv, mine = statistics.median(times["torchvision"]), statistics.median(times["imported"])
    paired = statistics.median(a / b for a, b in zip(times["torchvision"], times["imported"]))
    ok = tv / mine >= GOAL_F
    print(
        f"F  ResNet-18 forward + backward + SGD step, batch 16 of 3x64x64: imported"
        f" {mine * 1e3:.1f} ms vs torchvision {tv * 1e3:.1f} ms: ratio {tv / mine:.3f}"
        f" (paired {paired:.3f}), goal >= {GOAL_F}: {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        f"NeuralCanvas bench_import  {time.strftime('%Y-%m-%d %H:%M')}  torch {torch.__version__}"
    )
    figure_i(3 if args.quick else 7)
    figure_f(4 if args.quick else 15, 3 if args.quick else 8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
