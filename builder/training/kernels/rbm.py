"""Restricted Boltzmann machines trained by contrastive divergence (Hinton): CD-k, or
persistent CD (Tieleman's stochastic maximum likelihood, scikit-learn's BernoulliRBM), with
momentum, weight decay and a sparsity target. A learning rule: no optimiser, no loss to
differentiate.

Portable kernel (see builder/training/loop.py for the contract): standard library, numpy
and torch only, with builder's ``RBM`` module; the exported script carries its source. On
the CPU the plain update (no momentum, decay or sparsity) runs in numpy on the parameters'
own memory, from the same uniform draws as the torch operations used elsewhere. One role,
``"model"``: a compiled network holding one RBM layer after its Input (a Flatten between
them for images); the layers after it, if any, are not trained here.

``settings`` (plain values):

- ``k``: Gibbs steps in the negative phase; ``persistent``: the negative phase continues
  chains kept from the last update (as many as the batch size, started at h = 0) instead of
  starting at the data;
- ``learning_rate`` η, ``momentum``, ``weight_decay`` (L2 on W), ``sparsity_target`` (0:
  off) and ``sparsity_cost``: the hidden biases are pulled by cost·(target − mean p(h|v));
- ``binarise``: ``"no"`` (values in [0, 1] are taken as probabilities, as scikit-learn
  does), ``"threshold"`` (1 above 0.5) or ``"sample"`` (1 with the value's probability,
  drawn again each step);
- ``seed`` (the sampler's generator, checkpointed), ``eval_rows``.

Each update on a batch v⁺ (B rows): h⁺ = p(h|v⁺); the negative phase samples k Gibbs steps
(h ~ p(h|v), v ~ p(v|h)) from the data's hidden sample (CD) or from the chains (PCD), giving
v⁻ and h⁻ = p(h|v⁻); then, with ⟨·⟩ the mean over rows,
``ΔW = η·(⟨h⁺ᵀv⁺⟩ − ⟨h⁻ᵀv⁻⟩ − weight_decay·W)``, ``Δb = η·(⟨v⁺⟩ − ⟨v⁻⟩)``,
``Δc = η·(⟨h⁺⟩ − ⟨h⁻⟩ + sparsity_cost·(target − ⟨h⁺⟩))``, each added to momentum × the last
change. With k = 1, persistent, no momentum, decay or sparsity this is scikit-learn's
update. Each step returns ``loss`` (the batch's mean squared reconstruction error, v⁺
against p(v | h⁺), with the weights before the update, as a supervised step's loss). The
evaluation returns ``update_ratio`` (‖ΔW‖ / ‖W‖ of the last update), ``loss`` (the
reconstruction error), ``pseudo_likelihood`` (scikit-learn's: each row with one
feature flipped, features × log σ(F(ṽ) − F(v)), the flips drawn with ``seed``),
``free_energy`` (the split's mean F(v)) and ``free_energy_gap`` (that minus the mean over a
fixed sample of training rows: growing, the model overfits).

``state["last"]`` holds the step's update for the Step tab: ``v`` (the batch), ``h_pos``,
``h_start`` (the first row's hidden state the chain starts from: the data's sample, or the
persistent chain's), ``v_neg``, ``h_neg``, ``dW``, ``db``, ``dc`` (the torch path above
``RECORD_WEIGHTS``: None),
``before`` (W, b, c before the update; None above ``RECORD_WEIGHTS`` weights), ``t``,
``rows``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

BINARISE = ("no", "threshold", "sample")
RECORD_WEIGHTS = 200  # an RBM this small keeps its weights from before each update


def find_rbm(model: nn.Module) -> nn.Module:
    rbms = [m for m in model.modules() if type(m).__name__ == "RBM"]
    if len(rbms) != 1:
        raise ValueError(f"the rbm procedure trains one RBM layer; the network has {len(rbms)}")
    return rbms[0]


def setup(models: dict[str, nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    if settings["binarise"] not in BINARISE:
        raise ValueError(f"unknown binarise {settings['binarise']!r}: expected one of {BINARISE}")
    if settings["k"] < 1:
        raise ValueError(f"k (Gibbs steps) must be >= 1, got {settings['k']}")
    model = models["model"]
    rbm = find_rbm(model)
    for p in rbm.parameters():
        p.requires_grad_(False)
    device = rbm.weight.device
    generator = torch.Generator(device=device).manual_seed(int(settings["seed"]))
    return {
        "models": {"model": model},
        "optimizers": {},
        "schedulers": {},
        "generators": {"sampler": generator},
        "settings": settings,
        "model": model,
        "rbm": rbm,
        "lr": float(settings["learning_rate"]),
        # checkpointed: the persistent chains (PCD: the hidden states the negative phase goes
        # on from, made at the first step) and the momentum's last changes
        "buffers": {
            "chains": None,
            "velocity_w": torch.zeros_like(rbm.weight),
            "velocity_b": torch.zeros_like(rbm.visible_bias),
            "velocity_c": torch.zeros_like(rbm.hidden_bias),
        },
        "train_sample": None,  # fixed training rows for the free-energy gap
        "batches": 1,
        "t": 0,
        "last": None,
    }


def visible(state: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """A batch as the visible units take it: flattened, binarised as the settings say."""
    v = x.reshape(x.shape[0], -1).to(state["rbm"].weight.dtype)
    how = state["settings"]["binarise"]
    if how == "threshold":
        return (v > 0.5).to(v.dtype)
    if how == "sample":
        return _draw(v.clamp(0, 1), state["generators"]["sampler"])
    return v


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    flat = x.reshape(x.shape[0], -1).to(state["rbm"].weight.dtype)
    rows = min(flat.shape[0], int(state["settings"].get("eval_rows") or flat.shape[0]))
    generator = torch.Generator().manual_seed(int(state["settings"]["seed"]) + 1)
    pick = torch.randperm(flat.shape[0], generator=generator)[:rows].to(flat.device)
    sample = flat[pick]
    if state["settings"]["binarise"] == "threshold":  # as evaluate takes its split
        sample = (sample > 0.5).to(sample.dtype)
    state["train_sample"] = sample
    return flat, y


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    settings = state["settings"]
    plain = not (settings["momentum"] or settings["weight_decay"] or settings["sparsity_target"])
    if plain and x.device.type == "cpu":
        return _numpy_step(state, x)  # no autograd there: no no_grad context to enter
    with torch.no_grad():
        return _torch_step(state, x)


def _uniforms(state: dict[str, Any], rows: int, chains: int, features: int, hidden: int):
    """Every uniform draw of one update, in one call of the sampler (checkpointed): the
    data's hidden sample (CD), then each Gibbs step's visible and hidden samples."""
    k, cd = int(state["settings"]["k"]), not state["settings"]["persistent"]
    total = rows * hidden * cd + k * chains * (features + hidden)
    gen = state["generators"]["sampler"]
    return torch.rand(total, generator=gen, device=gen.device)


def _numpy_step(state: dict[str, Any], x: torch.Tensor) -> dict[str, Any]:
    """The plain update on the CPU in numpy on the parameters' own memory (torch's cost per
    operation would dominate small batches), with the same uniforms, so the same samples,
    as :func:`_torch_step`. The fewest operations: the positive and negative phases are
    stacked, so ΔW, Δb and Δc are one product each, with each row weighted by ±η / rows."""
    settings, rbm = state["settings"], state["rbm"]
    views = state.get("numpy")
    if views is None or views[0] is not rbm.weight:  # numpy views of the parameters, kept
        arrays = tuple(t.detach().numpy() for t in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))
        views = state["numpy"] = (rbm.weight, *arrays)
    _, w, b, c = views
    if settings["binarise"] == "no" and x.dim() == 2 and x.dtype == rbm.weight.dtype:
        v_pos = x.numpy()  # as prepare() left it: flat, in the weights' dtype
    else:
        v_pos = visible(state, x).numpy()
    rows, features, hidden = v_pos.shape[0], w.shape[1], w.shape[0]
    persistent = settings["persistent"]
    if persistent:
        if state["buffers"]["chains"] is None or state["buffers"]["chains"].shape[0] < rows:
            state["buffers"]["chains"] = torch.zeros((rows, hidden), dtype=rbm.weight.dtype)
        h = state["buffers"]["chains"].numpy()
    chains = h.shape[0] if persistent else rows
    u = _uniforms(state, rows, chains, features, hidden).numpy().astype(w.dtype, copy=False)
    # One array per layer for every phase, so each product serves several: the hidden
    # units' rows are [chains | data (h⁺) | negative phase (h⁻)], the visible units' the
    # data (v⁺) then the negative phase (v⁻); p(v | h) of the first Gibbs step is computed
    # with the reconstruction p(v | h⁺) (the step's loss, before the update, as a
    # supervised step's loss is).
    hs = np.empty((2 * chains + rows, hidden), dtype=w.dtype)
    vs = np.empty((rows + chains, features), dtype=w.dtype)
    chain, h_pos, h_neg = hs[:chains], hs[chains : chains + rows], hs[chains + rows :]
    vs[:rows] = v_pos
    v_neg = vs[rows:]
    np.matmul(v_pos, w.T, out=h_pos)
    h_pos += c
    _sigmoid(h_pos)
    at = 0
    if persistent:
        chain[:] = h
    else:
        np.less(u[: rows * hidden].reshape(rows, hidden), h_pos, out=chain)
        at = rows * hidden
    h_start = chain[0].copy()
    probs = np.matmul(hs[: chains + rows], w)  # p(v | chains) and p(v | h⁺), before the update
    probs += b
    _sigmoid(probs)
    recon = probs[chains:]
    recon -= v_pos
    loss = float(np.vdot(recon, recon)) / recon.size
    for step in range(int(settings["k"])):
        uv = u[at : at + chains * features].reshape(chains, features)
        uh = u[at + chains * features : at + chains * (features + hidden)].reshape(chains, hidden)
        at += chains * (features + hidden)
        if step:
            np.matmul(chain, w, out=probs[:chains])
            probs[:chains] += b
            _sigmoid(probs[:chains])
        np.less(uv, probs[:chains], out=v_neg)  # the sample, as 0.0 / 1.0
        np.matmul(v_neg, w.T, out=h_neg)
        h_neg += c
        _sigmoid(h_neg)
        np.less(uh, h_neg, out=chain)  # the chains' next state
    if persistent:
        h[:] = chain  # the checkpointed buffer's own memory
    small = w.size <= RECORD_WEIGHTS
    before = tuple(torch.from_numpy(a.copy()) for a in (w, b, c)) if small else None
    signs = _signs(state, rows, chains, w.dtype)  # +η / rows for the data, −η / chains
    phases = hs[chains:]  # h⁺ then h⁻, as vs holds v⁺ then v⁻
    dw = np.matmul((phases * signs[:, None]).T, vs)
    db, dc = signs @ vs, signs @ phases
    w += dw
    b += db
    c += dc
    state["t"] += 1
    # numpy arrays (the Step tab and the evaluation's update ratio read them as they are)
    _remember(state, (v_pos, h_pos, h_start, v_neg, h_neg), (dw, db, dc), before)
    return {"loss": loss}


def _signs(state: dict[str, Any], rows: int, chains: int, dtype: Any) -> np.ndarray:
    """Each stacked row's weight in the update: +η / rows (data), −η / chains (chains)."""
    cache = state.setdefault("signs", {})
    key = (rows, chains)
    if key not in cache:
        eta = state["lr"]
        cache[key] = np.concatenate(
            [np.full(rows, eta / rows, dtype=dtype), np.full(chains, -eta / chains, dtype=dtype)]
        )
    return cache[key]


def _remember(state: dict[str, Any], phases: tuple, changes: tuple, before: Any) -> None:
    """``state["last"]``: the update's phases (v⁺, h⁺, the chain's start, v⁻, h⁻), its
    changes (ΔW, Δb, Δc) and the weights before it (small RBMs)."""
    v_pos, h_pos, h_start, v_neg, h_neg = phases
    state["last"] = {
        "v": v_pos,
        "h_pos": h_pos,
        "h_start": h_start,
        "v_neg": v_neg,
        "h_neg": h_neg,
        "dW": changes[0],
        "db": changes[1],
        "dc": changes[2],
        "before": before,
        "t": state["t"] - 1,
        "rows": v_pos.shape[0],
    }


def _sigmoid(z: Any) -> Any:
    """The logistic function, in place on ``z`` (a fresh array), by torch's own kernel."""
    torch.from_numpy(z).sigmoid_()
    return z


def _torch_step(state: dict[str, Any], x: torch.Tensor) -> dict[str, Any]:
    """The update in torch operations (any device; momentum, decay and sparsity)."""
    settings, rbm = state["settings"], state["rbm"]
    weight, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
    v_pos = visible(state, x)
    h_pos = torch.addmm(c, v_pos, weight.T).sigmoid_()
    rows, hidden, features = h_pos.shape[0], h_pos.shape[1], v_pos.shape[1]
    if settings["persistent"]:
        if state["buffers"]["chains"] is None or state["buffers"]["chains"].shape[0] < rows:
            state["buffers"]["chains"] = torch.zeros_like(h_pos)  # scikit-learn's start: h = 0
        h = state["buffers"]["chains"]
    chains = h.shape[0] if settings["persistent"] else rows
    u = _uniforms(state, rows, chains, features, hidden).to(h_pos.dtype)
    at = 0
    if not settings["persistent"]:
        h = (u[: rows * hidden].reshape(rows, hidden) < h_pos).to(h_pos.dtype)
        at = rows * hidden
    h_start = h[0]
    for _ in range(int(settings["k"])):
        uv = u[at : at + chains * features].reshape(chains, features)
        uh = u[at + chains * features : at + chains * (features + hidden)].reshape(chains, hidden)
        at += chains * (features + hidden)
        v_neg = (uv < torch.addmm(b, h, weight).sigmoid_()).to(h_pos.dtype)
        h_neg = torch.addmm(c, v_neg, weight.T).sigmoid_()
        h = (uh < h_neg).to(h_pos.dtype)
    if settings["persistent"]:
        state["buffers"]["chains"] = h
    # the reconstruction error before the update (as a supervised step's loss is)
    loss = nn.functional.mse_loss(torch.addmm(b, h_pos, weight).sigmoid_(), v_pos)
    small = weight.numel() <= RECORD_WEIGHTS
    before = (weight.clone(), b.clone(), c.clone()) if small else None
    eta, rows, chains = state["lr"], v_pos.shape[0], v_neg.shape[0]
    if settings["momentum"] or settings["weight_decay"] or settings["sparsity_target"]:
        changes = _with_momentum(state, v_pos, h_pos, v_neg, h_neg)
    else:  # the plain rule, in place: the fewest operations (scikit-learn's update)
        dw = torch.addmm(h_pos.T @ v_pos, h_neg.T, v_neg, beta=eta / rows, alpha=-eta / chains)
        weight.add_(dw)
        if small:  # the Step tab shows the biases' changes too
            db = v_pos.sum(0).mul_(eta / rows).sub_(v_neg.sum(0), alpha=eta / chains)
            dc = h_pos.sum(0).mul_(eta / rows).sub_(h_neg.sum(0), alpha=eta / chains)
            b.add_(db)
            c.add_(dc)
        else:  # Σ over the rows as a product with ones: one operation per phase
            b.addmv_(v_pos.T, _ones(state, rows, v_pos), alpha=eta / rows)
            b.addmv_(v_neg.T, _ones(state, chains, v_neg), alpha=-eta / chains)
            c.addmv_(h_pos.T, _ones(state, rows, h_pos), alpha=eta / rows)
            c.addmv_(h_neg.T, _ones(state, chains, h_neg), alpha=-eta / chains)
            db = dc = None
        changes = (dw, db, dc)
    state["t"] += 1
    # references only (the Step tab and the evaluation's update ratio read them)
    _remember(state, (v_pos, h_pos, h_start, v_neg, h_neg), changes, before)
    return {"loss": loss}


def _draw(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """1 with probability ``p``, else 0."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


def _ones(state: dict[str, Any], n: int, like: torch.Tensor) -> torch.Tensor:
    ones = state.setdefault("ones", {})
    if n not in ones:
        ones[n] = torch.ones(n, dtype=like.dtype, device=like.device)
    return ones[n]


def _with_momentum(state: dict[str, Any], v_pos, h_pos, v_neg, h_neg) -> tuple[torch.Tensor, ...]:
    """The update with weight decay, the sparsity target and momentum (each change added to
    momentum × the last one)."""
    settings, rbm = state["settings"], state["rbm"]
    grad_w = h_pos.T @ v_pos / v_pos.shape[0] - h_neg.T @ v_neg / v_neg.shape[0]
    if settings["weight_decay"]:
        grad_w = grad_w - settings["weight_decay"] * rbm.weight
    grad_b = v_pos.mean(0) - v_neg.mean(0)
    grad_c = h_pos.mean(0) - h_neg.mean(0)
    if settings["sparsity_target"]:
        grad_c = grad_c + settings["sparsity_cost"] * (settings["sparsity_target"] - h_pos.mean(0))
    changes = []
    params = (rbm.weight, rbm.visible_bias, rbm.hidden_bias)
    buffers = state["buffers"]
    velocities = (buffers["velocity_w"], buffers["velocity_b"], buffers["velocity_c"])
    for velocity, param, grad in zip(velocities, params, (grad_w, grad_b, grad_c)):
        velocity.mul_(float(settings["momentum"])).add_(grad, alpha=state["lr"])
        param.add_(velocity)
        changes.append(velocity.clone())
    return tuple(changes)


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    pass


def pseudo_likelihood(
    rbm: nn.Module, v: torch.Tensor, seed: int, free: torch.Tensor | None = None
) -> torch.Tensor:
    """scikit-learn's ``score_samples``: one feature of each row flipped (drawn with
    ``seed``), features × log σ(F(ṽ) − F(v)), per row (``free``: F(v), when known)."""
    generator = torch.Generator().manual_seed(seed)
    cols = torch.randint(0, v.shape[1], (v.shape[0],), generator=generator).to(v.device)
    flipped = v.clone()
    rows = torch.arange(v.shape[0], device=v.device)
    flipped[rows, cols] = 1 - flipped[rows, cols]
    free = rbm.free_energy(v) if free is None else free
    return v.shape[1] * nn.functional.logsigmoid(rbm.free_energy(flipped) - free)


@torch.no_grad()
def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    rbm, settings = state["rbm"], state["settings"]
    v = x.reshape(x.shape[0], -1).to(rbm.weight.dtype)
    if settings["binarise"] == "threshold":
        v = (v > 0.5).to(v.dtype)
    rows = min(v.shape[0], int(settings.get("eval_rows") or v.shape[0]))
    v = v[:rows]
    recon = rbm.visible_probs(rbm.hidden_probs(v))
    energies = rbm.free_energy(v)
    free = float(energies.mean())
    train = state["train_sample"]
    gap = free - float(rbm.free_energy(train).mean()) if train is not None else math.nan
    last = state["last"]
    ratio = math.nan
    if last is not None:
        ratio = float(torch.as_tensor(last["dW"]).norm() / rbm.weight.norm())
    return {
        "update_ratio": ratio,
        "loss": float((v - recon).square().mean()),
        "pseudo_likelihood": float(
            pseudo_likelihood(rbm, v, int(settings["seed"]), energies).mean()
        ),
        "free_energy": free,
        "free_energy_gap": gap,
    }
