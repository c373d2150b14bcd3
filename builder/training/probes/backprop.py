"""Backprop's last update as a textbook works it: for a small network trained one sample at a
time, every unit's weighted sum and output, the loss, each unit's local gradient δ and
every weight before, its gradient, its change and after (the supervised kernel keeps the
weights from before the step: ``state["last"]``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from builder.training.probes import ViewContext, lines_only, number, vector

COLUMNS = [
    "w before",
    "b",
    "s = w·x + b",
    "a = f(s)",
    "δ = ∂L/∂s",
    "∂L/∂w = δ·x",
    "Δw",
    "Δb",
    "w after",
    "b after",
]


def _optimiser_line(state: dict[str, Any]) -> str:
    optimizer = next(iter(state.get("optimizers", {}).values()), None)
    if optimizer is None:
        return ""
    group = optimizer.param_groups[0]
    lr = number(float(group["lr"]))
    plain = (
        isinstance(optimizer, torch.optim.SGD)
        and not group.get("momentum")
        and not (group.get("weight_decay"))
    )
    if plain:
        return f"SGD: w ← w − η·∂L/∂w, b ← b − η·∂L/∂b with η = {lr}: Δw = −η·∂L/∂w"
    return f"{type(optimizer).__name__} (η = {lr}): Δw is what the optimiser made of ∂L/∂w"


def update(ctx: ViewContext) -> dict[str, Any] | None:
    state = ctx.state
    title = "The last update, number by number"
    if not state.get("record"):
        return lines_only(
            title, ["Networks of up to 200 weights show each update here, number by number."]
        )
    last = state.get("last")
    if last is None:
        return lines_only(
            title,
            ["Set the batch size to 1 and press Step: each update on one sample is worked here."],
        )
    model: nn.Module = state["model"]
    x, y, before = last["x"], last["y"], last["before"]
    params = {name: t.clone().requires_grad_(True) for name, t in before.items()}
    calls: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []
    names = {module: name for name, module in model.named_modules()}
    hooks = []
    for module in model.modules():
        if not list(module.children()):

            def keep(m: nn.Module, inputs: Any, output: Any) -> None:
                if inputs and torch.is_tensor(inputs[0]) and torch.is_tensor(output):
                    calls.append((names[m], m, inputs[0], output))

            hooks.append(module.register_forward_hook(keep))
    was_training = model.training
    model.train()  # as the step ran (dropout aside: a worked example has none)
    try:
        with torch.enable_grad():
            out = functional_call(model, params, (x,))
            loss = state["loss"](out, y)
            linears = [(i, c) for i, c in enumerate(calls) if isinstance(c[1], nn.Linear)]
            wanted = list(params.values()) + [c[3] for _, c in linears]
            grads = torch.autograd.grad(loss, wanted, allow_unused=True)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    by_name = dict(zip(params, grads[: len(params)]))
    local = grads[len(params) :]
    now = dict(model.named_parameters())
    rows, cells = [], []
    for (i, (name, module, _inputs, output)), delta in zip(linears, local):
        follower = calls[i + 1] if i + 1 < len(calls) else None
        activation = None
        if follower is not None and not list(follower[1].parameters()) and follower[2] is output:
            activation = follower[3][0].detach()
        s = output.detach()
        w0, w1 = before[f"{name}.weight"], now[f"{name}.weight"].detach()
        gw = by_name[f"{name}.weight"]
        has_bias = module.bias is not None
        b0 = before[f"{name}.bias"] if has_bias else None
        b1 = now[f"{name}.bias"].detach() if has_bias else None
        for j in range(w0.shape[0]):
            rows.append(f"{name} {j + 1}" if w0.shape[0] > 1 else name)
            cells.append(
                [
                    vector(w0[j]),
                    number(float(b0[j])) if has_bias else "",
                    number(float(s[0, j])),
                    number(float(activation[j])) if activation is not None else "",
                    number(float(delta[0, j])) if delta is not None else "0",
                    vector(gw[j]) if gw is not None else "",
                    vector(w1[j] - w0[j]),
                    number(float(b1[j] - b0[j])) if has_bias else "",
                    vector(w1[j]),
                    number(float(b1[j])) if has_bias else "",
                ]
            )
    others = [n for n in params if n.rsplit(".", 1)[0] not in {c[0] for _, c in linears}]
    lines = [
        f"sample x = {vector(x.reshape(-1))}, target d = {vector(y.reshape(-1))}",
        f"forward: each unit s = w·x + b, a = f(s); the output y = {vector(out.detach().reshape(-1))};"
        f" loss L = {number(float(loss.detach()))}",
        "backward: δ = ∂L/∂s; an output unit: ∂L/∂y·f′(s); a hidden unit: f′(s)·Σ wₖ·δₖ over"
        " the units it feeds; ∂L/∂w = δ·(the unit's inputs)",
    ]
    optimiser = _optimiser_line(state)
    if optimiser:
        lines.append(optimiser)
    if others:
        lines.append(f"also updated, not listed: {', '.join(others)}")
    return {
        "title": title,
        "lines": lines,
        "columns": COLUMNS,
        "rows": rows,
        "cells": cells,
        "highlight": [],
    }
