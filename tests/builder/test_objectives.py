"""Losses matched to outputs and targets, optimisers, schedules, penalties and metrics."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from builder.catalog.spec import Shape
from builder.training import objectives
from builder.training.config import LOSSES, OPTIMIZERS, SCHEDULES, OptimizerConfig, ScheduleConfig
from builder.training.kernels import losses, metrics
from builder.training.objectives import (
    MetricAccumulator,
    TargetError,
    loss_callable,
    make_loss,
    make_optimizer,
    make_scheduler,
    penalty,
    split_params,
    step_scheduler,
)
from graph.errors import NeuralCanvasError

N = 6
CLS, REG = "classification", "regression"


def _labels(classes: int) -> torch.Tensor:
    return torch.arange(N) % classes


def _logits(width: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(N, width, generator=torch.Generator().manual_seed(seed))


def _reals(*dims: int) -> torch.Tensor:
    return torch.rand(N, *dims, generator=torch.Generator().manual_seed(1))


# (loss, output, task, classes, per-sample target shape, y, expected(out, y))
CASES = [
    (
        "mse",
        _logits(2),
        CLS,
        2,
        (),
        _labels(2),
        lambda o, y: F.mse_loss(o, F.one_hot(y, 2).float()),
    ),
    ("mse", _logits(1), CLS, 2, (), _labels(2), lambda o, y: F.mse_loss(o, y.float()[:, None])),
    ("mse", _logits(3), REG, None, (3,), _reals(3), F.mse_loss),
    ("mse", _logits(1), REG, None, (), _reals(), lambda o, y: F.mse_loss(o, y[:, None])),
    # the textbook's ½·Σ(y − d)²: a sum over a sample's outputs, a mean over the batch
    (
        "half_sse",
        _logits(3),
        REG,
        None,
        (3,),
        _reals(3),
        lambda o, y: 0.5 * ((o - y) ** 2).sum(1).mean(),
    ),
    (
        "half_sse",
        _logits(1),
        CLS,
        2,
        (),
        _labels(2),
        lambda o, y: 0.5 * ((o - y.float()[:, None]) ** 2).sum(1).mean(),
    ),
    ("l1", _logits(3), REG, None, (3,), _reals(3), F.l1_loss),
    ("l1", _logits(4), CLS, 4, (), _labels(4), lambda o, y: F.l1_loss(o, F.one_hot(y, 4).float())),
    ("huber", _logits(2), REG, None, (2,), _reals(2) * 5, F.huber_loss),
    ("huber", _logits(1), CLS, 2, (), _labels(2), lambda o, y: F.huber_loss(o, y.float()[:, None])),
    (
        "bce",
        _logits(1).sigmoid(),
        CLS,
        2,
        (),
        _labels(2),
        lambda o, y: F.binary_cross_entropy(o, y.float()[:, None]),
    ),
    (
        "bce",
        _logits(3).sigmoid(),
        CLS,
        3,
        (),
        _labels(3),
        lambda o, y: F.binary_cross_entropy(o, F.one_hot(y, 3).float()),
    ),
    ("bce", _logits(4).sigmoid(), REG, None, (4,), _reals(4), F.binary_cross_entropy),
    (
        "bce_with_logits",
        _logits(1),
        CLS,
        2,
        (),
        _labels(2),
        lambda o, y: F.binary_cross_entropy_with_logits(o, y.float()[:, None]),
    ),
    (
        "bce_with_logits",
        _logits(3),
        CLS,
        3,
        (),
        _labels(3),
        lambda o, y: F.binary_cross_entropy_with_logits(o, F.one_hot(y, 3).float()),
    ),
    ("bce_with_logits", _logits(2), REG, None, (2,), _reals(2), F.binary_cross_entropy_with_logits),
    ("cross_entropy", _logits(3), CLS, 3, (), _labels(3), F.cross_entropy),
    (
        "cross_entropy",
        _logits(2),
        CLS,
        2,
        (1,),
        _labels(2)[:, None],
        lambda o, y: F.cross_entropy(o, y[:, 0]),
    ),
    ("nll", _logits(3).log_softmax(1), CLS, 3, (), _labels(3), F.nll_loss),
    ("hinge", _logits(3), CLS, 3, (), _labels(3), F.multi_margin_loss),
    (
        "hinge",
        _logits(1),
        CLS,
        2,
        (),
        _labels(2),
        lambda o, y: torch.clamp(1 - (2 * y.float()[:, None] - 1) * o, min=0).mean(),
    ),
    (
        "kl_div",
        _logits(3).log_softmax(1),
        CLS,
        3,
        (),
        _labels(3),
        lambda o, y: F.kl_div(o, F.one_hot(y, 3).float(), reduction="batchmean"),
    ),
    (
        "kl_div",
        _logits(3).log_softmax(1),
        REG,
        None,
        (3,),
        _reals(3).softmax(1),
        lambda o, y: F.kl_div(o, y, reduction="batchmean"),
    ),
]


def _ids(case: tuple) -> str:
    name, out, task, _, tgt, _, _ = case
    return f"{name}-{task[:3]}-out{tuple(out.shape[1:])}-tgt{tgt}"


def _build(name, out, task, classes, tgt, y, **kw):
    return make_loss(name, tuple(out.shape[1:]), task, classes, tgt, y.dtype, dataset="d", **kw)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_loss_equals_torch_functional(case):
    name, out, task, classes, tgt, y, expected = case
    obj = _build(name, out, task, classes, tgt, y)
    assert (obj.name, obj.task, obj.num_classes) == (name, task, classes)
    got = obj.loss(out, obj.prepare_target(y))
    torch.testing.assert_close(got, expected(out, y))


# The torch loss modules the losses are (the binary hinge has none: its formula).
MODULES = {
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "huber": nn.HuberLoss,
    "bce": nn.BCELoss,
    "bce_with_logits": nn.BCEWithLogitsLoss,
    "cross_entropy": nn.CrossEntropyLoss,
    "nll": nn.NLLLoss,
    "kl_div": lambda: nn.KLDivLoss(reduction="batchmean"),
    "hinge": nn.MultiMarginLoss,
    # ½·Σ over a sample's outputs, mean over the batch: MSELoss(sum) / 2 / batch
    "half_sse": lambda: lambda o, t: 0.5 * nn.MSELoss(reduction="sum")(o, t) / o.shape[0],
}


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_loss_callable_is_bit_identical_in_value_and_gradient(case):
    """The kernel's loss function (builder.training.kernels.losses, which the trainer and the
    exported script call) gives exactly torch's loss module's value and gradient, and so
    does its fast call."""
    name, out, task, classes, tgt, y, expected = case
    obj = _build(name, out, task, classes, tgt, y)
    target = obj.prepare_target(y)
    binary = name == "hinge" and out.shape[1:] == (1,)
    reference = expected if binary else MODULES[name]()
    results = []
    for fn in (reference, obj.loss, loss_callable(obj.loss)):
        o = out.detach().clone().requires_grad_(True)
        value = fn(o, y if binary and fn is reference else target)
        value.backward()
        results.append((value.detach(), o.grad))
    for value, grad in results[1:]:
        assert torch.equal(results[0][0], value)
        assert torch.equal(results[0][1], grad)


def test_the_settings_rebuild_the_same_functions():
    """An Objective's plain settings are all the kernel needs to build the same functions."""
    from builder.training.kernels.losses import supervised_objective

    for case in CASES:
        name, out, task, classes, tgt, y, _ = case
        obj = _build(name, out, task, classes, tgt, y)
        assert all(
            isinstance(v, (str, int, bool, tuple, type(None))) for v in obj.settings.values()
        )
        loss, prepare, predict = supervised_objective(**obj.settings)
        assert torch.equal(prepare(y), obj.prepare_target(y))
        assert torch.equal(loss(out, prepare(y)), obj.loss(out, obj.prepare_target(y)))
        assert torch.equal(predict(out), obj.predict(out))


@pytest.mark.parametrize(
    "module",
    [
        nn.CrossEntropyLoss(label_smoothing=0.1),
        nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0])),
        nn.CrossEntropyLoss(reduction="sum"),
        nn.MSELoss(reduction="sum"),
    ],
    ids=["smoothing", "weight", "sum", "mse-sum"],
)
def test_loss_callable_keeps_non_default_settings(module):
    out, y = _logits(3), _labels(3)
    if isinstance(module, nn.MSELoss):
        y = _reals(3)
    fn = loss_callable(module)
    assert fn.__self__ is module  # the module's own forward: its settings apply
    assert torch.equal(fn(out, y), module(out, y))


def test_loss_callable_respects_hooks():
    module = nn.MSELoss()
    seen = []
    module.register_forward_hook(lambda *_: seen.append(1))
    assert loss_callable(module) is module
    assert loss_callable(nn.MSELoss()) is F.mse_loss


def test_every_loss_is_covered():
    assert {c[0] for c in CASES} == set(LOSSES)


def test_loss_has_gradient_and_trains_xor_with_mse():
    x = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]])
    y = torch.tensor([0, 1, 1, 0])
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    obj = make_loss("mse", (2,), CLS, 2, (), torch.int64, dataset="xor")
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = obj.loss(net(x), obj.prepare_target(y))
        loss.backward()
        opt.step()
    assert torch.equal(obj.predict(net(x)), y)


def test_accepts_a_catalog_shape_with_its_batch_dim():
    obj = make_loss("cross_entropy", Shape.of(10), CLS, 10, (), torch.int64)
    assert obj.num_classes == 10


def test_integer_regression_targets_are_cast():
    obj = make_loss("mse", (2,), REG, None, (2,), torch.int64)
    assert obj.prepare_target(torch.ones(3, 2, dtype=torch.int64)).dtype == torch.float32


# (loss, output, task, classes, target shape, target dtype, dataset, words in the message)
REFUSALS = [
    (
        "cross_entropy",
        (1,),
        REG,
        None,
        (1,),
        torch.float32,
        "sine",
        [
            "cross_entropy needs class labels, but dataset 'sine' has real-valued targets: use mse or l1"
        ],
    ),
    ("nll", (3,), REG, None, (3,), torch.float32, "sine", ["nll needs class labels", "use mse"]),
    ("hinge", (1,), REG, None, (1,), torch.float32, "sine", ["hinge needs class labels"]),
    (
        "cross_entropy",
        (1,),
        CLS,
        10,
        (),
        torch.int64,
        "digits",
        [
            "the network outputs (N, 1) but dataset 'digits' has 10 classes: "
            "set the last Linear's out_features to 10"
        ],
    ),
    ("mse", (3,), CLS, 10, (), torch.int64, "digits", ["mse", "(N, 3)", "out_features to 10"]),
    ("nll", (1,), CLS, 2, (), torch.int64, "xor", ["nll", "out_features to 2", "bce_with_logits"]),
    (
        "bce",
        (1,),
        CLS,
        3,
        (),
        torch.int64,
        "iris",
        ["bce with one output handles 2 classes", "'iris' has 3 classes", "out_features to 3"],
    ),
    ("hinge", (1,), CLS, 3, (), torch.int64, "iris", ["hinge", "out_features to 3"]),
    (
        "cross_entropy",
        (32, 4, 4),
        CLS,
        10,
        (),
        torch.int64,
        "digits",
        ["cross_entropy", "(N, 32, 4, 4)", "add a Flatten", "out_features=10"],
    ),
    (
        "mse",
        (3,),
        REG,
        None,
        (1,),
        torch.float32,
        "sine",
        [
            "mse: the network outputs (N, 3) but dataset 'sine' has targets of shape (N, 1)",
            "out_features to 1",
        ],
    ),
    ("l1", (2,), REG, None, (), torch.float32, "sine", ["l1", "(N,)", "out_features to 1"]),
    (
        "mse",
        (64,),
        REG,
        None,
        (1, 8, 8),
        torch.float32,
        "faces",
        ["mse", "(N, 1, 8, 8)", "Reshape"],
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: f"{c[0]}-{c[2][:3]}-{c[1]}-{c[3]}")
def test_refusals_name_the_loss_and_say_what_to_do(case):
    name, out, task, classes, tgt, dtype, dataset, words = case
    with pytest.raises(TargetError) as info:
        make_loss(name, out, task, classes, tgt, dtype, dataset=dataset)
    assert isinstance(info.value, NeuralCanvasError)
    for word in words:
        assert word in str(info.value)
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "last", "ok"),
    [
        ("bce", "Sigmoid", True),
        ("bce", "Linear", False),
        ("nll", "LogSoftmax", True),
        ("nll", "Softmax", False),
        ("kl_div", "Linear", False),
        ("cross_entropy", "Linear", True),
    ],
)
def test_last_layer_check(name, last, ok):
    build = lambda: make_loss(name, (2,), CLS, 2, (), torch.int64, last_layer=last)  # noqa: E731
    if ok:
        build()
        return
    with pytest.raises(TargetError) as info:
        build()
    text = str(info.value)
    assert name in text and last in text
    assert ("Sigmoid" if name == "bce" else "LogSoftmax") in text


def test_bce_without_sigmoid_is_explained_at_run_time():
    obj = make_loss("bce", (1,), CLS, 2, (), torch.int64)
    y = obj.prepare_target(_labels(2))
    with pytest.raises(TargetError, match="add a Sigmoid"):
        obj.loss(_logits(1) * 10, y)
    nan = torch.full((N, 1), float("nan"), requires_grad=True)
    assert torch.isnan(obj.loss(nan, y))  # diverged: a NaN loss, not a wrong hint


def test_unknown_names_are_programming_errors():
    with pytest.raises(ValueError):
        make_loss("nope", (1,), REG, None, (1,), torch.float32)
    with pytest.raises(ValueError):
        make_loss("mse", (1,), "clustering", None, (1,), torch.float32)


# --- predict ------------------------------------------------------------------------------

PROBS = torch.tensor([[0.2], [0.7], [0.5], [0.9]])
LOGITS = torch.tensor([[-1.0], [2.0], [0.0], [0.3]])


@pytest.mark.parametrize(
    ("name", "output", "expected"),
    [
        ("bce", PROBS, [0, 1, 0, 1]),
        ("mse", PROBS, [0, 1, 0, 1]),
        ("bce_with_logits", LOGITS, [0, 1, 0, 1]),
        ("hinge", LOGITS, [0, 1, 0, 1]),
    ],
)
def test_predict_thresholds_single_outputs(name, output, expected):
    obj = make_loss(name, (1,), CLS, 2, (), torch.int64)
    pred = obj.predict(output)
    assert pred.dtype == torch.int64
    assert pred.tolist() == expected


@pytest.mark.parametrize(
    "name", ["mse", "bce", "bce_with_logits", "cross_entropy", "nll", "hinge", "kl_div"]
)
def test_predict_argmax_for_one_score_per_class(name):
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.0, 0.1, 0.9]])
    obj = make_loss(name, (3,), CLS, 3, (), torch.int64)
    assert obj.predict(scores.log() if name in ("nll", "kl_div") else scores).tolist() == [1, 0, 2]


def test_predict_regression_values_match_the_targets():
    out = torch.tensor([[0.5], [-2.0]])
    assert make_loss("mse", (1,), REG, None, (), torch.float32).predict(out).tolist() == [0.5, -2.0]
    assert make_loss("l1", (1,), REG, None, (1,), torch.float32).predict(out).shape == (2, 1)
    sig = make_loss("bce_with_logits", (1,), REG, None, (1,), torch.float32).predict(out)
    torch.testing.assert_close(sig, out.sigmoid())
    logp = torch.tensor([[0.25, 0.75]]).log()
    kl = make_loss("kl_div", (2,), REG, None, (2,), torch.float32).predict(logp)
    torch.testing.assert_close(kl, torch.tensor([[0.25, 0.75]]))
    img = make_loss("mse", (1, 2, 2), REG, None, (1, 2, 2), torch.float32)
    assert img.predict(torch.zeros(3, 1, 2, 2)).shape == (3, 1, 2, 2)


def test_predict_does_not_track_gradients():
    out = torch.randn(4, 3, requires_grad=True)
    assert not make_loss("mse", (3,), REG, None, (3,), torch.float32).predict(out).requires_grad


# --- optimisers and schedules -------------------------------------------------------------


def _regression_run(cfg: OptimizerConfig, schedule: ScheduleConfig | None = None) -> list[float]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = make_optimizer(cfg, model.parameters())
    sched = make_scheduler(schedule or ScheduleConfig(), opt, epochs=20)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step_scheduler(sched, loss.item())
    return losses


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_reduces_a_tiny_regression_loss(name):
    lr = 0.5 if name == "adagrad" else 0.05  # adagrad's steps shrink fast
    cfg = OptimizerConfig(name=name, lr=lr, momentum=0.5 if name in ("sgd", "rmsprop") else 0.0)
    losses = _regression_run(cfg)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_each_schedule_builds_and_trains(schedule):
    sched_cfg = ScheduleConfig(name=schedule, step_size=5, patience=2)
    losses = _regression_run(OptimizerConfig(name="sgd", lr=0.05), sched_cfg)
    assert losses[-1] < 0.5 * losses[0]


def test_optimizer_settings_reach_torch():
    p = [nn.Parameter(torch.zeros(2, 2))]
    sgd = make_optimizer(
        OptimizerConfig(name="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), p
    )
    assert isinstance(sgd, torch.optim.SGD)
    g = sgd.param_groups[0]
    assert (g["nesterov"], g["momentum"], g["weight_decay"], g["lr"]) == (True, 0.9, 0.01, 0.1)
    rms = make_optimizer(OptimizerConfig(name="rmsprop", momentum=0.3, alpha=0.8, eps=1e-6), p)
    g = rms.param_groups[0]
    assert isinstance(rms, torch.optim.RMSprop)
    assert (g["momentum"], g["alpha"], g["eps"]) == (0.3, 0.8, 1e-6)
    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = make_optimizer(
            OptimizerConfig(name=name, betas=(0.8, 0.9), eps=1e-7, weight_decay=0.0), p
        )
        g = opt.param_groups[0]
        assert isinstance(opt, cls)
        assert (tuple(g["betas"]), g["eps"], g["weight_decay"]) == ((0.8, 0.9), 1e-7, 0.0)
    ada = make_optimizer(OptimizerConfig(name="adagrad", weight_decay=0.2), p)
    assert isinstance(ada, torch.optim.Adagrad) and ada.param_groups[0]["weight_decay"] == 0.2


def test_scheduler_types_and_settings():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    assert make_scheduler(ScheduleConfig(), opt, 10) is None
    step = make_scheduler(ScheduleConfig(name="step", step_size=3, gamma=0.5), opt, 10)
    assert isinstance(step, torch.optim.lr_scheduler.StepLR)
    assert (step.step_size, step.gamma) == (3, 0.5)
    cos = make_scheduler(ScheduleConfig(name="cosine", eta_min=0.01), opt, 7)
    assert isinstance(cos, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert (cos.T_max, cos.eta_min) == (7, 0.01)
    cos = make_scheduler(ScheduleConfig(name="cosine", t_max=4), opt, 7)
    assert cos.T_max == 4


def test_step_schedule_decays_every_step_size_epochs():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(ScheduleConfig(name="step", step_size=2, gamma=0.5), opt, 10)
    lrs = []
    for _ in range(4):
        opt.step()
        step_scheduler(sched, None)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25]


def test_plateau_lowers_lr_after_patience():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(ScheduleConfig(name="plateau", patience=2, factor=0.5), opt, 10)
    lrs = []
    for _ in range(5):  # the first sets the best; then patience + 1 epochs without progress
        step_scheduler(sched, 1.0)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5]
    with pytest.raises(ValueError):
        step_scheduler(sched, None)
    step_scheduler(None, 1.0)  # no schedule: nothing to do


# --- penalties ----------------------------------------------------------------------------


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Conv1d(1, 2, 3), nn.PReLU())


def test_penalty_equals_hand_computation_on_weights_only():
    model = _model()
    weights = [model[0].weight, model[2].weight]
    hand = 0.1 * sum(w.abs().sum() for w in weights) + 0.01 * sum(w.pow(2).sum() for w in weights)
    split = split_params(model)
    assert len(split.weights) == 2 and len(split.others) == 5  # 2 biases, norm w/b, PReLU
    torch.testing.assert_close(penalty(split, 0.1, 0.01), hand)
    torch.testing.assert_close(penalty(model.parameters(), 0.1, 0.01), hand)
    torch.testing.assert_close(penalty({"weights": weights, "others": []}, 0.1, 0.01), hand)
    torch.testing.assert_close(penalty(split, 0.1, 0.0), 0.1 * sum(w.abs().sum() for w in weights))
    torch.testing.assert_close(
        penalty(split, 0.0, 0.01), 0.01 * sum(w.pow(2).sum() for w in weights)
    )


def test_penalty_is_none_when_off_and_differentiable_when_on():
    model = _model()
    split = split_params(model)
    assert penalty(split, 0.0, 0.0) is None
    assert penalty(split_params(nn.LayerNorm(3)), 0.1, 0.1) is None  # no weights at all
    nn.init.zeros_(model[0].weight)  # the zeros initialiser: gradients stay finite
    penalty(split, 0.1, 0.01).backward()
    w = model[2].weight
    torch.testing.assert_close(w.grad, 0.1 * w.detach().sign() + 0.02 * w.detach())
    assert torch.equal(model[0].weight.grad, torch.zeros_like(model[0].weight))
    assert model[0].bias.grad is None


# --- metrics ------------------------------------------------------------------------------


def test_classification_metrics_match_a_hand_computation():
    # Class 2 is present but never predicted; class 3 is neither present nor predicted.
    target = torch.tensor([0, 0, 0, 1, 1, 2, 2, 0])
    pred = torch.tensor([0, 1, 0, 1, 1, 1, 0, 0])
    acc = MetricAccumulator(CLS, 4)
    acc.update(pred[:5], target[:5])  # in two batches
    acc.update(pred[5:], target[5:])
    m = acc.compute()
    assert m["confusion"] == [[3, 1, 0, 0], [0, 2, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    assert m["count"] == 8
    assert m["accuracy"] == pytest.approx(5 / 8)
    precision = [3 / 4, 2 / 4, 0.0]  # class 2: 0/0 counts as 0
    recall = [3 / 4, 2 / 2, 0 / 2]
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(precision, recall)]
    assert m["precision"] == pytest.approx(sum(precision) / 3)
    assert m["recall"] == pytest.approx(sum(recall) / 3)
    assert m["f1"] == pytest.approx(sum(f1) / 3)
    assert all(isinstance(m[k], float) for k in ("accuracy", "precision", "recall", "f1"))


def test_classification_metrics_from_an_objective_and_reset():
    obj = make_loss("cross_entropy", (3,), CLS, 3, (), torch.int64)
    acc = MetricAccumulator(obj.task, obj.num_classes)
    y = torch.tensor([0, 1, 2])
    acc.update(obj.predict(F.one_hot(y, 3).float()), y)
    assert acc.compute()["accuracy"] == 1.0
    acc.reset()
    m = acc.compute()
    assert m["count"] == 0 and math.isnan(m["accuracy"])
    assert m["confusion"] == [[0] * 3] * 3


def test_regression_metrics():
    acc = MetricAccumulator(REG)
    acc.update(torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [2.0]]))
    acc.update(torch.tensor([[0.0], [5.0]]), torch.tensor([[1.0], [3.0]]))
    m = acc.compute()
    assert m["mse"] == pytest.approx((1 + 0 + 1 + 4) / 4)
    assert m["mae"] == pytest.approx((1 + 0 + 1 + 2) / 4)
    assert m["count"] == 4
    obj = make_loss("mse", (1,), REG, None, (), torch.float32)
    acc = MetricAccumulator(obj.task)
    acc.update(obj.predict(torch.tensor([[1.0], [3.0]])), torch.tensor([0.0, 3.0]))
    assert acc.compute()["mse"] == pytest.approx(0.5)
    assert math.isnan(MetricAccumulator(REG).compute()["mse"])


# --- no host syncs outside compute --------------------------------------------------------


@pytest.mark.parametrize("module", [objectives, losses, metrics], ids=lambda m: m.__name__)
def test_no_item_or_tolist_outside_compute(module):
    source = Path(module.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    bad = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr in ("item", "tolist"):
            if function != "compute":
                bad.append(f"line {node.lineno}: .{node.attr} in {function}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    assert not bad, bad
    if module is not losses:
        assert ".item()" in source  # the check sees what it looks for


@pytest.mark.parametrize(
    "output, target, says",
    [
        ([0.5, 0.2], [1.5, 0.0], "the labels hold values outside"),
        ([1.5, 0.2], [1.0, 0.0], "add a Sigmoid"),
    ],
    ids=["labels out of range", "outputs out of range"],
)
def test_bce_out_of_range_names_what_is_out_of_range(output, target, says):
    from builder.training.kernels.losses import ProbabilityError, bce

    with pytest.raises(ProbabilityError, match=says):
        bce(torch.tensor(output), torch.tensor(target))
