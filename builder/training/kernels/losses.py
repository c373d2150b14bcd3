"""The supervised losses, the targets each takes and the predictions the metrics read, built
from plain names, so that a kernel's settings stay plain data.

Portable: standard library and torch only; the exported script carries this source. Which
loss fits which output and targets is checked app side, with advice, before training
(:func:`builder.training.objectives.make_loss`); here every combination is taken as valid.

Dataset conventions: classification targets are int64 class indices of shape (n,);
regression targets are float32 of shape (n, k) (or (n,), or (n, *dims) for images).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

INDEX_LOSSES = ("cross_entropy", "nll")  # losses of class indices (and hinge on scores)


class ProbabilityError(ValueError):
    """``bce`` was given values outside [0, 1] (a network without a final Sigmoid)."""


def bce(output: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy on probabilities.

    On the CPU, torch refuses outputs outside [0, 1]; that becomes a :class:`ProbabilityError`
    that says what to add. Elsewhere torch would fire a device assert, so the same formula is
    written out: an output outside [0, 1] then gives a NaN loss, reported as divergence.
    """
    if output.device.type != "cpu":
        return bce_formula(output, target)
    try:
        return F.binary_cross_entropy(output, target)
    except RuntimeError as exc:
        if "between 0 and 1" not in str(exc):
            raise
        if not bool(torch.isfinite(output.detach()).all()):  # diverged, not mis-built
            return bce_formula(output, target)
        if bool(((target < 0) | (target > 1)).any()):  # the labels, not the network
            raise ProbabilityError(
                "bce needs targets in [0, 1], but the labels hold values outside that range:"
                " give labels 0 / 1 (or fractions between them), or use another loss"
            ) from exc
        raise ProbabilityError(
            "bce needs probabilities in [0, 1], but the network outputs values outside"
            " that range: add a Sigmoid before the Output, or use bce_with_logits"
        ) from exc


def bce_formula(p: Tensor, t: Tensor) -> Tensor:
    """torch's definition of binary cross-entropy, logs clamped at -100."""
    return -(
        t * torch.clamp(torch.log(p), min=-100) + (1 - t) * torch.clamp(torch.log(1 - p), min=-100)
    ).mean()


def binary_hinge(output: Tensor, target: Tensor) -> Tensor:
    """Hinge loss of one score per sample against targets in {-1, +1}:
    ``mean(clamp(1 - t * out, min=0))``."""
    return torch.clamp(1 - target * output, min=0).mean()


def half_sse(output: Tensor, target: Tensor) -> Tensor:
    """The textbook's squared error: ½·Σ(y − d)² over a sample's outputs, averaged over the
    batch (its gradient is y − d, without mse's 2/outputs)."""
    return 0.5 * (output - target).square().reshape(output.shape[0], -1).sum(1).mean()


def kl_div(output: Tensor, target: Tensor) -> Tensor:
    """KL divergence of log-probabilities from target probabilities, averaged over the batch."""
    return F.kl_div(output, target, reduction="batchmean")


# Each loss as its functional form: what torch's loss module with default settings computes,
# without Module.__call__ (about 1 us a step).
LOSS_FUNCTIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": F.mse_loss,
    "half_sse": half_sse,
    "l1": F.l1_loss,
    "huber": F.huber_loss,
    "bce": bce,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
    "kl_div": kl_div,
    "hinge": F.multi_margin_loss,
}


def is_binary(task: str, num_classes: int | None, output_shape: Sequence[int]) -> bool:
    """One score per sample for two classes: a threshold, not an argmax, picks the class."""
    return task == "classification" and tuple(output_shape) == (1,) and num_classes == 2


def supervised_objective(
    loss: str,
    task: str,
    num_classes: int | None,
    output_shape: Sequence[int],
    target_shape: Sequence[int],
    cast_targets: bool,
) -> tuple[
    Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]
]:
    """``(loss_fn, prepare_target, predict)`` for loss ``loss`` on this output and targets.

    ``loss_fn(output, prepare_target(y))`` is a batch's loss; ``predict(output)`` gives class
    indices (int64, (n,)) for classification and values shaped like the targets for
    regression, as :class:`~builder.training.kernels.metrics.MetricAccumulator` takes them.
    ``output_shape`` / ``target_shape`` are one sample's; ``cast_targets``: regression targets
    are integers and the loss wants floats.
    """
    binary = is_binary(task, num_classes, output_shape)
    loss_fn = binary_hinge if loss == "hinge" and binary else LOSS_FUNCTIONS[loss]
    if task == "regression":
        return (
            loss_fn,
            values_as(tuple(output_shape), cast_targets),
            predict_values(loss, tuple(target_shape)),
        )
    if loss in INDEX_LOSSES or (loss == "hinge" and not binary):
        return loss_fn, labels, argmax
    if binary:
        threshold = 0.0 if loss in ("hinge", "bce_with_logits") else 0.5
        return loss_fn, signs if loss == "hinge" else column, above(threshold)
    return loss_fn, one_hot(int(num_classes or 0)), argmax


def labels(y: Tensor) -> Tensor:
    """Class indices, one per row."""
    return y.reshape(-1).long()


def column(y: Tensor) -> Tensor:
    """One column of 0 / 1."""
    return y.reshape(-1, 1).float()


def signs(y: Tensor) -> Tensor:
    """One column of -1 / +1."""
    return y.reshape(-1, 1).float() * 2 - 1


def one_hot(classes: int) -> Callable[[Tensor], Tensor]:
    def rows(y: Tensor) -> Tensor:
        """One-hot rows, one column per class."""
        y = y.reshape(-1, 1)
        return (y == torch.arange(classes, device=y.device)).float()

    return rows


def values_as(shape: tuple[int, ...], cast: bool) -> Callable[[Tensor], Tensor]:
    def values(y: Tensor) -> Tensor:
        """Regression targets shaped like the network's output (as floats)."""
        y = y.reshape(-1, *shape)
        return y.float() if cast else y

    return values


def argmax(output: Tensor) -> Tensor:
    return output.detach().argmax(dim=-1)


def above(threshold: float) -> Callable[[Tensor], Tensor]:
    def predict(output: Tensor) -> Tensor:
        return (output.detach().reshape(-1) > threshold).long()

    return predict


def predict_values(loss: str, target_shape: tuple[int, ...]) -> Callable[[Tensor], Tensor]:
    """The values a regression network predicts: its output, through a sigmoid for
    ``bce_with_logits`` and exp for ``kl_div`` (log-probabilities), shaped like the targets."""
    value = {"bce_with_logits": torch.sigmoid, "kl_div": torch.exp}.get(loss)

    def predict(output: Tensor) -> Tensor:
        out = output.detach()
        return (out if value is None else value(out)).reshape(-1, *target_shape)

    return predict
