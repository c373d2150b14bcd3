"""Splitting a dataset, app side: :func:`make_splits` (train / validation / test) and
:func:`kfold`, which check the split options, split with :mod:`builder.data.splits` and
normalise with :mod:`builder.data.normalisation` (fitted on the training rows only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from builder.data.dataset import Dataset, Split, Splits
from builder.data.errors import DatasetError
from builder.data.normalisation import apply_normalisation, fit_normalisation
from builder.data.options import SPEC_PATH, is_int, show
from builder.data.registry import REGISTRY, check_seed, read_options
from builder.data.seeds import rng_seed
from builder.data.splits import fold_ids, partition


def make_splits(ds: Dataset, spec: dict[str, Any], seed: int = 0) -> Splits:
    """Split ``ds`` into train / validation / test (stratified for classification) and
    normalise all three with statistics of the training split. Same seed, same splits."""
    options = _split_options(spec)
    rng = np.random.default_rng(rng_seed(check_seed(seed), "splits"))
    labels = _labels(ds)
    parts = _partition(
        labels, len(ds), [options["validation"], options["test"]], rng, ["validation", "test"]
    )
    train, val, test = parts[2], parts[0], parts[1]
    return _assemble(
        ds, train, val if len(val) else None, test if len(test) else None, options["normalise"]
    )


def kfold(ds: Dataset, spec: dict[str, Any], k: int, seed: int = 0) -> list[Splits]:
    """``k`` folds: fold *i* validates on a disjoint 1/k of the rows and trains on the rest
    (stratified for classification). A ``test`` fraction is held out first, the same in
    every fold; the ``validation`` option is not used."""
    options = _split_options(spec)
    if not is_int(k) or k < 2:
        raise DatasetError(f"k-fold: expected k to be an integer >= 2, got {show(k)}")
    rng = np.random.default_rng(rng_seed(check_seed(seed), "kfold"))
    labels = _labels(ds)
    test, rest = _partition(labels, len(ds), [options["test"]], rng, ["test"])
    if len(rest) < k:
        raise DatasetError(
            f"k-fold: {k} folds need at least {k} rows for training and validation, but "
            f"{ds.name} leaves {len(rest)}; use fewer folds or more data"
        )
    folds = fold_ids(None if labels is None else labels[rest], len(rest), k, rng)
    out = []
    for i in range(k):
        val, train = rest[folds == i], rest[folds != i]
        out.append(_assemble(ds, train, val, test if len(test) else None, options["normalise"]))
    return out


def _split_options(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise DatasetError(
            f'{SPEC_PATH}: expected an object such as {{"name": "xor"}}, got {show(spec)}'
        )
    name = spec.get("name")
    info = REGISTRY.get(name.strip().lower()) if isinstance(name, str) else None
    return read_options(spec, info, split_only=True)


def _labels(ds: Dataset) -> np.ndarray | None:
    return ds.y.cpu().numpy() if ds.task == "classification" else None


def _partition(
    labels: np.ndarray | None,
    n: int,
    fractions: list[float],
    rng: np.random.Generator,
    names: list[str],
) -> list[np.ndarray]:
    """:func:`builder.data.splits.partition`, refusing a fraction that gets no rows."""
    parts = partition(labels, n, fractions, rng)
    for fraction, name, rows in zip(fractions, names, parts):
        if fraction > 0 and len(rows) == 0:
            raise DatasetError(
                f"{SPEC_PATH}.{name}: {fraction:g} of {n} rows leaves no rows for it; "
                f"set {name} to 0 or a larger fraction, or use more data"
                + (' (option "repeat" or "samples")' if n < 50 else "")
            )
    return parts


def _assemble(
    ds: Dataset,
    train: np.ndarray,
    val: np.ndarray | None,
    test: np.ndarray | None,
    normalise: str,
) -> Splits:
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
