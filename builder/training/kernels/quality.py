"""How good a GAN's images are, in numbers: a small feature classifier trained once on the
labelled data (seeded, so the same data gives the same classifier; kept for the session),
then for generated images

- the classes covered: a class counts when at least ``CLASS_SHARE`` of the share a uniform
  cover gives it is classified as it (mode collapse shows as classes lost);
- the Fréchet distance of the classifier's features (FID's formula, Heusel et al. 2017, on
  this classifier's penultimate layer instead of Inception's): ‖μ_r − μ_g‖² +
  tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½);
- the kernel inception distance (KID, Bińkowski et al. 2018) on the same features: the
  unbiased squared MMD with the cubic kernel k(a, b) = (a·b / d + 1)³.

Lower is better for both distances; real held-out images against the training images give
the floor. Portable (see builder/training/loop.py): the standard library and torch only; the
exported script carries its source.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

CLASSIFIER_HIDDEN = 128
CLASSIFIER_FEATURES = 64  # the penultimate layer's width: the features compared
CLASSIFIER_STEPS = 100  # full-batch Adam steps
CLASS_SHARE = 0.5  # a class is covered with at least this share of a uniform cover's
QUALITY_DRAWS = 1000  # generated images measured each evaluation
_CACHE: dict[tuple, dict[str, Any]] = {}  # fingerprint of the data -> the classifier


class FeatureClassifier(nn.Module):
    """Flatten, two hidden layers (the second's output: the features), class scores."""

    def __init__(self, inputs: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(inputs, CLASSIFIER_HIDDEN),
            nn.ReLU(),
            nn.Linear(CLASSIFIER_HIDDEN, CLASSIFIER_FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(CLASSIFIER_FEATURES, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _fingerprint(x: torch.Tensor, y: torch.Tensor, seed: int) -> tuple:
    """What tells one data set from another, cheaply (the cache's key)."""
    flat = x.detach().reshape(x.shape[0], -1).double()
    ramp = torch.linspace(1.0, 2.0, flat.shape[1], dtype=flat.dtype, device=flat.device)
    sums = (flat.sum(), flat.square().sum(), (flat @ ramp).square().sum(), y.double().sum())
    return (tuple(x.shape), seed, *(round(float(v), 6) for v in sums))


def train_classifier(x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, Any]:
    """The classifier trained on images ``x`` with class labels ``y`` (on their device),
    with the real features' mean and covariance: once per data and seed in a session."""
    key = _fingerprint(x, y, seed)
    if key in _CACHE:
        return _CACHE[key]
    classes = int(y.max()) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureClassifier(x[0].numel(), classes).to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    inputs, targets = x.detach().float(), y.detach().long()
    with torch.enable_grad():
        for _ in range(CLASSIFIER_STEPS):
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        accuracy = float((model(inputs).argmax(dim=1) == targets).float().mean())
        raw = model.body(inputs).double()
    # features scaled so that a real one's mean square is 1 (the cubic kernel's a·b / d is
    # then about 1 whatever the classifier learnt)
    scale = float(raw.square().mean().sqrt().clamp(min=1e-12))
    made = {"model": model, "classes": classes, "accuracy": accuracy, "scale": scale}
    made["real"] = real = features(made, inputs)
    made["mean"], made["cov"] = moments(real)
    kept = real[:QUALITY_DRAWS]  # KID's real term is the same every epoch: computed once
    made["real_within"] = float(_within(_cubic(kept, kept)))
    _CACHE[key] = made
    return made


@torch.no_grad()
def features(made: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """The classifier's features of images ``x`` (float64, scaled as the real ones)."""
    return made["model"].body(x.float()).double() / made["scale"]


def moments(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = f.mean(dim=0)
    centred = f - mean
    return mean, centred.T @ centred / max(f.shape[0] - 1, 1)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((m + m.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet(m1: torch.Tensor, c1: torch.Tensor, m2: torch.Tensor, c2: torch.Tensor) -> float:
    """‖m1 − m2‖² + tr(c1 + c2 − 2 (c1 c2)^½), with tr((c1 c2)^½) = tr((s c2 s)^½),
    s = c1^½ (symmetric, so the square root is an eigen-decomposition's)."""
    s = _sqrt_psd(c1)
    cross = torch.linalg.eigvalsh(s @ c2 @ s).clamp(min=0).sqrt().sum()
    return float((m1 - m2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * cross)


def _cubic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1).pow(3)


def _within(k: torch.Tensor) -> torch.Tensor:
    """The mean of a kernel matrix of a set with itself, its diagonal left out."""
    n = k.shape[0]
    return (k.sum() - k.diagonal().sum()) / (n * (n - 1))


def kid(real: torch.Tensor, fake: torch.Tensor, real_within: float | None = None) -> float:
    """The unbiased squared MMD of two feature sets with the cubic polynomial kernel
    (``real_within``: the real set's own term, when it has been computed once already)."""
    if real_within is None:
        real_within = float(_within(_cubic(real, real)))
    same_f = _within(_cubic(fake, fake))
    return float(real_within + same_f - 2 * _cubic(real, fake).mean())


@torch.no_grad()
def class_shares(made: dict[str, Any], images: torch.Tensor) -> torch.Tensor:
    """The share of ``images`` the classifier puts in each class."""
    predicted = made["model"](images.float()).argmax(dim=1)
    counts = torch.bincount(predicted, minlength=made["classes"]).double()
    return counts / max(images.shape[0], 1)


@torch.no_grad()
def measure_images(made: dict[str, Any], images: torch.Tensor) -> dict[str, float]:
    """``classes`` covered, ``fid`` and ``kid`` of generated ``images`` against the real
    training images (features of at most QUALITY_DRAWS of each for KID)."""
    body = made["model"].body(images.float())  # once for the classes and the features
    predicted = made["model"].head(body).argmax(dim=1)
    shares = torch.bincount(predicted, minlength=made["classes"]).double() / images.shape[0]
    covered = int((shares >= CLASS_SHARE / made["classes"]).sum())
    fake = body.double() / made["scale"]
    mean, cov = moments(fake)
    real = made["real"][:QUALITY_DRAWS]
    return {
        "classes": covered,
        "fid": frechet(made["mean"], made["cov"], mean, cov),
        "kid": kid(real, fake[:QUALITY_DRAWS], made["real_within"]),
    }
