"""What every kernel builds its updates from: the optimiser, the learning-rate schedule,
L1/L2 penalties and gradient clipping.

Portable: standard library and torch only; the exported script carries this source.
Settings are plain mappings (the project file's ``training`` section, every field given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)


def make_optimizer(cfg: Mapping[str, Any], params: Iterable[Any]) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` (``training.optimizer``, every field given) names, over
    ``params`` (tensors or param-group dicts)."""
    cfg = SimpleNamespace(**cfg)
    # foreach: torch's multi-tensor update, its default on CUDA; on the CPU too it gives the
    # single-tensor loop's values bit for bit (tests/builder/test_optimizers.py) in a few
    # operations instead of a few per parameter, which small networks feel
    common: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "foreach": True}
    if cfg.name == "sgd":
        return torch.optim.SGD(params, momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(params, eps=cfg.eps, **common)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(
            params, alpha=cfg.alpha, eps=cfg.eps, momentum=cfg.momentum, **common
        )
    if cfg.name == "adam":
        return torch.optim.Adam(params, betas=cfg.betas, eps=cfg.eps, **common)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, betas=cfg.betas, eps=cfg.eps, **common)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def make_scheduler(
    cfg: Mapping[str, Any], optimizer: torch.optim.Optimizer, epochs: int
) -> LRScheduler | None:
    """The per-epoch learning-rate schedule ``cfg`` (``training.schedule``) names, or None
    for ``"none"``."""
    cfg = SimpleNamespace(**cfg)
    if cfg.name == "none":
        return None
    if cfg.name == "step":
        return StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=cfg.t_max or epochs, eta_min=cfg.eta_min)
    if cfg.name == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=cfg.factor, patience=cfg.patience)
    raise ValueError(f"unknown schedule {cfg.name!r}")


def step_scheduler(scheduler: LRScheduler | None, val_loss: float | None) -> None:
    """Advance ``scheduler`` by one epoch. Plateau needs a loss to watch: pass the validation
    loss, or the training loss when there is no validation split."""
    if scheduler is None:
        return
    if isinstance(scheduler, ReduceLROnPlateau):
        if val_loss is None:
            raise ValueError("the plateau schedule needs a loss: pass the training loss")
        scheduler.step(val_loss)
    else:
        scheduler.step()


@dataclass(frozen=True)
class ParamsByKind:
    """Parameters split once, before training: ``weights`` (2+ dims) get L1/L2 penalties;
    ``others`` (biases, norm scales, PReLU slopes) do not."""

    weights: tuple[Tensor, ...]
    others: tuple[Tensor, ...]


def split_params(source: nn.Module | Iterable[Tensor]) -> ParamsByKind:
    """Split a module's (or an iterable's) trainable parameters by kind."""
    params = source.parameters() if isinstance(source, nn.Module) else source
    trainable = [p for p in params if p.requires_grad]
    return ParamsByKind(
        weights=tuple(p for p in trainable if p.dim() >= 2),
        others=tuple(p for p in trainable if p.dim() < 2),
    )


def penalty(
    params_by_kind: ParamsByKind | Mapping[str, Iterable[Tensor]] | Iterable[Tensor],
    l1: float,
    l2: float,
) -> Tensor | None:
    """``l1 * Σ|w| + l2 * Σw²`` over the weights, or None when both factors are 0.

    ``params_by_kind`` is a :class:`ParamsByKind` (best: split once with
    :func:`split_params`), a mapping whose ``"weights"`` entry is used, or plain tensors of
    which those with 2+ dims count. One ``torch._foreach_norm`` per term, no element loops.
    """
    if not l1 and not l2:
        return None
    if isinstance(params_by_kind, ParamsByKind):
        weights = list(params_by_kind.weights)
    elif isinstance(params_by_kind, Mapping):
        weights = list(params_by_kind["weights"])
    else:
        weights = [p for p in params_by_kind if p.dim() >= 2]
    if not weights:
        return None
    total: Tensor | None = None
    if l1:
        total = torch.stack(torch._foreach_norm(weights, 1)).sum() * l1
    if l2:
        term = torch.stack(torch._foreach_norm(weights, 2)).square().sum() * l2
        total = term if total is None else total + term
    return total


def clip_gradients(params: Sequence[Tensor], mode: str, max_value: float) -> None:
    """Clip ``params``' gradients in place: ``norm`` (their joint L2 norm) or ``value``."""
    if mode == "norm":
        nn.utils.clip_grad_norm_(params, max_value, foreach=True)
    elif mode == "value":
        nn.utils.clip_grad_value_(params, max_value, foreach=True)


def unit_targets(y: Tensor, units: int, dtype: torch.dtype) -> Tensor:
    """Class ids as each output unit's 0/1 target, (n, units): one unit fires for class 1
    (two classes), else unit j for class j. What the learning rules (perceptron, delta,
    the RBF's least squares) fit."""
    classes = y.reshape(-1).long()
    if units == 1:
        return (classes == 1).to(dtype).unsqueeze(1)
    return nn.functional.one_hot(classes, units).to(dtype)


def optimisation(model: nn.Module, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A kernel state's part for one network trained by an optimiser: the optimiser and
    schedule (also by role, for checkpoints), L1/L2 penalties and gradient clipping, from the
    training section's plain ``optimizer``, ``schedule``, ``epochs``, ``l1``, ``l2``, ``clip``."""
    trainable = [p for p in model.parameters() if p.requires_grad]  # frozen layers: none
    if not trainable:
        raise ValueError(
            "every layer with weights is frozen: nothing to train; make a layer trainable"
            " (Properties: Trainable)"
        )
    optimizer = make_optimizer(settings["optimizer"], trainable)
    scheduler = make_scheduler(settings["schedule"], optimizer, settings["epochs"])
    clip = settings["clip"]
    return {
        "models": {"model": model},
        "optimizers": {"model": optimizer},
        "schedulers": {"model": scheduler} if scheduler is not None else {},
        "model": model,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "l1": settings["l1"],
        "l2": settings["l2"],
        "weights": [p for p in trainable if p.dim() >= 2],
        "penalised": settings["l1"] > 0 or settings["l2"] > 0,
        "clip": (clip["mode"], clip["max"]) if clip["mode"] != "none" else None,
        "params": [p for p in model.parameters() if p.requires_grad],
    }


def update(state: dict[str, Any], loss: Tensor) -> Tensor:
    """One optimiser step on ``loss`` plus the penalties (clipping the gradients first);
    returns the loss with the penalties, as the step reports it."""
    if state["penalised"]:
        extra = penalty(state["weights"], state["l1"], state["l2"])
        if extra is not None:
            loss = loss + extra
    _optimise(state, loss, None)
    return loss


def update_sum(state: dict[str, Any], total: Tensor, rows: int) -> Tensor | None:
    """One optimiser step on ``total / rows`` (a loss summed over a batch of ``rows``) plus
    the penalties, with no operation more in the graph for the mean: the backward pass
    starts from 1 / rows. Returns the penalty added (None: none)."""
    extra = penalty(state["weights"], state["l1"], state["l2"]) if state["penalised"] else None
    scales = state.setdefault("scales", {})  # 1 / rows, one 0-d tensor per batch size
    scale = scales.get(rows)
    if scale is None:
        scale = scales[rows] = torch.tensor(1.0 / rows, dtype=total.dtype, device=total.device)
    if extra is None:
        _optimise(state, total, scale)
    else:
        _optimise(state, total * scale + extra, None)
    return extra


def _optimise(state: dict[str, Any], loss: Tensor, seed: Tensor | None) -> None:
    optimizer = state["optimizer"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward(seed)
    if state["clip"] is not None:
        clip_gradients(state["params"], *state["clip"])
    optimizer.step()
