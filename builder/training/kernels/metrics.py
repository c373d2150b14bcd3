"""Evaluation metrics accumulated on the device, read once: accuracy, macro precision /
recall / F1 and the confusion matrix for classification, mse / mae for regression.

Portable: standard library and torch only; the exported script carries this source.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

TASKS = ("classification", "regression")


class MetricAccumulator:
    """Accumulates evaluation metrics on the device; :meth:`compute` returns plain Python.

    Classification: accuracy, macro precision / recall / F1 (a class neither present nor
    predicted is left out of the average; a 0/0 counts as 0) and the confusion matrix
    (rows = true class, columns = predicted). Regression: mse and mae.
    """

    def __init__(self, task: str, num_classes: int | None = None):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}")
        if task == "classification" and not num_classes:
            raise ValueError("classification metrics need num_classes")
        self.task = task
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        """Forget every update."""
        self.count = 0
        self._counts: Tensor | None = None  # flattened confusion matrix
        self._sse: Tensor | None = None
        self._sae: Tensor | None = None

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch: ``pred`` from :attr:`Objective.predict`, ``target`` the dataset's."""
        pred = pred.detach()
        target = target.detach()
        if self.task == "classification":
            c = int(self.num_classes or 0)
            index = target.reshape(-1).long() * c + pred.reshape(-1).long()
            if index.device.type == "cpu":  # one op; on the CPU nothing to synchronise
                counts = torch.bincount(index, minlength=c * c)
                self._counts = counts if self._counts is None else self._counts + counts
            else:  # index_add_ never synchronises; torch.bincount on CUDA reads the max back
                if self._counts is None:
                    self._counts = torch.zeros(c * c, dtype=torch.int64, device=pred.device)
                self._counts.index_add_(0, index, torch.ones_like(index))
            self.count += index.numel()
            return
        acc = torch.float32 if pred.device.type == "mps" else torch.float64
        diff = pred.reshape(target.shape).to(acc) - target.to(acc)
        if self._sse is None or self._sae is None:
            self._sse = torch.zeros((), dtype=acc, device=pred.device)
            self._sae = torch.zeros((), dtype=acc, device=pred.device)
        self._sse += diff.square().sum()
        self._sae += diff.abs().sum()
        self.count += diff.numel()

    def compute(self) -> dict[str, Any]:
        """The metrics as plain Python numbers (NaN where nothing was seen)."""
        nan = float("nan")
        if self.task == "regression":
            if self._sse is None or self._sae is None or not self.count:
                return {"mse": nan, "mae": nan, "count": 0}
            return {
                "mse": self._sse.item() / self.count,
                "mae": self._sae.item() / self.count,
                "count": self.count,
            }
        c = int(self.num_classes or 0)
        # One host copy, then plain Python: a few small lists cost less than any array op.
        if self._counts is None:
            flat = [0] * (c * c)
        else:
            flat = self._counts.tolist()
        confusion = [flat[i * c : (i + 1) * c] for i in range(c)]
        total = sum(flat)
        if not total:
            return {
                "accuracy": nan,
                "precision": nan,
                "recall": nan,
                "f1": nan,
                "confusion": confusion,
                "count": 0,
            }
        actual = [sum(row) for row in confusion]
        predicted = [sum(column) for column in zip(*confusion)]
        precision: list[float] = []
        recall: list[float] = []
        f1: list[float] = []
        for i in range(c):
            if not (predicted[i] or actual[i]):
                continue  # a class neither present nor predicted is left out
            tp = confusion[i][i]
            p = tp / predicted[i] if predicted[i] else 0.0
            r = tp / actual[i] if actual[i] else 0.0
            precision.append(p)
            recall.append(r)
            f1.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
        return {
            "accuracy": sum(confusion[i][i] for i in range(c)) / total,
            "precision": math.fsum(precision) / len(precision),
            "recall": math.fsum(recall) / len(recall),
            "f1": math.fsum(f1) / len(f1),
            "confusion": confusion,
            "count": total,
        }
