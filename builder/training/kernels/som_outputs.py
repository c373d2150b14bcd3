"""What a trained self-organizing map leaves beside its weights: the codebook, the hit map and
the U-matrix as ``.npy`` files, and the U-matrix and the hit map as PNG pictures when
matplotlib is installed (it is never required).

Portable (see builder/training/loop.py): the standard library, numpy and torch, with
:mod:`som` (the kernel) and :mod:`builder.catalog.modules` beside it; matplotlib is imported
only inside :func:`save_pictures`, when it is there. The exported script of a SOM carries
this source and calls :func:`save_outputs` after training; the app's U-matrix view
(builder/training/probes/som.py) computes with :func:`umatrix` too, so that both say the same.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from builder.catalog.modules import SOM_HEX_ROW, som_layout
from builder.training.kernels.som import adjacent, map_inputs, nearest, setup


def neighbours(state: dict[str, Any]) -> torch.Tensor:
    """(units, units) True where two units are neighbours as the kernel's :func:`adjacent`
    has it (the topographic error's: 8 on a rectangular map, 6 on a hexagonal one); a unit
    is not its own neighbour."""
    units = state["units"]
    a = torch.arange(units, device=state["weight"].device)
    rows = [adjacent(state, a, torch.full_like(a, u)) for u in range(units)]
    adj = torch.stack(rows) if rows else torch.zeros((0, 0), dtype=torch.bool)
    adj.fill_diagonal_(False)
    return adj


def umatrix(state: dict[str, Any], adj: torch.Tensor | None = None) -> torch.Tensor:
    """Each unit's mean (Euclidean) distance from its weights to its neighbours' (units,),
    in float32; ``adj``: :func:`neighbours` of the state, when it is already at hand."""
    weight = state["weight"].detach().float()
    if adj is None:
        adj = neighbours(state)
    dist = torch.cdist(weight, weight)
    count = adj.sum(dim=1).clamp(min=1)
    return (dist * adj).sum(dim=1) / count


def hit_counts(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """How many rows of ``x`` (the network's inputs) each unit wins (units,): the rows' SOM
    inputs, each won by its best-matching unit as the kernel picks it."""
    winners, _ = nearest(state, map_inputs(state, x))
    return torch.bincount(winners, minlength=state["units"])


@torch.no_grad()
def save_outputs(
    model: nn.Module, settings: dict[str, Any], x: torch.Tensor, folder: str | Path
) -> list[Path]:
    """Write the trained map of ``model`` (the network holding the SOM) to ``folder``:
    ``codebook.npy`` (rows, cols, features: unit (i, j)'s weights), ``hits.npy`` (rows, cols:
    how many rows of ``x``, the training inputs, each unit wins) and ``umatrix.npy`` (rows,
    cols: each unit's mean distance to its neighbours' weights), then ``umatrix.png`` and
    ``hits.png`` when matplotlib is installed. Return the files written."""
    state = setup({"map": model}, settings)
    som = state["som"]
    shape = (som.rows, som.cols)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    codebook = state["weight"].detach().cpu().numpy().reshape(*shape, -1)
    hits = hit_counts(state, x).cpu().numpy().reshape(shape)
    distances = umatrix(state).cpu().numpy().reshape(shape)
    written = []
    for name, values in (("codebook", codebook), ("hits", hits), ("umatrix", distances)):
        path = folder / f"{name}.npy"
        np.save(path, values)
        written.append(path)
    return written + save_pictures(state, distances, hits, folder)


def save_pictures(
    state: dict[str, Any], distances: np.ndarray, hits: np.ndarray, folder: Path
) -> list[Path]:
    """``umatrix.png`` and ``hits.png`` in ``folder`` (hexagons on a hexagonal map), drawn
    with matplotlib; nothing when it is not installed. Return the files written."""
    try:  # optional: the .npy files hold the same numbers
        from matplotlib.figure import Figure
    except ImportError:
        return []
    som = state["som"]
    pictures = (
        ("umatrix", distances, "U-matrix: mean distance to the neighbours' weights"),
        ("hits", hits, "Hit map: training samples each unit wins"),
    )
    written = []
    for name, values, title in pictures:
        fig = Figure(figsize=(6, 5.5))
        ax = fig.add_subplot()
        if state["hexagonal"]:
            mappable = _hexagons(ax, som.rows, som.cols, values)
        else:
            mappable = ax.imshow(values, cmap="viridis", interpolation="nearest")
        fig.colorbar(mappable, ax=ax)
        across = SOM_HEX_ROW if state["hexagonal"] else 1.0  # between two columns' centres
        rows = range(0, som.rows, max(1, math.ceil(som.rows / 10)))
        cols = range(0, som.cols, max(1, math.ceil(som.cols / 10)))
        ax.set_xticks([j * across for j in cols], [str(j) for j in cols])
        ax.set_yticks(list(rows), [str(i) for i in rows])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=100)
        written.append(path)
    return written


def _hexagons(ax: Any, rows: int, cols: int, values: np.ndarray) -> Any:
    """A hexagonal map's units as hexagons at their places on the plane (columns across,
    rows down, as the app draws them), coloured by ``values`` (rows, cols)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import RegularPolygon

    positions, _, _ = som_layout(rows, cols, True)
    radius = 1 / math.sqrt(3)  # neighbouring centres are 1 apart: the hexagons touch
    cells = [
        RegularPolygon((float(x), float(y)), 6, radius=radius, orientation=math.pi / 6)
        for y, x in positions.tolist()
    ]
    patches = PatchCollection(cells, cmap="viridis", edgecolor="face")
    patches.set_array(values.reshape(-1).astype(np.float64))
    ax.add_collection(patches)
    ax.set_xlim(float(positions[:, 1].min()) - 0.7, float(positions[:, 1].max()) + 0.7)
    ax.set_ylim(float(positions[:, 0].max()) + 0.7, float(positions[:, 0].min()) - 0.7)
    ax.set_aspect("equal")
    return patches
