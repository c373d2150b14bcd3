"""Checkpoints: weights, optimiser and scheduler state, position and RNG state of a run.

Written atomically with ``torch.save`` of plain containers and tensors; read back with
``torch.load(..., weights_only=True)``, so loading a checkpoint never runs code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from graph.errors import NeuralCanvasError

FORMAT = "neuralcanvas-checkpoint"
VERSION = 1


class CheckpointError(NeuralCanvasError):
    """A checkpoint cannot be read or does not fit the network."""


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain Python values) atomically to ``path``."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Cannot resume: checkpoint {path} does not exist")
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
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
