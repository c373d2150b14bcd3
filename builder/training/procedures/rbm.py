"""Restricted Boltzmann machines, trained by contrastive divergence
(kernel: :mod:`builder.training.kernels.rbm`): a learning rule, no optimiser."""

from __future__ import annotations

from typing import Any

from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, Param
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    refuse_frozen,
    step_view,
)

KERNEL = "builder.training.kernels.rbm"
PROBES = "builder.training.probes.rbm"


def check(binding: Binding) -> None:
    net = binding.networks["model"]
    rbms = [n for n in net.nodes if net.type_of(n) == "RBM"]
    if len(rbms) != 1:
        raise BindingError(
            f"Network {net.name!r} has {len(rbms)} RBM layers: the rbm procedure trains one;"
            " add an RBM after the Input (a Flatten between them for images)"
            if not rbms
            else f"Network {net.name!r} has {len(rbms)} RBM layers: the rbm procedure trains"
            " one; keep one, or put the others in networks of their own"
        )
    (rbm,) = rbms
    refuse_frozen(net, [rbm], "rbm")
    before = net.in_edges(rbm)[0].src
    if net.type_of(before) == "Flatten":
        before = net.in_edges(before)[0].src
    if net.type_of(before) != "Input":
        raise BindingError(
            f"RBM {net.name_of(rbm)!r} comes after {net.type_of(before)}"
            f" {net.name_of(before)!r}: the rbm procedure learns the data itself; connect the"
            " RBM to the Input (a Flatten between them for images)"
        )
    x = binding.train[0]
    if x is not None and x.numel():
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise BindingError(
                f"The RBM's visible units are probabilities in [0, 1] but the training data"
                f" runs from {lo:.4g} to {hi:.4g}: set the dataset's normalise to minmax"
            )


def _warnings(binding: Binding, settings: dict[str, Any]) -> list[list[str]]:
    x = binding.train[0]
    if settings["binarise"] != "no" or x is None or not x.numel():
        return []
    if bool(((x == 0) | (x == 1)).all()):
        return []
    return [
        [
            "binary",
            "The data is not binary: the RBM's Bernoulli visible units take each value as the"
            " probability of a 1 (as scikit-learn's BernoulliRBM does)",
            "set binarise to threshold (1 above 0.5) or sample to train on 0/1 data",
        ]
    ]


def alarms(evaluations: Any, grad_max: Any, settings: dict[str, Any]) -> list[tuple[str, ...]]:
    return [tuple(w) for w in settings.get("warnings", ())]


def configure(binding: Binding, config: Any) -> dict[str, Any]:
    settings = dict(config.procedure_settings)
    return {
        **settings,
        "seed": config.seed,
        "epochs": config.epochs,
        "warnings": _warnings(binding, settings),
    }


RBM_PROCEDURE = ProcedureSpec(
    id="rbm",
    title="RBM (contrastive divergence)",
    help="Train a restricted Boltzmann machine by contrastive divergence: each update raises"
    " the probability of the data (the positive phase, p(h|v) on the batch) and lowers that"
    " of the model's own samples (the negative phase, k steps of Gibbs sampling from the data"
    " or, persistent, from chains kept between updates). Layers after the RBM are not"
    " trained here.",
    roles=(
        Role(
            "model",
            "a network with one RBM layer after the Input (a Flatten between them for images)",
            optimised=False,
        ),
    ),
    data="inputs",
    settings=(
        Param("k", INT, 1, "Gibbs steps in the negative phase (CD-k).", min=1, max=1000),
        Param(
            "persistent",
            BOOL,
            False,
            "Persistent CD: the negative phase goes on from chains kept between updates"
            " (scikit-learn's BernoulliRBM) instead of starting at the data.",
        ),
        Param("learning_rate", FLOAT, 0.06, "η, the size of each update.", min=0.0, max=1e6),
        Param(
            "momentum",
            FLOAT,
            0.0,
            "The share of the last change added to this one.",
            min=0.0,
            max=0.999,
        ),
        Param("weight_decay", FLOAT, 0.0, "L2 pull of the weights towards 0.", min=0.0, max=1e3),
        Param(
            "sparsity_target",
            FLOAT,
            0.0,
            "The mean activity wanted of each hidden unit (0: off).",
            min=0.0,
            max=1.0,
        ),
        Param("sparsity_cost", FLOAT, 0.1, "How hard the sparsity target pulls.", min=0.0, max=1e3),
        Param(
            "binarise",
            CHOICE,
            "no",
            "no: values in [0, 1] are taken as probabilities; threshold: 1 above 0.5;"
            " sample: 1 with the value's probability, drawn again each step.",
            choices=("no", "threshold", "sample"),
        ),
        Param(
            "eval_rows",
            INT,
            1000,
            "Pseudo-likelihood and free energies are measured on at most this many rows.",
            min=0,
            max=10_000_000,
        ),
    ),
    kernel=KERNEL,
    check=check,
    configure=configure,
    views=(
        View("loss", "curves", "Reconstruction error (squared)", series=("loss",)),
        View(
            "likelihood",
            "curves",
            "Pseudo-likelihood (higher is better)",
            series=("pseudo_likelihood",),
            labels=("pseudo-likelihood",),
        ),
        View(
            "free_energy",
            "curves",
            "Free-energy gap: validation − training data (growing: overfitting)",
            series=("free_energy_gap",),
            labels=("F(validation) − F(training)",),
        ),
        View(
            "ratio",
            "curves",
            "‖ΔW‖ / ‖W‖, each epoch's last update",
            series=("update_ratio",),
            labels=("‖ΔW‖ / ‖W‖",),
        ),
        View(
            "filters",
            "image_grid",
            "Filters: each hidden unit's weights as an image",
            tab="Images",
            probe=f"{PROBES}:filters",
            every=1.0,
            data="image",
        ),
        View(
            "dreams",
            "image_grid",
            "Dreams: Gibbs chains from random starts, 20 steps further each time",
            tab="Images",
            probe=f"{PROBES}:dreams",
            every=1.0,
            data="image",
        ),
        View(
            "reconstructions",
            "samples",
            "Reconstructions p(v | h) of fixed samples",
            tab="Images",
            probe=f"{PROBES}:reconstructions",
            every=1.0,
        ),
        View("histograms", "histogram", "Weights and activations", tab="Layers"),
        View(
            "updates",
            "bars",
            "The last update: how many weights changed by how much (ΔW)",
            probe=f"{PROBES}:updates",
            every=1.0,
        ),
        step_view(f"{PROBES}:update"),
    ),
    series=("loss",),
    example="rbm_digits",
    blowup=0.0,
    weight_growth=0.0,
    alarms="builder.training.procedures.rbm:alarms",
)

SPECS = (RBM_PROCEDURE,)
