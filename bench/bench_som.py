"""Self-organizing map benchmarks: the ``som`` kernel (builder/training/kernels/som.py) against
MiniSom 2.3.6 in the same run, on scikit-learn's digits (1,797 samples, 64 features,
standardised) and a 30 × 30 map, Gaussian neighbourhood, MiniSom's asymptotic decay, σ = 3,
η = 0.5; torch and numpy on one thread each. Goals are printed as PASS / FAIL, never asserted.

0. *Exactness*: 10,000 online updates (``--quick``: 2,000) in float64 from MiniSom's initial
   weights, MiniSom's ``update`` fed the same samples in the same order: the same weights
   (allclose 1e-5), QE and TE.
1. *Online updates*: microseconds per update, MiniSom's ``train(data, n, random_order=True)``
   against the kernel's ``train_step`` in online mode (one update per sample, on batches of
   500 samples); repetitions of 2,000 updates each, interleaved, medians (20,000 updates each
   in all). Goal: ours at least 2× faster per update.
2. *Time to MiniSom's quantisation error*: MiniSom trains online for 10 epochs (17,970
   updates); its final QE is the target. The kernel trains in batch mode (Kohonen's batch
   map: PCA initialisation, η = 1, σ from 3 to 0.7 linearly over 10 epochs (``--quick``:
   MiniSom 5 epochs), one update an epoch); its time is the training's (the SOM inputs, the initialisation and the steps) up
   to the first epoch whose QE is at or below the target; checking the QE after each epoch
   is not counted, as MiniSom's final QE is not. Goal: at least 10× less time. The
   mini-batch mode (TorchSOM's update, batches of 128) is shown beside it, without a goal.

    .venv/bin/python bench/bench_som.py           # full run (under a minute on 2 cores)
    .venv/bin/python bench/bench_som.py --quick   # smoke run (about 15 s)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # numpy's BLAS on one thread, as torch

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_training import summary  # noqa: E402

import graph  # noqa: E402
from builder import CATALOG, compile_network  # noqa: E402
from builder.training.kernels import som as kernel  # noqa: E402

GOAL_ONLINE = 2.0  # MiniSom's time per online update / ours
GOAL_TO_QE = 10.0  # MiniSom's online training time / ours in batch mode, to MiniSom's QE
ROWS = COLS = 30
SIGMA, RATE = 3.0, 0.5
BATCH = 500  # online: samples per train_step

RESULTS: dict[str, Any] = {}
VERDICTS: list[tuple[str, bool | None, str]] = []


def now() -> float:
    return time.perf_counter()


def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    x = load_digits().data
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def som_model(features: int) -> torch.nn.Module:
    net = graph.Project(CATALOG).add_network("main")
    x = net.add_node("Input", name="x", params={"shape": (features,)})
    som = net.add_node("SOM", name="som", params={"rows": ROWS, "cols": COLS})
    out = net.add_node("Output", name="y")
    net.connect(x, som, "out", "in")
    net.connect(som, out, "out", "in")
    return compile_network(net, seed=0)


def settings(**changes: Any) -> dict[str, Any]:
    base = {
        "mode": "online",
        "neighbourhood": "gaussian",
        "learning_rate": RATE,
        "learning_rate_end": 0.0,
        "sigma": SIGMA,
        "sigma_end": 1.0,
        "decay": "asymptotic",
        "sigma_decay": "asymptotic",
        "init": "random",
        "epochs": 10,
        "seed": 0,
        "eval_rows": 0,
    }
    return {**base, **changes}


def minisom_map(seed: int = 0) -> Any:
    from minisom import MiniSom

    return MiniSom(ROWS, COLS, 64, sigma=SIGMA, learning_rate=RATE, random_seed=seed)


# ----------------------------------------------------------------------------- 0. exactness


def exactness(data: np.ndarray, updates: int) -> None:
    """MiniSom's update() and the kernel, from the same weights, on the same samples."""
    print(f"\n== 0. Exactness: {updates} online updates, float64, MiniSom's settings")
    theirs = minisom_map()
    x = torch.tensor(data)
    n = len(x)
    epochs = math.ceil(updates / n)
    state = kernel.setup({"map": som_model(64).double()}, settings(init="keep", epochs=epochs))
    state["batches"] = 1
    with torch.no_grad():
        state["som"].weight.copy_(torch.from_numpy(theirs.get_weights().reshape(-1, 64)))
    inputs, _ = kernel.prepare(state, x, torch.zeros(n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(2))
    rows = order.repeat(epochs)[:updates]
    for t, row in enumerate(rows.tolist()):
        theirs.update(data[row], theirs.winner(data[row]), t, epochs * n)
    for e in range(epochs):  # the kernel's t: e·n + the samples seen this epoch
        kernel.train_step(state, inputs[rows[e * n : (e + 1) * n]], None, e)
    want = theirs.get_weights().reshape(-1, 64)
    got = state["som"].weight.numpy()
    worst = float(np.abs(got - want).max())
    qe_ours, te_ours = kernel.errors(state, inputs)
    qe, te = theirs.quantization_error(data), theirs.topographic_error(data)
    same = np.allclose(got, want, rtol=1e-5, atol=1e-5) and math.isclose(qe_ours, qe, rel_tol=1e-9)
    same = same and te_ours == te
    print(f"   weights: max |ours - MiniSom| {worst:.2e}")
    print(f"   QE ours {qe_ours:.10f}  MiniSom {qe:.10f};  TE ours {te_ours:.6f}  MiniSom {te:.6f}")
    RESULTS["exactness"] = {
        "updates": updates,
        "max_abs": worst,
        "qe": [qe_ours, qe],
        "te": [te_ours, te],
    }
    VERDICTS.append(
        (f"0. {updates} updates: MiniSom's weights (1e-5), QE and TE", same, f"{worst:.1e}")
    )


# ----------------------------------------------------------------------------- 1. online


def online(data: np.ndarray, reps: int, updates: int) -> None:
    print(f"\n== 1. Online updates: {ROWS} × {COLS} map, 64 features, {reps} × {updates} updates")
    x = torch.tensor(data, dtype=torch.float32)
    n = len(x)
    epochs = math.ceil((reps + 1) * updates / n) + 1
    state = kernel.setup({"map": som_model(64)}, settings(epochs=epochs))
    state["batches"] = 10**9  # steps never wrap round an epoch: t runs on
    inputs, _ = kernel.prepare(state, x, torch.zeros(n))
    order = torch.randint(0, n, ((reps + 1) * updates,), generator=torch.Generator().manual_seed(1))
    theirs = minisom_map()
    step = [0]

    def ours_run(rep: int) -> float:
        rows = order[rep * updates : (rep + 1) * updates]
        start = now()
        for b in range(0, updates, BATCH):
            kernel.train_step(state, inputs[rows[b : b + BATCH]], None, step[0])
            step[0] += 1
        return (now() - start) / updates

    def minisom_run(rep: int) -> float:
        start = now()
        theirs.train(data, updates, random_order=True)
        return (now() - start) / updates

    ours_run(reps)  # warm-up, on rows of their own
    minisom_run(reps)
    mine, base = [], []
    for rep in range(reps):  # interleaved, the order alternating
        pair = (ours_run, minisom_run) if rep % 2 == 0 else (minisom_run, ours_run)
        for fn in pair:
            (mine if fn is ours_run else base).append(fn(rep))
    m, b = statistics.median(mine), statistics.median(base)
    paired = statistics.median([y / x for x, y in zip(mine, base)])
    print(f"   MiniSom train()            {b * 1e6:8.1f} us/update")
    print(f"   som kernel, online         {m * 1e6:8.1f} us/update   MiniSom / ours {b / m:.2f}")
    print(f"   (paired median ratio {paired:.2f}; min/min {min(base) / min(mine):.2f})")
    RESULTS["online"] = {"ours_us": m * 1e6, "minisom_us": b * 1e6, "ratio": b / m}
    VERDICTS.append(
        (
            f"1. online update: MiniSom / ours >= {GOAL_ONLINE}",
            b / m >= GOAL_ONLINE,
            f"{b / m:.2f}×",
        )
    )


# ----------------------------------------------------------------------------- 2. to MiniSom's QE


def minisom_online(data: np.ndarray, epochs: int, seed: int) -> tuple[float, float, float]:
    """(seconds, final QE, final TE) of MiniSom trained online for ``epochs`` epochs."""
    theirs = minisom_map(seed)
    start = now()
    theirs.train(data, epochs * len(data), random_order=True)
    seconds = now() - start
    return seconds, theirs.quantization_error(data), theirs.topographic_error(data)


def ours_to(data: np.ndarray, target: float, mode: str, batch: int | None, epochs: int):
    """(seconds to reach ``target``, or None; the final QE and TE; epochs used)."""
    if mode == "batch":
        changes = {"learning_rate": 1.0, "learning_rate_end": 1.0, "decay": "linear"}
    else:
        changes = {"learning_rate": 1.0, "learning_rate_end": 0.05, "decay": "linear"}
    state = kernel.setup(
        {"map": som_model(64)},
        settings(
            mode=mode, init="pca", epochs=epochs, sigma_end=0.7, sigma_decay="linear", **changes
        ),
    )
    x = torch.tensor(data, dtype=torch.float32)
    n = len(x)
    size = n if batch is None else batch
    state["batches"] = math.ceil(n / size)
    gen = torch.Generator().manual_seed(1)
    start = now()
    inputs, _ = kernel.prepare(state, x, torch.zeros(n))
    spent = now() - start
    step, reached, qe, te, used = 0, None, math.nan, math.nan, 0
    for _ in range(epochs):
        start = now()
        order = torch.randperm(n, generator=gen)
        for b in range(state["batches"]):
            kernel.train_step(state, inputs[order[b * size : (b + 1) * size]], None, step)
            step += 1
        spent += now() - start
        used += 1
        qe, te = kernel.errors(state, inputs)  # not timed
        if qe <= target:
            reached = spent
            break
    return reached, qe, te, used


def to_quality(data: np.ndarray, reps: int, epochs: int, ours_epochs: int) -> None:
    print(f"\n== 2. Time to MiniSom's QE after {epochs} online epochs ({reps} runs each)")
    runs: dict[str, list] = {"minisom": [], "batch": [], "minibatch": []}
    for rep in range(reps):
        seconds, qe, te = minisom_online(data, epochs, rep)
        runs["minisom"].append((seconds, qe, te))
        runs["batch"].append(ours_to(data, qe, "batch", None, ours_epochs))
        runs["minibatch"].append(ours_to(data, qe, "minibatch", 128, ours_epochs))
    base = statistics.median(r[0] for r in runs["minisom"])
    target = statistics.median(r[1] for r in runs["minisom"])
    te = statistics.median(r[2] for r in runs["minisom"])
    shown = f"MiniSom online, {epochs} epochs"
    print(f"   {shown:<31} {base:7.2f} s   QE {target:.4f}  TE {te:.3f}")
    RESULTS["to_qe"] = {"minisom_s": base, "minisom_qe": target, "minisom_te": te}
    for mode in ("batch", "minibatch"):
        done = [r for r in runs[mode] if r[0] is not None]
        last = runs[mode][-1]
        if len(done) < len(runs[mode]):
            line = f"did not reach it in {ours_epochs} epochs (QE {last[1]:.4f}, TE {last[2]:.3f})"
            ratio = 0.0
        else:
            mine = statistics.median(r[0] for r in done)
            ratio = base / mine
            line = (
                f"{mine:7.2f} s   QE {last[1]:.4f}  TE {last[2]:.3f} after {last[3]} epochs"
                f"   MiniSom / ours {ratio:.1f}"
            )
        label = "batch map (pca, η 1)" if mode == "batch" else "mini-batch 128 (pca)"
        print(f"   {label:<31} {line}")
        RESULTS["to_qe"][mode] = {"ratio": ratio, "runs": runs[mode]}
    ratio = RESULTS["to_qe"]["batch"]["ratio"]
    VERDICTS.append(
        (
            f"2. to MiniSom's online QE, batch map: MiniSom time / ours >= {GOAL_TO_QE}",
            ratio >= GOAL_TO_QE,
            f"{ratio:.1f}×",
        )
    )
    mini = RESULTS["to_qe"]["minibatch"]["ratio"]
    shown = f"{mini:.1f}×" if mini else "did not reach it"
    VERDICTS.append(("   the same, mini-batch (no goal)", None, shown))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import minisom

    print(
        f"NeuralCanvas bench_som  {time.strftime('%Y-%m-%d %H:%M')}  torch {torch.__version__}"
        f"  MiniSom {getattr(minisom, '__version__', '2.3.6')}  threads 1"
        f"{'  QUICK' if args.quick else ''}"
    )
    began = now()
    data = digits()
    exactness(data, 2000 if args.quick else 10_000)
    online(data, 2 if args.quick else 10, 1000 if args.quick else 2000)
    to_quality(data, 1 if args.quick else 3, 5 if args.quick else 10, 10)
    summary(VERDICTS, RESULTS, now() - began, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
