"""Export benchmark: the exported script trains at least 0.98x as fast as the in-app trainer
with monitoring off, on the same project, data, batches and epochs (CPU, one thread):
supervised (an MLP, a CNN) and the vae procedure.

The script is written to a temporary file and imported as a module, so no process start-up
is timed: its ``load_splits`` and model class run before the clock starts (as the trainer's
``prepare()`` does), then its ``train()`` (the app's kernel and loop, copied) is timed
against ``Trainer.run()``. Both include their per-epoch evaluation of the validation split
(each does one per epoch). Runs are interleaved (alternating order), medians compared;
printed as PASS / FAIL, never asserted.

    .venv/bin/python bench/bench_export.py            # full run
    .venv/bin/python bench/bench_export.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.bench_training import (  # noqa: E402
    Case,  # noqa: E402
    cnn_case,
    mlp_case,
)
from builder import CATALOG  # noqa: E402
from builder.export.script import export  # noqa: E402
from builder.training.config import parse_training  # noqa: E402
from builder.training.trainer import Trainer  # noqa: E402
from graph import project_file  # noqa: E402

GOAL = 0.98  # script steps/s over trainer (monitor off) steps/s


def training_section(case: Case) -> dict[str, Any]:
    cfg = case.config
    return {
        "dataset": dict(cfg.dataset),
        "loss": cfg.loss,
        "optimizer": {"name": cfg.optimizer.name, "lr": cfg.optimizer.lr},
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "device": "cpu",
    }


def vae_case(epochs: int) -> Case:
    """The vae procedure on its example (its own training section: the vae kernel)."""
    project = project_file.load(ROOT / "assets/examples/vae_digits.json", CATALOG)
    project.training = {**project.training, "epochs": epochs, "device": "cpu"}
    return Case("vae", "VAE vae_digits.json, digits", project, parse_training(project.training))


def load_script(case: Case, folder: Path) -> ModuleType:
    project = case.project
    if case.config.procedure == "supervised":
        project.training = training_section(case)  # exactly the settings the trainer runs
    result = export(project, base_dir=ROOT)
    assert result.trainable, result.note
    code = result.code
    path = folder / f"exported_{case.key}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(f"exported_{case.key}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import does: its dataclasses look it up there
    spec.loader.exec_module(module)
    module.MODEL_CLASS = getattr(module, result.class_name)
    return module


def run_script(module: ModuleType, epochs: int) -> dict[str, Any]:
    device = torch.device("cpu")
    splits = module.load_splits(device)  # data: not training time (as prepare())
    models = module.build_models(device)  # every role's network, the app's initial weights
    log: dict[str, Any] = {"steps": [], "epochs": [], "test": None}
    gc.collect()
    with contextlib.redirect_stdout(io.StringIO()):  # its per-epoch lines
        t0 = time.perf_counter()
        outcome = module.train(models, splits, epochs, 0, 1, log)
        total = time.perf_counter() - t0
    assert outcome == "finished", outcome
    return {"steps": len(log["steps"]), "total_s": total, "losses": log["steps"]}


def run_trainer(case: Case) -> dict[str, Any]:
    trainer = Trainer(case.project, config=replace(case.config, monitor=False), splits=case.splits)
    trainer.prepare()
    gc.collect()
    t0 = time.perf_counter()
    trainer.run()
    total = time.perf_counter() - t0
    assert trainer.state == "finished", trainer.state
    return {"steps": trainer.step, "total_s": total}


def compare(case: Case, module: ModuleType, reps: int) -> tuple[float, dict[str, Any]]:
    epochs = case.config.epochs
    script = run_script(module, epochs)
    trainer = run_trainer(case)  # warm-up both; same work
    assert script["steps"] == trainer["steps"], (script["steps"], trainer["steps"])
    speeds: dict[str, list[float]] = {"script": [], "trainer": []}
    for i in range(reps):
        order = ("script", "trainer") if i % 2 == 0 else ("trainer", "script")
        for name in order:
            r = run_script(module, epochs) if name == "script" else run_trainer(case)
            speeds[name].append(r["steps"] / r["total_s"])
    s, t = statistics.median(speeds["script"]), statistics.median(speeds["trainer"])
    paired = statistics.median(a / b for a, b in zip(speeds["script"], speeds["trainer"]))
    ratio = s / t
    cfg = case.config
    print(
        f"   {case.label}: batch {cfg.batch_size}, {case.steps_per_epoch()} steps/epoch x"
        f" {epochs} epochs, {reps} runs each (evaluation included on both sides)"
    )
    print(f"      trainer, monitor off  {t:8.1f} steps/s ({1e6 / t:7.1f} us/step)")
    print(
        f"      exported script       {s:8.1f} steps/s ({1e6 / s:7.1f} us/step)"
        f"  ratio {ratio:.3f} (paired {paired:.3f})  goal >= {GOAL}"
    )
    return ratio, {"script": s, "trainer": t, "paired": paired}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    reps = 4 if args.quick else 30
    print(
        f"NeuralCanvas bench_export  {time.strftime('%Y-%m-%d %H:%M')}"
        f"  python {platform.python_version()}  torch {torch.__version__}"
        f"  {'QUICK' if args.quick else 'full'}"
    )
    print("\n== Exported script vs in-app trainer (monitor off), CPU, 1 thread")
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in (mlp_case(epochs=20), cnn_case(epochs=2), vae_case(epochs=2)):
            module = load_script(case, Path(tmp))
            ratio, _ = compare(case, module, reps)
            verdicts.append((case.label, ratio))
    print("\n== Summary")
    for label, ratio in verdicts:
        print(
            f"   {'PASS' if ratio >= GOAL else 'FAIL'}  {label}: script/trainer >= {GOAL}  {ratio:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
