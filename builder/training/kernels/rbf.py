"""The classic two-stage training of a radial-basis-function network (Broomhead and Lowe;
Moody and Darken): place the RBF layer's centres and widths from the data, then solve the
Linear output layer by least squares (the pseudo-inverse), in one step. No optimiser, no
gradients.

Portable kernel (see builder/training/loop.py for the contract): standard library and torch
only; the exported script carries its source. One role, ``"model"``: a compiled network
Input → (Flatten) → RBF → Linear → Output (builder's ``RBF`` module: ``centres``,
``sigma``).

``settings`` (plain values):

- ``centres``: ``"kmeans"`` (Lloyd's k-means on the training inputs, started from distinct
  training samples drawn with ``seed``, until no sample changes cluster or
  ``kmeans_iterations``), ``"samples"`` (distinct training samples drawn with ``seed``) or
  ``"keep"`` (the layer's own: set by hand, or as initialised);
- ``widths``: ``"nearest"`` (each σ_j the distance from c_j to its nearest other centre,
  times ``width_scale``), ``"spread"`` (every σ = d_max / √(2k), d_max the largest distance
  between two centres, k the number of centres: Haykin's rule, times ``width_scale``) or
  ``"keep"``;
- ``output``: ``"least_squares"`` (the Linear layer's weights and bias = pinv(H)·T, H the
  RBF outputs of the training inputs with a column of ones for the bias, T the targets) or
  ``"keep"`` (the weights as they are: a worked example's hand-set ones);
- ``threshold``: with one output unit for two classes, class 1 when the output is above it;
- ``task``, ``num_classes``, ``seed``, ``kmeans_iterations``, ``width_scale``.

Targets: regression targets as they are; classes one-hot (one output unit per class, the
predicted class the largest output), or with one unit for two classes a 0 / 1 column.
Everything is done by the first step of the first epoch, on the whole training split (kept
by :func:`prepare`); later steps change nothing (an example trains one epoch; a resumed
run solves again, to the same values). The last epoch's ``state["done"]`` says what was
done. Each step and the evaluation return ``loss`` (the mean of ½·Σ(t − y)² over
the rows) and, for classes, ``errors`` and ``accuracy``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from builder.training.kernels.common import unit_targets

CENTRES, WIDTHS, OUTPUTS = (
    ("kmeans", "samples", "keep"),
    ("nearest", "spread", "keep"),
    (
        "least_squares",
        "keep",
    ),
)


def find_layers(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """The network's one RBF layer and the one Linear after it."""
    rbfs = [m for m in model.modules() if type(m).__name__ == "RBF"]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(rbfs) != 1 or len(linears) != 1:
        raise ValueError(
            "an RBF network is one RBF layer followed by one Linear layer; the network has"
            f" {len(rbfs)} RBF and {len(linears)} Linear layers"
        )
    return rbfs[0], linears[0]


def setup(models: dict[str, nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    for key, allowed in (("centres", CENTRES), ("widths", WIDTHS), ("output", OUTPUTS)):
        if settings[key] not in allowed:
            raise ValueError(f"unknown {key} {settings[key]!r}: expected one of {allowed}")
    model = models["model"]
    rbf, linear = find_layers(model)
    for p in model.parameters():
        p.requires_grad_(False)  # solved, not descended
    return {
        "models": {"model": model},
        "optimizers": {},
        "schedulers": {},
        "generators": {},
        "settings": settings,
        "model": model,
        "rbf": rbf,
        "linear": linear,
        "batches": 1,
        "solved": False,
        "train": None,  # (inputs, targets) of the whole training split: what is solved on
        "report": "",
    }


def targets(state: dict[str, Any], y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if state["settings"]["task"] != "classification":
        return y.reshape(y.shape[0], -1).to(dtype)
    return unit_targets(y, state["linear"].out_features, dtype)


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    flat = x.reshape(x.shape[0], -1).to(state["linear"].weight.dtype)
    t = targets(state, y, flat.dtype)
    state["train"] = (flat, t)
    return flat, t


def kmeans(x: torch.Tensor, k: int, seed: int, iterations: int) -> torch.Tensor:
    """Lloyd's k-means from ``k`` distinct rows of ``x`` drawn with ``seed``; a cluster
    left empty keeps its centre."""
    generator = torch.Generator().manual_seed(seed)
    centres = x[torch.randperm(x.shape[0], generator=generator)[:k].to(x.device)].clone()
    assign = None
    for _ in range(max(1, iterations)):
        new = nearest_centres(x, centres)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def nearest_centres(x: torch.Tensor, centres: torch.Tensor, rows: int = 4096) -> torch.Tensor:
    """Each row's nearest centre (squared Euclidean distance), in parts of ``rows`` rows: a
    part's distances take rows × centres values, never all rows × centres × features."""
    parts = []
    for start in range(0, x.shape[0], rows):
        part = x[start : start + rows]
        d2 = part.square().sum(1, keepdim=True) - 2 * part @ centres.T + centres.square().sum(1)
        parts.append(d2.argmin(dim=1))
    return torch.cat(parts)


def widths(centres: torch.Tensor, kind: str, scale: float) -> torch.Tensor:
    k = centres.shape[0]
    if k == 1:
        return torch.ones(1, dtype=centres.dtype, device=centres.device) * scale
    d = (centres[:, None, :] - centres[None]).square().sum(-1).sqrt()
    if kind == "nearest":
        d = d + torch.diag(torch.full((k,), math.inf, dtype=d.dtype, device=d.device))
        sigma = d.min(dim=1).values
    else:
        sigma = torch.full((k,), float(d.max()) / math.sqrt(2 * k), dtype=d.dtype, device=d.device)
    return (sigma * scale).clamp_min(1e-6)


def solve(state: dict[str, Any]) -> None:
    """Both stages on the training split: centres, widths, then the output layer."""
    settings, rbf, linear = state["settings"], state["rbf"], state["linear"]
    x, t = state["train"]
    k = rbf.centres.shape[0]
    steps = []
    with torch.no_grad():
        if settings["centres"] == "kmeans":
            rbf.centres.copy_(kmeans(x, k, settings["seed"], settings["kmeans_iterations"]))
            steps.append(f"{k} centres by k-means")
        elif settings["centres"] == "samples":
            generator = torch.Generator().manual_seed(settings["seed"])
            rows = torch.randperm(x.shape[0], generator=generator)[:k].to(x.device)
            rbf.centres.copy_(x[rows])
            steps.append(f"{k} centres drawn from the training samples")
        if settings["widths"] != "keep":
            rbf.sigma.copy_(widths(rbf.centres, settings["widths"], settings["width_scale"]))
            steps.append(f"widths by the {settings['widths']} rule")
        if settings["output"] == "least_squares":
            h = rbf(x).double()
            if linear.bias is not None:
                h = torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)], 1)
            w = torch.linalg.pinv(h) @ t.double()  # (units [+ 1], outputs)
            linear.weight.copy_(w[: rbf.centres.shape[0]].T.to(linear.weight.dtype))
            if linear.bias is not None:
                linear.bias.copy_(w[-1].to(linear.bias.dtype))
            steps.append("the output layer by least squares (pseudo-inverse)")
    state["solved"] = True
    state["report"] = ", ".join(steps)


def _figures(state: dict[str, Any], x: torch.Tensor, t: torch.Tensor) -> dict[str, Any]:
    with torch.no_grad():
        out = state["linear"](state["rbf"](x))
    n = max(1, x.shape[0])
    figures: dict[str, Any] = {"loss": float(0.5 * (t - out).square().sum()) / n}
    if state["settings"]["task"] == "classification":
        if out.shape[1] == 1:
            wrong = (out[:, 0] > state["settings"]["threshold"]).to(t.dtype) != t[:, 0]
        else:
            wrong = out.argmax(dim=1) != t.argmax(dim=1)
        errors = int(wrong.sum())
        figures.update(errors=errors, accuracy=1.0 - errors / n)
    return figures


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    if not state["solved"]:
        solve(state)
    figures = _figures(state, x, y)
    return {"loss": torch.tensor(figures["loss"])}


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    if state["solved"] and epoch >= state["settings"]["epochs"]:  # said when the run ends
        report = state["report"]
        state["done"] = (
            f"Solved in the first step: {report}"
            if report
            else "Nothing to place or solve: the centres, widths and output weights are kept"
            " as they are"
        )


def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    flat = x.reshape(x.shape[0], -1).to(state["linear"].weight.dtype)
    return _figures(state, flat, targets(state, y, flat.dtype))
