"""Splitting rows: a dataset's train / validation / test splits (:func:`split_dataset`),
stratified partition into fractions, largest-remainder allocation, and k-fold ids.

Portable: standard library, numpy and torch only (and the portable data modules); the
exported script copies these functions' source, so they raise nothing of the app; the checks
of the split options and their messages live in :mod:`builder.data.splitting`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, Split, Splits
from builder.data.normalisation import apply_normalisation, fit_normalisation
from builder.data.seeds import rng_seed


def split_dataset(ds: Dataset, options: dict[str, Any], seed: int) -> Splits:
    """Train / validation / test splits of ``ds`` by the split options (``validation`` and
    ``test`` fractions, stratified for classification), all three normalised with
    statistics of the training split (``normalise``); a training split of every row keeps the
    data's order. Same seed, same splits."""
    rng = np.random.default_rng(rng_seed(seed, "splits"))
    labels = class_labels(ds)
    val, test, train = partition(labels, len(ds), [options["validation"], options["test"]], rng)
    if not len(val) and not len(test):  # all rows train: in the data's order (epochs
        train = np.sort(train)  # shuffle them unless training.shuffle is off: a worked example)
    return assemble(
        ds, train, val if len(val) else None, test if len(test) else None, options["normalise"]
    )


def class_labels(ds: Dataset) -> np.ndarray | None:
    """The labels a split is stratified by (None for regression)."""
    return ds.y.cpu().numpy() if ds.task == "classification" else None


def assemble(
    ds: Dataset,
    train: np.ndarray,
    val: np.ndarray | None,
    test: np.ndarray | None,
    normalise: str,
) -> Splits:
    """The splits of these rows, normalised with statistics of the training rows (never
    token ids)."""
    if ds.x.dtype == torch.int64 or normalise == "none":
        stats: dict[str, Any] = {"kind": "none"}
    else:
        stats = fit_normalisation(ds.x[torch.from_numpy(train)], normalise, ds.kind)

    def part(idx: np.ndarray | None) -> Split | None:
        if idx is None:
            return None
        rows = torch.from_numpy(idx)
        return Split(apply_normalisation(ds.x[rows], stats), ds.y[rows], rows)

    return Splits(ds, part(train), part(val), part(test), stats)  # type: ignore[arg-type]


def partition(
    labels: np.ndarray | None, n: int, fractions: list[float], rng: np.random.Generator
) -> list[np.ndarray]:
    """Row indices for each fraction, then the rest. Stratified when ``labels`` are given:
    each class gives floor or ceil of its share and keeps at least one row for training, so
    a small fraction of few rows can get none (the app refuses that, see builder.data.splitting)."""
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    groups = [rng.permutation(g) for g in groups]
    counts = np.array([len(g) for g in groups])
    used = np.zeros(len(groups), dtype=int)
    takes = []
    for fraction in fractions:
        total = math.floor(fraction * n + 0.5)
        take = allocate(counts, fraction, total, counts - 1 - used, rng)
        takes.append(take)
        used += take
    out: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for g, group in enumerate(groups):
        start = 0
        for i, take in enumerate(takes):
            out[i].append(group[start : start + take[g]])
            start += take[g]
        out[-1].append(group[start:])
    return [rng.permutation(np.concatenate(parts)).astype(np.int64) for parts in out]


def allocate(
    counts: np.ndarray, fraction: float, total: int, caps: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` rows over groups, each at most its cap."""
    caps = np.maximum(caps, 0)
    quota = fraction * counts
    take = np.minimum(np.floor(quota).astype(int), caps)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-(quota - np.floor(quota))[order], kind="stable")]
    for bounded in (True, False):  # first within one row of each quota, then anywhere
        for g in order:
            if take.sum() >= total:
                return take
            if take[g] < caps[g] and (not bounded or take[g] < math.ceil(quota[g])):
                take[g] += 1
    return take


def fold_ids(labels: np.ndarray | None, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number for each row, dealt round-robin class by class (so per-class counts and
    fold sizes each differ by at most one)."""
    folds = np.empty(n, dtype=np.int64)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    dealt = 0
    for g in rng.permutation(len(groups)):
        rows = rng.permutation(groups[g])
        folds[rows] = (dealt + np.arange(len(rows))) % k
        dealt += len(rows)
    return folds
