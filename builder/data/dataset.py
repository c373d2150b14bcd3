"""The data types: a whole :class:`Dataset` in memory, one :class:`Split` of it, and the
train / validation / test :class:`Splits`; plus the constructors loaders build them with.

Imports only numpy and torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

KINDS = ("points2d", "tabular", "image", "sequence", "tokens")
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Dataset:
    """A whole dataset, in memory, before splitting."""

    name: str
    x: torch.Tensor  # (n, *input_shape) float32, or int64 token ids
    y: torch.Tensor  # classification: int64 (n,); regression: float32 (n, k)
    task: str  # "classification" | "regression"
    num_classes: int | None
    kind: str  # one of KINDS; the GUI picks a preview by it
    feature_names: list[str] | None = None
    class_names: list[str] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def target_shape(self) -> tuple[int, ...]:
        return tuple(self.y.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Split:
    """One part of a dataset; ``indices`` are its rows in the :class:`Dataset`."""

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Splits:
    """Train / validation / test parts. ``normalisation`` was fitted on ``train`` only and is
    already applied to all three; it is kept for export (see :func:`apply_normalisation`)."""

    dataset: Dataset
    train: Split
    val: Split | None
    test: Split | None
    normalisation: dict[str, Any]


def class_dataset(
    name: str,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    kind: str,
    class_names: list[str] | None = None,
    feature_names: list[str] | None = None,
    num_classes: int | None = None,
) -> Dataset:
    k = num_classes or int(np.max(y)) + 1
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    return Dataset(
        name,
        xt,
        torch.as_tensor(np.asarray(y, dtype=np.int64)),
        "classification",
        k,
        kind,
        feature_names,
        class_names or [str(i) for i in range(k)],
    )


def regression_dataset(
    name: str,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    kind: str,
    feature_names: list[str] | None = None,
) -> Dataset:
    y = np.asarray(y, dtype=np.float32)
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    return Dataset(
        name, xt, torch.as_tensor(y.reshape(len(y), -1)), "regression", None, kind, feature_names
    )
