"""Supervised learning by backprop: today's training, declared as a procedure."""

from __future__ import annotations

from typing import Any

from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    step_view,
    training_settings,
)


def check(binding: Binding) -> None:
    outputs = binding.outputs["model"]
    if len(outputs) != 1:
        net = binding.networks["model"]
        raise BindingError(
            f"Network {net.name!r} has {len(outputs)} Outputs: supervised training needs exactly"
            " one (the prediction compared with the targets); remove the others or choose"
            " another procedure"
        )
    if binding.dataset.y is None:
        raise BindingError(
            f"Dataset '{binding.dataset.name}' has no labels: supervised training needs targets;"
            " choose a labelled dataset, or the autoencoder procedure to learn from inputs alone"
        )


def kernel_settings(config: Any, objective: Any) -> dict[str, Any]:
    """The training section as the supervised kernel takes it, plain values only (every field
    given), with the loss matched to the Output and the targets by name (the kernel builds
    its functions from them: :func:`builder.training.kernels.losses.supervised_objective`)."""
    return {**training_settings(config), **objective.settings}


def configure(binding: Binding, config: Any) -> dict[str, Any]:
    from builder.training import objectives

    net = binding.networks["model"]
    (port,) = binding.outputs["model"].values()
    ds = binding.dataset
    objective = objectives.make_loss(
        config.loss,
        tuple(port.shape[1:]),
        ds.task,
        ds.num_classes,
        tuple(ds.target_shape),
        ds.y.dtype,
        dataset=ds.name,
        last_layer=net.type_of(net.in_edges(port.node_id)[0].src),
        targets=ds.y,
    )
    return kernel_settings(config, objective)


SUPERVISED = ProcedureSpec(
    id="supervised",
    title="Supervised (backprop)",
    help="Learn to predict the dataset's targets from its inputs: a loss between the Output"
    " and the targets, minimised by the optimiser.",
    roles=(Role("model", "the network that predicts the targets"),),
    data="labelled",
    settings=(),
    kernel="builder.training.kernels.supervised",
    check=check,
    configure=configure,
    uses_loss=True,
    example="xor_mlp",
    views=(
        View("loss", "curves", "Loss", series=("loss",)),
        View("metrics", "curves", "Metrics", series=("accuracy", "f1", "mse", "mae")),
        View("gradients", "layer_norms", "Gradient norms", tab="Gradients"),
        View("histograms", "histogram", "Weights and activations", tab="Layers"),
        View("boundary", "boundary", "Decision boundary", tab="Boundary"),
        View("confusion", "confusion", "Confusion matrix", tab="Evaluation"),
        step_view("builder.training.probes.backprop:update", data="few_inputs"),
    ),
)

SPECS = (SUPERVISED,)
