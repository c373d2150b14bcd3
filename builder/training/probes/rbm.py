"""The RBM procedure's views: filters, reconstructions, dreams and the last update."""

from __future__ import annotations

from typing import Any

import torch

from builder.training.probes import ViewContext, lines_only, number, readonly, vector

FILTERS = 64  # hidden units shown as images
STRIP = 8  # reconstructed samples
DREAMS = 16  # Gibbs chains
DREAM_STEPS = 20  # Gibbs steps between two probes


def filters(ctx: ViewContext) -> dict[str, Any] | None:
    if not ctx.image:
        return None
    w = ctx.state["rbm"].weight.detach()[:FILTERS].float()
    w = w / w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)  # each on its own scale
    images = w.reshape(w.shape[0], *ctx.x.shape[1:])
    return {"images": readonly(images), "cols": 8, "value_range": (-1.0, 1.0)}


def reconstructions(ctx: ViewContext) -> dict[str, Any]:
    rbm = ctx.state["rbm"]
    x = ctx.x[:STRIP]
    v = ctx.kernel.visible(ctx.state, x) if ctx.state["settings"]["binarise"] == "threshold" else x
    recon = rbm.visible_probs(rbm.hidden_probs(v.reshape(v.shape[0], -1))).reshape(x.shape)
    return {
        "samples": readonly(torch.stack([v.reshape(x.shape), recon])),
        "rows": ("input", "reconstruction"),
        "value_range": (0.0, 1.0),
    }


def dreams(ctx: ViewContext) -> dict[str, Any] | None:
    """Chains from uniform random visible states, advanced DREAM_STEPS Gibbs steps at every
    probe (their own generator: training draws are not disturbed)."""
    if not ctx.image:
        return None
    rbm = ctx.state["rbm"]
    chains = ctx.scratch.get("dreams")
    if chains is None:
        gen = torch.Generator(device=ctx.x.device).manual_seed(ctx.state["settings"]["seed"] + 7)
        ctx.scratch["dream_generator"] = gen
        shape = (DREAMS, rbm.features)
        chains = torch.rand(shape, generator=gen, device=ctx.x.device).round()
    gen = ctx.scratch["dream_generator"]
    for _ in range(DREAM_STEPS):
        h = (
            torch.rand((DREAMS, rbm.hidden), generator=gen, device=chains.device)
            < rbm.hidden_probs(chains)
        ).float()
        probs = rbm.visible_probs(h)
        chains = (torch.rand(probs.shape, generator=gen, device=chains.device) < probs).float()
    ctx.scratch["dreams"] = chains
    images = probs.reshape(DREAMS, *ctx.x.shape[1:])
    return {"images": readonly(images), "cols": 8, "value_range": (0.0, 1.0)}


def update(ctx: ViewContext) -> dict[str, Any] | None:
    state = ctx.state
    last = state.get("last")
    if not last:
        return None
    rbm, eta = state["rbm"], state["lr"]
    lines = [
        f"v⁺ = {vector(last['v'][0][:12])}{' …' if last['v'].shape[1] > 12 else ''}"
        f"   (the batch's first of {last['rows']} rows; update t = {last['t']})",
        "positive phase: h⁺ = p(h=1|v⁺) = σ(W·v⁺ + c); negative phase:"
        + (" the persistent chain's h" if state["settings"]["persistent"] else " h ~ p(h|v⁺)")
        + f", then {state['settings']['k']} Gibbs step(s) v⁻ ~ p(v|h), h⁻ = p(h=1|v⁻)",
        f"v⁻ = {vector(last['v_neg'][0][:12])}{' …' if last['v_neg'].shape[1] > 12 else ''}",
        f"ΔW = η·(⟨h⁺ v⁺ᵀ⟩ − ⟨h⁻ v⁻ᵀ⟩) with η = {number(eta)} (over the batch's rows)",
    ]
    if last["before"] is None:
        ratio = float(torch.as_tensor(last["dW"]).norm() / rbm.weight.norm().clamp_min(1e-12))
        lines.append(
            f"{rbm.hidden} × {rbm.features} weights: ‖ΔW‖ / ‖W‖ = {number(ratio)}; an RBM of"
            f" up to {ctx.kernel.RECORD_WEIGHTS} weights is worked weight by weight here"
        )
        return lines_only("The last update", lines)
    w0, _b0, c0 = last["before"]
    cells = []
    for j in range(rbm.hidden):
        cells.append(
            [
                vector(w0[j]),
                number(float(c0[j])),
                number(float(last["h_pos"][0, j])),
                number(float(last["h_start"][j])),
                number(float(last["h_neg"][0, j])),
                vector(last["dW"][j]),
                number(float(last["dc"][j])),
                vector(rbm.weight.detach()[j]),
            ]
        )
    lines.append(f"Δb (visible biases) = {vector(last['db'])}")
    return {
        "title": "The last update, number by number",
        "lines": lines,
        "columns": [
            "w before",
            "c",
            "h⁺ = p(h|v⁺)",
            "h start",
            "h⁻ = p(h|v⁻)",
            "ΔW",
            "Δc",
            "w after",
        ],
        "rows": [f"hidden {j + 1}" for j in range(rbm.hidden)],
        "cells": cells,
        "highlight": [],
    }


BINS = 21  # bars of the update histogram


def updates(ctx: ViewContext) -> dict[str, Any] | None:
    """How the last update's weight changes ΔW are spread: a histogram (symmetric bins), with
    their size against the weights' in the warning line when it is far from healthy."""
    last = ctx.state.get("last")
    if not last:
        return None
    dw = torch.as_tensor(last["dW"]).detach().float().flatten()
    weight = ctx.state["rbm"].weight.detach().float()
    edge = max(float(dw.abs().max()), 1e-12)
    counts = torch.histc(dw, bins=BINS, min=-edge, max=edge)
    centres = torch.linspace(-edge, edge, BINS + 1)
    centres = (centres[:-1] + centres[1:]) / 2
    ratio = float(dw.norm() / weight.norm().clamp_min(1e-12))
    warning = ""
    if ratio > 0.1:
        warning = (
            f"‖ΔW‖ / ‖W‖ = {ratio:.3g}: large steps (0.001 to 0.05 is usual): lower the"
            " learning rate"
        )
    elif ratio < 1e-5:
        warning = f"‖ΔW‖ / ‖W‖ = {ratio:.3g}: the weights hardly move: raise the learning rate"
    return {
        "values": readonly(counts),
        "labels": tuple(f"{float(c):.2g}" for c in centres),
        "threshold": None,
        "warning": warning,
    }
