"""The real datasets that ship inside scikit-learn (offline): digits, iris, wine and
breast_cancer.

Portable: numpy and torch (scikit-learn imported when a dataset is loaded); the exported
script copies the loader it uses. See :mod:`builder.data.builtin` for their options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from builder.data.dataset import Dataset, class_dataset


def digits(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    names = [str(i) for i in range(10)]
    if o["flat"]:
        return class_dataset(
            "digits", x, bunch.target, "tabular", names, list(bunch.feature_names), 10
        )
    return class_dataset("digits", x.reshape(-1, 1, 8, 8), bunch.target, "image", names, None, 10)


def sklearn_table(name: str) -> Dataset:
    """scikit-learn's ``load_<name>()`` table: numeric features, one class per row."""
    from sklearn import datasets as sk

    bunch = getattr(sk, f"load_{name}")()
    classes = [str(c) for c in bunch.target_names]
    return class_dataset(
        name,
        bunch.data,
        bunch.target,
        "tabular",
        classes,
        [str(f) for f in bunch.feature_names],
        len(classes),
    )


def iris(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return sklearn_table("iris")


def wine(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return sklearn_table("wine")


def breast_cancer(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    return sklearn_table("breast_cancer")
