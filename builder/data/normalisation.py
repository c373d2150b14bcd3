"""Normalisation: statistics fitted on the training split (:func:`fit_normalisation`) and
applied to any inputs (:func:`apply_normalisation`).

Imports only the standard library and torch: the exported script copies these functions'
source (``inspect.getsource``)."""

from __future__ import annotations

from typing import Any

import torch


def fit_normalisation(x: torch.Tensor, kind: str, data_kind: str) -> dict[str, Any]:
    """Per-channel statistics for images (axis 1), per-feature (last axis) otherwise."""
    axis = 1 if (data_kind == "image" and x.ndim == 4) else x.ndim - 1
    dims = [d for d in range(x.ndim) if d != axis]
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    x64 = x.double()
    if kind == "zscore":
        mean = x64.mean(dim=dims)
        std = x64.std(dim=dims, correction=0)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        return {
            "kind": "zscore",
            "mean": mean.tolist(),
            "std": std.tolist(),
            "axis": axis,
            "shape": shape,
        }
    lo, hi = x64.amin(dim=dims), x64.amax(dim=dims)
    return {"kind": "minmax", "min": lo.tolist(), "max": hi.tolist(), "axis": axis, "shape": shape}


def apply_normalisation(x: torch.Tensor, normalisation: dict[str, Any]) -> torch.Tensor:
    """Apply the statistics of :attr:`Splits.normalisation` to new inputs ``x``
    (e.g. a grid of points for a decision-boundary plot, or inputs at inference)."""
    kind = normalisation.get("kind", "none")
    if kind == "none" or x.dtype == torch.int64:
        return x
    shape = normalisation["shape"]
    if kind == "zscore":
        mean = torch.tensor(normalisation["mean"], dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(normalisation["std"], dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std
    lo = torch.tensor(normalisation["min"], dtype=x.dtype, device=x.device).view(shape)
    hi = torch.tensor(normalisation["max"], dtype=x.dtype, device=x.device).view(shape)
    return (x - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
