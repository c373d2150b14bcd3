"""VAE benchmark: the trainer running the vae procedure on vae_digits.json against a
hand-written VAE loop, the pytorch/examples ``vae`` recipe (BCE summed over the batch + KL,
Adam 1e-3, ``loss.item()`` every step, a test pass each epoch), on the same network, initial
weights, data and batches (the loop runs on the compiled network; the same loop on the VAE
written by hand is shown beside it). Runs are interleaved (every order in turn); the per-epoch
evaluation of both is timed apart and excluded. Goal: trainer / loop >= 0.95.

    .venv/bin/python bench/bench_vae.py            # 20 runs each (about 2 minutes on 2 cores)
    .venv/bin/python bench/bench_vae.py --quick    # 4 runs each

See bench/README.md ("VAE") for the latest figures.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from bench_training import Case, cpu, med, now, run_trainer  # noqa: E402
from torch import nn  # noqa: E402

from builder import CATALOG  # noqa: E402
from builder.compile import compile_network  # noqa: E402
from builder.training.config import parse_training  # noqa: E402
from builder.training.records import StepRecord  # noqa: E402
from graph import project_file  # noqa: E402

GOAL = 0.95


class VAE(nn.Module):
    """vae_digits.json written by hand, the pytorch/examples way (same attribute names, so
    the compiled network's state_dict loads into it)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Linear(64, 128)
        self.to_mean = nn.Linear(128, 2)
        self.to_log_var = nn.Linear(128, 2)
        self.dec1 = nn.Linear(2, 128)
        self.dec2 = nn.Linear(128, 64)

    def forward(self, x: torch.Tensor):
        h = F.relu(self.enc1(x.flatten(1)))
        mu, logvar = self.to_mean(h), self.to_log_var(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        recon = torch.sigmoid(self.dec2(F.relu(self.dec1(z)))).view(-1, 1, 8, 8)
        return recon, mu, logvar


def loss_function(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon.view(-1, 64), x.view(-1, 64), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def vae_case(epochs: int) -> Case:
    project = project_file.load(ROOT / "assets/examples/vae_digits.json", CATALOG)
    project.training["procedure_settings"] = {"recon_loss": "bce", "beta": 1.0}  # the recipe's
    config = replace(parse_training(project.training), epochs=epochs, device="cpu")
    return Case("vae", "VAE vae_digits.json, digits", project, config)


def baseline(
    case: Case, keep_losses: bool = False, compiled: bool = True, foreach: bool | None = None
) -> dict[str, Any]:
    """The recipe's loop on the compiled network (``compiled``: the same network the trainer
    trains, so the ratio measures the trainer alone) or on :class:`VAE` written by hand.
    ``foreach``: Adam's implementation (None: torch's default, one tensor at a time on the
    CPU; True: the multi-tensor update the trainer uses, the same values bit for bit)."""
    cfg = case.config
    model = compile_network(case.net, seed=cfg.seed)
    if not compiled:
        hand = VAE()
        hand.load_state_dict(model.state_dict())
        model = hand
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr, foreach=foreach)
    x, vx = case.splits.train.x, case.splits.val.x
    n, batch = x.shape[0], cfg.batch_size
    shuffle = torch.Generator().manual_seed(cfg.seed + 1)
    torch.manual_seed(cfg.seed + 3)
    losses: list[float] = []
    steps = 0
    eval_s = eval_cpu = 0.0
    gc.collect()
    t0, c0 = now(), cpu()
    for _ in range(cfg.epochs):
        model.train()
        train_loss = 0.0
        perm = torch.randperm(n, generator=shuffle)
        for start in range(0, n, batch):
            data = x[perm[start : start + batch]]
            opt.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            opt.step()
            steps += 1
            if keep_losses:
                losses.append(loss.item() / data.shape[0])
        t1, c1 = now(), cpu()
        model.eval()
        with torch.no_grad():
            test_loss = loss_function(*(lambda r: (r[0], vx, r[1], r[2]))(model(vx))).item()
        assert test_loss > 0
        eval_s += now() - t1
        eval_cpu += cpu() - c1
    total, total_cpu = now() - t0, cpu() - c0
    return {
        "steps": steps,
        "total_s": total,
        "eval_s": eval_s,
        "train_cpu_s": total_cpu - eval_cpu,
        "losses": losses,
    }


def check_same_work(case: Case) -> None:
    """Same network, weights, batches and noise: the trainer's first step loss (summed
    reconstruction averaged over the batch + KL) is the recipe's (summed over the batch)
    divided by the batch size; afterwards the two optimise differently scaled losses, so
    only the first step is compared, and both must improve."""
    small = replace(case, config=replace(case.config, epochs=2))
    small.splits = case.splits
    got = run_trainer(small, monitor=False)
    want = baseline(small, keep_losses=True)
    losses = [v for r in got["records"] if isinstance(r, StepRecord) for v in r.losses]
    assert got["steps"] == want["steps"] == len(losses)
    torch.testing.assert_close(losses[0], want["losses"][0], rtol=1e-5, atol=1e-5)
    assert losses[-1] < losses[0] and want["losses"][-1] < want["losses"][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 runs each: a smoke run")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    case = vae_case(args.epochs)
    print(
        f"NeuralCanvas bench_vae  {time.strftime('%Y-%m-%d %H:%M')}  torch {torch.__version__}"
        f"  threads 1{'  QUICK' if args.quick else ''}"
    )
    check_same_work(case)
    variants = {
        "trainer": lambda: run_trainer(case, monitor=True),
        "trainer, monitor off": lambda: run_trainer(case, monitor=False),
        "recipe loop": lambda: baseline(case),
        "recipe loop, hand-written VAE": lambda: baseline(case, compiled=False),
        "recipe loop, foreach Adam": lambda: baseline(case, foreach=True),
    }
    for fn in variants.values():  # warm-up
        fn()
    reps = 4 if args.quick else 20
    rate: dict[str, list[float]] = {k: [] for k in variants}
    orders = list(itertools.permutations(variants))
    for i in range(reps):
        for name in orders[i % len(orders)]:
            r = variants[name]()
            rate[name].append(r["steps"] / (r["total_s"] - r["eval_s"]))
    base = med(rate["recipe loop"])
    cfg = case.config
    print(
        f"   {case.label}: batch {cfg.batch_size}, {case.steps_per_epoch()} steps/epoch x"
        f" {cfg.epochs} epochs, {reps} runs each, evaluation excluded"
    )
    print(f"      recipe loop              {base:8.1f} steps/s ({1e6 / base:6.1f} us/step)")
    hand = med(rate["recipe loop, hand-written VAE"])
    print(
        f"      ... on the VAE written by hand {hand:8.1f} steps/s (compiled / hand-written"
        f" {base / hand:.3f}: the compiler's share, bench_core figure B)"
    )
    fe = med(rate["recipe loop, foreach Adam"])
    print(
        f"      ... with foreach Adam    {fe:8.1f} steps/s (the trainer's optimiser: trainer /"
        f" this measures what the trainer adds, {med(rate['trainer']) / fe:.3f} monitored,"
        f" {med(rate['trainer, monitor off']) / fe:.3f} off)"
    )
    ok = True
    for name in ("trainer", "trainer, monitor off"):
        mine = med(rate[name])
        paired = med([a / b for a, b in zip(rate[name], rate["recipe loop"])])
        print(
            f"      {name:<24} {mine:8.1f} steps/s  ratio {mine / base:.3f}"
            f" (paired {paired:.3f})  goal >= {GOAL}"
        )
        ok = ok and mine / base >= GOAL
    print(f"   {'PASS' if ok else 'FAIL'}  VAE trainer / recipe loop >= {GOAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
