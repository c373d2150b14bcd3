"""What goes wrong in a GAN, said while it trains: the alarms the trainer raises after each
epoch from the epochs' evaluations (builder.training.kernels.adversarial.evaluate) and the
newest gradient norms, each with what to try.

- the discriminator wins: it tells every generated sample from the real ones (D(G(z)) near
  0, D(x) near 1), so the generator's gradient carries little;
- mode collapse: the generated samples cover fewer classes (images: the feature classifier's
  classes; 2-D mixtures: their modes) than they did, or (data without classes) have become
  much less diverse than they were;
- exploding gradients: a layer's gradient norm above :data:`EXPLODING_NORM`;
- the generator's loss falls while the samples do not get better (the FID, or the KL of a
  2-D density, has not improved over the same epochs): it fools a weak discriminator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EXPLODING_NORM = 100.0
WINDOW = 5  # epochs over which trends are judged
WIN_PROB = 0.05  # D(G(z)) at or below this (and D(x) at or above 1 - 2x) : D wins
DIVERSE = 0.5  # the samples' diversity below this share of its best: collapse
LABELLED_LOSSES = ("non_saturating", "minimax", "least_squares")  # D's output reads 0..1


def _alarm(key: str, what: str, remedy: str) -> tuple[str, str, str]:
    return (key, what, remedy)


def alarms(
    evaluations: Sequence[Mapping[str, Any]],
    grad_max: tuple[str, float] | None,
    settings: Mapping[str, Any],
) -> tuple[tuple[str, str, str], ...]:
    """The alarms raised now: ``(key, what is wrong, what to try)`` each. ``evaluations``
    are the run's epoch evaluations, oldest first (the newest last); ``grad_max`` the layer
    with the largest gradient norm in the newest report and that norm."""
    if not evaluations:
        return ()
    now = evaluations[-1]
    out: list[tuple[str, str, str]] = []
    d_x, d_g_z = now.get("d_x"), now.get("d_g_z")
    if (
        settings.get("loss") in LABELLED_LOSSES
        and isinstance(d_x, float)
        and isinstance(d_g_z, float)
        and d_g_z <= WIN_PROB
        and d_x >= 1 - 2 * WIN_PROB
    ):
        out.append(
            _alarm(
                "discriminator_wins",
                f"The discriminator wins: D(x) = {d_x:.2f}, D(G(z)) = {d_g_z:.3f}; the"
                " generator learns little from it",
                "lower the discriminator's learning rate or d_steps, add label smoothing"
                " (0.1) or instance noise, or give the generator more units",
            )
        )
    collapse = "lower both learning rates, try the wasserstein_gp or hinge loss, add instance"
    collapse += " noise, or more d_steps"
    counted = False
    for key in ("classes", "modes"):  # labelled data: the classes (modes) covered
        values = [e[key] for e in evaluations if isinstance(e.get(key), (int, float))]
        counted = counted or bool(values)
        if len(values) > 2 * WINDOW and values[-1] <= 0.6 * max(values) and max(values) >= 3:
            n, unit = int(values[-1]), {"classes": "class", "modes": "mode"}[key]
            out.append(
                _alarm(
                    "mode_collapse",
                    f"Mode collapse: the samples cover {n} {unit if n == 1 else key}, down"
                    f" from {int(max(values))}",
                    collapse,
                )
            )
            break
    spreads = [e["diversity"] for e in evaluations if isinstance(e.get("diversity"), float)]
    if not counted and len(spreads) > WINDOW and spreads[-1] < DIVERSE * max(spreads):
        out.append(
            _alarm(
                "mode_collapse",
                f"Mode collapse: the samples' diversity fell to {spreads[-1]:.0%} of the"
                f" data's, from {max(spreads):.0%}",
                collapse,
            )
        )
    if grad_max is not None and grad_max[1] > EXPLODING_NORM:
        layer, norm = grad_max
        out.append(
            _alarm(
                "exploding_gradients",
                f"Exploding gradients: {layer} has a gradient norm of {norm:.3g}"
                f" (above {EXPLODING_NORM:g})",
                "clip the gradients (training.clip: norm, 10), lower the learning rates, or"
                " add BatchNorm to the generator",
            )
        )
    quality = "fid" if "fid" in now else "kl" if "kl" in now else None
    if quality is not None and len(evaluations) > WINDOW:
        window = evaluations[-WINDOW - 1 :]
        g = [e.get("g_loss") for e in window]
        q = [e.get(quality) for e in window]
        if all(isinstance(v, float) for v in g + q):
            falling = g[-1] < g[0] - 0.1 * abs(g[0])
            if falling and min(q[1:]) >= q[0]:
                out.append(
                    _alarm(
                        "generator_fools",
                        f"The generator's loss fell from {g[0]:.3g} to {g[-1]:.3g} over"
                        f" {WINDOW} epochs but the samples did not improve ({quality.upper()}"
                        f" {q[0]:.3g} -> {q[-1]:.3g}): it fools a weak discriminator",
                        "give the discriminator more units or d_steps, or lower the"
                        " generator's learning rate",
                    )
                )
    return tuple(out)
