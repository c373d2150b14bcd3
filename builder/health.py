"""Gradient health: each layer is *healthy*, *vanishing* or *exploding*.

Thresholds (``training.health`` in the project file, see
:class:`builder.config.HealthThresholds`): a layer's gradient L2 norm below ``vanishing``
(default 1e-5) or below ``vanishing_ratio`` (default 1e-3) times the largest layer's norm is
vanishing; above ``exploding`` (default 100) or not finite is exploding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from builder.config import HealthThresholds

HEALTHY, VANISHING, EXPLODING = "healthy", "vanishing", "exploding"


def classify(norms: Mapping[str, float], thresholds: HealthThresholds) -> dict[str, str]:
    """``{layer: state}`` for per-layer gradient norms."""
    finite = [v for v in norms.values() if math.isfinite(v)]
    largest = max(finite, default=0.0)
    out = {}
    for layer, norm in norms.items():
        if not math.isfinite(norm) or norm > thresholds.exploding:
            out[layer] = EXPLODING
        elif norm < thresholds.vanishing or norm < thresholds.vanishing_ratio * largest:
            out[layer] = VANISHING
        else:
            out[layer] = HEALTHY
    return out


def divergence_message(
    step: int, epoch: int, value: float, lr: float, hints: Mapping[str, bool]
) -> str:
    """What to tell the user when the loss becomes NaN or infinite, with the likely causes
    that apply to this run (``hints``: ``normalised``, ``clipped``, ``saturating``)."""
    what = "NaN" if math.isnan(value) else "infinite"
    causes = [f"the learning rate ({lr:g}) may be too high: try one ten times lower"]
    if not hints.get("normalised", True):
        causes.append("the inputs are not normalised: set the dataset's normalise option to zscore")
    if hints.get("saturating", False):
        causes.append(
            "saturating activations (sigmoid / tanh) in a deep stack: try ReLU with BatchNorm"
        )
    if not hints.get("clipped", True):
        causes.append('no gradient clipping: set clip mode "norm" with max 1.0')
    lines = "\n".join(f"  - {c}" for c in causes)
    return f"Training stopped at step {step} (epoch {epoch}): the loss became {what}. Likely causes:\n{lines}"
