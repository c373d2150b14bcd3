"""A GAN's generated images from its fixed noise, the batch the app's Samples view shows
(builder/training/probes/adversarial.py), saved as one PNG grid.

Portable (see builder/training/loop.py): the standard library and torch, with
:mod:`adversarial` and :mod:`image_png` beside it; the exported script of a GAN whose
generator makes images carries its source and writes ``samples.png`` after training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder.training.kernels.adversarial import NOISE_SEED, noise
from builder.training.kernels.image_png import is_image, write_png

SAMPLE_COLUMNS = 8  # tiles per row, as in the Samples view


def fixed_noise(settings: dict[str, Any], device: Any) -> torch.Tensor:
    """The ``fixed_samples`` latent codes of the views: drawn from the seed + NOISE_SEED + 2
    (training draws from + NOISE_SEED, evaluation from + NOISE_SEED + 1)."""
    gen = torch.Generator(device=device).manual_seed(settings["seed"] + NOISE_SEED + 2)
    # the kernel's noise reads only the settings of its state
    return noise({"settings": settings}, settings["fixed_samples"], gen, device)


@torch.no_grad()
def save_samples(
    generator: nn.Module, settings: dict[str, Any], x: torch.Tensor, path: str | Path
) -> Path:
    """Write the generator's images from the fixed noise (in evaluation mode) to ``path``
    as a PNG grid in rows of SAMPLE_COLUMNS, the values mapped from the range of the data
    ``x`` (the training inputs) to 0..255."""
    generator.eval()
    images = generator(fixed_noise(settings, x.device))
    if not is_image(images.shape[1:]):
        raise ValueError(
            f"the generator makes samples of shape {tuple(images.shape[1:])}, not images"
            " (C, H, W) with 1 or 3 channels"
        )
    return write_png(path, images, SAMPLE_COLUMNS, (float(x.min()), float(x.max())))
