"""GAN benchmark: the gan procedure's training speed against a hand-written DCGAN loop (A) and
against its exported script (B), and the GUI's responsiveness while a GAN trains with its
sample grid on screen (C). Goals are printed as PASS / FAIL, never asserted.

    .venv/bin/python bench/bench_gan.py            # full run (about 11 minutes on 2 cores)
    .venv/bin/python bench/bench_gan.py --quick    # smoke run (about 3 minutes)
    .venv/bin/python bench/bench_gan.py --only A   # one figure

A. The trainer on ``gan_digits.json`` (and ``dcgan_digits.json`` when it exists), run as the
   app runs it: the Trainer class in its background thread, its records drained by a reader
   as the command line drains them (``Trainer.records()``; the CLI's run files, checkpoints
   and progress bar are left out), with the project's monitoring (gradient norms every report);
   against the pytorch/examples ``dcgan`` recipe's loop (BCE, Adam 2e-4 betas (0.5, 0.999) for
   each network, D on a real batch with label 1, then on ``fake.detach()`` with label 0, one D
   step, then G on the real label; ``.item()`` of the five logged numbers every step) on the
   same compiled networks, initial weights, batches and noise generator. Median epoch time
   (training only: each epoch's evaluation of the validation split by the trainer, which the
   recipe does not do, is timed apart and excluded); ratio = recipe's time / trainer's time.
   Goal >= 0.95.
B. The exported script (``builder.export``; imported as a module, ``train()`` timed) against
   ``Trainer.run()`` with monitoring off, the same epochs, evaluation included on both sides
   (as ``bench_export.py``); ratio = trainer's time / script's time (= the script's steps/s
   over the trainer's). Goal >= 0.98.
C. ``bench_dashboard.py --only A --example gan_digits`` in a fresh process: GUI timer lateness
   while the GAN trains from Train > Start with its sample grid shown (p99 <= 16 ms, max <= 50
   ms), and how far behind the trainer the sample grid is (<= 1 s).

See bench/README.md ("GAN") for the latest figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
from bench_training import Case, cpu, med, now, summary  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim.optimizer import register_optimizer_step_post_hook  # noqa: E402

from builder import CATALOG  # noqa: E402
from builder.compile import compile_network  # noqa: E402
from builder.training import procedures  # noqa: E402
from builder.training.binding import role_networks  # noqa: E402
from builder.training.config import parse_training  # noqa: E402
from builder.training.kernels.adversarial import NOISE_SEED, dcgan_init  # noqa: E402
from builder.training.records import StepRecord  # noqa: E402
from graph import project_file  # noqa: E402

GOAL_A = 0.95  # recipe's epoch time / trainer's epoch time
GOAL_B = 0.98  # trainer's time / exported script's time
EXAMPLES = ("gan_digits", "dcgan_digits")  # dcgan_digits: when it exists
DCGAN_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
# The recipe's game: non-saturating BCE, one D and one G update a step, plain labels.
RECIPE_SETTINGS = {
    "loss": "non_saturating",
    "d_steps": 1,
    "g_steps": 1,
    "label_smoothing": 0.0,
    "label_noise": 0.0,
    "instance_noise": 0.0,
}

VERDICTS: list[tuple[str, bool | None, str]] = []
RESULTS: dict[str, Any] = {}


def verdict(name: str, ok: bool | None, detail: str) -> None:
    VERDICTS.append((name, ok, detail))


def interleaved(names: list[str], reps: int) -> Iterator[str]:
    """Every name ``reps`` times, in rotating orders (ABC, BCA, CAB, then reversed...): each
    takes every place in turn, so drift and neighbours hit all alike."""
    k = len(names)
    for i in range(reps):
        order = names[i % k :] + names[: i % k]
        yield from (order[::-1] if (i // k) % 2 else order)


# ----------------------------------------------------------------------------- the case


def gan_case(example: str, epochs: int) -> Case:
    """An example GAN project with the recipe's game and optimisers (gan_digits has them
    already), ``epochs`` a run, on the CPU."""
    project = project_file.load(ROOT / "assets/examples" / f"{example}.json", CATALOG)
    training = dict(project.training)
    settings = {**training.get("procedure_settings", {}), **RECIPE_SETTINGS}
    training["procedure_settings"] = settings
    training["optimizers"] = {"generator": DCGAN_ADAM, "discriminator": DCGAN_ADAM}
    training.update(epochs=epochs, device="cpu")
    project.training = training
    config = parse_training(training)
    return Case(example, f"{example}.json", project, config)


def with_epochs(case: Case, epochs: int) -> Case:
    out = replace(case, config=replace(case.config, epochs=epochs))
    out.project.training = {**case.project.training, "epochs": epochs}
    out.splits = case.splits
    return out


def planned(case: Case, quick: bool) -> Case:
    """The case with as many epochs a run (at most its own, at least 2) as fill about a
    second of training (half in a quick run), from a 2-epoch run of the recipe: a DCGAN's
    epoch takes 10x an MLP GAN's."""
    epoch_s = med(Recipe(with_epochs(case, 2)).run()["epoch_s"])
    target = 0.5 if quick else 1.0
    epochs = max(2, min(case.config.epochs, round(target / epoch_s)))
    return case if epochs == case.config.epochs else with_epochs(case, epochs)


def repetitions(reps: int, run_s: float, variants: int, budget_s: float) -> int:
    """``reps``, or fewer (at least 4) when that many runs of ``variants`` would take
    more than ``budget_s``."""
    return max(4, min(reps, int(budget_s / max(run_s * variants, 1e-9))))


def describe_nets(case: Case) -> str:
    spec = procedures.procedure("gan")
    nets = role_networks(case.project, spec, case.config.roles, None)
    parts = []
    for role, net in nets.items():
        model = compile_network(net, seed=0)
        count = sum(p.numel() for p in model.parameters())
        layers = "-".join(net.type_of(n) for n in net.topological_order())
        parts.append(f"{role} {net.name!r} {count:,} parameters ({layers})")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- the recipe


class Recipe:
    """The pytorch/examples dcgan training loop on the project's two networks, compiled with
    the trainer's seeds (the generator with seed + 0, the discriminator with seed + 1, in role
    order), the trainer's shuffling (a randperm per epoch from seed + 1) and its noise
    generator (seed + 6).

    ``kernel_passes``: the same loop doing what the gan kernel does instead (the D step on
    ``fake.detach()`` with one backward of the summed loss; the G step on the same fake):
    the trainer's own algorithm, written as a plain loop, whose losses equal the trainer's
    step for step."""

    def __init__(self, case: Case, kernel_passes: bool = False) -> None:
        cfg = case.config
        spec = procedures.procedure("gan")
        nets = role_networks(case.project, spec, cfg.roles, None)
        models = {
            role: compile_network(net, seed=cfg.seed + i)
            for i, (role, net) in enumerate(nets.items())
        }
        settings = cfg.procedure_settings
        if settings.get("init") == "dcgan":  # the recipe's weights_init, as the kernel does it
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                dcgan_init(models["generator"])
                dcgan_init(models["discriminator"])
        self.netG, self.netD = models["generator"], models["discriminator"]
        (g_input,) = [n for n in nets["generator"].nodes if nets["generator"].type_of(n) == "Input"]
        self.latent = tuple(nets["generator"].params_of(g_input)["shape"])
        self.uniform = settings.get("noise") == "uniform"
        last = [m for m in self.netD.modules() if not list(m.children())][-1]
        self.probabilities = isinstance(last, nn.Sigmoid)
        self.criterion = nn.BCELoss() if self.probabilities else nn.BCEWithLogitsLoss()
        self.x = case.splits.train.x
        self.batch = cfg.batch_size or self.x.shape[0]
        self.seed, self.epochs = cfg.seed, cfg.epochs
        self.kernel_passes = kernel_passes

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.uniform:
            return torch.rand((n, *self.latent), generator=gen) * 2 - 1
        return torch.randn((n, *self.latent), generator=gen)

    def shown(self, output: torch.Tensor) -> float:
        return (output if self.probabilities else torch.sigmoid(output)).mean().item()

    def run(self, keep: bool = False) -> dict[str, Any]:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        x, batch, n = self.x, self.batch, self.x.shape[0]
        shuffle = torch.Generator().manual_seed(self.seed + 1)
        gen = torch.Generator().manual_seed(self.seed + NOISE_SEED)
        torch.manual_seed(self.seed + 3)
        real_label, fake_label = 1.0, 0.0
        log: list[tuple[float, ...]] = []
        epoch_s: list[float] = []
        epoch_cpu: list[float] = []
        steps = 0
        gc.collect()
        for _ in range(self.epochs):
            t0, c0 = now(), cpu()
            netG.train()
            netD.train()
            perm = torch.randperm(n, generator=shuffle)
            for start in range(0, n, batch):
                real = x.index_select(0, perm[start : start + batch])
                b = real.shape[0]
                if self.kernel_passes:
                    fake = netG(self.noise(b, gen))
                    label = torch.full((b, 1), real_label)
                    output = netD(real)
                    errD_real = criterion(output, label)
                    D_x = self.shown(output)
                    output = netD(fake.detach())
                    errD_fake = criterion(output, torch.full((b, 1), fake_label))
                    D_G_z1 = self.shown(output)
                    errD = errD_real + errD_fake
                    optimizerD.zero_grad(set_to_none=True)
                    errD.backward()
                    optimizerD.step()
                    output = netD(fake)  # the same fake, as the kernel
                    errG = criterion(output, label)
                    optimizerG.zero_grad(set_to_none=True)
                    errG.backward()
                    optimizerG.step()
                    D_G_z2 = self.shown(output)
                else:
                    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
                    netD.zero_grad()
                    label = torch.full((b, 1), real_label)
                    output = netD(real)
                    errD_real = criterion(output, label)
                    errD_real.backward()
                    D_x = self.shown(output)
                    fake = netG(self.noise(b, gen))
                    label.fill_(fake_label)
                    output = netD(fake.detach())
                    errD_fake = criterion(output, label)
                    errD_fake.backward()
                    D_G_z1 = self.shown(output)
                    errD = errD_real + errD_fake
                    optimizerD.step()
                    # (2) Update G network: maximize log(D(G(z)))
                    netG.zero_grad()
                    label.fill_(real_label)  # fake labels are real for generator cost
                    output = netD(fake)
                    errG = criterion(output, label)
                    errG.backward()
                    D_G_z2 = self.shown(output)
                    optimizerG.step()
                row = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)  # what the recipe prints
                if keep:
                    log.append(row)
                steps += 1
            epoch_s.append(now() - t0)
            epoch_cpu.append(cpu() - c0)
        return {"steps": steps, "epoch_s": epoch_s, "epoch_cpu": epoch_cpu, "log": log}


# ----------------------------------------------------------------------------- the trainer


def timed_kernel(trainer: Any) -> list[tuple[float, float, float, float]]:
    """Wrap the prepared trainer's kernel's ``evaluate`` (the kernel module stays untouched)
    so that each call notes (start, end, thread CPU at start, at end)."""
    kernel = trainer.kernel
    evaluate = kernel.evaluate
    spans: list[tuple[float, float, float, float]] = []

    def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        t, c = now(), cpu()
        try:
            return evaluate(*args, **kwargs)
        finally:
            spans.append((t, now(), c, cpu()))

    trainer.kernel = types.SimpleNamespace(**vars(kernel))
    trainer.kernel.evaluate = timed_evaluate
    return spans


def run_trainer(
    case: Case, thread: bool = True, views: bool = False, monitor: bool = True
) -> dict[str, Any]:
    """One trainer run, prepared beforehand (data, compiling, the kernel's setup: not
    training time). ``thread``: as the app runs it, ``start()`` and a reader draining the
    channel as the command line does; else ``run()`` in this thread. Epoch k's training
    time runs from the end of epoch k - 1's evaluation (the run's start for the first) to
    the start of its own, so it holds the trainer's bookkeeping between epochs too."""
    trainer = case.trainer(monitor=monitor)
    trainer.prepare()
    spans = timed_kernel(trainer)
    if views:
        trainer.set_views(True)  # what the dashboard asks for
    records: list[Any] = []
    gc.collect()
    t0 = now()
    if thread:
        trainer.start()
        records = list(trainer.records(timeout=600))
        trainer.join()
    else:
        records = trainer.run()
    total = now() - t0
    if trainer.state != "finished":
        raise RuntimeError(f"{case.label}: the trainer ended {trainer.state}: {records[-1]}")
    epochs = case.config.epochs
    evals = spans[:epochs]  # per epoch; a test split's evaluation comes after them
    starts = [trainer._t0] + [e[1] for e in evals[:-1]]
    epoch_s = [e[0] - s for e, s in zip(evals, starts)]
    epoch_cpu = [b[2] - a[3] for a, b in zip(evals, evals[1:])]  # epochs 2.. (CPU of its thread)
    return {
        "steps": trainer.step,
        "epoch_s": epoch_s,
        "epoch_cpu": epoch_cpu,
        "eval_s": [e[1] - e[0] for e in evals],
        "total_s": total,
        "records": records,
        "trainer": trainer,
    }


# ----------------------------------------------------------------------------- same work


@contextmanager
def counting(models: dict[str, nn.Module], active: Callable[[], bool]) -> Iterator[dict[str, int]]:
    """Count, while ``active()``, each network's forward passes (with and without autograd),
    the backward calls and the optimiser steps."""
    counts: dict[str, int] = {"backward": 0, "optimizer steps": 0}
    handles = []
    for role, model in models.items():
        for mode in ("grad", "no_grad"):
            counts[f"{role} forward ({mode})"] = 0

        def hook(_module: Any, _args: Any, role: str = role) -> None:
            if active():
                mode = "grad" if torch.is_grad_enabled() else "no_grad"
                counts[f"{role} forward ({mode})"] += 1

        handles.append(model.register_forward_pre_hook(hook))

    def stepped(*_: Any) -> None:
        if active():
            counts["optimizer steps"] += 1

    handles.append(register_optimizer_step_post_hook(stepped))
    backward = torch.Tensor.backward

    def counted_backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if active():
            counts["backward"] += 1
        return backward(self, *args, **kwargs)

    torch.Tensor.backward = counted_backward
    try:
        yield counts
    finally:
        torch.Tensor.backward = backward
        for handle in handles:
            handle.remove()


def passes_of_trainer(case: Case) -> tuple[dict[str, float], dict[str, Any]]:
    """The trainer's passes per training step (its steps only: not its evaluation)."""
    trainer = case.trainer(monitor=False)
    trainer.prepare()
    kernel = trainer.kernel
    inside = [False]
    step = kernel.train_step

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        inside[0] = True
        try:
            return step(*args, **kwargs)
        finally:
            inside[0] = False

    trainer.kernel = types.SimpleNamespace(**vars(kernel))
    trainer.kernel.train_step = counted_step
    with counting(trainer.models, lambda: inside[0]) as counts:
        records = trainer.run()
    return {k: v / trainer.step for k, v in counts.items()}, {
        "records": records,
        "trainer": trainer,
    }


def passes_of_recipe(recipe: Recipe) -> tuple[dict[str, float], dict[str, Any]]:
    models = {"generator": recipe.netG, "discriminator": recipe.netD}
    with counting(models, lambda: True) as counts:
        out = recipe.run(keep=True)
    return {k: v / out["steps"] for k, v in counts.items()}, out


def check_same_work(case: Case) -> dict[str, Any]:
    """The comparison holds only if both train the same networks on the same data: the same
    initial weights; the kernel-passes loop's losses equal the trainer's at every step (so the
    trainer runs exactly that algorithm); the recipe's first D step (the same real batch and
    the same first noise) gives the trainer's first D loss and D outputs. Prints the forward
    and backward passes each does per step."""
    small = with_epochs(case, 2)
    trainer_passes, got = passes_of_trainer(small)
    trainer = got["trainer"]
    recipe = Recipe(small)
    fresh = small.trainer(monitor=False)
    fresh.prepare()  # the trainer's initial weights (after the kernel's setup)
    for role, model in (("generator", recipe.netG), ("discriminator", recipe.netD)):
        theirs = fresh.models[role].state_dict()
        for k, v in model.state_dict().items():
            torch.testing.assert_close(v, theirs[k], msg=lambda m, k=k, r=role: f"{r} {k}: {m}")
    recipe_passes, want = passes_of_recipe(recipe)
    kernel_passes, same = passes_of_recipe(Recipe(small, kernel_passes=True))
    steps = [r for r in got["records"] if isinstance(r, StepRecord)]
    series = {
        name: [v for r in steps for v in r.series[name]]
        for name in ("d_loss", "g_loss", "d_x", "d_g_z1", "d_g_z2")
    }
    assert trainer.step == want["steps"] == same["steps"] == 2 * small.steps_per_epoch()
    for i, name in enumerate(series):
        torch.testing.assert_close(
            series[name],
            [row[i] for row in same["log"]],
            msg=lambda m, n=name: f"{case.label} {n}: {m}",
        )
    for i, name in ((0, "d_loss"), (2, "d_x"), (3, "d_g_z1")):  # the first D step
        torch.testing.assert_close(series[name][0], want["log"][0][i], rtol=1e-5, atol=1e-6)
    print("   same work (2 epochs): initial weights equal; the kernel-passes loop's five logged")
    print("   numbers equal the trainer's at every step; the recipe's first D step equals the")
    print("   trainer's (D loss, D(x), D(G(z)))")
    print("   passes per training step:")
    keys = list(recipe_passes)
    print(f"      {'':<36}{'trainer':>9}{'recipe':>9}{'recipe, kernel passes':>23}")
    for key in keys:
        print(
            f"      {key:<36}{trainer_passes[key]:>9.2f}{recipe_passes[key]:>9.2f}"
            f"{kernel_passes[key]:>23.2f}"
        )
    return {"trainer": trainer_passes, "recipe": recipe_passes, "kernel_passes": kernel_passes}


# ----------------------------------------------------------------------------- figure A


def figure_a(quick: bool, examples: list[str], epochs: int) -> None:
    print(
        "\n== A. Trainer (its thread, as the app runs it) vs the pytorch/examples dcgan loop,"
        " same networks, weights, batches, noise; CPU, 1 torch thread; median epoch time,"
        " evaluation excluded"
    )
    RESULTS["A"] = {e: compare_a(gan_case(e, epochs), quick) for e in examples}


def compare_a(case: Case, quick: bool) -> dict[str, Any]:
    case = planned(case, quick)
    cfg = case.config
    print(
        f"\n   {case.label}: digits {len(case.splits.train)} training rows, batch"
        f" {cfg.batch_size}, {case.steps_per_epoch()} steps/epoch x {cfg.epochs} epochs a run,"
        f" report_every {cfg.report_every}, report_interval {cfg.report_interval} s, monitor"
        f" {'on' if cfg.monitor else 'off'}"
    )
    print(f"   {describe_nets(case)}")
    passes = check_same_work(case)
    variants: dict[str, Callable[[], dict[str, Any]]] = {
        "trainer": lambda: run_trainer(case),
        "trainer, views on": lambda: run_trainer(case, views=True),
        "trainer.run(), monitor off": lambda: run_trainer(case, thread=False, monitor=False),
        "recipe": lambda: Recipe(case).run(),
        "recipe, kernel passes": lambda: Recipe(case, kernel_passes=True).run(),
    }
    t0 = now()
    for fn in variants.values():  # warm-up
        fn()
    reps = repetitions(
        4 if quick else 20, (now() - t0) / len(variants), len(variants), 40 if quick else 200
    )
    epoch_ms: dict[str, list[float]] = {k: [] for k in variants}  # per run: median epoch
    epoch_cpu: dict[str, list[float]] = {k: [] for k in variants}
    eval_ms: list[float] = []
    for name in interleaved(list(variants), reps):
        r = variants[name]()
        epoch_ms[name].append(med(r["epoch_s"]) * 1e3)
        epoch_cpu[name].append(
            med(r["epoch_cpu"][1:] if name.startswith("recipe") else r["epoch_cpu"]) * 1e3
        )
        if "eval_s" in r:
            eval_ms.append(med(r["eval_s"]) * 1e3)
    steps = case.steps_per_epoch()
    base = med(epoch_ms["recipe"])
    print(
        f"   {reps} runs each, interleaved; median epoch time (us/step), CPU time of the"
        " training thread, ratio recipe / this (paired: median of per-run ratios)"
    )
    rows: dict[str, Any] = {}
    for name in variants:
        mine = med(epoch_ms[name])
        ratio = base / mine
        paired = med([b / a for a, b in zip(epoch_ms[name], epoch_ms["recipe"])])
        by_cpu = med(epoch_cpu["recipe"]) / med(epoch_cpu[name])
        goal = f"  goal >= {GOAL_A}" if name == "trainer" else ""
        print(
            f"      {name:<28} {mine:7.2f} ms/epoch ({mine / steps * 1e3:6.0f} us/step;"
            f" CPU {med(epoch_cpu[name]):6.2f} ms)  ratio {ratio:.3f} (paired {paired:.3f},"
            f" CPU {by_cpu:.3f}){goal}"
        )
        rows[name] = {
            "epoch_ms": mine,
            "us_per_step": mine / steps * 1e3,
            "ratio": ratio,
            "paired": paired,
            "cpu_ratio": by_cpu,
            "samples_ms": epoch_ms[name],
        }
    trainer_ms, kernel_ms = med(epoch_ms["trainer"]), med(epoch_ms["recipe, kernel passes"])
    print(
        "      the trainer's own cost over the same algorithm as a loop:"
        f" {kernel_ms / trainer_ms:.3f}"
        f" ({(trainer_ms - kernel_ms) / steps * 1e3:+.0f} us/step); the kernel's passes over"
        f" the recipe's: {base / kernel_ms:.3f}; the trainer's evaluation (excluded)"
        f" {med(eval_ms):.2f} ms/epoch"
    )
    ratio = rows["trainer"]["ratio"]
    verdict(
        f"A  {case.label}: recipe / trainer epoch time >= {GOAL_A}",
        ratio >= GOAL_A,
        f"{ratio:.3f} (paired {rows['trainer']['paired']:.3f}; {rows['trainer']['epoch_ms']:.2f} vs"
        f" {base:.2f} ms/epoch)",
    )
    return {"rows": rows, "passes": passes, "eval_ms": med(eval_ms), "steps_per_epoch": steps}


# ----------------------------------------------------------------------------- figure B


def figure_b(quick: bool, examples: list[str], epochs: int) -> None:
    from bench_export import compare, load_script, run_script

    print(
        "\n== B. Exported script vs Trainer.run() with monitoring off, same project, data, batches"
        " and epochs; CPU, 1 torch thread; evaluation included on both sides; ratio = trainer's"
        " time / script's time (script steps/s over trainer steps/s)"
    )
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for example in examples:
            case = planned(gan_case(example, epochs), quick)
            module = load_script(case, Path(tmp))
            t0 = now()
            script = run_script(module, case.config.epochs)
            reps = repetitions(4 if quick else 30, now() - t0, 2, 30 if quick else 150)
            got = run_trainer(case, thread=False, monitor=False)
            losses = [v for r in got["records"] if isinstance(r, StepRecord) for v in r.losses]
            torch.testing.assert_close(
                script["losses"], losses, msg=lambda m, e=example: f"{e}: {m}"
            )
            print(
                f"   {case.label}: the script's step losses equal the trainer's"
                f" ({len(losses)} steps)"
            )
            ratio, figures = compare(case, module, reps)
            verdict(
                f"B  {case.label}: trainer time / script time >= {GOAL_B}",
                ratio >= GOAL_B,
                f"{ratio:.3f} (paired {figures['paired']:.3f}; script {figures['script']:.0f},"
                f" trainer {figures['trainer']:.0f} steps/s)",
            )
            out[example] = {**figures, "ratio": ratio}
    RESULTS["B"] = out


# ----------------------------------------------------------------------------- figure C


def figure_c(quick: bool) -> None:
    print(
        "\n== C. bench_dashboard.py --only A --example gan_digits (a fresh process): GUI timer"
        " lateness while the GAN trains in the window, and the sample grid's lag"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dashboard.json"
        cmd = [sys.executable, str(ROOT / "bench/bench_dashboard.py"), "--only", "A"]
        cmd += ["--example", "gan_digits", "--json", str(out)] + (["--quick"] if quick else [])
        print("   $ " + " ".join(cmd[1:]), flush=True)
        done = subprocess.run(cmd, cwd=ROOT)
        if done.returncode or not out.exists():
            verdict(
                "C  bench_dashboard.py --only A --example gan_digits",
                False,
                f"exit {done.returncode}",
            )
            return
        data = json.loads(out.read_text())
    for r in data["rows"]:
        ok = {"PASS": True, "FAIL": False}.get(r["result"])
        verdict(f"C  {r['figure']}: {r['goal']}", ok, f"{r['measured']} (baseline {r['baseline']})")
    RESULTS["C"] = data


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    parser.add_argument("--only", choices=("A", "B", "C"), help="run one figure only")
    parser.add_argument(
        "--epochs", type=int, default=10, help="epochs a run in A and B (default 10)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # what the window trains with on 2 cores (every core but one)
    examples = [e for e in EXAMPLES if (ROOT / "assets/examples" / f"{e}.json").exists()]
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    print(
        f"NeuralCanvas bench_gan  {time.strftime('%Y-%m-%d %H:%M')}  python"
        f" {platform.python_version()}  torch {torch.__version__}  cpus {os.cpu_count()}"
        f"  load average {loadavg}  examples {', '.join(examples)}"
        f"  {'QUICK' if args.quick else 'full'}"
    )
    t0 = now()
    if args.only in (None, "A"):
        figure_a(args.quick, examples, args.epochs)
    if args.only in (None, "B"):
        figure_b(args.quick, examples, args.epochs)
    if args.only in (None, "C"):
        figure_c(args.quick)
    summary(VERDICTS, RESULTS, now() - t0, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
