"""The RBF procedure's views: the network's arithmetic on each training sample, and the
centres with their widths over 2-D data."""

from __future__ import annotations

import math
from typing import Any

import torch

from builder.training.probes import ViewContext, number, readonly, vector

ROWS = 16  # training samples worked one by one
DATA_POINTS = 500
CIRCLE = 48  # points on each width's circle


def arithmetic(ctx: ViewContext) -> dict[str, Any] | None:
    state = ctx.state
    if state.get("train") is None:
        return None
    rbf, linear, settings = state["rbf"], state["linear"], state["settings"]
    x, t = state["train"]
    x, t = x[:ROWS], t[:ROWS]
    with torch.no_grad():
        d2 = rbf.squared_distances(x)
        h = rbf(x)
        out = linear(h)
    sigma = rbf.sigma.detach()
    classes = settings["task"] == "classification"
    single = out.shape[1] == 1
    cells = []
    for i in range(x.shape[0]):
        row = [
            vector(x[i]),
            vector(d2[i]),
            vector(h[i]),
            vector(out[i]) if not single else number(float(out[i, 0])),
        ]
        target = t[i]
        if classes:
            if single:
                predicted = int(float(out[i, 0]) > settings["threshold"])
                actual = int(float(target[0]))
            else:
                predicted, actual = int(out[i].argmax()), int(target.argmax())
            row += [str(actual), str(predicted)]
        else:
            row += [vector(target)]
        cells.append(row)
    w = linear.weight.detach()
    b = None if linear.bias is None else linear.bias.detach()
    spread = ", ".join(f"2σ² = {number(2 * float(s) ** 2)}" for s in sigma[:6])
    lines = [
        f"centres c = {', '.join(vector(c) for c in rbf.centres.detach()[:6])}"
        + (" …" if rbf.centres.shape[0] > 6 else ""),
        f"widths: {spread}" + (" …" if sigma.shape[0] > 6 else ""),
        "h_j = exp(−‖x − c_j‖² / 2σ_j²);  y = Σ_j w_j·h_j" + (" + b" if b is not None else ""),
        "output weights w = "
        + "; ".join(vector(row) for row in w[:4])
        + ("" if b is None else f", b = {vector(b)}"),
    ]
    if classes and single:
        lines.append(f"class 1 when y > {number(settings['threshold'])}")
    columns = ["x", "‖x − c‖²", "h", "y"] + (["class", "predicted"] if classes else ["target"])
    wrong = [i for i, row in enumerate(cells) if classes and row[-1] != row[-2]]
    shown = "" if state["train"][0].shape[0] <= ROWS else f" (the first {ROWS})"
    return {
        "title": "The network on each training sample, number by number" + shown,
        "lines": lines,
        "columns": columns,
        "rows": [f"sample {i + 1}" for i in range(len(cells))],
        "cells": cells,
        "highlight": wrong,
        "note": "highlighted: misclassified" if wrong else "",
    }


def centres(ctx: ViewContext) -> dict[str, Any] | None:
    """2-D data: the points, the centres, and a circle of radius σ round each centre."""
    state = ctx.state
    rbf = state["rbf"]
    c = rbf.centres.detach().float()
    if c.shape[1] != 2 or state.get("train") is None:
        return None
    data = state["train"][0][:DATA_POINTS].float()
    angles = torch.linspace(0, 2 * math.pi, CIRCLE + 1)[:-1]
    ring = torch.stack([angles.cos(), angles.sin()], 1)
    circles = (c[:, None, :] + rbf.sigma.detach().float()[:, None, None] * ring[None]).reshape(
        -1, 2
    )
    n, k = data.shape[0], c.shape[0]
    points = torch.cat([data, c, circles])
    labels = torch.cat([torch.zeros(n), torch.ones(k), torch.full((k * CIRCLE,), 2.0)]).long()
    starts = torch.arange(k * CIRCLE).reshape(k, CIRCLE)
    ends = starts.roll(-1, dims=1)
    edges = torch.stack([starts.reshape(-1), ends.reshape(-1)], 1) + n + k
    return {
        "points": readonly(points),
        "labels": readonly(labels),
        "class_names": ["data", "centres", "σ"],
        "mesh_only": [2],
        "mesh": {"offset": 0, "edges": readonly(edges.int())},
        "axis_labels": ("x1", "x2"),
        "equal_axes": True,
        "note": "",
    }
