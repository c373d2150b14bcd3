"""Gradient health: each layer is *healthy*, *vanishing* or *exploding*.

The rule, applied to each report's per-layer gradient L2 norms (all of a layer's parameters
together), with the thresholds of ``training.health`` in the project file
(:class:`builder.training.config.HealthThresholds`):

- *exploding*: the norm is above ``exploding`` (default 100) or not finite (NaN, inf);
- *vanishing*: the norm is below ``vanishing`` (default 1e-5), or below ``vanishing_ratio``
  (default 1e-3) times the reference norm, the largest norm among the layers that are not
  exploding (a layer is not called vanishing only because another one explodes);
- *healthy* otherwise.

In a deep sigmoid stack the first layers get a millionth of the last layer's gradient (the
sigmoid's slope is at most 1/4, so each layer shrinks the signal going back) and are
vanishing on both counts; with ReLU + BatchNorm + He init every layer stays within a factor of
about 30 of the others. A far too high learning rate makes norms grow by orders of magnitude
per step, so they cross ``exploding`` a few steps before the loss overflows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from builder.training.config import HealthThresholds

HEALTHY, VANISHING, EXPLODING = "healthy", "vanishing", "exploding"


def classify(norms: Mapping[str, float], thresholds: HealthThresholds) -> dict[str, str]:
    """``{layer: state}`` for per-layer gradient norms (see the module docstring)."""
    calm = [v for v in norms.values() if math.isfinite(v) and v <= thresholds.exploding]
    reference = max(calm, default=0.0)
    out = {}
    for layer, norm in norms.items():
        if not math.isfinite(norm) or norm > thresholds.exploding:
            out[layer] = EXPLODING
        elif norm < thresholds.vanishing or norm < thresholds.vanishing_ratio * reference:
            out[layer] = VANISHING
        else:
            out[layer] = HEALTHY
    return out


def _causes(lr: float, hints: Mapping[str, bool]) -> str:
    causes = [f"the learning rate ({lr:g}) may be too high: try one ten times lower"]
    if not hints.get("normalised", True):
        causes.append("the inputs are not normalised: set the dataset's normalise option to zscore")
    if hints.get("saturating", False):
        causes.append(
            "saturating activations (sigmoid / tanh) in a deep stack: try ReLU with BatchNorm"
        )
    if not hints.get("clipped", True):
        causes.append('no gradient clipping: set clip mode "norm" with max 1.0')
    return "Likely causes:\n" + "\n".join(f"  - {c}" for c in causes)


def divergence_message(
    step: int, epoch: int, value: float, lr: float, hints: Mapping[str, bool]
) -> str:
    """What to tell the user when the loss becomes NaN or infinite, with the likely causes
    that apply to this run (``hints``: ``normalised``, ``clipped``, ``saturating``)."""
    what = "NaN" if math.isnan(value) else "infinite"
    return f"Training stopped at step {step} (epoch {epoch}): the loss became {what}. " + _causes(
        lr, hints
    )


def blowup_message(event: Any, epoch: int, lr: float, hints: Mapping[str, bool]) -> str:
    """The same for a run whose loss or weights blew up although they stayed finite
    (``event``: a builder.training.loop.Diverged with reason "loss" or "weights")."""
    times = event.value / event.reference if event.reference else math.inf
    if event.reason == "loss":
        what = (
            f"the loss blew up to {event.value:.4g}, {times:.3g} times its lowest"
            f" ({event.reference:.4g}), though it stayed finite"
        )
    else:
        what = (
            f"the weights' norm blew up to {event.value:.4g}, {times:.3g} times its start"
            f" ({event.reference:.4g})"
        )
    return f"Training stopped after step {event.step} (epoch {epoch}): {what}. " + _causes(
        lr, hints
    )
