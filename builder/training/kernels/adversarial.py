"""Adversarial training (GANs): a generator turns noise into samples, a discriminator scores
samples as real or generated, and each learns against the other (Goodfellow et al. 2014;
the recipe of pytorch/examples' DCGAN: the discriminator on real, then on ``fake.detach()``,
then the generator on the real label, with the same ``fake``).

Portable kernel (see builder/training/loop.py for the contract): standard library and torch
only, with :mod:`common` beside it; the exported script carries its source. ``settings`` are
plain values: the training section's ``schedule``, ``epochs``, ``l1``, ``l2``, ``clip``,
``seed``; ``optimizers`` (each role's optimiser settings, every field given); the
procedure's ``loss``, ``d_steps``, ``g_steps``, ``label_smoothing``, ``label_noise``,
``instance_noise``, ``instance_noise_epochs``, ``gp_weight``, ``init``, ``noise``,
``fixed_samples``; and what the binding found: ``latent_shape`` (the generator's Input, one
sample), ``probabilities`` (the discriminator ends in a Sigmoid: its output is a probability,
not a score), ``density`` (2-D data: the evaluation compares densities on a grid) and
``quality`` (images with class labels: the evaluation measures classes covered, FID, KID).

Losses (``s`` a score, ``p`` a probability; with a Sigmoid the score is its probability):

- ``non_saturating`` (default): D minimises BCE(D(x), 1) + BCE(D(G(z)), 0); G minimises
  BCE(D(G(z)), 1), whose gradient stays strong while D wins;
- ``minimax``: D as above; G minimises -BCE(D(G(z)), 0) = log(1 - D(G(z))), the original game;
- ``least_squares`` (LSGAN): D minimises ½(s(x) - 1)² + ½s(G(z))²; G ½(s(G(z)) - 1)²;
- ``hinge``: D minimises relu(1 - s(x)) + relu(1 + s(G(z))); G minimises -s(G(z));
- ``wasserstein_gp`` (WGAN-GP): D (the critic) minimises s(G(z)) - s(x) plus ``gp_weight``
  times the mean (‖∇s(x̂)‖ - 1)² at points x̂ between real and generated samples; G -s(G(z)).

One-sided label smoothing makes D's real label 1 - ``label_smoothing``; label noise swaps a
fraction ``label_noise`` of D's labels (BCE and least squares: the losses with labels).
Instance noise adds N(0, σ²) to every sample D sees, σ falling linearly from
``instance_noise`` to 0 over ``instance_noise_epochs`` epochs.

Each step returns ``loss`` (D's loss + G's: not finite when either is), ``d_loss``,
``g_loss``, ``d_x`` (D on real samples), ``d_g_z1`` (D on generated samples at D's step) and
``d_g_z2`` (at G's step, after D's update): probabilities with a Sigmoid or the BCE losses,
else mean scores.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from builder.training.kernels.common import (
    make_optimizer,
    make_scheduler,
    step_scheduler,
    update,
)
from builder.training.kernels.quality import QUALITY_DRAWS, measure_images, train_classifier

EVAL_CHUNK = 4096  # rows per forward pass when evaluating
NOISE_SEED = 6  # training draws from seed + 6; evaluation from seed + 7; the views from seed + 8
DENSITY_BINS = 24  # the density grid of 2-D data is DENSITY_BINS x DENSITY_BINS
DENSITY_DRAWS = 4096  # generated points the density of the generator is estimated from
# a mode counts as covered with at least this share of the points a uniform cover gives it
MODE_SHARE = 0.2
DIVERSITY_ROWS = 256  # generated and real samples whose spreads are compared


def dcgan_init(model: nn.Module) -> None:
    """DCGAN's initialisation (Radford et al. 2015): convolution, transposed-convolution and
    linear weights from N(0, 0.02), batch-norm scales from N(1, 0.02), their biases 0."""
    for module in model.modules():
        if isinstance(
            module,
            (
                nn.Conv1d,
                nn.Conv2d,
                nn.Conv3d,
                nn.ConvTranspose1d,
                nn.ConvTranspose2d,
                nn.ConvTranspose3d,
                nn.Linear,
            ),
        ):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            if module.weight is not None:
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)


def _role(model: nn.Module, settings: dict[str, Any], role: str) -> dict[str, Any]:
    """One network's optimiser and schedule, with what :func:`common.update` steps it by
    (its penalties and clipping)."""
    trainable = [p for p in model.parameters() if p.requires_grad]  # frozen layers: none
    if not trainable:
        raise ValueError(f"every layer of the {role} is frozen: make a layer trainable")
    optimizer = make_optimizer(settings["optimizers"][role], trainable)
    scheduler = make_scheduler(settings["schedule"], optimizer, settings["epochs"])
    clip = settings["clip"]
    return {
        "optimizer": optimizer,
        "scheduler": scheduler,
        "l1": settings["l1"],
        "l2": settings["l2"],
        "penalised": settings["l1"] > 0 or settings["l2"] > 0,
        "clip": (clip["mode"], clip["max"]) if clip["mode"] != "none" else None,
        "weights": [p for p in model.parameters() if p.dim() >= 2],
        "params": [p for p in model.parameters() if p.requires_grad],
    }


def setup(models: dict[str, nn.Module], settings: dict[str, Any]) -> dict[str, Any]:
    generator, discriminator = models["generator"], models["discriminator"]
    if settings["init"] == "dcgan":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings["seed"])
            dcgan_init(generator)
            dcgan_init(discriminator)
    device = next((p.device for p in generator.parameters()), torch.device("cpu"))
    # D steps first in every step: its optimiser comes first (the trainer's report hook).
    roles = {
        "discriminator": _role(discriminator, settings, "discriminator"),
        "generator": _role(generator, settings, "generator"),
    }
    return {
        "models": {"generator": generator, "discriminator": discriminator},
        "optimizers": {name: r["optimizer"] for name, r in roles.items()},
        "schedulers": {
            name: r["scheduler"] for name, r in roles.items() if r["scheduler"] is not None
        },
        "generators": {
            "noise": torch.Generator(device=device).manual_seed(settings["seed"] + NOISE_SEED)
        },
        "roles": roles,
        "generator": generator,
        "discriminator": discriminator,
        "settings": settings,
        "batches": 1,
    }


def prepare(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor):
    """With ``quality`` (images with class labels): the feature classifier that measures the
    generated images (:mod:`quality`), trained on the training split."""
    if state["settings"].get("quality") and y is not None:
        state["quality"] = train_classifier(x, y, state["settings"]["seed"])
    return x, y


def noise(state: dict[str, Any], n: int, gen: torch.Generator, device: Any) -> torch.Tensor:
    """``n`` latent codes: standard normal, or uniform in [-1, 1]."""
    shape = (n, *state["settings"]["latent_shape"])
    if state["settings"]["noise"] == "uniform":
        return torch.rand(shape, generator=gen, device=device) * 2 - 1
    return torch.randn(shape, generator=gen, device=device)


def sigma_at(state: dict[str, Any], step: int) -> float:
    """The instance noise's standard deviation at ``step``."""
    settings = state["settings"]
    start, epochs = settings["instance_noise"], settings["instance_noise_epochs"]
    if start <= 0:
        return 0.0
    if epochs <= 0:
        return start
    return start * max(0.0, 1.0 - step / (epochs * state["batches"]))


def _seen(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """What D sees of samples ``x``: with instance noise of ``sigma``."""
    if sigma <= 0:
        return x
    return x + sigma * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


def _bce(state: dict[str, Any], out: torch.Tensor, target: Any) -> torch.Tensor:
    if state["settings"]["probabilities"]:
        return F.binary_cross_entropy(out, target)
    return F.binary_cross_entropy_with_logits(out, target)


def _labels(
    state: dict[str, Any], n: int, real: bool, gen: torch.Generator, device: Any
) -> torch.Tensor:
    """D's targets for ``n`` real (or generated) samples: smoothed, a fraction swapped."""
    settings = state["settings"]
    value = 1.0 - settings["label_smoothing"] if real else 0.0
    labels = torch.full((n, 1), value, device=device)
    flip = settings["label_noise"]
    if flip > 0:
        other = 0.0 if real else 1.0 - settings["label_smoothing"]
        swapped = torch.rand((n, 1), generator=gen, device=device) < flip
        labels = torch.where(swapped, torch.full_like(labels, other), labels)
    return labels


def gradient_penalty(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """WGAN-GP's penalty: the mean (‖∇D(x̂)‖ - 1)² at random points x̂ between real and
    generated samples (Gulrajani et al. 2017)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=gen, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    score = discriminator(mixed)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return (grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1).pow(2).mean()


def d_loss_of(
    state: dict[str, Any],
    real_out: torch.Tensor,
    fake_out: torch.Tensor,
    gen: torch.Generator,
) -> torch.Tensor:
    """D's loss on its outputs for real and generated samples (without the gradient penalty)."""
    kind = state["settings"]["loss"]
    n, m, device = real_out.shape[0], fake_out.shape[0], real_out.device
    if kind in ("non_saturating", "minimax"):
        real_labels = _labels(state, n, True, gen, device)
        fake_labels = _labels(state, m, False, gen, device)
        return _bce(state, real_out, real_labels) + _bce(state, fake_out, fake_labels)
    if kind == "least_squares":
        real_labels = _labels(state, n, True, gen, device)
        fake_labels = _labels(state, m, False, gen, device)
        return 0.5 * (
            (real_out - real_labels).pow(2).mean() + (fake_out - fake_labels).pow(2).mean()
        )
    if kind == "hinge":
        return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()
    return fake_out.mean() - real_out.mean()  # wasserstein_gp


def g_loss_of(state: dict[str, Any], fake_out: torch.Tensor) -> torch.Tensor:
    """G's loss on D's outputs for generated samples."""
    kind = state["settings"]["loss"]
    if kind == "non_saturating":
        return _bce(state, fake_out, torch.ones_like(fake_out))
    if kind == "minimax":
        return -_bce(state, fake_out, torch.zeros_like(fake_out))
    if kind == "least_squares":
        return 0.5 * (fake_out - 1).pow(2).mean()
    return -fake_out.mean()  # hinge, wasserstein_gp


def shown(state: dict[str, Any], out: torch.Tensor) -> torch.Tensor:
    """D's mean output as the views show it: a probability for the BCE losses (the Sigmoid's,
    or the sigmoid of the score), else the mean score."""
    if state["settings"]["probabilities"]:
        return out.detach().mean()
    if state["settings"]["loss"] in ("non_saturating", "minimax"):
        return torch.sigmoid(out.detach()).mean()
    return out.detach().mean()


def _update(state: dict[str, Any], role: str, loss: torch.Tensor) -> None:
    update(state["roles"][role], loss)


def train_step(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor, step: int):
    """One iteration: ``d_steps`` updates of D, then ``g_steps`` of G. ``state["phase"]``
    (set by the app's Step D / Step G controls, absent otherwise) makes it one update of that
    network only; the other's loss is then measured without an update."""
    settings = state["settings"]
    generator, discriminator = state["generator"], state["discriminator"]
    gen = state["generators"]["noise"]
    n, device = x.shape[0], x.device
    sigma = sigma_at(state, step)
    wasserstein = settings["loss"] == "wasserstein_gp"
    phase = state.get("phase")
    d_steps = settings["d_steps"] if phase is None else int(phase == "discriminator")
    g_steps = settings["g_steps"] if phase is None else int(phase == "generator")
    # As the DCGAN recipe: D's last step sees ``fake.detach()`` and G's first step reuses
    # the same ``fake`` (one generator forward for both when d_steps = g_steps = 1).
    fake = None
    for i in range(max(d_steps, 1)):
        keep = g_steps > 0 and i == max(d_steps, 1) - 1
        with torch.set_grad_enabled(keep):
            fake = generator(noise(state, n, gen, device))
        with torch.set_grad_enabled(d_steps > 0):
            real_out = discriminator(_seen(x, sigma, gen))
            fake_out = discriminator(_seen(fake.detach(), sigma, gen))
            d_loss = d_loss_of(state, real_out, fake_out, gen)
        if wasserstein:
            penalty = gradient_penalty(discriminator, x, fake.detach(), gen)
            d_loss = d_loss + settings["gp_weight"] * penalty
        if d_steps > 0:
            _update(state, "discriminator", d_loss)
    for j in range(max(g_steps, 1)):
        with torch.set_grad_enabled(g_steps > 0):
            made = fake if j == 0 else generator(noise(state, n, gen, device))
            fake_out_g = discriminator(_seen(made, sigma, gen))
            g_loss = g_loss_of(state, fake_out_g)
        if g_steps > 0:
            _update(state, "generator", g_loss)
    d_loss, g_loss = d_loss.detach(), g_loss.detach()
    return {
        "loss": d_loss + g_loss,
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_x": shown(state, real_out),
        "d_g_z1": shown(state, fake_out),
        "d_g_z2": shown(state, fake_out_g),
    }


def end_epoch(state: dict[str, Any], epoch: int, watched: float) -> None:
    for scheduler in state["schedulers"].values():
        step_scheduler(scheduler, watched)


def density_divergence(real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
    """KL(real ‖ generated) and the Jensen–Shannon divergence (nats) of two sets of 2-D
    points, from their histograms on a DENSITY_BINS x DENSITY_BINS grid over the real points'
    range (widened by a tenth each side); a cell's probability is smoothed by 1e-6 so the
    KL stays finite."""
    lo = real.min(dim=0).values
    hi = real.max(dim=0).values
    pad = (hi - lo).clamp(min=1e-6) * 0.1
    lo, hi = lo - pad, hi + pad

    def histogram(points: torch.Tensor) -> torch.Tensor:
        cells = ((points - lo) / (hi - lo) * DENSITY_BINS).floor().long()
        inside = ((cells >= 0) & (cells < DENSITY_BINS)).all(dim=1)
        index = cells[inside, 0] * DENSITY_BINS + cells[inside, 1]
        counts = torch.bincount(index, minlength=DENSITY_BINS * DENSITY_BINS).double()
        counts = counts + 1e-6 * max(points.shape[0], 1)
        return counts / counts.sum()

    p, q = histogram(real.double()), histogram(fake.double())
    kl = float((p * (p / q).log()).sum())
    m = 0.5 * (p + q)
    js = float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())
    return kl, js


@torch.no_grad()
def evaluate(state: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """The two losses and D's outputs on a split, against generated samples drawn with the
    same noise at every evaluation (networks in evaluation mode, no instance noise): ``loss``
    (D's + G's), ``d_loss``, ``g_loss``, ``d_x``, ``d_g_z``; for 2-D data also ``kl`` and
    ``js``, the divergences of the generated density from the data's; for labelled images
    ``classes`` (covered), ``fid`` and ``kid`` (:func:`quality.measure_images`); ``diversity``: the
    generated samples' mean pairwise distance over the real ones' (near 1: as diverse)."""
    generator, discriminator = state["generator"], state["discriminator"]
    generator.eval()
    discriminator.eval()
    settings = state["settings"]
    gen = torch.Generator(device=x.device).manual_seed(settings["seed"] + NOISE_SEED + 1)
    labels = torch.Generator(device=x.device).manual_seed(settings["seed"] + NOISE_SEED + 1)
    n = x.shape[0]
    sums = dict.fromkeys(("d_loss", "g_loss", "d_x", "d_g_z"), 0.0)
    for start in range(0, n, EVAL_CHUNK):
        xb = x[start : start + EVAL_CHUNK]
        m = xb.shape[0]
        real_out = discriminator(xb)
        fake_out = discriminator(generator(noise(state, m, gen, x.device)))
        sums["d_loss"] += float(d_loss_of(state, real_out, fake_out, labels)) * m
        sums["g_loss"] += float(g_loss_of(state, fake_out)) * m
        sums["d_x"] += float(shown(state, real_out)) * m
        sums["d_g_z"] += float(shown(state, fake_out)) * m
    out = {k: v / n for k, v in sums.items()}
    out = {"loss": out["d_loss"] + out["g_loss"], **out}
    made = state.get("quality")
    if made is not None:
        images = generator(noise(state, QUALITY_DRAWS, gen, x.device))
        out.update(measure_images(made, images))
    if settings["density"]:
        draws = max(n, DENSITY_DRAWS)
        fake = generator(noise(state, draws, gen, x.device)).reshape(draws, -1)
        kl, js = density_divergence(x.reshape(n, -1), fake)
        out["kl"], out["js"] = kl, js
        if y is not None and y.dim() == 1 and not y.is_floating_point():
            out["modes"] = modes_covered(x.reshape(n, -1), y, fake)
    m = min(n, DIVERSITY_ROWS)
    if m > 1:
        out["diversity"] = spread(generator(noise(state, m, gen, x.device))) / max(
            spread(x[:m]), 1e-12
        )
    return out


def spread(samples: torch.Tensor) -> float:
    """The mean distance between two of ``samples`` (how diverse they are)."""
    return float(torch.pdist(samples.reshape(samples.shape[0], -1).double()).mean())


def modes_covered(real: torch.Tensor, labels: torch.Tensor, fake: torch.Tensor) -> int:
    """How many classes of 2-D data (a mixture's modes) the generated points cover: a class
    counts when at least MODE_SHARE of the points fall near it (within 3 of its real points'
    standard deviations of its centre, the nearest centre)."""
    classes = torch.unique(labels)
    centres = torch.stack([real[labels == c].mean(dim=0) for c in classes])
    spread = torch.stack([real[labels == c].std(dim=0).norm() for c in classes])
    distance = torch.cdist(fake.to(centres.dtype), centres)
    nearest = distance.argmin(dim=1)
    close = distance.gather(1, nearest[:, None]).squeeze(1) <= 3 * spread[nearest].clamp(min=1e-6)
    counts = torch.bincount(nearest[close], minlength=len(classes))
    return int((counts >= MODE_SHARE * fake.shape[0] / len(classes)).sum())
