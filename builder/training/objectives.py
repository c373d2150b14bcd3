"""What the trainer optimises and measures, app side: the loss matched to the network's
output and the dataset's targets, refused with advice before training when they cannot fit
(:func:`make_loss`), and the optimiser, schedule, penalties and metrics by their app names.

The functions training runs live in the portable kernels' package (losses in
:mod:`builder.training.kernels.losses`, the rest in ``common`` and ``metrics``), which the
exported script carries; this module checks and re-exports them.

Dataset conventions: classification targets are int64 class indices of shape (n,);
regression targets are float32 of shape (n, k) (or (n,), or (n, *dims) for images).
Nothing here synchronises with the device in the training loop: ``.item()`` / ``.tolist()``
appear only in :meth:`MetricAccumulator.compute`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

from builder.training.config import LOSSES, OptimizerConfig, ScheduleConfig
from builder.training.kernels import common, losses
from builder.training.kernels.metrics import TASKS
from graph.errors import NeuralCanvasError

# Type ids of last layers whose output is a probability / a log-probability.
PROBABILITY_LAYERS = frozenset({"Sigmoid", "Softmax", "Step"})
LOG_PROBABILITY_LAYERS = frozenset({"LogSoftmax"})


class TargetError(NeuralCanvasError):
    """The loss does not fit the network's output or the dataset's targets."""


@dataclass(frozen=True)
class Objective:
    """A loss matched to one network output and one dataset.

    ``loss(output, prepare_target(y))`` is the training loss of a batch; ``predict(output)``
    gives class indices (int64, shape (n,)) for classification and values shaped like the
    dataset's targets for regression, ready for :class:`MetricAccumulator`. They are the
    functions :func:`builder.training.kernels.losses.supervised_objective` builds from
    ``settings``, the plain values the supervised kernel is set up with.
    """

    name: str
    task: str
    num_classes: int | None
    loss: Callable[[Tensor, Tensor], Tensor]
    prepare_target: Callable[[Tensor], Tensor]
    predict: Callable[[Tensor], Tensor]
    settings: dict[str, Any]

    @property
    def fast_loss(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The loss as its cheapest exact call (see :func:`loss_callable`)."""
        return loss_callable(self.loss)


def _explained(loss: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """``bce``, whose refusal of values outside [0, 1] is a :class:`TargetError`."""

    def bce(output: Tensor, target: Tensor) -> Tensor:
        try:
            return loss(output, target)
        except losses.ProbabilityError as exc:
            raise TargetError(str(exc)) from exc

    return bce


def loss_callable(loss: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """The cheapest call that computes ``loss(output, target)`` exactly as ``loss`` does.

    A torch loss module with its default settings is its functional form
    (``nn.CrossEntropyLoss()`` is ``F.cross_entropy``), which skips ``Module.__call__`` and
    the attribute look-ups of ``forward`` (about 1 us a step, 0.3 % of a small MLP's step).
    Another module without hooks is its bound ``forward``; anything else is returned as is.
    """
    if not isinstance(loss, nn.Module) or loss._forward_hooks or loss._forward_pre_hooks:
        return loss
    kind = type(loss)
    mean = getattr(loss, "reduction", None) == "mean"
    if kind is nn.CrossEntropyLoss and mean and loss.weight is None:
        if loss.ignore_index == -100 and loss.label_smoothing == 0.0:
            return F.cross_entropy
    elif kind is nn.NLLLoss and mean and loss.weight is None and loss.ignore_index == -100:
        return F.nll_loss
    elif kind is nn.MSELoss and mean:
        return F.mse_loss
    elif kind is nn.L1Loss and mean:
        return F.l1_loss
    elif kind is nn.BCEWithLogitsLoss and mean:
        if loss.weight is None and loss.pos_weight is None:
            return F.binary_cross_entropy_with_logits
    return loss.forward


def _fmt(dims: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(str(d) for d in dims) + ")" if dims else "(N,)"


def _per_sample(shape: Iterable[Any]) -> tuple[int, ...]:
    dims = tuple(shape)
    if dims and dims[0] == "N":  # a builder.catalog.spec.Shape still carrying its batch dim
        dims = dims[1:]
    return tuple(int(d) for d in dims)


def make_loss(
    name: str,
    output_shape: tuple[int, ...],
    task: str,
    num_classes: int | None,
    target_shape: tuple[int, ...],
    target_dtype: torch.dtype,
    *,
    dataset: str = "",
    last_layer: str | None = None,
    targets: Tensor | None = None,
) -> Objective:
    """Match loss ``name`` to the network output and the dataset, or refuse with advice.

    Args:
        name: one of :data:`builder.training.config.LOSSES`.
        output_shape: the network's output shape for one sample (no batch dim; a leading
            ``"N"`` is dropped).
        task: ``"classification"`` or ``"regression"``.
        num_classes: the number of classes (classification only).
        target_shape: one sample's target shape: ``()`` for class indices, ``(k,)`` etc.
        target_dtype: the dtype of the dataset's targets.
        dataset: the dataset's name, for messages.
        last_layer: type id of the layer feeding the Output, when known; ``bce`` then needs a
            Sigmoid/Softmax and ``nll`` / ``kl_div`` a LogSoftmax.
        targets: the dataset's targets, when known: ``bce`` and ``bce_with_logits`` then
            need regression targets in [0, 1].

    Raises:
        TargetError: the loss cannot work with this output and these targets.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    out = _per_sample(output_shape)
    tgt = _per_sample(target_shape)
    where = f"dataset '{dataset}'" if dataset else "the dataset"
    _check_last_layer(name, last_layer)
    if task == "classification":
        if num_classes is None:
            raise ValueError("a classification dataset needs num_classes")
        _check_classification(name, out, num_classes, tgt, where)
    else:
        _check_regression(name, out, tgt, where)
        if targets is not None:
            _check_probability_targets(name, targets, where, last_layer)
    settings = {
        "loss": name,
        "task": task,
        "num_classes": num_classes if task == "classification" else None,
        "output_shape": out,
        "target_shape": tgt,
        "cast_targets": task == "regression" and not target_dtype.is_floating_point,
    }
    loss, prepare, predict = losses.supervised_objective(**settings)
    if name == "bce":
        loss = _explained(loss)
    return Objective(name, task, settings["num_classes"], loss, prepare, predict, settings)


def _check_last_layer(name: str, last_layer: str | None) -> None:
    if last_layer is None:
        return
    if name == "bce" and last_layer not in PROBABILITY_LAYERS:
        raise TargetError(
            f"bce needs probabilities in [0, 1], but the network ends with {last_layer}:"
            " add a Sigmoid before the Output, or use bce_with_logits"
        )
    if name in ("nll", "kl_div") and last_layer not in LOG_PROBABILITY_LAYERS:
        raise TargetError(
            f"{name} needs log-probabilities, but the network ends with {last_layer}:"
            " add a LogSoftmax before the Output, or use cross_entropy"
        )


def _check_probability_targets(
    name: str, targets: Tensor, where: str, last_layer: str | None
) -> None:
    """``bce`` and ``bce_with_logits`` compare with probabilities: targets outside [0, 1]
    (labels such as 1.5 or -1) are refused, naming the targets, not the network."""
    if name not in ("bce", "bce_with_logits") or not targets.numel():
        return
    values = targets.detach().reshape(targets.shape[0], -1).double()
    outside = ((values < 0) | (values > 1)).any(dim=1)
    if not bool(outside.any()):
        return
    row = int(outside.nonzero()[0, 0])
    # read once, before training (float(), not .item(): nothing here syncs in the loop)
    bad = float(values[row][(values[row] < 0) | (values[row] > 1)][0])
    lo, hi = float(values.min()), float(values.max())
    if name == "bce" and last_layer in PROBABILITY_LAYERS:
        output = f"the network's {last_layer} output is fine, the targets are not"
    elif name == "bce":
        output = "the targets are the problem, not the network's output"
    else:
        output = "the network's scores are fine, the targets are not"
    raise TargetError(
        f"{name} compares with targets that are probabilities in [0, 1] (labels 0 and 1, or"
        f" fractions between), but {where} has targets from {lo:g} to {hi:g} (row {row}"
        f" holds {bad:g}); {output}: scale the targets into [0, 1], or use mse or l1 for"
        " real-valued targets"
    )


def _check_classification(
    name: str, out: tuple[int, ...], classes: int, tgt: tuple[int, ...], where: str
) -> None:
    if tgt not in ((), (1,)):
        raise ValueError(f"class-index targets must have shape (n,), got per-sample {tgt}")
    if len(out) != 1:
        raise TargetError(
            f"{name}: the network outputs {_fmt(out)} but {where} has {classes} classes and"
            f" needs (N, {classes}): add a Flatten and a Linear with out_features={classes}"
            " before the Output"
        )
    width = out[0]
    binary = width == 1 and classes == 2
    index_only = name in ("cross_entropy", "nll", "kl_div")
    if width != classes and not (binary and not index_only):
        if width == 1 and not index_only:
            advice = (
                f"set the last Linear's out_features to {classes} (one score per class),"
                " or use cross_entropy"
            )
            raise TargetError(
                f"{name} with one output handles 2 classes, but {where} has {classes} classes:"
                f" {advice}"
            )
        also = " (or use bce_with_logits with one output)" if width == 1 and classes == 2 else ""
        raise TargetError(
            f"{name}: the network outputs {_fmt(out)} but {where} has {classes} classes:"
            f" set the last Linear's out_features to {classes}{also}"
        )


def _check_regression(name: str, out: tuple[int, ...], tgt: tuple[int, ...], where: str) -> None:
    if name in ("cross_entropy", "nll", "hinge"):
        raise TargetError(
            f"{name} needs class labels, but {where} has real-valued targets: use mse or l1"
        )
    if not (out == tgt or (tgt == () and out == (1,)) or (tgt == (1,) and out == ())):
        wanted = tgt if tgt else (1,)
        if len(wanted) == 1:
            advice = f"set the last Linear's out_features to {wanted[0]}"
        else:
            advice = f"make the network's last layer output {_fmt(wanted)} (e.g. with a Reshape)"
        raise TargetError(
            f"{name}: the network outputs {_fmt(out)} but {where} has targets of shape"
            f" {_fmt(tgt)}: {advice}"
        )


# --- optimisers, schedules, penalties and metrics: portable, in the kernels' package -----

from builder.training.kernels.common import (  # noqa: E402
    ParamsByKind,
    penalty,
    split_params,
    step_scheduler,
)
from builder.training.kernels.metrics import MetricAccumulator  # noqa: E402


def make_optimizer(cfg: OptimizerConfig, params: Iterable[Any]) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names (see :func:`builder.training.kernels.common.make_optimizer`)."""
    return common.make_optimizer(asdict(cfg), params)


def make_scheduler(
    cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int
) -> LRScheduler | None:
    """The schedule ``cfg`` names (see :func:`builder.training.kernels.common.make_scheduler`)."""
    return common.make_scheduler(asdict(cfg), optimizer, epochs)


__all__ = [
    "MetricAccumulator",
    "Objective",
    "ParamsByKind",
    "TargetError",
    "loss_callable",
    "make_loss",
    "make_optimizer",
    "make_scheduler",
    "penalty",
    "split_params",
    "step_scheduler",
]
