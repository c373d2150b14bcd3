"""Training-engine benchmarks: the trainer's throughput against a minimal hand-written PyTorch
loop on the same model, data and batch size (figure C), and the memory a very long run keeps
in its record history (figure D). Every figure is measured next to a baseline in the same
run; goals are printed as PASS / FAIL, never asserted.

    .venv/bin/python bench/bench_training.py            # full run (about 10 minutes on 2 cores)
    .venv/bin/python bench/bench_training.py --quick    # smoke run (about 1.5 minutes)
    .venv/bin/python bench/bench_training.py --profile mlp   # cProfile of one trainer run

See bench/README.md ("Training engine") for what each figure means and the latest numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from builder import CATALOG  # noqa: E402
from builder.compile import compile_network  # noqa: E402
from builder.data import Splits, load_dataset, make_splits  # noqa: E402
from builder.training.config import TrainingConfig, parse_training  # noqa: E402
from builder.training.records import History, Record, StepRecord  # noqa: E402
from builder.training.trainer import Trainer  # noqa: E402
from graph import Project, project_file  # noqa: E402
from graph.document import Network  # noqa: E402

# Goals (see bench/README.md, "Training engine").
GOAL_MONITOR_ON = 0.95  # trainer steps/s over baseline steps/s, gradient monitoring on
GOAL_MONITOR_OFF = 0.98  # the same with monitoring off
HISTORY_STEPS = 100_000

RESULTS: dict[str, Any] = {}
VERDICTS: list[tuple[str, bool, str]] = []


def now() -> float:
    return time.perf_counter()


def cpu() -> float:
    """CPU time of this thread: with one torch thread, training runs wholly in it, and time
    the scheduler gives to other processes does not count."""
    return time.thread_time()


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def verdict(name: str, ok: bool, detail: str) -> None:
    VERDICTS.append((name, ok, detail))


# ----------------------------------------------------------------------------- the cases


@dataclass
class Case:
    """One network + dataset + training settings, with the data split once for every run."""

    key: str
    label: str
    project: Project
    config: TrainingConfig
    splits: Splits = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        ds = load_dataset(cfg.dataset, ROOT, seed=cfg.seed)
        self.splits = make_splits(ds, cfg.dataset, seed=cfg.seed)

    @property
    def net(self) -> Network:
        return self.project.network()

    def trainer(self, **changes: Any) -> Trainer:
        return Trainer(self.project, config=replace(self.config, **changes), splits=self.splits)

    def steps_per_epoch(self) -> int:
        n = len(self.splits.train)
        return -(-n // (self.config.batch_size or n))


def mlp_project(widths: tuple[int, ...], classes: int) -> Project:
    project = Project(CATALOG, name="mlp")
    net = project.add_network("main")
    prev = net.add_node("Input", "input", {"shape": [2]})
    layers: list[tuple[str, str, dict]] = []
    for i, w in enumerate(widths, 1):
        layers += [("Linear", f"fc{i}", {"out_features": w}), ("ReLU", f"relu{i}", {})]
    layers += [("Linear", "out", {"out_features": classes}), ("Output", "output", {})]
    for type_id, name, params in layers:
        node = net.add_node(type_id, name, params)
        net.connect(prev, node)
        prev = node
    return project


def mlp_case(epochs: int) -> Case:
    config = TrainingConfig(
        dataset={"name": "moons"},  # 400 rows, 20 % validation: 320 train rows, 10 steps/epoch
        loss="cross_entropy",
        epochs=epochs,
        batch_size=32,
        seed=0,
        device="cpu",
    )
    return Case("mlp", "MLP 2-64-64-2, moons", mlp_project((64, 64), 2), config)


def cnn_case(epochs: int) -> Case:
    project = project_file.load(ROOT / "assets/examples/digits_cnn.json", CATALOG)
    config = replace(parse_training(project.training), epochs=epochs, device="cpu")
    return Case("cnn", "CNN digits_cnn.json, digits", project, config)


# ----------------------------------------------------------------------------- the baseline


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, classes: int) -> dict:
    """The baseline's evaluation: what the trainer reports each epoch (loss, accuracy, macro
    precision / recall / F1, confusion matrix), written the usual way."""
    model.eval()
    out = model(x)
    loss = F.cross_entropy(out, y).item()
    cm = torch.bincount(y * classes + out.argmax(1), minlength=classes * classes)
    cm = cm.view(classes, classes).double()
    tp, predicted, actual = cm.diagonal(), cm.sum(0), cm.sum(1)
    precision = tp / predicted.clamp(min=1)
    recall = tp / actual.clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return {
        "loss": loss,
        "accuracy": (tp.sum() / cm.sum()).item(),
        "precision": precision.mean().item(),
        "recall": recall.mean().item(),
        "f1": f1.mean().item(),
        "confusion": cm.long().tolist(),
    }


def baseline(case: Case, keep_losses: bool = False) -> dict[str, Any]:
    """The minimal loop: data in memory, a randperm per epoch, sliced batches, forward, loss,
    zero_grad, backward, step; then an evaluation of the validation split with the metrics
    the trainer reports (:func:`evaluate`), timed apart. Same compiled architecture and initial weights (the trainer compiles with the
    same seed), same optimiser settings, same shuffling seed as the trainer, so the per-step
    losses come out identical (checked by :func:`check_same_work`)."""
    cfg = case.config
    assert cfg.loss == "cross_entropy" and cfg.optimizer.name == "adam"
    model = compile_network(case.net, seed=cfg.seed)
    o = cfg.optimizer
    opt = torch.optim.Adam(
        model.parameters(), lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
    )
    x, y = case.splits.train.x, case.splits.train.y.long()
    vx, vy = case.splits.val.x, case.splits.val.y.long()
    n = x.shape[0]
    batch = cfg.batch_size or n
    classes = int(case.splits.dataset.num_classes or 0)
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    torch.manual_seed(cfg.seed + 3)
    losses: list[float] = []
    steps = 0
    eval_s = eval_cpu = 0.0
    gc.collect()
    t0, c0 = now(), cpu()
    for _ in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=shuffle)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            if keep_losses:
                losses.append(loss.item())
        t1, c1 = now(), cpu()
        evaluate(model, vx, vy, classes)
        eval_s += now() - t1
        eval_cpu += cpu() - c1
    total, total_cpu = now() - t0, cpu() - c0
    return {
        "steps": steps,
        "total_s": total,
        "eval_s": eval_s,
        "train_cpu_s": total_cpu - eval_cpu,
        "losses": losses,
        "model": model,
    }


def run_trainer(case: Case, monitor: bool) -> dict[str, Any]:
    """One synchronous trainer run (``run()``), prepared beforehand; the time spent in its
    per-epoch evaluation is measured by wrapping its kernel's ``evaluate`` and reported apart."""
    trainer = case.trainer(monitor=monitor)
    trainer.prepare()  # data to device, compile, optimiser: not training time
    kernel = trainer.kernel
    evaluate = kernel.evaluate
    eval_s = [0.0, 0.0]

    def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        t, c = now(), cpu()
        try:
            return evaluate(*args, **kwargs)
        finally:
            eval_s[0] += now() - t
            eval_s[1] += cpu() - c

    # The same kernel with a timed evaluate (the kernel module itself stays untouched).
    trainer.kernel = types.SimpleNamespace(**vars(kernel))
    trainer.kernel.evaluate = timed_evaluate
    gc.collect()
    t0, c0 = now(), cpu()
    records = trainer.run()
    total, total_cpu = now() - t0, cpu() - c0
    if trainer.state != "finished":
        raise RuntimeError(f"{case.label}: the trainer ended {trainer.state}: {records[-1]}")
    return {
        "steps": trainer.step,
        "total_s": total,
        "eval_s": eval_s[0],
        "train_cpu_s": total_cpu - eval_s[1],
        "records": records,
        "trainer": trainer,
    }


def check_same_work(case: Case) -> None:
    """The trainer and the baseline must do the same training, or the comparison is void:
    the same loss at every step and the same final weights."""
    small = replace(case, config=replace(case.config, epochs=2))
    small.splits = case.splits
    got = run_trainer(small, monitor=True)
    want = baseline(small, keep_losses=True)
    losses = [v for r in got["records"] if isinstance(r, StepRecord) for v in r.losses]
    assert got["steps"] == want["steps"] == 2 * case.steps_per_epoch()
    assert losses == want["losses"], f"{case.label}: the trainer's losses differ from the loop's"
    state = got["trainer"].model.state_dict()
    for k, v in want["model"].state_dict().items():
        torch.testing.assert_close(state[k], v, msg=lambda m, k=k: f"{case.label} {k}: {m}")


# ----------------------------------------------------------------------------- figure C


def figure_c(quick: bool, threads: list[int], only: str | None) -> None:
    print(
        "\n== C. Trainer throughput vs a minimal hand-written loop (CPU; same model, weights,"
        " data, batches, optimiser; evaluation timed apart and excluded)"
    )
    reps = 4 if quick else 30
    cases = []
    if only in (None, "mlp"):
        cases.append(mlp_case(epochs=100))  # 1,000 steps, ~0.33 s a run
    if only in (None, "cnn"):
        cases.append(cnn_case(epochs=8))  # 184 steps, ~0.3 s a run
    for t in threads:
        torch.set_num_threads(t)
        for case in cases:
            compare_throughput(case, reps, t)


def compare_throughput(case: Case, reps: int, threads: int) -> None:
    check_same_work(case)
    variants: dict[str, Callable[[], dict[str, Any]]] = {
        "monitor on": lambda: run_trainer(case, monitor=True),
        "monitor off": lambda: run_trainer(case, monitor=False),
        "baseline": lambda: baseline(case),
    }
    for fn in variants.values():  # warm-up
        fn()
    wall: dict[str, list[float]] = {k: [] for k in variants}  # steps/s, evaluation excluded
    cpu_: dict[str, list[float]] = {k: [] for k in variants}  # the same in CPU time
    whole: dict[str, list[float]] = {k: [] for k in variants}  # steps/s, evaluation included
    orders = list(itertools.permutations(variants))
    for i in range(reps):  # every order in turn, so drift and neighbours hit all alike
        for name in orders[i % len(orders)]:
            r = variants[name]()
            wall[name].append(r["steps"] / (r["total_s"] - r["eval_s"]))
            cpu_[name].append(r["steps"] / r["train_cpu_s"])
            whole[name].append(r["steps"] / r["total_s"])
    base = med(wall["baseline"])
    cfg = case.config
    print(
        f"   {case.label}: batch {cfg.batch_size}, {case.steps_per_epoch()} steps/epoch x"
        f" {cfg.epochs} epochs, report_every {cfg.report_every}, threads={threads},"
        f" {reps} runs each"
    )
    print(
        f"      baseline loop          {base:8.1f} steps/s ({1e6 / base:6.1f} us/step;"
        f" CPU time {med(cpu_['baseline']):8.1f}; with evaluation {med(whole['baseline']):8.1f})"
    )
    out: dict[str, Any] = {"baseline_steps_s": base, "baseline_with_eval": med(whole["baseline"])}
    for name, goal in (("monitor on", GOAL_MONITOR_ON), ("monitor off", GOAL_MONITOR_OFF)):
        mine = med(wall[name])
        ratio = mine / base
        paired = med([a / b for a, b in zip(wall[name], wall["baseline"])])
        by_cpu = med(cpu_[name]) / med(cpu_["baseline"])
        with_eval = med(whole[name]) / med(whole["baseline"])
        extra_us = (1 / mine - 1 / base) * 1e6  # the trainer's extra time per step
        print(
            f"      trainer, {name:<11}  {mine:8.1f} steps/s  ratio {ratio:.3f}"
            f"  (paired {paired:.3f}, CPU time {by_cpu:.3f}, with evaluation {with_eval:.3f};"
            f" {extra_us:+.1f} us/step)  goal >= {goal}"
        )
        verdict(
            f"C  {case.label}, {name}, {threads} thread(s): trainer/loop >= {goal}",
            ratio >= goal,
            f"{ratio:.3f}",
        )
        out[name] = {
            "steps_s": mine,
            "ratio": ratio,
            "paired_ratio": paired,
            "cpu_ratio": by_cpu,
            "ratio_with_eval": with_eval,
            "extra_us_per_step": extra_us,
            "samples": wall[name],
        }
    out["baseline_samples"] = wall["baseline"]
    RESULTS.setdefault("C", {})[f"{case.key} t{threads}"] = out


# ----------------------------------------------------------------------------- figure D


class NoHistory(History):
    """The baseline for figure D: the same run, keeping no records at all."""

    def add(self, record: Record) -> None:
        pass


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def xor_project(rows_repeat: int, steps: int) -> tuple[Project, TrainingConfig]:
    project = project_file.load(ROOT / "assets/examples/xor_mlp.json", CATALOG)
    cfg = parse_training(project.training)
    rows = 4 * rows_repeat
    config = replace(
        cfg,
        dataset={"name": "xor", "repeat": rows_repeat},
        batch_size=1,
        epochs=-(-steps // rows),
        device="cpu",
        report_every=10,
        monitor=True,
    )
    return project, config


def long_run(project: Project, config: TrainingConfig, keep: bool, trace: bool) -> dict[str, Any]:
    """Train in the background while this thread drains the channel at 30 Hz (as the GUI
    does) and samples memory; ``keep=False`` swaps the history for one that keeps nothing."""
    trainer = Trainer(project, config=config)
    if not keep:
        trainer.history = NoHistory()
    trainer.prepare()
    gc.collect()
    if trace:
        tracemalloc.start()
    rss0 = rss_kib()
    traced0 = tracemalloc.get_traced_memory()[0] if trace else 0
    samples: list[tuple[int, int, int]] = []  # (step, rss KiB growth, traced bytes growth)
    t0 = now()
    trainer.start()
    received = 0
    while trainer.alive:
        time.sleep(1 / 30)
        received += len(trainer.poll())
        traced = tracemalloc.get_traced_memory()[0] - traced0 if trace else 0
        samples.append((trainer.step, rss_kib() - rss0, traced))
    trainer.join()
    received += len(trainer.poll())
    elapsed = now() - t0
    gc.collect()
    traced, peak = tracemalloc.get_traced_memory() if trace else (0, 0)
    if trace:
        tracemalloc.stop()
    samples.append((trainer.step, rss_kib() - rss0, traced - traced0))
    h = trainer.history
    return {
        "state": trainer.state,
        "steps": trainer.step,
        "epochs": trainer.epoch,
        "seconds": elapsed,
        "records_sent": received,
        "history_len": len(h),
        "history_steps": sum(1 for _ in h.steps()),
        "history_epochs": len(h.epochs),
        "history_events": len(h.events),
        "first_kept_step": next(iter(h.steps())).step if keep and len(h) else None,
        "rss_growth_kib": samples[-1][1],
        "traced_growth": traced - traced0,
        "traced_peak": peak - traced0 if trace else 0,
        "samples": samples,
    }


def long_runs_apart(repeat: int, steps: int, keep: bool) -> list[dict[str, Any]]:
    """:func:`long_run` untraced and traced, each in a fresh process (so that its RSS growth is
    its own), side by side: only memory is compared, and tracing is slow."""
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--long-run", json.dumps([repeat, steps, keep, trace])],
            stdout=subprocess.PIPE,
            text=True,
        )
        for trace in (False, True)
    ]
    out = []
    for child in children:
        stdout, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"a figure D run failed (exit status {child.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def at_step(samples: list[tuple[int, int, int]], step: int) -> tuple[int, int, int]:
    """The first sample taken at or after ``step``."""
    return next((s for s in samples if s[0] >= step), samples[-1])


def figure_d(quick: bool) -> None:
    steps = 10_000 if quick else HISTORY_STEPS
    marks = (steps // 10, steps // 2)
    print(
        f"\n== D. Memory of a {steps:,}-step run (xor_mlp.json 2-4-1, batch 1, report_every 10,"
        " monitoring on): history vs no history; the reader drains the channel at 30 Hz"
    )
    h = History()  # the trainer's default bounds
    for key, repeat, what in (
        ("rows100", 25, "XOR x25 (100 rows, 100 steps/epoch)"),
        ("rows4", 1, "XOR (4 rows, 4 steps/epoch: many tiny epochs)"),
    ):
        print(f"   {what}: {xor_project(repeat, steps)[1].epochs:,} epochs")
        out: dict[str, Any] = {}
        for keep in (True, False):
            name = "history" if keep else "no history"
            r, t = long_runs_apart(repeat, steps, keep)
            assert r["state"] == t["state"] == "finished", (r["state"], t["state"])
            rss = [at_step(r["samples"], m)[1] / 1024 for m in marks] + [r["rss_growth_kib"] / 1024]
            traced = [at_step(t["samples"], m)[2] / 2**20 for m in marks]
            traced.append(t["traced_growth"] / 2**20)
            print(
                f"      {name:<10} {r['steps']:,} steps in {r['seconds']:.1f} s"
                f" ({t['seconds']:.1f} s traced); records sent {r['records_sent']:,},"
                f" held {r['history_len']:,} ({r['history_steps']:,} step,"
                f" {r['history_epochs']:,} epoch, {r['history_events']} status)"
            )
            at = f"at steps {marks[0]:,} / {marks[1]:,} / {steps:,}"
            print(
                f"         growth {at}: RSS {rss[0]:.1f} / {rss[1]:.1f} / {rss[2]:.1f} MiB;"
                f" traced {traced[0]:.2f} / {traced[1]:.2f} / {traced[2]:.2f} MiB,"
                f" peak {t['traced_peak'] / 2**20:.2f} MiB"
            )
            out[name] = {
                **{k: v for k, v in r.items() if k != "samples"},
                "marks": marks,
                "rss_mib": rss,
                "traced_mib": traced,
                "traced_peak": t["traced_peak"],
                "traced_seconds": t["seconds"],
            }
        kept, none = out["history"], out["no history"]
        held = (kept["traced_mib"][-1] - none["traced_mib"][-1]) * 2**20
        bound = 2 * h.recent_limit + 2 * h.recent_epochs_limit + kept["history_events"]
        print(
            f"      held by the history: {held / 2**20:.2f} MiB traced"
            f" ({held / max(kept['history_len'], 1):.0f} B per record); first kept step"
            f" record: step {kept['first_kept_step']:,}; bound {bound:,} records"
        )
        verdict(
            f"D  {what}: history holds <= {bound:,} records",
            kept["history_len"] <= bound,
            f"{kept['history_len']:,} records, {held / 2**20:.1f} MiB",
        )
        RESULTS.setdefault("D", {})[key] = out


# ----------------------------------------------------------------------------- profile


def profile(which: str) -> None:
    case = mlp_case(40) if which == "mlp" else cnn_case(4)
    for monitor in (True, False):
        trainer = case.trainer(monitor=monitor)
        trainer.prepare()
        prof = cProfile.Profile()
        prof.enable()
        trainer.run()
        prof.disable()
        print(f"\n== cProfile: {case.label}, monitor {'on' if monitor else 'off'}")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


# ----------------------------------------------------------------------------- main


def summary(verdicts: list, results: dict, seconds: float, path: Path | None) -> None:
    """Print a bench's verdicts (PASS / FAIL; None: a figure without a goal) and the load
    average, and write them with the results as JSON to ``path`` (when given)."""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print("\n== Summary")
    for name, ok, detail in verdicts:
        result = "    " if ok is None else ("PASS" if ok else "FAIL")
        print(f"   {result}  {name:<72} {detail}")
    print(f"   ({seconds:.0f} s; load average at the end {load})")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "results": results,
            "verdicts": [{"goal": n, "pass": ok, "value": d} for n, ok, d in verdicts],
        }
        path.write_text(json.dumps(payload, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument(
        "--threads", default="1", help="torch threads for figure C, comma-separated (default 1)"
    )
    parser.add_argument("--only", choices=("C", "D"), help="run one figure only")
    parser.add_argument("--case", choices=("mlp", "cnn"), help="figure C: one case only")
    parser.add_argument(
        "--profile", choices=("mlp", "cnn"), help="cProfile trainer runs, then stop"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--long-run", help=argparse.SUPPRESS)  # one figure D run, in a child
    args = parser.parse_args(argv)
    if args.long_run:
        repeat, steps, keep, trace = json.loads(args.long_run)
        torch.set_num_threads(1)
        print(json.dumps(long_run(*xor_project(repeat, steps), keep, trace)))
        return 0
    threads = [int(t) for t in args.threads.split(",")]
    torch.set_num_threads(threads[0])
    if args.profile:
        profile(args.profile)
        return 0
    print(
        f"NeuralCanvas bench_training  {time.strftime('%Y-%m-%d %H:%M')}"
        f"  python {platform.python_version()}  torch {torch.__version__}"
        f"  cpus {os.cpu_count()}  {'QUICK' if args.quick else 'full'}"
    )
    t0 = now()
    if args.only in (None, "C"):
        figure_c(args.quick, threads, args.case)
    if args.only in (None, "D"):
        torch.set_num_threads(1)
        figure_d(args.quick)
    summary(VERDICTS, RESULTS, now() - t0, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
