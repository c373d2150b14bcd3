"""The few torch modules the catalog needs that torch does not ship."""

from __future__ import annotations

import torch
from torch import nn


class Step(nn.Module):
    """McCulloch–Pitts threshold unit: 1 where ``x >= threshold``, else 0.

    Its gradient is zero almost everywhere, which is why the perceptron rule (not backprop)
    trains it; it is here to show exactly that.
    """

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= self.threshold).to(x.dtype)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class Sample(nn.Module):
    """The reparameterisation of a variational autoencoder.

    In training, ``mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, 1)`` (a new draw on
    every call), so gradients flow through ``mean`` and ``log_var``; in evaluation, ``mean``.
    """

    def forward(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return mean
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
