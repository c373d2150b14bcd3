"""Radial-basis-function networks, trained the classic way in two stages: centres and widths
from the data, then the output layer by least squares
(kernel: :mod:`builder.training.kernels.rbf`). No optimiser, no gradients; the supervised
procedure trains the same network end to end by backprop instead."""

from __future__ import annotations

from typing import Any

from builder.catalog.params import CHOICE, FLOAT, INT, Param
from builder.training.procedures.linear_rules import chain
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    refuse_frozen,
    step_view,
)

KERNEL = "builder.training.kernels.rbf"
PROBES = "builder.training.probes.rbf"
CHAIN = ("Input", "RBF", "Linear", "Output")


def check(binding: Binding) -> None:
    net = binding.networks["model"]
    nodes = chain(net)
    types = [net.type_of(n) for n in nodes]
    if types and len(types) > 1 and types[1] == "Flatten":
        types = [types[0], *types[2:]]
    if tuple(types) != CHAIN:
        what = " → ".join(types) if types else "not a single chain from one Input to one Output"
        raise BindingError(
            f"Network {net.name!r} is {what}: the rbf procedure trains Input → RBF → Linear →"
            " Output (a Flatten after the Input for images); for other networks with RBF"
            " layers choose the supervised procedure (backprop)"
        )
    refuse_frozen(net, [n for n in nodes if net.type_of(n) in ("RBF", "Linear")], "rbf")
    ds = binding.dataset
    linear = next(n for n in nodes if net.type_of(n) == "Linear")
    outputs = int(net.params_of(linear)["out_features"])
    if ds.task == "classification":
        classes = int(ds.num_classes or 0)
        if not (outputs == classes or (outputs == 1 and classes == 2)):
            raise BindingError(
                f"Linear {net.name_of(linear)!r} has {outputs} outputs but dataset '{ds.name}'"
                f" has {classes} classes: give it 1 output for 2 classes or one per class"
            )


def configure(binding: Binding, config: Any) -> dict[str, Any]:
    ds = binding.dataset
    settings = dict(config.procedure_settings)
    net = binding.networks["model"]
    rbf = next(n for n in net.nodes if net.type_of(n) == "RBF")
    rows = binding.train[0].shape[0]
    if settings["centres"] != "keep" and int(net.params_of(rbf)["units"]) > rows:
        raise BindingError(
            f"RBF {net.name_of(rbf)!r} has {net.params_of(rbf)['units']} centres but the"
            f" training split has {rows} samples: use at most {rows} units (each centre starts"
            " at a different sample)"
        )
    return {
        **settings,
        "task": ds.task,
        "num_classes": ds.num_classes,
        "prediction": "threshold",  # one output for two classes: above the threshold
        "seed": config.seed,
        "epochs": config.epochs,
    }


RBF_PROCEDURE = ProcedureSpec(
    id="rbf",
    title="RBF network (two stages)",
    help="The classic training of a radial-basis-function network: place the RBF layer's"
    " centres (k-means, or training samples) and widths from the data, then solve the"
    " Linear output layer by least squares (the pseudo-inverse). One step, no gradients.",
    roles=(Role("model", "a network Input → RBF → Linear → Output", optimised=False),),
    data="labelled",
    settings=(
        Param(
            "centres",
            CHOICE,
            "kmeans",
            "How the centres are placed: kmeans (Lloyd's k-means on the training inputs),"
            " samples (training samples drawn at random) or keep (the layer's own: set by"
            " hand).",
            choices=("kmeans", "samples", "keep"),
        ),
        Param(
            "widths",
            CHOICE,
            "nearest",
            "How the widths σ are set: nearest (each the distance to its nearest other centre),"
            " spread (every σ = d_max/√(2k), Haykin's rule) or keep; times width_scale.",
            choices=("nearest", "spread", "keep"),
        ),
        Param(
            "width_scale", FLOAT, 1.0, "Multiplies the widths the rule gives.", min=1e-6, max=1e6
        ),
        Param(
            "output",
            CHOICE,
            "least_squares",
            "The output layer: least_squares (solved by the pseudo-inverse) or keep (its"
            " weights as they are: a worked example's).",
            choices=("least_squares", "keep"),
        ),
        Param(
            "threshold",
            FLOAT,
            0.5,
            "With one output for two classes: class 1 when the output is above this.",
            min=-1e6,
            max=1e6,
        ),
        Param("kmeans_iterations", INT, 100, "The most k-means passes.", min=1, max=100_000),
    ),
    kernel=KERNEL,
    check=check,
    configure=configure,
    views=(
        View("loss", "curves", "Loss (½·(t − y)²)", series=("loss",)),
        View("metrics", "curves", "Accuracy", series=("accuracy",)),
        View("boundary", "boundary", "Decision regions and the data", tab="Boundary"),
        View(
            "centres",
            "scatter",
            "Centres and widths over the data",
            probe=f"{PROBES}:centres",
            every=0.5,
            data="points",
        ),
        step_view(f"{PROBES}:arithmetic", "The network on each training sample, number by number"),
    ),
    example="rbf_xor",
    blowup=0.0,
    weight_growth=0.0,
)

SPECS = (RBF_PROCEDURE,)
