"""The classic single-layer learning rules: Rosenblatt's perceptron rule and Widrow and
Hoff's delta rule (the ADALINE), for a network Input → (Flatten) → Linear → Step → Output
(kernel: :mod:`builder.training.kernels.linear_rules`). No optimiser, no gradients."""

from __future__ import annotations

from typing import Any

from builder.catalog.params import BOOL, CHOICE, FLOAT, Param
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    refuse_frozen,
    step_view,
)

KERNEL = "builder.training.kernels.linear_rules"
PROBES = "builder.training.probes.linear_rules"
CHAIN = ("Input", "Linear", "Step", "Output")  # with an optional Flatten after the Input


def chain(net: Any) -> list[str]:
    """The network's nodes from its Input to its Output when it is one straight chain."""
    inputs = [n for n in net.nodes if net.type_of(n) == "Input"]
    if len(inputs) != 1:
        return []
    order, node = [inputs[0]], inputs[0]
    while True:
        outs = net.out_edges(node)
        if len(outs) != 1:
            break
        node = outs[0].dst
        order.append(node)
    return order if len(order) == len(net.nodes) else []


def check(binding: Binding) -> None:
    net = binding.networks["model"]
    nodes = chain(net)
    types = [net.type_of(n) for n in nodes]
    if types and types[1] == "Flatten":
        types = [types[0], *types[2:]]
    if tuple(types) != CHAIN:
        what = " → ".join(types) if types else "not a single chain from one Input to one Output"
        raise BindingError(
            f"Network {net.name!r} is {what}: the perceptron and delta rules train one layer"
            " of threshold units, Input → Linear → Step → Output (a Flatten after the Input for"
            " images); for more layers choose the supervised procedure and Sigmoid instead of"
            " Step (backprop)"
        )
    refuse_frozen(net, [n for n in nodes if net.type_of(n) == "Linear"], "perceptron or delta")
    ds = binding.dataset
    if ds.task != "classification":
        raise BindingError(
            f"Dataset '{ds.name}' is a regression: threshold units classify; choose a dataset"
            " with classes (and, or, xor, blobs, a table with class targets)"
        )
    linear = next(n for n in nodes if net.type_of(n) == "Linear")
    units = int(net.params_of(linear)["out_features"])
    classes = int(ds.num_classes or 0)
    if not (units == classes or (units == 1 and classes == 2)):
        raise BindingError(
            f"Linear {net.name_of(linear)!r} has {units} units but dataset '{ds.name}' has"
            f" {classes} classes: give it 1 unit for 2 classes (it fires for class 1) or one"
            f" unit per class ({classes})"
        )


def configure(rule: str) -> Any:
    def settings(binding: Binding, config: Any) -> dict[str, Any]:
        return {
            **dict(config.procedure_settings),
            "rule": rule,
            "epochs": config.epochs,
            "task": "classification",  # the Step's 0 / 1 is the class (the boundary view)
            "prediction": "probability",
        }

    return settings


def _settings(stop: bool, lr: float) -> tuple[Param, ...]:
    return (
        Param("learning_rate", FLOAT, lr, "η, the size of each correction.", min=0.0, max=1e6),
        Param(
            "mode",
            CHOICE,
            "online",
            "online: one update per sample, in turn (the textbook's); batch: one update per"
            " batch, the sum of its samples' corrections (batch size = all rows: once an"
            " epoch).",
            choices=("online", "batch"),
        ),
        Param(
            "stop_when_separated",
            BOOL,
            stop,
            "End the run after an epoch in which every training sample is classified right.",
        ),
    )


def _views(rule: str) -> tuple[View, ...]:
    loss = "misclassified share" if rule == "perceptron" else "½·(t − s)²"
    return (
        View(
            "errors",
            "curves",
            "Misclassified samples per epoch",
            series=("errors", "mistakes"),
            labels=("errors", "errors, batch"),
        ),
        View("loss", "curves", f"Loss ({loss})", series=("loss",)),
        View("boundary", "boundary", "Decision line and the data", tab="Boundary"),
        step_view(f"{PROBES}:update"),
    )


ROLE = Role(
    "model",
    "a network Input → Linear → Step → Output (one layer of threshold units)",
    optimised=False,
)

PERCEPTRON = ProcedureSpec(
    id="perceptron",
    title="Perceptron rule",
    help="Rosenblatt's rule for threshold units: for each sample a unit that is wrong moves"
    " its weights by η·(d − y)·x (towards the sample when it should have fired, away when it"
    " should not); a unit that is right does not change. It finds a separating line in a"
    " finite number of updates when one exists, and never settles when none does (XOR).",
    roles=(ROLE,),
    data="labelled",
    settings=_settings(True, 1.0),
    kernel=KERNEL,
    check=check,
    configure=configure("perceptron"),
    views=_views("perceptron"),
    series=("loss", "mistakes"),
    example="perceptron_two_samples",
    blowup=0.0,
    weight_growth=0.0,
)

DELTA = ProcedureSpec(
    id="delta",
    title="Delta rule (ADALINE)",
    help="Widrow and Hoff's least-mean-squares rule: each sample moves the weights by"
    " η·(t − s)·x, s the weighted sum before the threshold and t = ±1 the target, so the"
    " sums approach the targets even when every sample is already right; the Step then"
    " classifies. It settles on the least-squares line also when the classes overlap.",
    roles=(ROLE,),
    data="labelled",
    settings=_settings(False, 0.1),
    kernel=KERNEL,
    check=check,
    configure=configure("delta"),
    views=_views("delta"),
    series=("loss", "mistakes"),
    example="delta_blobs",
    blowup=0.0,
    weight_growth=0.0,
)

SPECS = (PERCEPTRON, DELTA)
