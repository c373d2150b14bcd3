"""Splitting rows: stratified partition into fractions, largest-remainder allocation, and
k-fold ids.

Imports only the standard library and numpy: the exported script copies these functions'
source (``inspect.getsource``), so they take and return plain arrays and raise nothing of
the app; the checks and messages live in :mod:`builder.data.splitting`."""

from __future__ import annotations

import math

import numpy as np


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
