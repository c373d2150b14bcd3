"""Batch-time augmentation: mirror, shift and Gaussian noise.

Imports only the standard library and torch: the exported script copies these functions'
source (``inspect.getsource``); the option checks live in :mod:`builder.data.augment_checks`."""

from __future__ import annotations

from typing import Any

import torch


def augment_batch(
    x: torch.Tensor, options: dict[str, Any] | None, generator: torch.Generator
) -> torch.Tensor:
    """Return an augmented copy of the batch ``x``; ``options`` are already checked (see
    :func:`builder.data.augment_checks.augment`, which says what each one does)."""
    options = options or {}
    flip, shift, noise = (
        options.get("flip", False),
        options.get("shift", 0),
        options.get("noise", 0.0),
    )
    out = x.clone()
    n = x.shape[0]
    dev = generator.device
    if flip:
        mask = (torch.rand(n, generator=generator, device=dev) < 0.5).to(x.device)
        out[mask] = out[mask].flip(-1)
    if shift:
        out = shift_images(out, shift, generator)
    if noise:
        out = out + noise * torch.randn(out.shape, generator=generator, device=dev).to(out)
    return out


def shift_images(x: torch.Tensor, s: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx) in [-s, s]; vacated pixels are 0."""
    n, c, h, w = x.shape
    offsets = torch.randint(-s, s + 1, (n, 2), generator=generator, device=generator.device).to(
        x.device
    )
    padded = torch.nn.functional.pad(x, (s, s, s, s))
    rows = torch.arange(h, device=x.device)[None, :] + s - offsets[:, :1]  # (n, h)
    cols = torch.arange(w, device=x.device)[None, :] + s - offsets[:, 1:]  # (n, w)
    return padded[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(c, device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
