"""What a resume checks: that a checkpoint holds what a run needs, in the types it needs
(a checkpoint is a file anyone can craft), and how the project's settings changed since it
was written: another optimiser or schedule is refused (their state cannot carry over),
changed hyperparameters are applied and reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from builder.training.checkpoint import CheckpointError

MAX_EPOCH = 10**7  # more epochs than any run trains: a larger count is a damaged file
MAX_STEP = 10**12


def _count(limit: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and 0 <= v <= limit


def _number(v: Any) -> bool:
    return type(v) in (int, float) and not math.isnan(v)


def _finite(v: Any) -> bool:
    return _number(v) and math.isfinite(v)


def _tensors(v: Any) -> bool:
    return isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in v.items()
    )


def _roles(check: Callable[[Any], bool], optional: bool = False) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        return isinstance(v, dict) and all(
            isinstance(k, str) and ((optional and x is None) or check(x)) for k, x in v.items()
        )

    return ok


def _optimizer(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and isinstance(v.get("state"), dict)
        and isinstance(v.get("param_groups"), list)
        and all(
            isinstance(g, dict) and isinstance(g.get("params"), list) for g in v["param_groups"]
        )
    )


def _rng(v: Any) -> bool:
    return isinstance(v, torch.Tensor) and v.dtype == torch.uint8 and v.dim() == 1


# key: (check, what it should be, required)
SCHEMA: dict[str, tuple[Callable[[Any], bool], str, bool]] = {
    "epoch": (_count(MAX_EPOCH), f"a whole number from 0 to {MAX_EPOCH:,}", True),
    "step": (_count(MAX_STEP), f"a whole number from 0 to {MAX_STEP:,}", True),
    "network": (lambda v: isinstance(v, str), "a network's name", False),
    "procedure": (lambda v: isinstance(v, str), "a procedure's name", False),
    "models": (_roles(_tensors), "each role's weights (names and tensors)", True),
    "optimizers": (_roles(_optimizer), "each role's optimiser state", True),
    "schedulers": (_roles(lambda v: isinstance(v, dict), optional=True), "schedule states", False),
    "generators": (_roles(_rng, optional=True), "random generator states", False),
    "buffers": (_roles(lambda v: isinstance(v, torch.Tensor)), "the kernel's own tensors", False),
    "best_loss": (_number, "a number", False),
    "best_state": (_roles(_tensors), "each role's best weights", False),
    "best_epoch": (_count(MAX_EPOCH), "a whole number >= 0", False),
    "best_train": (_number, "a number", False),
    "first_loss": (_finite, "a number", False),
    "start_norm": (_finite, "a number", False),
    "waiting": (_count(MAX_EPOCH), "a whole number >= 0", False),
    "elapsed": (lambda v: _number(v) and 0 <= v < math.inf, "a number of seconds >= 0", False),
    "shuffle_rng": (_rng, "a random generator state (bytes)", False),
    "augment_rng": (_rng, "a random generator state (bytes)", False),
    "torch_rng": (_rng, "a random generator state (bytes)", False),
    "settings": (lambda v: isinstance(v, dict), "the training settings", False),
}


def _shown(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {list(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} ({len(text)} characters)"


def validate(data: dict[str, Any], path: Any, network: str) -> None:
    """Raise :class:`CheckpointError` naming the first entry of ``data`` that a resume
    cannot use (missing, of the wrong type, out of range, inconsistent)."""
    for key, (check, what, required) in SCHEMA.items():
        if key not in data or (data[key] is None and not required):
            if required:
                raise CheckpointError(
                    f"Checkpoint {path} is damaged: it has no {key!r} entry."
                    " Start the run afresh (without --resume)"
                )
            continue
        if not check(data[key]):
            raise CheckpointError(
                f"Checkpoint {path} is damaged: {key!r} should be {what}, not"
                f" {_shown(data[key])}. Start the run afresh (without --resume)"
            )
    if data["step"] < data["epoch"]:
        raise CheckpointError(
            f"Checkpoint {path} is damaged: step {data['step']} comes before the end of epoch"
            f" {data['epoch']} (each epoch takes at least one step)."
            " Start the run afresh (without --resume)"
        )
    if data.get("best_epoch", 0) > data["epoch"]:
        raise CheckpointError(
            f"Checkpoint {path} is damaged: its best epoch {data['best_epoch']} is after its"
            f" epoch {data['epoch']}. Start the run afresh (without --resume)"
        )
    made_for = data.get("network")
    if made_for is not None and made_for != network:
        raise CheckpointError(
            f"Checkpoint {path} was made for network {made_for!r}; this run trains {network!r}:"
            f" choose that network (--network {made_for!r}) or start afresh (without --resume)"
        )


def settings_of(config: Any) -> dict[str, dict[str, Any]]:
    """What a checkpoint records of the settings whose state it carries."""
    out: dict[str, Any] = {
        "optimizer": asdict(config.optimizer),
        "schedule": asdict(config.schedule),
    }
    if config.optimizers:  # roles with optimisers of their own (a GAN's)
        out["optimizers"] = {role: asdict(o) for role, o in config.optimizers.items()}
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


# schedule settings -> the attribute torch's schedulers keep them in
SCHEDULE_ATTRS = {
    "step_size": "step_size",
    "gamma": "gamma",
    "t_max": "T_max",
    "eta_min": "eta_min",
    "patience": "patience",
    "factor": "factor",
}


def refuse_other_kinds(saved: dict[str, Any] | None, now: dict[str, Any], path: Any) -> None:
    """Refuse a resume whose optimiser or schedule is of another kind than the checkpoint's
    (checked before any state is loaded)."""
    if not saved:
        return
    parts = [(part, part, saved.get(part), now[part]) for part in ("optimizer", "schedule")]
    for role, settings in now.get("optimizers", {}).items():
        before = (saved.get("optimizers") or {}).get(role)
        parts.append((f"optimizers.{role}", "optimizer", before, settings))
    for where, part, before_settings, after_settings in parts:
        before = (before_settings or {}).get("name")
        after = after_settings["name"]
        if before is not None and before != after:
            raise CheckpointError(
                f"Checkpoint {path} was trained with the {before} {part}; the project now sets"
                f" training.{where}.name to {after!r}. Its {part} state cannot carry over to"
                f" another kind: set training.{where}.name back to {before!r} to resume, or"
                " start the run afresh (without --resume)"
            )


def refuse_other_optimizer(
    saved: dict[str, Any], optimizer: torch.optim.Optimizer, path: Any
) -> None:
    """For a checkpoint that does not record its settings: refuse an optimiser whose
    settings are not those of the one that wrote the state (another kind)."""
    groups = saved.get("param_groups") or [{}]
    before = set(groups[0]) - {"params", "initial_lr"}
    after = set(optimizer.param_groups[0]) - {"params", "initial_lr"}
    if before != after:
        raise CheckpointError(
            f"Checkpoint {path} was trained with another optimiser than the project's"
            f" {type(optimizer).__name__}: set training.optimizer.name back to resume, or start"
            " the run afresh (without --resume)"
        )


def apply_changes(
    saved: dict[str, Any] | None, now: dict[str, Any], state: dict[str, Any]
) -> list[str]:
    """Apply the project's optimiser and schedule settings that changed since the
    checkpoint to the loaded state (the learning rate as a factor, so a schedule's decay so
    far is kept); returns each change as ``"optimizer.lr 0.05 -> 1e+06"``."""
    if not saved:
        return []
    changes: list[str] = []
    own = now.get("optimizers", {})
    optimizers = state.get("optimizers", {})
    schedulers = state.get("schedulers", {})
    # (where, settings then, now, the optimisers they drive, and their schedules)
    parts = [
        (
            "optimizer",
            saved.get("optimizer"),
            now["optimizer"],
            [r for r in optimizers if r not in own],
        ),
        ("schedule", saved.get("schedule"), now["schedule"], []),
    ]
    for role, settings in own.items():
        before = (saved.get("optimizers") or {}).get(role)
        parts.append((f"optimizers.{role}", before, settings, [role]))
    for part, before, after, roles in parts:
        before = before or {}
        for key, value in after.items():
            old = before.get(key)
            if key == "name" or old is None or _same(old, value):
                continue
            changes.append(f"{part}.{key} {_fmt(old)} -> {_fmt(value)}")
            if part != "schedule":
                _set_optimizer(
                    [optimizers[r] for r in roles if r in optimizers],
                    [schedulers[r] for r in roles if r in schedulers],
                    key,
                    old,
                    value,
                )
            elif key in SCHEDULE_ATTRS:
                for scheduler in schedulers.values():
                    if hasattr(scheduler, SCHEDULE_ATTRS[key]):
                        setattr(scheduler, SCHEDULE_ATTRS[key], value)
    return changes


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _set_optimizer(
    optimizers: list[Any], schedulers: list[Any], key: str, old: Any, value: Any
) -> None:
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            if key == "lr" and old:
                factor = value / old
                group["lr"] *= factor
                if "initial_lr" in group:
                    group["initial_lr"] *= factor
            elif key in group:
                group[key] = tuple(value) if isinstance(value, list) else value
    if key == "lr" and old:
        for scheduler in schedulers:
            if hasattr(scheduler, "base_lrs"):
                scheduler.base_lrs = [b * value / old for b in scheduler.base_lrs]
