"""The perceptron rule (Rosenblatt) and the delta rule (Widrow and Hoff's LMS, the ADALINE):
one layer of threshold units learns by a rule, without an optimiser or gradients.

Portable kernel (see builder/training/loop.py for the contract): standard library, numpy
and torch only; the exported script carries its source. Online, on the CPU, the rules run
in numpy on the weights' own memory (torch's per-operation cost would dominate one-sample
updates); elsewhere in torch operations, the same arithmetic. One role, ``"model"``: a compiled network
Input → (Flatten) → Linear → Step → Output. The Linear's weighted sums ``s = w·x + b`` go
through the Step: ``y = 1`` where ``s >= θ`` (the Step's threshold), else 0.

``settings`` (plain values):

- ``rule``: ``"perceptron"``: ``w ← w + η·(d − y)·x``, ``b ← b + η·(d − y)``, ``y`` the
  Step's output (a unit changes only when it is wrong); ``"delta"``: ``w ← w + η·(t − s)·x``,
  ``b ← b + η·(t − s)``, the least-mean-squares step on the Linear's output ``s`` towards
  ``t = 2d − 1`` (−1 or +1, the ADALINE's targets), thresholded by the Step to classify;
- ``learning_rate``: η;
- ``mode``: ``"online"`` (one update per sample, each batch's samples in order: the
  textbook's) or ``"batch"`` (one update per batch: the sum of its samples' changes, each at
  the batch's weights; with the batch size of the whole split, once per epoch);
- ``stop_when_separated``: end the run after an epoch without a misclassified sample;
- ``epochs``.

Targets ``d``: a single unit fires for class 1 (d = 1) and not for class 0 (d = 0); with k
units for k classes, unit j fires for class j. A sample is misclassified when any unit is
wrong; each step returns ``loss`` (the perceptron: the share of the batch's samples
misclassified before their update; the delta rule: the mean of ``½·Σ(t − s)²``) and
``mistakes`` (how many). The evaluation returns ``loss`` (the same measures over a split),
``errors`` (misclassified samples) and ``accuracy``.

After an epoch, ``state["done"]`` says why the run should end, if it should: an epoch
without errors (``stop_when_separated``); or, for the perceptron rule, weights that came
back to those after an earlier epoch although updates happened in between: each update
moves the weights strictly further along any vector that separates the classes with a
margin, so they can never come back when one exists: the data is not linearly separable
(XOR) and the rule would cycle for ever; or (the perceptron rule), errors still made in the
last epoch.

``state["last"]`` holds the step's last update for the arithmetic view: ``x``, ``s``,
``y``, ``d`` (the targets as the rule uses them), ``e`` (the error), ``w`` and ``b`` before,
``dw`` and ``db`` (batch mode: the batch's, ``x`` its rows), ``t`` (updates so far).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from builder.training.kernels.common import unit_targets

RULES = ("perceptron", "delta")
SMALL = 16  # weights of one unit the delta rule updates in Python floats (online, CPU)


def find_layers(model: nn.Module) -> tuple[nn.Linear, nn.Module]:
    """The network's one Linear and one Step (a threshold unit, builder's ``Step``)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    steps = [m for m in model.modules() if type(m).__name__ == "Step"]
    if len(linears) != 1 or len(steps) != 1:
        raise ValueError(
            f"the {'/'.join(RULES)} rules train one Linear followed by one Step; the network"
            f" has {len(linears)} Linear and {len(steps)} Step layers"
        )
    return linears[0], steps[0]


def setup(models: dict[str, nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    if settings["rule"] not in RULES:
        raise ValueError(f"unknown rule {settings['rule']!r}: expected one of {RULES}")
    if settings["mode"] not in ("online", "batch"):
        raise ValueError(f"unknown mode {settings['mode']!r}: expected online or batch")
    model = models["model"]
    linear, step = find_layers(model)
    for p in linear.parameters():
        p.requires_grad_(False)  # a rule: no gradients
    return {
        "models": {"model": model},
        "optimizers": {},
        "schedulers": {},
        "generators": {},
        "settings": settings,
        "linear": linear,
        "threshold": float(step.threshold),
        "units": linear.out_features,
        "lr": float(settings["learning_rate"]),
        "batches": 1,
        "t": 0,  # updates so far
        "epoch_mistakes": 0,
        "seen": {},  # the weights after each epoch (perceptron): a cycle means no separation
        "rows": 0,
        "last": None,
    }


def targets(state: dict[str, Any], y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Class ids as each unit's 0/1 target: (n, units)."""
    return unit_targets(y, state["units"], dtype)


def _inputs(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).to(state["linear"].weight.dtype)


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    state["rows"] = x.shape[0]
    flat = _inputs(state, x)
    return flat, targets(state, y, flat.dtype)


def _sums(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    linear = state["linear"]
    s = x @ linear.weight.T
    return s if linear.bias is None else s + linear.bias


def _errors(state: dict[str, Any], s: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """What the rule corrects: d − y (perceptron) or t − s (delta, t = 2d − 1)."""
    if state["settings"]["rule"] == "perceptron":
        return d - (s >= state["threshold"]).to(s.dtype)
    return (2 * d - 1) - s


def _apply(state: dict[str, Any], x: torch.Tensor, e: torch.Tensor) -> None:
    """w += η·eᵀ·x and b += η·Σe over the rows of ``x``; ``state["last"]`` records it."""
    linear, eta = state["linear"], state["lr"]
    w_before = linear.weight.detach().clone()
    b_before = None if linear.bias is None else linear.bias.detach().clone()
    dw = eta * e.T @ x
    db = eta * e.sum(0)
    with torch.no_grad():
        linear.weight += dw
        if linear.bias is not None:
            linear.bias += db
    state["t"] += 1
    last = state["last"]
    last.update(w=w_before, b=b_before, dw=dw, db=None if b_before is None else db)


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    online = state["settings"]["mode"] == "online"
    if online and x.device.type == "cpu":
        mistakes, loss = _online_cpu(state, x, y)
    else:
        mistakes, loss = _torch_step(state, x, y, online)
    state["epoch_mistakes"] += mistakes
    return {"loss": torch.tensor(loss / x.shape[0]), "mistakes": torch.tensor(float(mistakes))}


def _torch_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, online: bool):
    """The rule in torch operations (any device): each row in turn online, else the batch."""
    mistakes, loss = 0, 0.0
    rows = [x[i : i + 1] for i in range(x.shape[0])] if online else [x]
    targets_ = [y[i : i + 1] for i in range(y.shape[0])] if online else [y]
    for xb, db in zip(rows, targets_):
        s = _sums(state, xb)
        out = (s >= state["threshold"]).to(s.dtype)
        wrong = (out != db).any(dim=1)
        mistakes += int(wrong.sum())
        e = _errors(state, s, db)
        if state["settings"]["rule"] == "perceptron":
            loss += float(wrong.sum())
        else:
            loss += float(0.5 * e.square().sum())
        state["last"] = {"x": xb[0] if online else xb, "s": s, "y": out, "d": db, "e": e}
        state["last"]["t"] = state["t"]
        _apply(state, xb, e)
    return mistakes, loss


def _online_cpu(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> tuple[int, float]:
    """The online rule on the CPU, in numpy on the weights' own memory: the same updates as
    :func:`_torch_step`, row by row. The perceptron rule skips ahead: the rows before the
    next mistake change nothing, so the sums of all the rows left are computed at once and
    the rule jumps to the first wrong one."""
    linear, theta = state["linear"], state["threshold"]
    w = linear.weight.detach().numpy()
    b = None if linear.bias is None else linear.bias.detach().numpy()
    xs, ds = x.numpy(), y.numpy()
    eta = np.asarray(state["lr"], dtype=w.dtype)
    fires = ds > 0.5
    n, last = xs.shape[0], xs.shape[0] - 1
    before = None  # (w, b) before the update of the batch's last row
    mistakes, loss = 0, 0.0
    if state["settings"]["rule"] == "perceptron":
        i = 0
        while i < n:
            sums = xs[i:] @ w.T
            if b is not None:
                sums += b
            hits = np.flatnonzero(((sums >= theta) != fires[i:]).any(axis=1))
            if not len(hits):
                break
            j = i + int(hits[0])
            e = ds[j] - (sums[hits[0]] >= theta)
            if j == last:
                before = (w.copy(), None if b is None else b.copy())
            w += eta * np.outer(e, xs[j])
            if b is not None:
                b += eta * e
            mistakes += 1
            i = j + 1
        loss = float(mistakes)
    elif w.shape[0] == 1 and w.size <= SMALL:  # one small unit: plain Python floats
        mistakes, loss, before = _delta_floats(state, w, b, xs, ds, theta)
    else:
        mistakes, loss, before = _delta_numpy(w, b, xs, ds, eta, theta, fires)
    state["t"] += n
    _record_last(state, xs[last], ds[last], before)
    return mistakes, loss


def _delta_numpy(w: Any, b: Any, xs: Any, ds: Any, eta: Any, theta: float, fires: Any):
    """The delta rule in numpy on an augmented copy [W | b] of the weights (the inputs get
    a column of ones), written back after the batch: a dot product, a subtraction and an
    outer product per row."""
    n = xs.shape[0]
    aug = w if b is None else np.concatenate([w, b[:, None]], axis=1)
    rows = xs if b is None else np.concatenate([xs, np.ones((n, 1), dtype=xs.dtype)], axis=1)
    scaled = eta * rows
    t = 2 * ds - 1
    sums = np.empty_like(ds)  # each row's sums, as they were at its turn
    before = None
    for i in range(n):
        s = sums[i] = aug @ rows[i]
        if i == n - 1:
            before = aug.copy()
        aug += np.outer(t[i] - s, scaled[i])
    if b is not None:
        w[:] = aug[:, :-1]
        b[:] = aug[:, -1]
    if before is not None:
        before = (before, None) if b is None else (before[:, :-1].copy(), before[:, -1].copy())
    mistakes = int(((sums >= theta) != fires).any(axis=1).sum())
    return mistakes, 0.5 * float(np.square(t - sums).sum()), before


def _delta_floats(state: dict[str, Any], w: Any, b: Any, xs: Any, ds: Any, theta: float):
    """The delta rule for one unit of few weights in Python floats (double precision), the
    weights written back after the batch: one update costs a few arithmetic operations."""
    eta = float(state["lr"])
    weights, bias = w[0].tolist(), 0.0 if b is None else float(b[0])
    mistakes, loss, before = 0, 0.0, None
    rows, targets_ = xs.tolist(), ds[:, 0].tolist()
    last = len(rows) - 1
    for i, (row, d) in enumerate(zip(rows, targets_)):
        s = bias
        for wi, xi in zip(weights, row):
            s += wi * xi
        e = (2.0 * d - 1.0) - s
        mistakes += (s >= theta) != (d > 0.5)
        loss += 0.5 * e * e
        if i == last:
            before = (w.copy(), None if b is None else b.copy())
            before[0][0] = weights
            if b is not None:
                before[1][0] = bias
        step = eta * e
        weights = [wi + step * xi for wi, xi in zip(weights, row)]
        if b is not None:
            bias += step
    w[0] = weights
    if b is not None:
        b[0] = bias
    return int(mistakes), loss, before


def _record_last(state: dict[str, Any], x: Any, d: Any, before: Any) -> None:
    """``state["last"]`` for the batch's last row: its sums, output, error and change (no
    change when the rule skipped it: a right answer)."""
    linear, theta = state["linear"], state["threshold"]
    w_now = linear.weight.detach().clone()
    b_now = None if linear.bias is None else linear.bias.detach().clone()
    if before is None:
        w0, b0 = w_now, b_now
    else:
        w0 = torch.from_numpy(before[0])
        b0 = None if before[1] is None else torch.from_numpy(before[1])
    xt, dt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(d))[None]
    s = (xt @ w0.T + (0 if b0 is None else b0))[None]
    out = (s >= theta).to(s.dtype)
    e = _errors(state, s, dt)
    state["last"] = {
        "x": xt,
        "s": s,
        "y": out,
        "d": dt,
        "e": e,
        "t": state["t"] - 1,
        "w": w0,
        "b": b0,
        "dw": w_now - w0,
        "db": None if b0 is None else b_now - b0,
    }


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    settings = state["settings"]
    mistakes, state["epoch_mistakes"] = state["epoch_mistakes"], 0
    n = state["rows"]
    if mistakes == 0 and settings["stop_when_separated"]:
        state["done"] = (
            f"Converged after epoch {epoch}: an epoch without errors, every one of the {n}"
            " training samples is classified right"
        )
        return
    if settings["rule"] == "perceptron" and mistakes:
        linear = state["linear"]
        key = (tuple(linear.weight.reshape(-1).tolist()),) + (
            () if linear.bias is None else (tuple(linear.bias.tolist()),)
        )
        before = state["seen"].get(key)
        # the proof needs a bias (or the threshold at 0): without one, a rule whose steps are
        # too coarse can cycle although a separating line exists
        provable = linear.bias is not None or state["threshold"] == 0
        if before is not None and not provable:
            state["done"] = (
                f"The perceptron rule cycles: after epoch {epoch} the weights are back where"
                f" they were after epoch {before}, with {mistakes} of the {n} samples wrong."
                " The unit has no bias and its threshold is not 0, so this does not prove the"
                " classes inseparable: give the Linear layer a bias, or lower the learning rate"
            )
            return
        if before is not None:
            state["done"] = (
                f"Not linearly separable: after epoch {epoch} the weights are back where they"
                f" were after epoch {before}, and {mistakes} of the {n} samples were wrong when"
                " their turn came in this epoch: the perceptron rule would cycle for ever. No straight line"
                " (hyperplane) separates these classes: add a hidden layer and train with"
                " backprop (the supervised procedure, Sigmoid instead of Step)"
            )
            return
        state["seen"][key] = epoch
    if settings["rule"] == "perceptron" and epoch >= settings["epochs"] and mistakes:
        state["done"] = (
            f"Not converged after {epoch} epochs: {mistakes} of {n} samples were misclassified"
            " in the last one; the data may not be linearly separable, or it needs more"
            " epochs or another learning rate"
        )


def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    flat = _inputs(state, x)
    d = targets(state, y, flat.dtype)
    with torch.no_grad():
        s = _sums(state, flat)
    wrong = ((s >= state["threshold"]).to(s.dtype) != d).any(dim=1)
    errors = int(wrong.sum())
    n = max(1, flat.shape[0])
    if state["settings"]["rule"] == "perceptron":
        loss = errors / n
    else:
        loss = float(0.5 * _errors(state, s, d).square().sum()) / n
    return {"loss": loss, "errors": errors, "accuracy": 1.0 - errors / n}
