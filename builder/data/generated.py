"""The built-in generated datasets: truth tables (and, or, xor), 2-D point sets (moons,
circles, blobs, spirals), sine regression, sine sequences and token sequences. Each draws
from its own stream of ``training.seed``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset, regression_dataset
from builder.data.errors import DatasetError
from builder.data.options import SPEC_PATH, Option, float_check, int_check
from builder.data.registry import register
from builder.data.seeds import rng_seed

# In token_sequences, these ids are reserved; filler tokens are drawn from [FIRST_FILLER, vocab).
PAD_TOKEN, MARKER_A, MARKER_B, FIRST_FILLER = 0, 1, 2, 3


_SAMPLES = lambda default: Option("samples", default, "number of rows", int_check(2))  # noqa: E731


_NOISE = lambda default, what: Option("noise", default, what, float_check(0))  # noqa: E731


_XY = ["x1", "x2"]


_TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


_REPEAT = Option(
    "repeat", 1, "how many times the 4-row table is repeated (for mini-batches)", int_check(1)
)


def _truth_table(name: str, outputs: list[int]) -> Callable[..., Dataset]:
    def load(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
        reps = o["repeat"]
        return class_dataset(
            name,
            np.tile(_TABLE, (reps, 1)),
            np.tile(outputs, reps),
            "points2d",
            ["0", "1"],
            ["a", "b"],
            2,
        )

    return load


for _name, _out, _what in (
    ("and", [0, 0, 0, 1], "AND"),
    ("or", [0, 1, 1, 1], "OR"),
    ("xor", [0, 1, 1, 0], "XOR"),
):
    register(
        _name,
        f"the {_what} truth table: inputs in {{0, 1}}², 4 rows (trains on all of them: validation defaults to 0)",
        "points2d",
        [_REPEAT],
        validation=0.0,
    )(_truth_table(_name, _out))


@register(
    "moons",
    "two interleaving half circles, 2 classes (scikit-learn make_moons)",
    "points2d",
    [_SAMPLES(400), _NOISE(0.1, "standard deviation of Gaussian noise added to the points")],
)
def _moons(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(
        n_samples=o["samples"], noise=o["noise"], random_state=rng_seed(seed, "moons")
    )
    return class_dataset("moons", x, y, "points2d", feature_names=_XY, num_classes=2)


@register(
    "circles",
    "a small circle inside a large one, 2 classes (scikit-learn make_circles)",
    "points2d",
    [
        _SAMPLES(400),
        _NOISE(0.1, "standard deviation of Gaussian noise added to the points"),
        Option(
            "factor",
            0.5,
            "radius of the inner circle relative to the outer one, in (0, 1)",
            float_check(0, 1, True, True),
        ),
    ],
)
def _circles(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(
        n_samples=o["samples"],
        noise=o["noise"],
        factor=o["factor"],
        random_state=rng_seed(seed, "circles"),
    )
    return class_dataset("circles", x, y, "points2d", ["outer", "inner"], _XY, 2)


@register(
    "blobs",
    "Gaussian blobs around random centres, one class per blob (scikit-learn make_blobs)",
    "points2d",
    [
        _SAMPLES(400),
        Option("classes", 3, "number of blobs (classes)", int_check(2)),
        Option("std", 1.0, "standard deviation of each blob", float_check(0, lo_open=True)),
    ],
)
def _blobs(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_blobs

    _enough_samples(o, "blobs")
    x, y = make_blobs(
        n_samples=o["samples"],
        centers=o["classes"],
        cluster_std=o["std"],
        random_state=rng_seed(seed, "blobs"),
    )
    return class_dataset("blobs", x, y, "points2d", feature_names=_XY, num_classes=o["classes"])


def _enough_samples(o: dict[str, Any], name: str) -> None:
    if o["samples"] < o["classes"]:
        raise DatasetError(
            f"{SPEC_PATH}.samples: {name} needs at least one sample per class "
            f"({o['classes']}), got {o['samples']}; raise samples or lower classes"
        )


@register(
    "spirals",
    "2 or 3 interleaved spiral arms, one class per arm; noise jitters the angle (radians)",
    "points2d",
    [
        _SAMPLES(400),
        Option("classes", 2, "number of arms (classes)", int_check(2, 3)),
        _NOISE(0.2, "standard deviation of the angle noise, in radians"),
    ],
)
def _spirals(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    _enough_samples(o, "spirals")
    rng = np.random.default_rng(rng_seed(seed, "spirals"))
    k = o["classes"]
    xs, ys = [], []
    for c, part in enumerate(np.array_split(np.arange(o["samples"]), k)):
        m = len(part)
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * c / k + 3 * np.pi * r + rng.normal(0.0, o["noise"], m)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        ys.append(np.full(m, c))
    return class_dataset(
        "spirals",
        np.concatenate(xs),
        np.concatenate(ys),
        "points2d",
        feature_names=_XY,
        num_classes=k,
    )


@register(
    "sine",
    "regression: x uniform in [-π, π], y = sin(x) + Gaussian noise",
    "tabular",
    [_SAMPLES(400), _NOISE(0.05, "standard deviation of the noise on y")],
)
def _sine(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine"))
    x = rng.uniform(-np.pi, np.pi, (o["samples"], 1))
    y = np.sin(x) + rng.normal(0.0, o["noise"], x.shape)
    return regression_dataset("sine", x, y, "tabular", ["x"])


_STEPS = Option("steps", 20, "time steps per sequence", int_check(2))


def _sine_waves(
    rng: np.random.Generator, n: int, steps: int, periods: np.ndarray, noise: float
) -> np.ndarray:
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(steps)[None, :]
    return amplitude * np.sin(2 * np.pi * t / periods[:, None] + phase) + rng.normal(
        0.0, noise, (n, steps)
    )


@register(
    "sine_sequences",
    "sequence classification: noisy sine waves of random phase and amplitude; "
    "class 0 = low frequency (period 12–30 steps), class 1 = high (period 4–8 steps)",
    "sequence",
    [_SAMPLES(600), _STEPS, _NOISE(0.1, "standard deviation of the noise on each step")],
)
def _sine_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine_sequences"))
    n = o["samples"]
    y = rng.permutation(np.arange(n) % 2)
    periods = np.where(y == 0, rng.uniform(12.0, 30.0, n), rng.uniform(4.0, 8.0, n))
    x = _sine_waves(rng, n, o["steps"], periods, o["noise"])[:, :, None]
    return class_dataset("sine_sequences", x, y, "sequence", ["low", "high"], ["value"], 2)


@register(
    "sine_forecast",
    "sequence regression: a window of a noisy sine wave (period 8–30 steps); y is the next value",
    "sequence",
    [_SAMPLES(600), _STEPS, _NOISE(0.05, "standard deviation of the noise on each step")],
)
def _sine_forecast(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine_forecast"))
    n, steps = o["samples"], o["steps"]
    series = _sine_waves(rng, n, steps + 1, rng.uniform(8.0, 30.0, n), o["noise"])
    return regression_dataset(
        "sine_forecast", series[:, :steps, None], series[:, steps:], "sequence", ["value"]
    )


@register(
    "token_sequences",
    "token classification: int64 ids; each sequence holds marker tokens 1 and 2 once among "
    "random filler tokens (>= 3); class 0 = token 1 comes first, class 1 = token 2 comes first",
    "tokens",
    [
        Option("samples", 4000, "number of sequences", int_check(2)),
        Option("steps", 16, "tokens per sequence", int_check(2)),
        Option(
            "vocab",
            1000,
            "vocabulary size: ids are in [0, vocab); match the Embedding's num_embeddings",
            int_check(4),
        ),
    ],
)
def _token_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "token_sequences"))
    n, steps = o["samples"], o["steps"]
    x = rng.integers(FIRST_FILLER, o["vocab"], (n, steps))
    y = rng.permutation(np.arange(n) % 2)
    # two distinct positions per row: the earlier gets the marker of the row's class
    pos = np.argsort(rng.random((n, steps)), axis=1)[:, :2]
    first, second = pos.min(axis=1), pos.max(axis=1)
    rows = np.arange(n)
    x[rows, first] = np.where(y == 0, MARKER_A, MARKER_B)
    x[rows, second] = np.where(y == 0, MARKER_B, MARKER_A)
    return class_dataset(
        "token_sequences",
        torch.as_tensor(x, dtype=torch.int64),
        y,
        "tokens",
        ["1 first", "2 first"],
        None,
        2,
    )
