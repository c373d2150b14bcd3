"""Probes of the autoencoder family: reconstructions of fixed samples, the codes by class
(PCA above two dimensions), and for a VAE the decoded latent grid, samples from the prior and
the KL of each latent dimension (with a posterior-collapse warning)."""

from __future__ import annotations

from typing import Any

import torch

from builder.training.probes import ViewContext, readonly

STRIP = 8  # samples in the reconstructions strip
SCATTER = 500  # codes in the latent scatter
GRID = 12  # the manifold grid is GRID x GRID
PRIOR = 64  # samples from the prior (8 x 8)
COLLAPSED = 0.01  # nats: a dimension whose KL is below this carries no information


def _range(*tensors: torch.Tensor) -> tuple[float, float]:
    lo = min(float(t.min()) for t in tensors)
    hi = max(float(t.max()) for t in tensors)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _forward(ctx: ViewContext, x: torch.Tensor) -> tuple[Any, Any, Any]:
    model = ctx.state["model"]
    model.eval()
    return ctx.kernel.outputs(ctx.state, model(x))


def reconstructions(ctx: ViewContext) -> dict[str, Any]:
    x = ctx.x[:STRIP]
    rows, labels = [x], ["input"]
    if ctx.state["mode"] == "denoising":
        fixed = ctx.scratch.get("noisy")
        if fixed is None:  # the same corrupted samples in every probe
            gen = torch.Generator(device=x.device).manual_seed(ctx.state["settings"]["seed"])
            fixed = ctx.scratch["noisy"] = ctx.kernel.corrupt(ctx.state, x, gen)
        rows.append(fixed)
        labels.append("noisy input")
        recon = _forward(ctx, fixed)[0]
    else:
        recon = _forward(ctx, x)[0]
    rows.append(recon)
    labels.append("output")
    return {
        "samples": readonly(torch.stack(rows)),
        "rows": tuple(labels),
        "value_range": _range(x),  # the data's: noise outside it is clipped, not greyed
    }


def _codes(ctx: ViewContext, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    if ctx.state["vae"]:
        return _forward(ctx, x)[1], "mean"
    if ctx.code is None:
        return None, ""
    kept: list[torch.Tensor] = []
    handle = ctx.code.register_forward_hook(lambda _m, _i, out: kept.append(out.detach()))
    try:
        _forward(ctx, x)
    finally:
        handle.remove()
    return kept[0].reshape(x.shape[0], -1), ctx.code_name


def latent(ctx: ViewContext) -> dict[str, Any] | None:
    x = ctx.x[:SCATTER]
    codes, name = _codes(ctx, x)
    if codes is None:
        return None
    codes = codes.float()
    d = codes.shape[1]
    if d == 1:
        points = torch.cat([codes, torch.zeros_like(codes)], dim=1)
        axes, note = (f"{name}[0]", ""), f"1-D codes of '{name}'"
    elif d == 2:
        points, axes, note = codes, (f"{name}[0]", f"{name}[1]"), f"2-D codes of '{name}'"
    else:
        centred = codes - codes.mean(dim=0)
        _, s, v = torch.linalg.svd(centred, full_matrices=False)
        points = centred @ v[:2].T
        share = float((s[:2] ** 2).sum() / (s**2).sum().clamp(min=1e-12))
        axes = ("PC 1", "PC 2")
        note = f"PCA of {d}-D codes of '{name}': {100 * share:.0f} % of the variance"
    labels = None
    if ctx.y is not None and ctx.y.dim() == 1 and not ctx.y.is_floating_point():
        labels = readonly(ctx.y[: x.shape[0]].cpu().numpy())
    return {"points": readonly(points), "labels": labels, "axis_labels": axes, "note": note}


def _decode(ctx: ViewContext, z: torch.Tensor) -> torch.Tensor:
    """The decoder's output for codes ``z``: a forward pass whose Sample layer gives ``z``."""
    x = ctx.x[:1].expand(z.shape[0], *ctx.x.shape[1:])
    handle = ctx.sample.register_forward_hook(lambda _m, _i, _out: z)
    try:
        return _forward(ctx, x)[0]
    finally:
        handle.remove()


def manifold(ctx: ViewContext) -> dict[str, Any] | None:
    """The decoded grid of a 2-D latent space at the normal quantiles 0.05 ... 0.95."""
    if not ctx.image or ctx.sample is None:
        return None
    latent_dim = ctx.state["settings"]["latent_dim"]
    if latent_dim != 2:
        return None
    p = torch.linspace(0.05, 0.95, GRID, device=ctx.x.device)
    values = torch.distributions.Normal(0.0, 1.0).icdf(p)
    zy, zx = torch.meshgrid(values.flip(0), values, indexing="ij")  # z[1] grows upwards
    z = torch.stack([zx.flatten(), zy.flatten()], dim=1)
    images = _decode(ctx, z)
    return {
        "images": readonly(images),
        "cols": GRID,
        "value_range": _range(images),
        "axis": tuple(float(v) for v in values),
    }


def prior(ctx: ViewContext) -> dict[str, Any] | None:
    """Decoded draws z ~ N(0, I) (the same draws in every probe)."""
    if not ctx.image or ctx.sample is None:
        return None
    z = ctx.scratch.get("prior")
    if z is None:
        gen = torch.Generator(device=ctx.x.device).manual_seed(ctx.state["settings"]["seed"])
        shape = (PRIOR, ctx.state["settings"]["latent_dim"])
        z = ctx.scratch["prior"] = torch.randn(shape, generator=gen, device=ctx.x.device)
    images = _decode(ctx, z)
    return {"images": readonly(images), "cols": 8, "value_range": _range(images)}


def kl_per_dim(ctx: ViewContext) -> dict[str, Any]:
    _, mean, log_var = _forward(ctx, ctx.x)
    per_dim = ctx.kernel.kl_per_dim(mean.float(), log_var.float())
    d = per_dim.shape[0]
    inactive = int((per_dim <= COLLAPSED).sum())
    warning = ""
    if inactive == d:
        warning = (
            f"KL is near 0 in all {d} latent dimensions: posterior collapse (the decoder"
            " ignores the code); try KL warm-up (warmup_epochs), free bits or a smaller decoder"
        )
    elif inactive > d // 2:
        warning = (
            f"KL is near 0 in {inactive} of {d} latent dimensions: partial posterior"
            " collapse; try KL warm-up (warmup_epochs), free bits or a smaller decoder"
        )
    return {
        "values": readonly(per_dim),
        "labels": tuple(f"z{i}" for i in range(d)),
        "threshold": COLLAPSED,
        "warning": warning,
    }
