"""The real datasets that ship inside scikit-learn (offline): digits, iris, wine and
breast_cancer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from builder.data.dataset import Dataset, class_dataset
from builder.data.options import Option, bool_check
from builder.data.registry import register


@register(
    "digits",
    "8×8 grey images of handwritten digits, 10 classes, 1797 rows (scikit-learn, offline); "
    "pixels scaled to [0, 1]",
    "image",
    [
        Option(
            "flat",
            False,
            "true: rows of 64 pixels (kind tabular) instead of (1, 8, 8) images",
            bool_check,
        )
    ],
)
def _digits(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    names = [str(i) for i in range(10)]
    if o["flat"]:
        return class_dataset(
            "digits", x, bunch.target, "tabular", names, list(bunch.feature_names), 10
        )
    return class_dataset("digits", x.reshape(-1, 1, 8, 8), bunch.target, "image", names, None, 10)


def _sklearn_table(name: str, doc: str) -> None:
    @register(name, doc, "tabular")
    def load(o: dict[str, Any], base: Path | None, seed: int) -> Dataset:
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


_sklearn_table("iris", "iris flowers: 4 measurements, 3 species, 150 rows (scikit-learn, offline)")


_sklearn_table(
    "wine", "wines: 13 chemical measurements, 3 cultivars, 178 rows (scikit-learn, offline)"
)


_sklearn_table(
    "breast_cancer",
    "breast tumours: 30 cell measurements, malignant / benign, 569 rows (scikit-learn, offline)",
)
