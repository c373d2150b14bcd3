"""Checkpoints: weights, optimiser and scheduler state, position and RNG state of a run.

Written atomically with ``torch.save`` of plain containers and tensors; read back with
``torch.load(..., weights_only=True)``, so loading a checkpoint never runs code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import torch

from graph.atomic import atomic_write
from graph.errors import NeuralCanvasError

FORMAT = "neuralcanvas-checkpoint"
VERSION = 1


class CheckpointError(NeuralCanvasError):
    """A checkpoint cannot be read or does not fit the network."""


def save_checkpoint(
    path: str | os.PathLike[str], state: dict[str, Any], durable: bool = True
) -> None:
    """Write ``state`` (tensors and plain Python values) atomically to ``path`` (synced to
    the disk unless not ``durable``: see :func:`graph.atomic.atomic_write`)."""
    payload = {"format": FORMAT, "version": VERSION, **state}
    atomic_write(path, lambda tmp: torch.save(payload, tmp), durable)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:  # missing, a name too long, a NUL in the path
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        why = "does not exist" if missing else f"cannot be read ({reason})"
        raise CheckpointError(
            f"Cannot resume: checkpoint {path} {why}: give the path of a checkpoint.pt an"
            " earlier run wrote"
        ) from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(
            f"Cannot resume: {path} is a folder, not a checkpoint file: choose the checkpoint.pt"
            " inside it (a run folder holds its run's checkpoint.pt)"
        )
    if not stat.S_ISREG(mode):
        raise CheckpointError(
            f"Cannot resume: {path} is not a regular file (a device, pipe or socket), not a"
            " checkpoint: give the path of a checkpoint.pt an earlier run wrote"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged or unsafe files
        raise CheckpointError(
            f"Cannot read checkpoint {path}: it is damaged or not a NeuralCanvas checkpoint ({exc.__class__.__name__})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a NeuralCanvas checkpoint")
    if data.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{path} was written by a newer NeuralCanvas: update NeuralCanvas to resume from it"
        )
    return data


def save_weights(path: str | os.PathLike[str], state_dict: dict[str, torch.Tensor]) -> None:
    """Write a plain ``state_dict`` (loadable with ``torch.load(..., weights_only=True)``)."""
    weights = {k: v.detach().cpu() for k, v in state_dict.items()}
    atomic_write(path, lambda tmp: torch.save(weights, tmp))


def kernel_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """What a kernel's state holds that a resume needs: each role's weights (on the CPU),
    optimiser, schedule and random generator, and the kernel's own ``buffers`` (tensors a
    rule keeps between steps: an RBM's persistent chains), by name."""
    return {
        "models": {
            role: {k: v.detach().cpu() for k, v in model.state_dict().items()}
            for role, model in state["models"].items()
        },
        "optimizers": {k: o.state_dict() for k, o in state.get("optimizers", {}).items()},
        "schedulers": {k: s.state_dict() for k, s in state.get("schedulers", {}).items()},
        "generators": {k: g.get_state() for k, g in state.get("generators", {}).items()},
        "buffers": {
            k: v.detach().cpu() for k, v in state.get("buffers", {}).items() if v is not None
        },
    }


def load_kernel_state(state: dict[str, Any], data: dict[str, Any], path: Any, network: str) -> None:
    """Load :func:`kernel_state_dict`'s part of checkpoint ``data`` into a kernel's state (a
    checkpoint validated by builder.training.resume.validate; see :func:`upgrade`)."""
    for role, model in state["models"].items():
        try:
            model.load_state_dict(data["models"][role], strict=True)
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(
                f"Checkpoint {path} was made for a different network (its weights do not fit"
                f" {network!r}): {str(exc).splitlines()[0]}"
            ) from None
    try:
        for name, optimizer in state.get("optimizers", {}).items():
            optimizer.load_state_dict(data["optimizers"][name])
        for name, scheduler in state.get("schedulers", {}).items():
            if (data.get("schedulers") or {}).get(name) is not None:
                scheduler.load_state_dict(data["schedulers"][name])
        for name, gen in state.get("generators", {}).items():
            if (data.get("generators") or {}).get(name) is not None:
                gen.set_state(data["generators"][name])
        buffers = state.get("buffers")
        for name, tensor in (data.get("buffers") or {}).items():
            if buffers is not None and name in buffers:
                mine = buffers[name]
                if mine is not None and (mine.shape != tensor.shape or mine.dtype != tensor.dtype):
                    raise ValueError(
                        f"its {name} is {list(tensor.shape)} {tensor.dtype}, this run's"
                        f" {list(mine.shape)} {mine.dtype}"
                    )
                device = next(iter(state["models"].values())).parameters().__next__().device
                buffers[name] = tensor.to(device)
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as exc:
        raise CheckpointError(
            f"Checkpoint {path} does not fit this run: its optimiser, schedule or random state"
            f" cannot be loaded ({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})."
            " Start the run afresh (without --resume)"
        ) from None


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint written before procedures (one ``model``, one ``optimizer``) in today's
    layout (every role by name)."""
    if "models" not in data and "model" in data:
        data["models"] = {"model": data.pop("model")}
        data["optimizers"] = {"model": data.pop("optimizer", None)}
        scheduler = data.pop("scheduler", None)
        data["schedulers"] = {"model": scheduler} if scheduler else {}
        if data.get("best_state") is not None:
            data["best_state"] = {"model": data["best_state"]}
    return data
