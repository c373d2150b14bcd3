"""Probes of a GAN: the generator's samples from a fixed batch of noise (image data) and,
for 2-D data, GAN Lab's views: real and generated points, the discriminator's verdict over
the plane and the generator's manifold (where a grid of latent codes lands)."""

from __future__ import annotations

from typing import Any

import torch

from builder.training.kernels import adversarial_samples
from builder.training.probes import ViewContext, readonly

POINTS = 500  # real and generated points each in the scatter
HEAT = 48  # the verdict heatmap is HEAT x HEAT
MANIFOLD = 15  # the latent grid is MANIFOLD x MANIFOLD


def _range(*tensors: torch.Tensor) -> tuple[float, float]:
    lo = min(float(t.min()) for t in tensors)
    hi = max(float(t.max()) for t in tensors)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def fixed_noise(ctx: ViewContext, count: int) -> torch.Tensor:
    """The same ``count`` latent codes in every probe: the exported script's sample grid's
    (:func:`adversarial_samples.fixed_noise`, seed + 8)."""
    z = ctx.scratch.get("fixed")
    if z is None or z.shape[0] != count:
        settings = {**ctx.state["settings"], "fixed_samples": count}
        z = ctx.scratch["fixed"] = adversarial_samples.fixed_noise(settings, ctx.x.device)
    return z


def _generate(ctx: ViewContext, z: torch.Tensor) -> torch.Tensor:
    generator = ctx.state["generator"]
    generator.eval()
    return generator(z)


def samples(ctx: ViewContext) -> dict[str, Any]:
    """The generator's images from the fixed noise, in rows of 8."""
    count = ctx.state["settings"]["fixed_samples"]
    images = _generate(ctx, fixed_noise(ctx, count))
    return {"images": readonly(images), "cols": 8, "value_range": _range(ctx.x, images)}


def _plane(ctx: ViewContext, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The bounds (lo, hi) of the view: the real and the shown points, widened a little."""
    lo = torch.minimum(ctx.x.min(dim=0).values, points.min(dim=0).values)
    hi = torch.maximum(ctx.x.max(dim=0).values, points.max(dim=0).values)
    pad = (hi - lo).clamp(min=1e-3) * 0.1
    return lo - pad, hi + pad


def points(ctx: ViewContext) -> dict[str, Any]:
    """Real points (label 0) and generated points (label 1)."""
    real = ctx.x[:POINTS].float()
    fake = _generate(ctx, fixed_noise(ctx, POINTS)).reshape(POINTS, -1).float()
    labels = torch.cat([torch.zeros(real.shape[0]), torch.ones(POINTS)]).long()
    return {
        "points": readonly(torch.cat([real, fake])),
        "labels": readonly(labels),
        "class_names": ("real", "generated"),
        "axis_labels": ("x[0]", "x[1]"),
        "note": f"{real.shape[0]} real points and {POINTS} generated from fixed noise",
        "equal_axes": True,
    }


def verdict(ctx: ViewContext) -> dict[str, Any]:
    """The discriminator's output over the plane (a probability with a Sigmoid or the BCE
    losses, else its score), rows from the top (the largest x[1]) down, with the real and
    generated points over it."""
    discriminator = ctx.state["discriminator"]
    discriminator.eval()
    fake = _generate(ctx, fixed_noise(ctx, POINTS)).reshape(POINTS, -1).float()
    lo, hi = _plane(ctx, fake)
    xs = torch.linspace(float(lo[0]), float(hi[0]), HEAT, device=ctx.x.device)
    ys = torch.linspace(float(hi[1]), float(lo[1]), HEAT, device=ctx.x.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1).to(ctx.x.dtype)
    out = discriminator(grid).reshape(HEAT, HEAT).float()
    settings = ctx.state["settings"]
    probability = settings["probabilities"] or settings["loss"] in ("non_saturating", "minimax")
    if probability and not settings["probabilities"]:
        out = torch.sigmoid(out)
    real = ctx.x[:POINTS].float()
    return {
        "values": readonly(out),
        "value_range": (0.0, 1.0) if probability else _range(out),
        "extent": (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
        "points": readonly(torch.cat([real, fake])),
        "labels": readonly(torch.cat([torch.zeros(real.shape[0]), torch.ones(POINTS)]).long()),
    }


def manifold(ctx: ViewContext) -> dict[str, Any] | None:
    """Where a MANIFOLD x MANIFOLD grid of latent codes lands (a generator with a 1-D or
    2-D latent space; the other latent dimensions held at 0): the deformed grid, as points
    in grid order."""
    shape = tuple(ctx.state["settings"]["latent_shape"])
    if len(shape) != 1 or shape[0] > 2:
        return None
    lo, hi = (-1.0, 1.0) if ctx.state["settings"]["noise"] == "uniform" else (-2.0, 2.0)
    values = torch.linspace(lo, hi, MANIFOLD, device=ctx.x.device)
    if shape[0] == 1:
        z = values.reshape(-1, 1)
    else:
        gy, gx = torch.meshgrid(values, values, indexing="ij")
        z = torch.stack([gx.flatten(), gy.flatten()], dim=1)
    landed = _generate(ctx, z).reshape(z.shape[0], -1).float()
    rows = 1 if shape[0] == 1 else MANIFOLD
    return {
        "points": readonly(landed),
        "labels": None,
        "axis_labels": ("x[0]", "x[1]"),
        "note": f"where a {rows} x {MANIFOLD} grid of latent codes from {lo:g} to {hi:g} lands",
        "equal_axes": True,
        "mesh": (rows, MANIFOLD),
    }


def coverage(ctx: ViewContext) -> dict[str, Any] | None:
    """The share of generated images the feature classifier puts in each class (labelled
    images only: the kernel's ``quality``), from fixed noise; the dashed line is the share
    from which a class counts as covered."""
    made = ctx.state.get("quality")
    if made is None:
        return None
    from builder.training.kernels import quality

    z = ctx.scratch.get("coverage")
    if z is None:
        seed = ctx.state["settings"]["seed"] + ctx.kernel.NOISE_SEED + 3
        gen = torch.Generator(device=ctx.x.device).manual_seed(seed)
        z = ctx.scratch["coverage"] = ctx.kernel.noise(
            ctx.state, quality.QUALITY_DRAWS, gen, ctx.x.device
        )
    shares = quality.class_shares(made, _generate(ctx, z))
    threshold = quality.CLASS_SHARE / made["classes"]
    names = list(ctx.class_names or [str(i) for i in range(made["classes"])])
    missing = [names[i] for i in range(made["classes"]) if float(shares[i]) < threshold]
    return {
        "values": readonly(shares.float()),
        "labels": tuple(names),
        "threshold": threshold,
        "warning": f"Not covered: {', '.join(missing)}" if missing else "",
    }
