"""What the trainer optimises and measures: the loss (matched to the network's output and the
dataset's targets, refused with advice before training when they cannot fit), the optimiser,
the learning-rate schedule, L1/L2 penalties and the evaluation metrics.

Dataset conventions: classification targets are int64 class indices of shape (n,);
regression targets are float32 of shape (n, k) (or (n,), or (n, *dims) for images).
Nothing here synchronises with the device in the training loop: ``.item()`` / ``.tolist()``
appear only in :meth:`MetricAccumulator.compute`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)

from builder.training.config import LOSSES, OptimizerConfig, ScheduleConfig
from graph.errors import NeuralCanvasError

TASKS = ("classification", "regression")
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
    dataset's targets for regression, ready for :class:`MetricAccumulator`.
    """

    name: str
    task: str
    num_classes: int | None
    loss: nn.Module
    prepare_target: Callable[[Tensor], Tensor]
    predict: Callable[[Tensor], Tensor]


class BinaryHinge(nn.Module):
    """Hinge loss of one score per sample against targets in {-1, +1}:
    ``mean(clamp(1 - t * out, min=0))``."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return torch.clamp(1 - target * output, min=0).mean()


class ProbabilityBCE(nn.Module):
    """Binary cross-entropy on probabilities that explains a missing Sigmoid.

    On the CPU, torch refuses outputs outside [0, 1]; that becomes a :class:`TargetError`.
    Elsewhere torch would fire a device assert, so the same formula is written out: an
    output outside [0, 1] then gives a NaN loss, which the trainer reports as divergence.
    """

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        if output.device.type != "cpu":
            return _bce_formula(output, target)
        try:
            return F.binary_cross_entropy(output, target)
        except RuntimeError as exc:
            if "between 0 and 1" not in str(exc):
                raise
            if not bool(torch.isfinite(output.detach()).all()):  # diverged, not mis-built
                return _bce_formula(output, target)
            raise TargetError(
                "bce needs probabilities in [0, 1], but the network outputs values outside"
                " that range: add a Sigmoid before the Output, or use bce_with_logits"
            ) from exc


def _bce_formula(p: Tensor, t: Tensor) -> Tensor:
    # torch's own definition, logs clamped at -100.
    return -(
        t * torch.clamp(torch.log(p), min=-100) + (1 - t) * torch.clamp(torch.log(1 - p), min=-100)
    ).mean()


_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "huber": nn.HuberLoss,
    "bce": ProbabilityBCE,
    "bce_with_logits": nn.BCEWithLogitsLoss,
    "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss,
    "kl_div": lambda: nn.KLDivLoss(reduction="batchmean"),
}


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
        return _classification(name, out, num_classes, tgt, where)
    return _regression(name, out, tgt, target_dtype, where)


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


def _argmax(output: Tensor) -> Tensor:
    return output.detach().argmax(dim=-1)


def _above(threshold: float) -> Callable[[Tensor], Tensor]:
    def predict(output: Tensor) -> Tensor:
        return (output.detach().reshape(-1) > threshold).long()

    return predict


def _classification(
    name: str,
    out: tuple[int, ...],
    classes: int,
    tgt: tuple[int, ...],
    where: str,
) -> Objective:
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

    def labels(y: Tensor) -> Tensor:
        return y.reshape(-1).long()

    def one_hot(y: Tensor) -> Tensor:
        y = y.reshape(-1, 1)
        return (y == torch.arange(classes, device=y.device)).float()

    def column(y: Tensor) -> Tensor:
        return y.reshape(-1, 1).float()

    def signs(y: Tensor) -> Tensor:
        return y.reshape(-1, 1).float() * 2 - 1

    prepare: Callable[[Tensor], Tensor]
    predict: Callable[[Tensor], Tensor] = _argmax
    if name == "hinge":
        loss: nn.Module = BinaryHinge() if binary else nn.MultiMarginLoss()
        prepare = signs if binary else labels
        if binary:
            predict = _above(0.0)
    else:
        loss = _LOSSES[name]()
        if name in ("cross_entropy", "nll"):
            prepare = labels
        elif binary:
            prepare = column
            predict = _above(0.0 if name == "bce_with_logits" else 0.5)
        else:
            prepare = one_hot
    return Objective(name, "classification", classes, loss, prepare, predict)


def _regression(
    name: str, out: tuple[int, ...], tgt: tuple[int, ...], dtype: torch.dtype, where: str
) -> Objective:
    if name in ("cross_entropy", "nll", "hinge"):
        raise TargetError(
            f"{name} needs class labels, but {where} has real-valued targets: use mse or l1"
        )
    if out == tgt or (tgt == () and out == (1,)) or (tgt == (1,) and out == ()):
        net_shape = out
    else:
        wanted = tgt if tgt else (1,)
        if len(wanted) == 1:
            advice = f"set the last Linear's out_features to {wanted[0]}"
        else:
            advice = f"make the network's last layer output {_fmt(wanted)} (e.g. with a Reshape)"
        raise TargetError(
            f"{name}: the network outputs {_fmt(out)} but {where} has targets of shape"
            f" {_fmt(tgt)}: {advice}"
        )
    cast = not dtype.is_floating_point

    def prepare(y: Tensor) -> Tensor:
        y = y.reshape(-1, *net_shape)
        return y.float() if cast else y

    value: Callable[[Tensor], Tensor] = {
        "bce_with_logits": torch.sigmoid,
        "kl_div": torch.exp,
    }.get(name, lambda t: t)

    def predict(output: Tensor) -> Tensor:
        return value(output.detach()).reshape(-1, *tgt)

    return Objective(name, "regression", None, _LOSSES[name](), prepare, predict)


# --- optimisers and schedules -------------------------------------------------------------


def make_optimizer(cfg: OptimizerConfig, params: Iterable[Any]) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names, over ``params`` (tensors or param-group dicts)."""
    common: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.name == "sgd":
        return torch.optim.SGD(params, momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(params, eps=cfg.eps, **common)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(
            params, alpha=cfg.alpha, eps=cfg.eps, momentum=cfg.momentum, **common
        )
    if cfg.name == "adam":
        return torch.optim.Adam(params, betas=cfg.betas, eps=cfg.eps, **common)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, betas=cfg.betas, eps=cfg.eps, **common)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def make_scheduler(
    cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int
) -> LRScheduler | None:
    """The per-epoch learning-rate schedule ``cfg`` names, or None for ``"none"``."""
    if cfg.name == "none":
        return None
    if cfg.name == "step":
        return StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=cfg.t_max or epochs, eta_min=cfg.eta_min)
    if cfg.name == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=cfg.factor, patience=cfg.patience)
    raise ValueError(f"unknown schedule {cfg.name!r}")


def step_scheduler(scheduler: LRScheduler | None, val_loss: float | None) -> None:
    """Advance ``scheduler`` by one epoch. Plateau needs a loss to watch: pass the validation
    loss, or the training loss when there is no validation split."""
    if scheduler is None:
        return
    if isinstance(scheduler, ReduceLROnPlateau):
        if val_loss is None:
            raise ValueError("the plateau schedule needs a loss: pass the training loss")
        scheduler.step(val_loss)
    else:
        scheduler.step()


# --- penalties ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamsByKind:
    """Parameters split once, before training: ``weights`` (2+ dims) get L1/L2 penalties;
    ``others`` (biases, norm scales, PReLU slopes) do not."""

    weights: tuple[Tensor, ...]
    others: tuple[Tensor, ...]


def split_params(source: nn.Module | Iterable[Tensor]) -> ParamsByKind:
    """Split a module's (or an iterable's) trainable parameters by kind."""
    params = source.parameters() if isinstance(source, nn.Module) else source
    trainable = [p for p in params if p.requires_grad]
    return ParamsByKind(
        weights=tuple(p for p in trainable if p.dim() >= 2),
        others=tuple(p for p in trainable if p.dim() < 2),
    )


def penalty(
    params_by_kind: ParamsByKind | Mapping[str, Iterable[Tensor]] | Iterable[Tensor],
    l1: float,
    l2: float,
) -> Tensor | None:
    """``l1 * Σ|w| + l2 * Σw²`` over the weights, or None when both factors are 0.

    ``params_by_kind`` is a :class:`ParamsByKind` (best: split once with
    :func:`split_params`), a mapping whose ``"weights"`` entry is used, or plain tensors of
    which those with 2+ dims count. One ``torch._foreach_norm`` per term, no element loops.
    """
    if not l1 and not l2:
        return None
    if isinstance(params_by_kind, ParamsByKind):
        weights = list(params_by_kind.weights)
    elif isinstance(params_by_kind, Mapping):
        weights = list(params_by_kind["weights"])
    else:
        weights = [p for p in params_by_kind if p.dim() >= 2]
    if not weights:
        return None
    total: Tensor | None = None
    if l1:
        total = torch.stack(torch._foreach_norm(weights, 1)).sum() * l1
    if l2:
        term = torch.stack(torch._foreach_norm(weights, 2)).square().sum() * l2
        total = term if total is None else total + term
    return total


# --- metrics ------------------------------------------------------------------------------


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
