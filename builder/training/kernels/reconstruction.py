"""The autoencoder family on one kernel: ``settings["mode"]`` is ``autoencoder`` (the target
is the input), ``denoising`` (the network sees a corrupted input, the target stays clean) or
``vae`` (reconstruction + β·KL of the codes from N(0, I), β warmed up linearly, optional free
bits).

Portable kernel (see builder/training/loop.py for the contract): standard library and torch
only, with :mod:`common` beside it; the exported script carries its source. ``settings`` are
plain values: the training section's ``optimizer``, ``schedule``, ``epochs``, ``l1``, ``l2``,
``clip``, ``seed``; the procedure's ``recon_loss`` (and ``noise``, ``noise_level`` /
``beta``, ``warmup_epochs``, ``free_bits``); ``outputs`` (the model's Output names in return
order) and the indices ``recon``, ``mean``, ``log_var`` into them.

Reconstruction losses: autoencoder and denoising average over every value (``mse`` /
``bce``, as F.mse_loss / F.binary_cross_entropy); the VAE sums over a sample's values and
averages over the batch, so the reconstruction and the KL (summed over latent dimensions)
are on the same scale, as in the ELBO.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from builder.training.kernels.common import optimisation, step_scheduler, update, update_sum

EVAL_CHUNK = 4096  # rows per forward pass when evaluating
ACTIVE_KL = 0.01  # nats: a latent dimension whose mean KL is below this is inactive
NOISE_SEED = 4  # the training noise draws from seed + 4; evaluation's from seed + 5


def setup(models: dict[str, torch.nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    model = models["model"]
    mode = settings["mode"]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    generators = {}
    if mode == "denoising":  # checkpointed with the run (state["generators"])
        seed = settings["seed"] + NOISE_SEED
        generators["noise"] = torch.Generator(device=device).manual_seed(seed)
    return {
        **optimisation(model, settings),
        "settings": settings,
        "mode": mode,
        "vae": mode == "vae",
        "several": len(settings["outputs"]) > 1,
        "generators": generators,
        "range": (0.0, 1.0),  # the training data's (min, max): salt-and-pepper's values
    }


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    if state["mode"] == "denoising":
        state["range"] = (float(x.min()), float(x.max()))
    return x, y


def corrupt(state: dict[str, Any], x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The denoising input: ``x`` with fresh noise from ``gen`` (other modes: ``x``)."""
    if state["mode"] != "denoising":
        return x
    settings = state["settings"]
    kind, level = settings["noise"], settings["noise_level"]
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    hit = torch.rand(x.shape, generator=gen, device=x.device) < level
    if kind == "masking":
        return x.masked_fill(hit, 0.0)
    lo, hi = state["range"]
    salt = torch.rand(x.shape, generator=gen, device=x.device) < 0.5
    values = torch.where(salt, torch.full_like(x, hi), torch.full_like(x, lo))
    return torch.where(hit, values, x)


def outputs(state: dict[str, Any], out: Any) -> tuple[torch.Tensor, Any, Any]:
    """(reconstruction, mean, log_var) from the model's output (mean, log_var None but for a VAE)."""
    if not state["several"]:
        return out, None, None
    settings = state["settings"]
    recon = out[settings["recon"]]
    if not state["vae"]:
        return recon, None, None
    return recon, out[settings["mean"]], out[settings["log_var"]]


def recon_loss(state: dict[str, Any], recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    bce = state["settings"]["recon_loss"] == "bce"
    if not state["vae"]:
        return F.binary_cross_entropy(recon, x) if bce else F.mse_loss(recon, x)
    if bce:
        total = F.binary_cross_entropy(recon, x, reduction="sum")
    else:
        total = F.mse_loss(recon, x, reduction="sum")
    return total / x.shape[0]


def kl_per_dim(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) of each latent dimension, averaged over the batch."""
    return (-0.5 * (1 + log_var - mean.pow(2) - log_var.exp())).mean(dim=0)


def beta_at(state: dict[str, Any], step: int) -> float:
    """β for the step after ``step`` steps: linear from 0 over ``warmup_epochs`` epochs."""
    settings = state["settings"]
    warmup = settings["warmup_epochs"]
    if warmup <= 0:
        return settings["beta"]
    return settings["beta"] * min(1.0, (step + 1) / (warmup * state["batches"]))


def kl_terms(state: dict[str, Any], per_dim: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The KL (summed over latent dimensions) and what the loss counts of it: each
    dimension at least ``free_bits`` nats (without free bits, the same tensor)."""
    kl = per_dim.sum()
    free = state["settings"]["free_bits"]
    return kl, (per_dim.clamp(min=free).sum() if free > 0 else kl)


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    model = state["model"]
    recon, mean, log_var = outputs(
        state, model(corrupt(state, x, state["generators"].get("noise")))
    )
    if not state["vae"]:
        return {"loss": update(state, recon_loss(state, recon, x))}
    # Sums over the batch, divided once: the fewest operations on the step's hot path.
    n = x.shape[0]
    settings = state["settings"]
    if settings["recon_loss"] == "bce":
        rec_sum = F.binary_cross_entropy(recon, x, reduction="sum")
    else:
        rec_sum = F.mse_loss(recon, x, reduction="sum")
    beta = beta_at(state, step)
    if settings["free_bits"] > 0:
        kl, counted = kl_terms(state, kl_per_dim(mean, log_var))
        loss = update(state, rec_sum / n + beta * counted)
        return {"loss": loss, "recon": rec_sum.detach() / n, "kl": kl.detach(), "beta": beta}
    kl_sum = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    extra = update_sum(state, rec_sum + kl_sum if beta == 1.0 else rec_sum + beta * kl_sum, n)
    if x.device.type == "cpu":  # read at once, as floats: no operation more
        recon, kl = rec_sum.item() / n, kl_sum.item() / n
        loss = recon + beta * kl + (extra.item() if extra is not None else 0.0)
        return {"loss": loss, "recon": recon, "kl": kl, "beta": beta}
    recon, kl = rec_sum.detach() / n, kl_sum.detach() / n
    loss = recon + beta * kl if extra is None else recon + beta * kl + extra.detach()
    return {"loss": loss, "recon": recon, "kl": kl, "beta": beta}


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    step_scheduler(state["scheduler"], watched)


@torch.no_grad()
def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """The loss on a split with the network in evaluation mode (a VAE decodes its means;
    denoising corrupts with the same noise at every evaluation): ``loss`` (the VAE's at the
    full β), ``recon``, and for a VAE ``kl`` and ``active_units``."""
    model = state["model"]
    model.eval()
    gen = None
    if state["mode"] == "denoising":
        seed = state["settings"]["seed"] + NOISE_SEED + 1
        gen = torch.Generator(device=x.device).manual_seed(seed)
    n = x.shape[0]
    rec_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    kl_sum = None
    for start in range(0, n, EVAL_CHUNK):
        xb = x[start : start + EVAL_CHUNK]
        recon, mean, log_var = outputs(state, model(corrupt(state, xb, gen)))
        rec_sum += recon_loss(state, recon, xb).double() * xb.shape[0]
        if state["vae"]:
            part = kl_per_dim(mean, log_var).double() * xb.shape[0]
            kl_sum = part if kl_sum is None else kl_sum + part
    recon_mean = float(rec_sum) / n
    if not state["vae"]:
        return {"loss": recon_mean, "recon": recon_mean}
    per_dim = kl_sum / n
    settings = state["settings"]
    free = settings["free_bits"]
    counted = float(per_dim.clamp(min=free).sum()) if free > 0 else float(per_dim.sum())
    return {
        "loss": recon_mean + settings["beta"] * counted,
        "recon": recon_mean,
        "kl": float(per_dim.sum()),
        "active_units": int((per_dim > ACTIVE_KL).sum()),
    }
