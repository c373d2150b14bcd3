"""Probes of a self-organizing map: the U-matrix with the current winner and its
neighbourhood, the hit map, the class map, the component planes, the map as an elastic net
over 2-D and 3-D data, and the arithmetic of the last update (payloads: the ``grid_map``,
``scatter`` and ``arithmetic`` kinds of widgets.views)."""

from __future__ import annotations

from typing import Any

import torch

from builder.training.kernels import som_outputs
from builder.training.probes import ViewContext, lines_only, readonly
from builder.training.probes import number as _fmt
from builder.training.probes import vector as _vector

NET_POINTS = 500  # data points under the elastic net
MEMBERS = 512  # samples a click on a unit can list (the probe's fixed samples)
ARITHMETIC_UNITS = 12  # units listed one by one in the arithmetic view (the nearest ones)


def _layout(ctx: ViewContext) -> dict[str, Any]:
    """The map's shape and where each unit is drawn: ``centers`` (x across, y down)."""
    out = ctx.scratch.get("layout")
    if out is None:
        from builder.catalog.modules import som_layout

        som = ctx.state["som"]
        hexagonal = som.topology == "hexagonal"
        positions, _, _ = som_layout(som.rows, som.cols, hexagonal)
        centers = positions[:, [1, 0]].float()  # MiniSom's (i, j) is (down, across)
        out = ctx.scratch["layout"] = {
            "rows": som.rows,
            "cols": som.cols,
            "centers": readonly(centers),
            "hexagonal": hexagonal,
        }
    return dict(out)


def _neighbours(ctx: ViewContext) -> torch.Tensor:
    """(units, units) True where two units are neighbours (the topographic error's)."""
    adj = ctx.scratch.get("adjacency")
    if adj is None:
        adj = ctx.scratch["adjacency"] = som_outputs.neighbours(ctx.state)
    return adj


def _inputs(ctx: ViewContext) -> torch.Tensor:
    """The SOM's inputs for the probe's fixed samples (computed once: the layers before
    the map are fixed)."""
    got = ctx.scratch.get("inputs")
    if got is None:
        got = ctx.scratch["inputs"] = ctx.kernel.map_inputs(ctx.state, ctx.x)
    return got


def _winners(ctx: ViewContext) -> torch.Tensor:
    from builder.catalog.modules import som_distances

    state = ctx.state
    return som_distances(_inputs(ctx), state["weight"], state["som"].distance).argmin(dim=1)


def _marker(ctx: ViewContext) -> dict[str, Any] | None:
    last = ctx.state.get("last")
    if not last:
        return None
    winner = last["winner"]
    if isinstance(winner, torch.Tensor):
        if winner.numel() == 0:
            return None
        winner = winner.reshape(-1)[-1]
    return {"unit": int(winner), "radius": float(last["sigma"])}


def umatrix(ctx: ViewContext) -> dict[str, Any]:
    """Each unit's mean distance to its neighbours' weights; the winner and σ marked."""
    values = som_outputs.umatrix(ctx.state, _neighbours(ctx))  # as the exported script's
    out = {**_layout(ctx), "values": readonly(values), "value_name": "mean distance"}
    marker = _marker(ctx)
    if marker is not None:
        out["marker"] = marker
    return out


def _members(ctx: ViewContext, winners: torch.Tensor) -> dict[str, Any]:
    n = min(MEMBERS, winners.shape[0])
    members: dict[str, Any] = {
        "bmus": readonly(winners[:n].int()),
        "samples": readonly(ctx.x[:n].float()),
    }
    if ctx.y is not None and ctx.class_names:
        members["labels"] = readonly(ctx.y[:n].reshape(n, -1)[:, 0].long())
        members["class_names"] = list(ctx.class_names)
    return members


def hits(ctx: ViewContext) -> dict[str, Any]:
    """How many of the probe's samples each unit wins."""
    winners = _winners(ctx)
    counts = torch.bincount(winners, minlength=ctx.state["units"]).float()
    return {
        **_layout(ctx),
        "values": readonly(counts),
        "value_name": "samples won",
        "members": _members(ctx, winners),
    }


def classes(ctx: ViewContext) -> dict[str, Any] | None:
    """The class most of each unit's samples have (-1: none), and each class's share."""
    if ctx.y is None or not ctx.class_names:
        return None
    winners = _winners(ctx)
    labels = ctx.y.reshape(ctx.y.shape[0], -1)[:, 0].long().to(winners.device)
    k, units = len(ctx.class_names), ctx.state["units"]
    counts = torch.zeros((units, k), dtype=torch.float32, device=winners.device)
    counts.index_put_(
        (winners, labels.clamp(0, k - 1)),
        torch.ones_like(winners, dtype=torch.float32),
        accumulate=True,
    )
    total = counts.sum(dim=1, keepdim=True)
    majority = torch.where(
        total[:, 0] > 0, counts.argmax(dim=1), torch.full_like(winners[:1], -1).expand(units)
    )
    return {
        **_layout(ctx),
        "labels": readonly(majority.int()),
        "class_names": list(ctx.class_names),
        "shares": readonly(counts / total.clamp(min=1)),
        "pies": k <= 10,
        "members": _members(ctx, winners),
    }


def _feature_names(ctx: ViewContext, features: int) -> list[str]:
    names = list(ctx.state["settings"].get("feature_names") or [])
    return names if len(names) == features else [f"x{i + 1}" for i in range(features)]


def components(ctx: ViewContext) -> dict[str, Any]:
    """Each input feature's weight over the map, named after the feature."""
    weight = ctx.state["weight"].detach().float()
    names = _feature_names(ctx, weight.shape[1])
    return {**_layout(ctx), "planes": readonly(weight.t().contiguous()), "names": names}


def net(ctx: ViewContext) -> dict[str, Any] | None:
    """2-D and 3-D data: the units at their weights, joined to their grid neighbours, over
    the data points (3-D: the first two features; the third is the points' colour)."""
    weight = ctx.state["weight"].detach().float()
    if weight.shape[1] not in (2, 3):
        return None
    data = _inputs(ctx)[:NET_POINTS].float()
    names = _feature_names(ctx, weight.shape[1])
    adj = torch.triu(_neighbours(ctx), diagonal=1)
    edges = adj.nonzero()
    n = data.shape[0]
    points = torch.cat([data[:, :2], weight[:, :2]])
    labels = torch.cat([torch.zeros(n), torch.ones(weight.shape[0])]).long()
    return {
        "points": readonly(points),
        "labels": readonly(labels),
        "class_names": ["data", "units"],
        "mesh": {"offset": n, "edges": readonly(edges.int())},
        "axis_labels": tuple(names[:2]),
        "equal_axes": True,
        "note": "" if weight.shape[1] == 2 else f"{names[0]} and {names[1]}; {names[2]} not shown",
    }


def update(ctx: ViewContext) -> dict[str, Any] | None:
    """The last update as a textbook works it: each unit's squared distance to the sample,
    the winner, the neighbourhood weight h, the change and the new weights."""
    last = ctx.state.get("last")
    if not last:
        return None
    weight = ctx.state["weight"].detach().double()
    x, winner, h, delta = last["x"], last["winner"], last["h"], last["delta"]
    if x.dim() > 1 or isinstance(winner, torch.Tensor):  # batch modes: no single update
        return lines_only(
            "Last update (a batch: units move to weighted means)",
            [
                f"η = {_fmt(last['eta'])}, σ = {_fmt(last['sigma'])}, update t = {last['t']}",
                "Set mode to online and batch size to 1 to follow one sample at a time.",
            ],
        )
    x = x.double()
    dist = last["distances"].double()
    units = weight.shape[0]
    order = torch.argsort(dist)[:ARITHMETIC_UNITS].tolist()
    if winner not in order:
        order = [winner, *order[:-1]]
    order.sort()
    hv = h.double() if h is not None else torch.zeros(units, dtype=torch.float64)
    dv = delta.double() if delta is not None else torch.zeros_like(weight)
    old = weight - dv
    cells = []
    for u in order:
        cells.append(
            [
                _vector(old[u]),
                _fmt(float(dist[u])),
                _fmt(float(hv[u])),
                _vector(dv[u]),
                _vector(weight[u]),
            ]
        )
    eta, sigma = last["eta"], last["sigma"]
    lines = [
        f"sample x = {_vector(x)}   (update t = {last['t']})",
        f"η = {_fmt(eta)}, σ = {_fmt(sigma)}" + (": only the winner moves" if sigma == 0 else ""),
        f"winner: unit {winner + 1} (the smallest distance {_fmt(float(dist[winner]))})",
        "each unit: w ← w + η·h·(x − w)",
        f"winner: {_vector(old[winner])} + {_fmt(eta)}·{_fmt(float(hv[winner]))}·"
        f"({_vector(x)} − {_vector(old[winner])}) = {_vector(weight[winner])}",
    ]
    distance = "‖x − w‖²" if ctx.state["euclidean"] else "distance"
    shown = "" if len(order) == units else f" (the {len(order)} nearest of {units} units)"
    return {
        "title": "The last update, number by number" + shown,
        "lines": lines,
        "columns": ["w before", distance, "h", "Δw = η·h·(x − w)", "w after"],
        "rows": [f"unit {u + 1}" for u in order],
        "cells": cells,
        "highlight": [order.index(winner)],
    }
