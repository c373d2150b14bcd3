"""Supervised learning by backprop: one network, a loss between its Output and the targets,
an optimiser (with L1/L2 penalties, gradient clipping and a learning-rate schedule).

Portable kernel (see builder/training/loop.py for the contract): standard library and torch
only, with :mod:`common`, :mod:`losses` and :mod:`metrics` beside it; the exported script
carries its source. ``settings`` are plain values: the project's training section
(``optimizer``, ``schedule``, ``epochs``, ``l1``, ``l2``, ``clip``, every field given) plus
the loss matched to the Output and the targets: ``loss`` (its name), ``task``,
``num_classes``, ``output_shape``, ``target_shape`` and ``cast_targets`` (see
:func:`losses.supervised_objective`).
"""

from __future__ import annotations

from typing import Any

import torch

from builder.training.kernels.common import optimisation, step_scheduler, update
from builder.training.kernels.losses import supervised_objective
from builder.training.kernels.metrics import MetricAccumulator

EVAL_CHUNK = 4096  # rows per forward pass when evaluating
# A network of at most this many weights keeps its weights from before each one-sample
# step in state["last"] (with the sample), so the update can be shown number by number.
RECORD_WEIGHTS = 200


def setup(models: dict[str, torch.nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    model = models["model"]
    loss, prepare_target, predict = supervised_objective(
        settings["loss"],
        settings["task"],
        settings["num_classes"],
        settings["output_shape"],
        settings["target_shape"],
        settings["cast_targets"],
    )
    return {
        **optimisation(model, settings),
        "loss": loss,
        "prepare_target": prepare_target,
        "predict": predict,
        "task": settings["task"],
        "num_classes": settings["num_classes"],
        "eval_target": (None, None),  # (raw targets, prepared) of the last evaluated split
        "record": sum(p.numel() for p in model.parameters()) <= RECORD_WEIGHTS,
        "last": None,  # {"x", "y", "before": {name: tensor}} of the last one-sample step
    }


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    return x, state["prepare_target"](y)


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    model = state["model"]
    if state["record"]:  # a one-sample step is shown; after any other, none (it would mix)
        one = x.shape[0] == 1
        before = {name: p.detach().clone() for name, p in model.named_parameters()} if one else {}
        state["last"] = {"x": x, "y": y, "before": before} if one else None
    return {"loss": update(state, state["loss"](model(x), y))}


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    step_scheduler(state["scheduler"], watched)


@torch.no_grad()
def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """The loss and the metrics on a split (targets as the dataset gives them)."""
    model, loss_of, predict = state["model"], state["loss"], state["predict"]
    model.eval()
    raw, target = state["eval_target"]
    if raw is not y:  # targets converted once per split
        target = state["prepare_target"](y)
        state["eval_target"] = (y, target)
    metrics = MetricAccumulator(state["task"], state["num_classes"])
    n = x.shape[0]
    if n <= EVAL_CHUNK:  # one pass: the same rounding as the sum below, fewer small ops
        out = model(x)
        loss = float(loss_of(out, target).detach() * n) / n
        metrics.update(predict(out), y)
        return {"loss": loss, **metrics.compute()}
    total = torch.zeros((), device=x.device)
    for start in range(0, n, EVAL_CHUNK):
        out = model(x[start : start + EVAL_CHUNK])
        total += loss_of(out, target[start : start + EVAL_CHUNK]).detach() * out.shape[0]
        metrics.update(predict(out), y[start : start + EVAL_CHUNK])
    return {"loss": float(total) / n, **metrics.compute()}
