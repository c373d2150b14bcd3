"""The classic learning rules against same-run baselines: the ``rbm`` kernel against
scikit-learn's BernoulliRBM, the perceptron and delta rules against a hand-written numpy
loop of the same rule. torch and numpy on one thread each. Goals are printed as PASS /
FAIL, never asserted.

R. *RBM on the digits* (1,437 training rows of the 8 × 8 digits scaled to [0, 1], 100
   hidden units, learning rate 0.06, batches of 10, 10 epochs: scikit-learn's example):
   seconds per epoch, NeuralCanvas's trainer (``neuralcanvas train``'s engine; its per-epoch
   evaluation timed apart, the goal judged without it as in the other benches, the time with
   it printed beside) and scikit-learn's ``fit``, interleaved repetitions, medians; and
   the pseudo-likelihood both reach, measured by scikit-learn's ``score_samples`` on the
   training rows for both (the same flips). Persistent CD-1 (scikit-learn's rule) and CD-1.
   Goals: epoch time at most scikit-learn's; pseudo-likelihood at least as good (within
   0.5 nats: both draw their own random numbers).
P. *Perceptron and delta rules*, online (one update per sample, in order), 5 epochs, on
   2,000 points of two overlapping blobs (2 features, 1 unit) and on the 1,437 training
   digits (64 features, 10 units, one per class): seconds, the trainer against a numpy loop
   of the same rule (``w += η·e·x`` per sample, float32), the same final weights. Goal:
   ours ≥ 0.95× the loop's speed.

    .venv/bin/python bench/bench_rules.py           # full run (about a minute on 2 cores)
    .venv/bin/python bench/bench_rules.py --quick   # smoke run
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_training import summary  # noqa: E402

import assets  # noqa: E402
from builder import CATALOG  # noqa: E402
from builder.training.records import EpochRecord  # noqa: E402
from builder.training.trainer import Trainer  # noqa: E402
from graph import project_file  # noqa: E402

RESULTS: dict[str, Any] = {}
VERDICTS: list[tuple[str, bool | None, str]] = []


def _trained(project) -> tuple[Trainer, float, float]:
    """A finished run: the trainer, its elapsed seconds and the seconds of those spent in
    its per-epoch evaluation (timed by wrapping the kernel's ``evaluate``)."""
    trainer = Trainer(project)
    trainer.prepare()
    kernel, spent = trainer.kernel, [0.0]

    def evaluate(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return kernel.evaluate(*args)
        finally:
            spent[0] += time.perf_counter() - start

    trainer.kernel = types.SimpleNamespace(**vars(kernel))  # the module itself untouched
    trainer.kernel.evaluate = evaluate
    records = trainer.run()
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert trainer.state == "finished", records[-1]
    return trainer, epochs[-1].elapsed, spent[0]


# ----------------------------------------------------------------------------- RBM


def rbm_project(epochs: int, persistent: bool):
    project = project_file.load(assets.example("rbm_digits"), CATALOG)
    project.training.update(epochs=epochs)
    project.training["procedure_settings"].update(persistent=persistent)
    return project


def sklearn_rbm(x: np.ndarray, epochs: int):
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(
        n_components=100, learning_rate=0.06, batch_size=10, n_iter=epochs, random_state=0
    )
    start = time.perf_counter()
    rbm.fit(x)
    return rbm, time.perf_counter() - start


def score(rbm_module: torch.nn.Module, x: np.ndarray) -> float:
    from sklearn.neural_network import BernoulliRBM

    theirs = BernoulliRBM(n_components=rbm_module.hidden, random_state=0)
    theirs.components_ = rbm_module.weight.detach().double().numpy()
    theirs.intercept_hidden_ = rbm_module.hidden_bias.detach().double().numpy()
    theirs.intercept_visible_ = rbm_module.visible_bias.detach().double().numpy()
    return float(theirs.score_samples(x).mean())


def bench_rbm(quick: bool) -> None:
    epochs, reps = (3, 1) if quick else (10, 7)
    for persistent in (True, False):
        name = "PCD-1" if persistent else "CD-1"
        mine_t, mine_all, theirs_t, mine_pl, theirs_pl = [], [], [], [], []
        for _ in range(reps):
            trainer, seconds, evaluating = _trained(rbm_project(epochs, persistent))
            x = trainer.train_x.reshape(trainer.train_x.shape[0], -1).double().numpy()
            mine_t.append((seconds - evaluating) / epochs)
            mine_all.append(seconds / epochs)
            mine_pl.append(score(trainer.kernel_state["rbm"], x))
            theirs, seconds = sklearn_rbm(x, epochs)
            theirs_t.append(seconds / epochs)
            theirs_pl.append(float(theirs.score_samples(x).mean()))
        m, t = statistics.median(mine_t), statistics.median(theirs_t)
        m_all = statistics.median(mine_all)
        pm, pt = statistics.median(mine_pl), statistics.median(theirs_pl)
        RESULTS[f"rbm_{name}"] = {
            "ours_s_per_epoch": m,
            "ours_s_per_epoch_with_evaluation": m_all,
            "sklearn_s_per_epoch": t,
            "ours_pl": pm,
            "sklearn_pl": pt,
        }
        print(
            f"RBM {name}: {1000 * m:.1f} ms/epoch (evaluation excluded; with it"
            f" {1000 * m_all:.1f} ms, ratio {t / m_all:.2f}) vs scikit-learn {1000 * t:.1f} ms"
            f" (ratio {t / m:.2f}); pseudo-likelihood {pm:.2f} vs {pt:.2f}"
        )
        VERDICTS.append(
            (
                f"RBM {name} epoch time <= scikit-learn's",
                m <= t,
                f"{1000 * m:.1f} vs {1000 * t:.1f} ms ({t / m:.2f}x; with evaluation"
                f" {1000 * m_all:.1f} ms, {t / m_all:.2f}x)",
            )
        )
        VERDICTS.append(
            (
                f"RBM {name} pseudo-likelihood >= scikit-learn's (0.5 nats)",
                pm >= pt - 0.5,
                f"{pm:.2f} vs {pt:.2f}",
            )
        )


# ----------------------------------------------------------------------------- rules


def rule_project(rule: str, data: str, epochs: int):
    project = project_file.load(assets.example("delta_blobs"), CATALOG)
    net = project.network()
    project.training.update(procedure=rule, epochs=epochs, batch_size=100, shuffle=False)
    project.training["procedure_settings"] = {
        "learning_rate": 0.01,
        "mode": "online",
        "stop_when_separated": False,
    }
    if data == "blobs":
        project.training["dataset"] = {
            "name": "blobs",
            "samples": 2000,
            "classes": 2,
            "std": 3.0,
            "validation": 0.0,
        }
    else:
        net.set_param(net.find("point"), "shape", (1, 8, 8))
        flatten = net.add_node("Flatten", "flatten")
        (edge,) = net.in_edges(net.find("sum"))
        net.disconnect(edge)
        net.connect(net.find("point"), flatten)
        net.connect(flatten, net.find("sum"))
        net.set_param(net.find("sum"), "out_features", 10)
        project.training["dataset"] = {"name": "digits", "normalise": "minmax", "validation": 0.2}
    return project


def numpy_rule(
    rule: str, w: np.ndarray, b: np.ndarray, x: np.ndarray, d: np.ndarray, eta: float, epochs: int
):
    start = time.perf_counter()
    for _ in range(epochs):
        for xi, di in zip(x, d):
            s = w @ xi + b
            e = di - (s >= 0) if rule == "perceptron" else (2 * di - 1) - s
            w += eta * np.outer(e, xi)
            b += eta * e
    return time.perf_counter() - start


def bench_rules(quick: bool) -> None:
    epochs, reps = (2, 1) if quick else (5, 3)
    for rule in ("perceptron", "delta"):
        for data in ("blobs", "digits"):
            mine, theirs = [], []
            for _ in range(reps):
                project = rule_project(rule, data, epochs)
                start_trainer = Trainer(project)
                start_trainer.prepare()
                linear = start_trainer.kernel_state["linear"]
                w0 = linear.weight.detach().numpy().astype(np.float32).copy()
                b0 = linear.bias.detach().numpy().astype(np.float32).copy()
                x = (
                    start_trainer.train_x.reshape(start_trainer.train_x.shape[0], -1)
                    .numpy()
                    .astype(np.float32)
                )
                d = start_trainer.kernel.targets(
                    start_trainer.kernel_state, start_trainer.train_y, torch.float32
                ).numpy()
                trainer, seconds, _ = _trained(rule_project(rule, data, epochs))
                mine.append(seconds)
                w, b = w0.copy(), b0.copy()
                theirs.append(numpy_rule(rule, w, b, x, d, np.float32(0.01), epochs))
                got = trainer.kernel_state["linear"].weight.detach().numpy()
                same = np.allclose(got, w, atol=1e-4 if rule == "perceptron" else 1e-3)
            m, t = statistics.median(mine), statistics.median(theirs)
            RESULTS[f"{rule}_{data}"] = {"ours_s": m, "numpy_s": t, "same_weights": bool(same)}
            print(
                f"{rule} on {data}: {m:.3f} s vs numpy {t:.3f} s (ours {t / m:.2f}x the loop's speed);"
                f" same weights: {same}"
            )
            VERDICTS.append(
                (f"{rule} on {data}: >= 0.95x a numpy loop", t / m >= 0.95, f"{t / m:.2f}x")
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("R", "P"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.only in (None, "R"):
        bench_rbm(args.quick)
    if args.only in (None, "P"):
        bench_rules(args.quick)
    summary(VERDICTS, RESULTS, time.perf_counter() - start, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
