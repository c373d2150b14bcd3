"""Splitting a dataset, app side: :func:`make_splits` (train / validation / test) and
:func:`kfold`, which check the split options and split with the portable
:mod:`builder.data.splits` (normalised with statistics of the training rows only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.data.dataset import Dataset, Splits
from builder.data.errors import DatasetError
from builder.data.options import is_int, show
from builder.data.problems import SPEC_PATH
from builder.data.registry import REGISTRY, check_seed, read_options
from builder.data.seeds import rng_seed
from builder.data.splits import assemble, class_labels, fold_ids, partition, split_dataset


def make_splits(ds: Dataset, spec: dict[str, Any], seed: int = 0) -> Splits:
    """Split ``ds`` into train / validation / test (stratified for classification) and
    normalise all three with statistics of the training split (see
    :func:`builder.data.splits.split_dataset`). Same seed, same splits. A fraction that gets
    no rows is refused."""
    options = _split_options(spec)
    splits = split_dataset(ds, options, check_seed(seed))
    for name, split in (("validation", splits.val), ("test", splits.test)):
        if options[name] > 0 and split is None:
            raise _no_rows(name, options[name], len(ds))
    return splits


def kfold(ds: Dataset, spec: dict[str, Any], k: int, seed: int = 0) -> list[Splits]:
    """``k`` folds: fold *i* validates on a disjoint 1/k of the rows and trains on the rest
    (stratified for classification). A ``test`` fraction is held out first, the same in
    every fold; the ``validation`` option is not used."""
    options = _split_options(spec)
    if not is_int(k) or k < 2:
        raise DatasetError(f"k-fold: expected k to be an integer >= 2, got {show(k)}")
    rng = np.random.default_rng(rng_seed(check_seed(seed), "kfold"))
    labels = class_labels(ds)
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
        out.append(assemble(ds, train, val, test if len(test) else None, options["normalise"]))
    return out


def _split_options(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise DatasetError(
            f'{SPEC_PATH}: expected an object such as {{"name": "xor"}}, got {show(spec)}'
        )
    name = spec.get("name")
    info = REGISTRY.get(name.strip().lower()) if isinstance(name, str) else None
    return read_options(spec, info, split_only=True)


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
            raise _no_rows(name, fraction, n)
    return parts


def _no_rows(name: str, fraction: float, n: int) -> DatasetError:
    return DatasetError(
        f"{SPEC_PATH}.{name}: {fraction:g} of {n} rows leaves no rows for it; "
        f"set {name} to 0 or a larger fraction, or use more data"
        + (' (option "repeat" or "samples")' if n < 50 else "")
    )
