"""(A little over 600 lines: most of it is the settings' documentation below, which the
exported script carries with the code.)

Self-organizing maps (Kohonen): competitive learning on a grid of units, by a rule (no
optimiser, no gradients). For each sample the best-matching unit (BMU, the unit whose
weights are nearest) wins, and every unit moves towards the sample by
``η(t) · h(BMU, unit, σ(t))``: MiniSom's rule ``w += η·h·(x - w)``.

Portable kernel (see builder/training/loop.py for the contract): standard library and torch
only, with :mod:`builder.catalog.modules` (the SOM module); the exported script carries its
source. One role, ``"map"``: a compiled network holding exactly one ``SOM`` module. What the
layers before the SOM make of a sample is the SOM's input: those layers are fixed, so
:func:`prepare` computes it once for the training split (a forward pre-hook on the SOM takes
it and stops the forward), and the steps' batches are those inputs (the loop's augmentation,
if any, would apply to them: a procedure leaves it off).

``settings`` (plain values):

- ``mode``: ``"online"`` (one update per sample, each batch's samples in order: MiniSom's
  ``train``), ``"batch"`` (Kohonen's batch map, one update per epoch: every batch of the
  epoch adds its samples' ``h·x`` and ``h`` up, with the BMUs of the weights the epoch began
  with, and the epoch's last batch moves each unit that any sample reached to
  ``(1 - η)·w + η·Σh·x / Σh``: MiniSom's ``train_batch_offline``; η = 1 is Kohonen's
  original, the weighted mean), or ``"minibatch"`` (one update per batch, TorchSOM's:
  ``w += η/B · Σ_b h_b·(x_b - w)``, the mean of the batch's online changes at the batch's
  weights);
- ``neighbourhood``: ``"gaussian"`` (exp(-d²/2σ²), d the distance on the grid's plane),
  ``"mexican_hat"`` (exp(-d²/2σ²)·(1 - d²/σ²): neighbours near pulled, farther ones
  pushed), ``"bubble"`` (1 for units fewer than σ cells away along both rows and columns,
  else 0) or ``"triangle"`` ((σ - Δrow)⁺·(σ - Δcol)⁺, in cells): MiniSom's four (bubble
  and triangle count cells on hexagonal maps too, as MiniSom's do). σ = 0 (any
  neighbourhood) is pure winner-take-all competitive learning: only the winner moves;
- ``learning_rate``, ``learning_rate_end``: η's start and end; ``sigma``, ``sigma_end``: σ's
  (in grid units: neighbouring units are 1 apart);
- ``decay`` (for η) and ``sigma_decay`` (for σ), each of:
  ``"asymptotic"``: start / (1 + t/(T/2)), MiniSom's default ``asymptotic_decay`` (it ends at
  start/3 and ignores the end value, as MiniSom's does); ``"inverse"``: start / (1 + t·c)
  with c = (start/end - 1)/T, reaching the end value at T (end 1: MiniSom's
  ``inverse_decay_to_one``; end 0: MiniSom's ``inverse_decay_to_zero``,
  start·C/(C + t) with C = T/100); ``"linear"``: from start to end in a straight line (end
  0: MiniSom's ``linear_decay_to_zero``, end 1: ``linear_decay_to_one``; end = start: a
  constant); ``"exponential"``: start·(end/start)^(t/T) (end > 0);
- ``init``: how :func:`prepare` sets the codebook: ``"random"`` (uniform within each
  feature's range in the training data), ``"samples"`` (each unit a training sample drawn at
  random: MiniSom's ``random_weights_init``), ``"pca"`` (MiniSom's ``pca_weights_init``: the
  data's mean plus c1·pc1 + c2·pc2 with c1, c2 evenly from -1 to 1 along the rows and
  columns, pc1, pc2 the unit eigenvectors of the covariance's two largest eigenvalues; their
  signs, which LAPACK leaves open, are fixed so that each one's largest entry is positive:
  the map may come out mirrored against MiniSom's), or ``"keep"`` (the weights as they are).
  Weights that changed since :func:`setup` (a resumed run's checkpoint was loaded) are kept;
- ``epochs``, ``seed`` (the init's and the evaluation sample's draws), ``eval_rows`` (QE and
  TE on a fixed seeded sample of at most this many rows of a split; 0 or None: all).

Time: ``t`` counts updates, from 0, and ``T`` is the run's number of updates: online, the
samples seen and epochs × training rows (MiniSom's ``train(data, T)`` without
``use_epochs``); batch, the epochs done and ``epochs``; mini-batch, the batches done and
epochs × batches per epoch. Each step returns ``loss`` (the mean Euclidean distance from the
batch's samples to their BMU, each before its update: the batch's quantisation error),
``eta`` and ``sigma`` (of the step's last update). The evaluation returns ``loss`` = ``qe``
(MiniSom's ``quantization_error``: the mean Euclidean distance from a sample to its nearest
unit, whatever the activation distance) and ``te`` (``topographic_error``: the share of
samples whose two nearest units are not neighbours: on a rectangular map 8 neighbours, on a
hexagonal one the units 1 away; NaN for a one-unit map); toroidal maps count neighbours the
short way round.

``state["last"]`` holds what live views and step mode show of the step's last update:
``x`` (the sample; batch modes: the batch), ``distances`` (what picked the winner: ‖x - w‖²
for every unit with the euclidean distance, else the cosine or Manhattan distance; batch
modes: (batch, units)), ``winner`` (an int; batch modes: a tensor of the batch's BMUs),
``h`` (the neighbourhood weights, without η: (units,); batch modes: (k, units), one row
for each unit that won, ``won`` their indices), ``delta`` (the change of every weight;
batch mode: None until the epoch's update), ``eta``, ``sigma``, ``t``. References and small
tensors only (batch modes on a big map: ``distances`` and ``h`` None, as they are made in
parts). ``state["warnings"]`` lists advice for the user (σ larger than the map, more units
than samples with the 5·√N rule of thumb, a bubble or triangle σ that is not whole).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from builder.catalog.modules import som_delta, som_distances, som_layout

MODES = ("online", "batch", "minibatch")
NEIGHBOURHOODS = ("gaussian", "mexican_hat", "bubble", "triangle")
DECAYS = ("asymptotic", "inverse", "linear", "exponential")
INITS = ("random", "samples", "pca", "keep")
EVAL_CHUNK = 4096  # rows per forward pass / distance matrix
INIT_SEED = 10  # the init draws from seed + 10; the evaluation sample from seed + 11
TABLE_UNITS = 2500  # up to this many units the unit-to-unit grid table is kept (U² values)
CELLS = 1 << 22  # a (rows, units) matrix is made in parts of at most this many values
# Neighbourhood weights below this are 0: far units would otherwise take subnormal values,
# which x86 CPUs compute ~100× slower (their change, < 1e-30·|x - w|, rounds away anyway).
TINY = 1e-30
HEX_TOLERANCE = (1e-5, 1e-8)  # numpy.isclose's: hexagonal neighbours are 1 apart


class _Captured(Exception):
    """Raised by the SOM's forward pre-hook once its input is taken: the rest of the
    network's forward is not needed."""


def find_som(model: nn.Module) -> nn.Module:
    """The network's one SOM module (ValueError when it has none, or several)."""
    found = [m for m in model.modules() if type(m).__name__ == "SOM"]
    if len(found) != 1:
        raise ValueError(
            f"the 'map' network must hold exactly one SOM layer, it holds {len(found)}:"
            + (" add one" if not found else " keep one")
        )
    return found[0]


def decayed(kind: str, start: float, end: float, t: float, total: float) -> float:
    """``start`` decayed to ``t`` of ``total`` updates (see the module's docstring); the
    formulas MiniSom has are written as MiniSom writes them, to the last bit."""
    if kind == "asymptotic":
        return start / (1 + t / (total / 2))
    if kind == "linear":
        if end == 0:
            return start * (1 - t / total)
        return start + (end - start) * t / total
    if start == 0:
        return 0.0
    if kind == "inverse":
        if end <= 0:
            c = total / 100.0
            return start * c / (c + t)
        c = (start / end - 1) / total
        return start / (1 + (t * c))
    return start * (end / start) ** (t / total)  # exponential


def _check(settings: dict[str, Any]) -> None:
    for key, allowed in (
        ("mode", MODES),
        ("neighbourhood", NEIGHBOURHOODS),
        ("decay", DECAYS),
        ("sigma_decay", DECAYS),
        ("init", INITS),
    ):
        if settings[key] not in allowed:
            raise ValueError(
                f"unknown SOM {key} {settings[key]!r}: expected one of {', '.join(allowed)}"
            )
    for key in ("learning_rate", "learning_rate_end", "sigma", "sigma_end"):
        value = settings[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"the SOM's {key} must be a number >= 0, got {value!r}")
    for rate, decay in (("learning_rate", "decay"), ("sigma", "sigma_decay")):
        if settings[decay] == "exponential" and settings[rate] > 0 >= settings[rate + "_end"]:
            raise ValueError(
                f"exponential decay never reaches 0: give {rate}_end a value > 0, or use"
                " linear decay to reach 0"
            )
    if settings["epochs"] < 1:
        raise ValueError(f"a SOM trains for at least 1 epoch, got {settings['epochs']}")


def setup(models: dict[str, nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    _check(settings)
    model = models["map"]
    som = find_som(model)
    weight = som.weight
    dtype, device = weight.dtype, weight.device
    rows, cols, units = som.rows, som.cols, som.rows * som.cols
    hexagonal = som.topology == "hexagonal"
    positions, index, period = som_layout(rows, cols, hexagonal)
    cells = torch.tensor([float(rows), float(cols)], dtype=torch.float64)
    kind = settings["neighbourhood"]
    # What the neighbourhood is a function of: distances on the plane, or cells apart; the
    # topographic error: cells apart on a rectangular map, distances on a hexagonal one.
    planar = kind in ("gaussian", "mexican_hat")
    coords, wrap = (positions, period) if planar else (index, cells)
    te_coords, te_wrap = (positions, period) if hexagonal else (index, cells)
    if not som.toroidal:
        wrap = te_wrap = None
    state: dict[str, Any] = {
        "models": {"map": model},
        "optimizers": {},
        "schedulers": {},
        "generators": {},
        "settings": settings,
        "map": model,
        "som": som,
        "weight": weight,
        "mode": settings["mode"],
        "kind": kind,
        "euclidean": som.distance == "euclidean",
        "units": units,
        "batches": 1,
        "rows": 0,  # training rows (prepare)
        "seen": 0,  # samples (online) updated on this epoch
        "start": weight.detach().clone(),  # to tell loaded weights (a resume) from fresh ones
        "coords": coords.to(device=device, dtype=dtype),
        "wrap": None if wrap is None else wrap.to(device=device, dtype=dtype),
        "table": None,
        "hexagonal": hexagonal,
        "te_coords": te_coords.to(device),
        "te_wrap": None if te_wrap is None else te_wrap.to(device),
        "last": None,
        "eval": None,  # (split, rows' SOM inputs): the evaluation's sample, kept
        "warnings": _warnings(settings, rows, cols),
    }
    if units <= TABLE_UNITS:  # one exact float64 table, read a row per update
        on = coords.to(device)
        table = _grid(on, on, None if wrap is None else wrap.to(device), kind)
        state["table"] = table.to(dtype)
    return state


def _warnings(settings: dict[str, Any], rows: int, cols: int) -> list[str]:
    out = []
    sigma = settings["sigma"]
    if sigma > math.hypot(rows, cols):
        out.append(
            f"sigma {sigma:g} is larger than the map ({rows} × {cols}): every unit moves"
            " almost alike (MiniSom warns too)"
        )
    if settings["neighbourhood"] in ("bubble", "triangle") and sigma and (sigma < 1 or sigma % 1):
        out.append("bubble and triangle neighbourhoods count whole cells: use a sigma >= 1, whole")
    return out


def _grid(coords: torch.Tensor, at: torch.Tensor, wrap: torch.Tensor | None, kind: str):
    """What the neighbourhood of units ``at`` (k, 2) reads for every unit: squared
    distances on the plane (k, U), the larger of the cells apart along rows and columns
    (bubble) or both (triangle: (k, U, 2))."""
    delta = som_delta(coords, at, wrap)
    if kind in ("gaussian", "mexican_hat"):
        return delta.square().sum(-1)
    if kind == "bubble":
        return delta.abs().amax(-1)
    return delta.abs()


def grid_rows(state: dict[str, Any], winners: Any) -> torch.Tensor:
    """:func:`_grid` of the units ``winners`` (an int, or a tensor of indices)."""
    table = state["table"]
    if table is not None:
        return table[winners]
    coords = state["coords"]
    at = coords[winners]
    single = at.dim() == 1
    rows = _grid(coords, at.reshape(-1, 2), state["wrap"], state["kind"])
    return rows[0] if single else rows


def neighbourhood(state: dict[str, Any], base: torch.Tensor, sigma: float) -> torch.Tensor:
    """h from :func:`grid_rows`' ``base`` at ``sigma`` > 0 (a new tensor)."""
    kind = state["kind"]
    if kind == "gaussian":
        h = torch.mul(base, -1.0 / (2 * sigma * sigma)).exp_()
        return F.threshold_(h, TINY, 0.0)
    if kind == "mexican_hat":
        d = 2 * sigma * sigma
        h = F.threshold_(torch.mul(base, -1.0 / d).exp_(), TINY, 0.0)
        return h.mul_(1 - (2 / d) * base)
    if kind == "bubble":
        return (base < sigma).to(base.dtype)
    return (sigma - base).clamp_(min=0).prod(-1)  # triangle


def map_inputs(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """The SOM's inputs for the rows of ``x`` (the network's inputs), flattened: (n,
    features), in the weights' dtype; the network runs in evaluation mode up to the SOM."""
    model, som = state["map"], state["som"]
    taken: list[torch.Tensor] = []

    def take(module: nn.Module, args: tuple[Any, ...]) -> None:
        taken.append(args[0])
        raise _Captured

    was = model.training
    model.eval()
    try:  # the hook's handle takes the hook off when the block ends
        with som.register_forward_pre_hook(take), torch.no_grad():
            for start in range(0, x.shape[0], EVAL_CHUNK):
                try:
                    model(x[start : start + EVAL_CHUNK])
                except _Captured:
                    pass
                else:
                    raise ValueError("the network's forward does not reach its SOM layer")
    finally:
        model.train(was)
    weight = state["weight"]
    if not taken:
        return torch.empty((0, som.features), dtype=weight.dtype, device=weight.device)
    out = torch.cat([t.reshape(t.shape[0], -1) for t in taken])
    return out.to(device=weight.device, dtype=weight.dtype)


def _finite(x: torch.Tensor, what: str) -> None:
    bad = ~torch.isfinite(x).all(dim=1)
    count = int(bad.sum())
    if count:
        first = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{what} has {count} row{'s' if count > 1 else ''} with NaN or infinite values"
            f" (the first: row {first}): a SOM cannot place them; drop or fill them in"
        )


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    """The SOM's inputs for the training split (the steps' batches), checked; the codebook
    set by ``init`` (unless weights were loaded since :func:`setup`)."""
    inputs = map_inputs(state, x)
    n = inputs.shape[0]
    if n == 0:
        raise ValueError("the training split is empty: a SOM needs samples to learn from")
    _finite(inputs, "the SOM's input")
    state["rows"] = n
    units = state["units"]
    if units > n:
        rule = 5 * math.sqrt(n)
        side = max(1, round(math.sqrt(rule)))
        state["warnings"].append(
            f"the map has {units} units for {n} training samples: many units will win"
            f" nothing. A rule of thumb is about 5·√N = {rule:.0f} units (e.g. {side} × {side})"
        )
    weight = state["weight"]
    start = state["start"]  # None once prepared: the codebook is set once per setup
    if state["settings"]["init"] != "keep" and start is not None and torch.equal(weight, start):
        with torch.no_grad():
            weight.copy_(initial_weights(state, inputs))
    state["start"] = None
    return inputs, y


def initial_weights(state: dict[str, Any], inputs: torch.Tensor) -> torch.Tensor:
    """The codebook ``settings["init"]`` makes from the training inputs (n, features)."""
    settings, som = state["settings"], state["som"]
    kind, units, n = settings["init"], state["units"], inputs.shape[0]
    gen = torch.Generator(device=inputs.device).manual_seed(settings["seed"] + INIT_SEED)
    if kind == "samples":
        rows = torch.randint(0, n, (units,), generator=gen, device=inputs.device)
        return inputs[rows]
    if kind == "random":
        lo, hi = inputs.min(dim=0).values, inputs.max(dim=0).values
        shape = (units, inputs.shape[1])
        u = torch.rand(shape, generator=gen, device=inputs.device, dtype=inputs.dtype)
        return lo + (hi - lo) * u
    # pca, in float64
    if inputs.shape[1] < 2:
        raise ValueError("pca initialisation needs at least 2 features: use random or samples")
    if n < 2:
        raise ValueError("pca initialisation needs at least 2 samples: use random or samples")
    data = inputs.double()
    values, vectors = torch.linalg.eigh(torch.cov(data.t()))
    order = torch.argsort(values, descending=True)
    pcs = vectors[:, order[:2]]  # (features, 2), unit columns
    largest = pcs.abs().argmax(dim=0)
    pcs = pcs * torch.sign(pcs[largest, torch.arange(2, device=pcs.device)])
    c1 = torch.linspace(-1, 1, som.rows, dtype=torch.float64, device=data.device)
    c2 = torch.linspace(-1, 1, som.cols, dtype=torch.float64, device=data.device)
    grid = torch.stack(torch.meshgrid(c1, c2, indexing="ij"), dim=-1).reshape(-1, 2)
    mean = data.mean(dim=0)
    return (mean + grid[:, :1] * pcs[:, 0] + grid[:, 1:] * pcs[:, 1]).to(inputs.dtype)


def rates(state: dict[str, Any], t: float, total: float) -> tuple[float, float]:
    """(η, σ) at update ``t`` of ``total``."""
    s = state["settings"]
    eta = decayed(s["decay"], s["learning_rate"], s["learning_rate_end"], t, total)
    sigma = decayed(s["sigma_decay"], s["sigma"], s["sigma_end"], t, total)
    return eta, sigma


@torch.no_grad()
def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    epoch, b = divmod(step, state["batches"])
    if b == 0:
        state["seen"] = 0
    logs = _online(state, x, epoch) if state["mode"] == "online" else _batched(state, x, epoch, b)
    state["lr"] = state["last"]["eta"]  # the learning rate the records show: η(t)
    return logs


def _online(state: dict[str, Any], x: torch.Tensor, epoch: int) -> dict[str, Any]:
    """One update per sample of ``x``, in order (the hot path: a handful of tensor operations
    per sample, the neighbourhood read off the precomputed grid table)."""
    weight = state["weight"]
    n = x.shape[0]
    total = state["settings"]["epochs"] * state["rows"]
    t0 = epoch * state["rows"] + state["seen"]
    state["seen"] += n
    diff = state.get("diff")
    if diff is None or diff.shape != weight.shape or diff.dtype != weight.dtype:
        diff = state["diff"] = torch.empty_like(weight)
    euclidean, gaussian = state["euclidean"], state["kind"] == "gaussian"
    table = state["table"] if gaussian else None
    scratch = torch.empty(state["units"], dtype=weight.dtype, device=weight.device)
    lengths = []
    eta = sigma = 0.0
    for k in range(n):
        t = t0 + k
        eta, sigma = rates(state, t, total)
        sample = x[k]
        torch.sub(sample, weight, out=diff)
        if euclidean:
            dist = torch.linalg.vector_norm(diff, dim=1)
            length, win = torch.min(dist, 0)
        else:
            dist = _activation(state, sample, diff)
            win = dist.argmin()
            length = torch.linalg.vector_norm(diff[win])
        lengths.append(length)
        if k == n - 1:
            _record(state, sample, dist, win, diff, eta, sigma, t)
        elif sigma <= 0:  # winner-take-all: one row moves
            w = int(win)
            weight[w].add_(diff[w], alpha=eta)
        elif table is not None:  # the common case, inlined
            torch.mul(table[win], -1.0 / (2 * sigma * sigma), out=scratch)
            h = F.threshold_(scratch.exp_(), TINY, 0.0)
            weight.addcmul_(h.unsqueeze(1), diff, value=eta)
        else:
            h = neighbourhood(state, grid_rows(state, win), sigma)
            weight.addcmul_(h.unsqueeze(1), diff, value=eta)
    loss = torch.stack(lengths).mean()
    return {"loss": loss, "eta": torch.tensor(eta), "sigma": torch.tensor(sigma)}


def _activation(state: dict[str, Any], sample: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
    """The cosine or Manhattan distance from ``sample`` to every unit (``diff`` = x - w)."""
    if state["som"].distance == "manhattan":
        return torch.linalg.vector_norm(diff, ord=1, dim=1)
    return som_distances(sample.unsqueeze(0), state["weight"], "cosine")[0]


def _record(state, sample, dist, win, diff, eta, sigma, t) -> None:
    """The batch's last update, done with what step mode shows kept (``state["last"]``)."""
    weight = state["weight"]
    w = int(win)
    if sigma <= 0:
        h = torch.zeros(state["units"], dtype=weight.dtype, device=weight.device)
        h[w] = 1
    else:
        h = neighbourhood(state, grid_rows(state, w), sigma)
    delta = diff * (h * eta).unsqueeze(1)
    weight.add_(delta)
    shown = diff.square().sum(1) if state["euclidean"] else dist
    state["last"] = {
        "x": sample,
        "distances": shown,
        "winner": w,
        "h": h,
        "delta": delta,
        "eta": eta,
        "sigma": sigma,
        "t": t,
    }


def sums(
    state: dict[str, Any], x: torch.Tensor, winners: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Σ h·x (units, features) and Σ h (units,) over the rows of ``x`` won by ``winners``,
    with the units that won (k,) and their neighbourhoods (k, units; None when they were
    taken in parts, for a big map).

    The samples are added up by winner first (a sample's h depends only on its winner), so
    the cost is k × units × features for the k ≤ min(batch, units) winning units, not batch ×
    units × features: the batch SOM's usual shortcut (SOM Toolbox, somoclu)."""
    weight = state["weight"]
    units = state["units"]
    total = torch.zeros((units, x.shape[1]), dtype=weight.dtype, device=weight.device)
    total.index_add_(0, winners, x)
    counts = torch.bincount(winners, minlength=units).to(weight.dtype)
    won = counts.nonzero().squeeze(1)
    if sigma <= 0:  # winner-take-all: each unit's own samples
        small = won.shape[0] * units <= CELLS
        return total, counts, won, F.one_hot(won, units).to(weight.dtype) if small else None
    part = max(1, CELLS // units)
    numerator, denominator, h = torch.zeros_like(total), torch.zeros_like(counts), None
    for start in range(0, won.shape[0], part):
        some = won[start : start + part]
        h = neighbourhood(state, grid_rows(state, some), sigma)
        numerator.addmm_(h.t(), total[some])
        denominator.add_(h.t() @ counts[some])
    return numerator, denominator, won, h if won.shape[0] <= part else None


def nearest(state: dict[str, Any], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The BMU of every row of ``x`` and the distances that chose them (squared with the
    euclidean distance; None when a big map's were taken in parts)."""
    weight = state["weight"]
    kind = state["som"].distance
    part = max(1, CELLS // state["units"])
    winners, dist = [], None
    w_sq = weight.square().sum(1) if kind == "euclidean" else None
    for start in range(0, x.shape[0], part):
        xb = x[start : start + part]
        if w_sq is not None:
            dist = torch.addmm(xb.square().sum(1, keepdim=True), xb, weight.t(), alpha=-2)
            dist.add_(w_sq).clamp_(min=0)
        else:
            dist = som_distances(xb, weight, kind)
        winners.append(dist.argmin(dim=1))
    return torch.cat(winners), dist if x.shape[0] <= part else None


def _batched(state: dict[str, Any], x: torch.Tensor, epoch: int, b: int) -> dict[str, Any]:
    """The batch map (accumulate, update on the epoch's last batch) and mini-batches."""
    weight = state["weight"]
    settings = state["settings"]
    batches = state["batches"]
    if state["mode"] == "batch":
        eta, sigma = rates(state, epoch, settings["epochs"])
        t = epoch
    else:
        t = epoch * batches + b
        eta, sigma = rates(state, t, settings["epochs"] * batches)
    winners, dist = nearest(state, x)
    loss = torch.linalg.vector_norm(x - weight[winners], dim=1).mean()
    numerator, denominator, won, h = sums(state, x, winners, sigma)
    delta = None
    if state["mode"] == "minibatch":
        # TorchSOM: w += η/B·(Σ h·x - Σ h·w)
        delta = (numerator - denominator.unsqueeze(1) * weight) * (eta / x.shape[0])
        weight.add_(delta)
    else:
        if b == 0:
            state["sums"] = (numerator, denominator)
        else:
            num, den = state["sums"]
            num.add_(numerator)
            den.add_(denominator)
        if b == batches - 1:
            num, den = state["sums"]
            reached = (den > 0).unsqueeze(1)
            mean = num / torch.where(reached, den.unsqueeze(1), torch.ones_like(den).unsqueeze(1))
            new = torch.where(reached, (1 - eta) * weight + eta * mean, weight)
            delta = new - weight
            weight.copy_(new)
            state["sums"] = None
    state["last"] = {
        "x": x,
        "distances": dist,
        "winner": winners,
        "won": won,
        "h": h,
        "delta": delta,
        "eta": eta,
        "sigma": sigma,
        "t": t,
    }
    return {"loss": loss, "eta": torch.tensor(eta), "sigma": torch.tensor(sigma)}


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    pass


def eval_inputs(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """The SOM's inputs for the evaluation's fixed sample of split ``x``: at most
    ``eval_rows`` rows drawn once (seeded), kept while the split is the same tensor."""
    kept = state["eval"]
    if kept is not None and kept[0] is x:
        return kept[1]
    settings = state["settings"]
    n, limit = x.shape[0], settings.get("eval_rows")
    sample = x
    if limit and n > limit:
        gen = torch.Generator().manual_seed(settings["seed"] + INIT_SEED + 1)
        rows = torch.randperm(n, generator=gen)[:limit].sort().values
        sample = x.index_select(0, rows.to(x.device))
    inputs = map_inputs(state, sample)
    _finite(inputs, "the evaluated split's SOM input")
    state["eval"] = (x, inputs)
    return inputs


@torch.no_grad()
def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    inputs = eval_inputs(state, x)
    qe, te = errors(state, inputs)
    return {"loss": qe, "qe": qe, "te": te}


def errors(state: dict[str, Any], inputs: torch.Tensor) -> tuple[float, float]:
    """(quantisation error, topographic error) of ``inputs`` (n, features), MiniSom's."""
    weight = state["weight"]
    n = inputs.shape[0]
    if n == 0:
        return math.nan, math.nan
    qe_sum = torch.zeros((), dtype=torch.float64, device=weight.device)
    neighbours = 0
    several = state["units"] > 1
    part = max(1, min(EVAL_CHUNK, CELLS // state["units"]))
    for start in range(0, n, part):
        xb = inputs[start : start + part]
        d = som_distances(xb, weight, "euclidean")
        best = d.argmin(dim=1)
        qe_sum += torch.linalg.vector_norm(xb - weight[best], dim=1).double().sum()
        if several:
            two = torch.topk(d, 2, dim=1, largest=False).indices
            neighbours += int(adjacent(state, two[:, 0], two[:, 1]).sum())
    if not several:
        return float(qe_sum) / n, math.nan
    # written as MiniSom writes each, to the last bit
    te = 1 - neighbours / n if state["hexagonal"] else (n - neighbours) / n
    return float(qe_sum) / n, te


def adjacent(state: dict[str, Any], a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Whether units ``a`` and ``b`` (index tensors) are neighbours, as MiniSom's
    topographic error has it: cells at most 1 apart along rows and columns (distance <=
    1.42) on a rectangular map, centres 1 apart (numpy.isclose) on a hexagonal one."""
    coords, wrap = state["te_coords"], state["te_wrap"]
    delta = coords[b] - coords[a]
    if wrap is not None:
        delta = delta - wrap * torch.round(delta / wrap)
    length = torch.linalg.vector_norm(delta, dim=1)
    if not state["hexagonal"]:
        return length <= 1.42
    rtol, atol = HEX_TOLERANCE
    return (1 - length).abs() <= atol + rtol * length
