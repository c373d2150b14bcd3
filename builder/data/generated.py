"""The built-in generated datasets: truth tables (and, or, xor), 2-D point sets (moons,
circles, blobs, spirals), random colours, sine regression, sine sequences and token sequences. Each draws
from its own stream of ``training.seed``.

Portable: standard library, numpy and torch only (scikit-learn imported where a dataset
comes from it); the exported script copies the loader it uses. Each loader takes the
dataset's options (already checked, see :mod:`builder.data.builtin`), the project's folder
and the seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, class_dataset, regression_dataset
from builder.data.problems import SPEC_PATH, DataError
from builder.data.seeds import rng_seed

# In token_sequences, these ids are reserved; filler tokens are drawn from [FIRST_FILLER, vocab).
PAD_TOKEN, MARKER_A, MARKER_B, FIRST_FILLER = 0, 1, 2, 3


_XY = ["x1", "x2"]


_TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def truth_table(name: str, outputs: list[int], repeat: int) -> Dataset:
    """The 4-row table of a two-input gate (inputs in {0, 1}²), repeated ``repeat`` times."""
    x = np.tile(_TABLE, (repeat, 1))
    return class_dataset(name, x, np.tile(outputs, repeat), "points2d", ["0", "1"], ["a", "b"], 2)


def and_table(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return truth_table("and", [0, 0, 0, 1], o["repeat"])


def or_table(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return truth_table("or", [0, 1, 1, 1], o["repeat"])


def xor_table(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return truth_table("xor", [0, 1, 1, 0], o["repeat"])


def table(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    """The rows typed into the project (a textbook's worked example): ``rows`` the inputs,
    ``targets`` one per row (whole numbers >= 0: classes, unless ``task`` says regression)
    or null (no targets: 0 for every row, for a procedure that needs none), ``features``
    their names."""
    x = np.asarray(o["rows"], dtype=np.float64)
    names = o["features"] or [f"x{i + 1}" for i in range(x.shape[1])]
    if len(names) != x.shape[1]:
        raise DataError(
            f"{SPEC_PATH}.features: {len(names)} names for rows of {x.shape[1]} numbers:"
            " give one name per number"
        )
    kind = "points2d" if x.shape[1] == 2 else "tabular"
    targets = o["targets"]
    if targets is None:  # for a procedure that needs none (a SOM): every target 0
        return regression_dataset("table", x, np.zeros(len(x)), kind, names)
    if len(targets) != len(x):
        raise DataError(
            f"{SPEC_PATH}.targets: {len(targets)} targets for {len(x)} rows: give one per row"
        )
    y = np.asarray(targets, dtype=np.float64)
    whole = y.ndim == 1 and bool(np.all(y == np.round(y))) and bool(np.all(y >= 0))
    if o["task"] == "classification" and not whole:
        raise DataError(
            f"{SPEC_PATH}.targets: classes must be whole numbers from 0, got {targets[:4]}"
        )
    if o["task"] == "regression" or (o["task"] == "auto" and not whole):
        return regression_dataset("table", x, y, kind, names)
    return class_dataset("table", x, y.astype(np.int64), kind, feature_names=names)


def moons(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(
        n_samples=o["samples"], noise=o["noise"], random_state=rng_seed(seed, "moons")
    )
    return class_dataset("moons", x, y, "points2d", feature_names=_XY, num_classes=2)


def circles(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(
        n_samples=o["samples"],
        noise=o["noise"],
        factor=o["factor"],
        random_state=rng_seed(seed, "circles"),
    )
    return class_dataset("circles", x, y, "points2d", ["outer", "inner"], _XY, 2)


def blobs(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
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
        raise DataError(
            f"{SPEC_PATH}.samples: {name} needs at least one sample per class "
            f"({o['classes']}), got {o['samples']}; raise samples or lower classes"
        )


def spirals(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
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


def _mixture(name: str, centres: np.ndarray, o: dict[str, Any], seed: int) -> Dataset:
    """``samples`` points from Gaussians of standard deviation ``std`` at ``centres``, as
    evenly shared as the count allows; the class of a point is its Gaussian (a GAN's modes:
    how many it covers)."""
    rng = np.random.default_rng(rng_seed(seed, name))
    k = len(centres)
    y = np.arange(o["samples"]) % k
    rng.shuffle(y)
    x = centres[y] + rng.normal(0.0, o["std"], (o["samples"], 2))
    return class_dataset(name, x, y, "points2d", feature_names=_XY, num_classes=k)


def ring(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    _enough_samples(o, "ring")
    angles = 2 * np.pi * np.arange(o["classes"]) / o["classes"]
    centres = o["radius"] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture("ring", centres, o, seed)


def grid(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    side = o["side"]
    _enough_samples({"samples": o["samples"], "classes": side * side}, "grid")
    ticks = np.linspace(-(side - 1) / 2, (side - 1) / 2, side) * o["spacing"]
    gx, gy = np.meshgrid(ticks, ticks)
    return _mixture("grid", np.stack([gx.ravel(), gy.ravel()], axis=1), o, seed)


def sine(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine"))
    x = rng.uniform(-np.pi, np.pi, (o["samples"], 1))
    y = np.sin(x) + rng.normal(0.0, o["noise"], x.shape)
    return regression_dataset("sine", x, y, "tabular", ["x"])


def sine_waves(
    rng: np.random.Generator, n: int, steps: int, periods: np.ndarray, noise: float
) -> np.ndarray:
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    t = np.arange(steps)[None, :]
    return amplitude * np.sin(2 * np.pi * t / periods[:, None] + phase) + rng.normal(
        0.0, noise, (n, steps)
    )


def sine_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine_sequences"))
    n = o["samples"]
    y = rng.permutation(np.arange(n) % 2)
    periods = np.where(y == 0, rng.uniform(12.0, 30.0, n), rng.uniform(4.0, 8.0, n))
    x = sine_waves(rng, n, o["steps"], periods, o["noise"])[:, :, None]
    return class_dataset("sine_sequences", x, y, "sequence", ["low", "high"], ["value"], 2)


def sine_forecast(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    rng = np.random.default_rng(rng_seed(seed, "sine_forecast"))
    n, steps = o["samples"], o["steps"]
    series = sine_waves(rng, n, steps + 1, rng.uniform(8.0, 30.0, n), o["noise"])
    return regression_dataset(
        "sine_forecast", series[:, :steps, None], series[:, steps:], "sequence", ["value"]
    )


def token_sequences(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
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


# The colours a random RGB colour is labelled with: the nearest corner of the RGB cube.
COLOURS = {
    "black": (0, 0, 0),
    "red": (1, 0, 0),
    "green": (0, 1, 0),
    "blue": (0, 0, 1),
    "yellow": (1, 1, 0),
    "magenta": (1, 0, 1),
    "cyan": (0, 1, 1),
    "white": (1, 1, 1),
}


def colors(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    """``samples`` colours uniform in the RGB cube [0, 1]³ (red, green, blue), each labelled
    with its nearest corner (the classic SOM demo: the map sorts the colours)."""
    rng = np.random.default_rng(rng_seed(seed, "colors"))
    x = rng.random((o["samples"], 3))
    corners = np.array(list(COLOURS.values()), dtype=np.float64)
    y = ((x[:, None, :] - corners[None]) ** 2).sum(-1).argmin(1)
    return class_dataset(
        "colors",
        x,
        y,
        "tabular",
        feature_names=["red", "green", "blue"],
        class_names=list(COLOURS),
        num_classes=len(COLOURS),
    )
