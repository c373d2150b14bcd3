"""The perceptron and delta rules' views: the last update as a textbook works it."""

from __future__ import annotations

from typing import Any

import torch

from builder.training.probes import ViewContext, lines_only, number, vector


def _sum_text(w: torch.Tensor, x: torch.Tensor, b: float | None) -> str:
    terms = [f"{_paren(float(wi))}·{_paren(float(xi))}" for wi, xi in zip(w, x)]
    if b is not None:
        terms.append(_paren(float(b)))
    return " + ".join(terms)


def _paren(value: float) -> str:
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def update(ctx: ViewContext) -> dict[str, Any] | None:
    """Each unit's weighted sum, output, target and error for the last sample, and every
    weight before, its change and after, with the rule's formula."""
    last = ctx.state.get("last")
    if not last or "w" not in last:
        return None
    state = ctx.state
    rule, eta, theta = state["settings"]["rule"], state["lr"], state["threshold"]
    x = last["x"].double()
    if x.dim() > 1:  # batch mode: the sum over the batch
        return lines_only(
            f"Last update (a batch of {x.shape[0]}: the sum of its corrections)",
            [
                f"η = {number(eta)}, update t = {last['t']}",
                "Set mode to online and batch size to 1 to follow one sample at a time.",
            ],
        )
    w, dw = last["w"].double(), last["dw"].double()
    b = None if last["b"] is None else last["b"].double()
    db = None if last["db"] is None else last["db"].double()
    s, y, d, e = (last[k][0].double() for k in ("s", "y", "d", "e"))
    units = w.shape[0]
    t_word = "d" if rule == "perceptron" else "t"
    target = d if rule == "perceptron" else 2 * d - 1
    error = "e = d − y" if rule == "perceptron" else "e = t − s"
    cells, changed = [], []
    for u in range(units):
        row = [
            vector(w[u]),
            "" if b is None else number(float(b[u])),
            number(float(s[u])),
            number(float(y[u])),
            number(float(target[u])),
            number(float(e[u])),
            vector(dw[u]),
            "" if db is None else number(float(db[u])),
            vector(w[u] + dw[u]),
            "" if b is None else number(float(b[u] + db[u])),
        ]
        cells.append(row)
        if bool((dw[u] != 0).any()) or (db is not None and float(db[u]) != 0):
            changed.append(u)
    u = changed[0] if changed else 0
    name = f"unit {u + 1}" if units > 1 else "the unit"
    bias = None if b is None else float(b[u])
    lines = [
        f"sample x = {vector(x)}, target {t_word} = {vector(target) if units > 1 else number(float(target[0]))}"
        f"   (update t = {last['t']})",
        f"{name}: s = w·x + b = {_sum_text(w[u], x, bias)} = {number(float(s[u]))}"
        f" → y = {number(float(y[u]))} (y = 1 when s ≥ {number(theta)})",
    ]
    if rule == "perceptron" and not changed:
        lines.append("every unit is right (y = d): nothing changes")
    else:
        lines.append(
            f"{error} = {number(float(e[u]))}; w ← w + η·e·x = {vector(w[u])} +"
            f" {number(eta)}·{_paren(float(e[u]))}·{vector(x)} = {vector(w[u] + dw[u])}"
            + ("" if b is None else f"; b ← b + η·e = {number(float(b[u] + db[u]))}")
        )
    return {
        "title": "The last update, number by number",
        "lines": lines,
        "columns": [
            "w before",
            "b",
            "s = w·x + b",
            "y",
            t_word,
            "e",
            "Δw = η·e·x",
            "Δb",
            "w after",
            "b after",
        ],
        "rows": [f"unit {k + 1}" for k in range(units)],
        "cells": cells,
        "highlight": changed,
    }
