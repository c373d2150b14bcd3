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
