"""The autoencoder family: learn to give back the input (plain), the clean input from a
corrupted one (denoising); the variational autoencoder is declared in :mod:`.vae` on the same
kernel (:mod:`builder.training.kernels.reconstruction`)."""

from __future__ import annotations

from typing import Any

from builder.catalog.params import CHOICE, FLOAT, Param
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    training_settings,
)

KERNEL = "builder.training.kernels.reconstruction"
PROBES = "builder.training.probes.reconstruction"

RECON_LOSS = Param(
    "recon_loss",
    CHOICE,
    "mse",
    "how far the output is from the clean input: mse (mean squared error), or bce (binary"
    " cross-entropy; outputs in [0, 1] after a Sigmoid, inputs in [0, 1])",
    choices=("mse", "bce"),
)
NOISE = Param(
    "noise",
    CHOICE,
    "gaussian",
    "how the input is corrupted: gaussian (add noise of standard deviation noise_level),"
    " masking (set a fraction noise_level of the values to 0), salt_and_pepper (set a"
    " fraction noise_level to the data's minimum or maximum)",
    choices=("gaussian", "masking", "salt_and_pepper"),
)
NOISE_LEVEL = Param(
    "noise_level",
    FLOAT,
    0.3,
    "the standard deviation of gaussian noise, or the fraction of values masked or salted",
    min=0.0,
)


RESHAPING = ("Reshape", "Flatten", "Unflatten", "Identity")


def _shape(shape: Any) -> str:
    """A sample's shape: ``(1, 8, 8)``, ``(2,)``."""
    return str(tuple(int(d) for d in shape))


def reconstruction_output(binding: Binding, others: tuple[str, ...] = ()) -> str:
    """The name of the Output that reconstructs the input (the one Output not in ``others``);
    a BindingError says what to change when there is none or its shape is not the input's."""
    net = binding.networks["model"]
    outputs = binding.outputs["model"]
    candidates = [name for name in outputs if name not in others]
    if len(candidates) != 1:
        listed = ", ".join(f"'{n}'" for n in outputs) or "none"
        raise BindingError(
            f"Network {net.name!r} has Outputs {listed}: the reconstruction needs exactly one"
            + (f" Output besides {', '.join(repr(o) for o in others)}" if others else " Output")
            + " (its shape the input's)"
        )
    (name,) = candidates
    want = tuple(binding.dataset.input_shape)
    got = tuple(outputs[name].shape[1:])
    if got != want:
        raise BindingError(
            f"The Output {name!r} gives (N, {', '.join(map(str, got))}) but the input is"
            f" (N, {', '.join(map(str, want))}): a reconstruction has the input's shape; add a"
            f" Reshape to {_shape(want)} before {name!r}"
        )
    return name


def check_bce(binding: Binding, output: str, settings: dict[str, Any], x: Any) -> None:
    """BCE compares probabilities: the output must come out of a Sigmoid, the data lie in [0, 1]."""
    if settings.get("recon_loss") != "bce":
        return
    net = binding.networks["model"]
    port = binding.outputs["model"][output]
    node = net.in_edges(port.node_id)[0].src
    while net.type_of(node) in RESHAPING and net.in_edges(node):  # they keep the values
        node = net.in_edges(node)[0].src
    last = net.type_of(node)
    if last != "Sigmoid":
        raise BindingError(
            f"recon_loss bce compares probabilities, but the Output {output!r} follows a {last}:"
            f" add a Sigmoid before {output!r}, or set recon_loss to mse"
        )
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise BindingError(
            f"recon_loss bce needs inputs in [0, 1], but the training data range from {lo:.3g}"
            f" to {hi:.3g}: set the dataset's normalise to minmax, or set recon_loss to mse"
        )


def configure_with(mode: str, others: tuple[str, ...] = ()):
    def configure(binding: Binding, config: Any) -> dict[str, Any]:
        settings = dict(config.procedure_settings)
        name = reconstruction_output(binding, others)
        check_bce(binding, name, settings, binding.train[0])
        outputs = binding.outputs["model"]
        order = list(outputs)
        if mode == "denoising" and settings["noise"] != "gaussian" and settings["noise_level"] > 1:
            raise BindingError(
                f"training.procedure_settings.noise_level: {settings['noise']} corrupts a"
                f" fraction of the values, so it must be at most 1, got {settings['noise_level']:g}"
            )
        return {
            **training_settings(config),
            **settings,
            "mode": mode,
            "outputs": order,
            "recon": order.index(name),
            "mean": order.index("mean") if "mean" in order else None,
            "log_var": order.index("log_var") if "log_var" in order else None,
            "latent_dim": outputs["mean"].shape[1] if "mean" in outputs else None,
        }

    return configure


def check_plain(binding: Binding) -> None:
    reconstruction_output(binding)


# Every optimised network's gradient health and layer histograms (drawn from the step and
# probe records, as for supervised training).
LAYER_VIEWS = (
    View("gradients", "layer_norms", "Gradient norms", tab="Gradients"),
    View("histograms", "histogram", "Weights and activations", tab="Layers"),
)

RECON_VIEWS = (
    View("loss", "curves", "Reconstruction loss", series=("loss",)),
    View(
        "reconstructions",
        "samples",
        "Reconstructions (fixed samples)",
        probe=f"{PROBES}:reconstructions",
    ),
    View("latent", "scatter", "Latent codes by class", tab="Latent", probe=f"{PROBES}:latent"),
    *LAYER_VIEWS,
)

AUTOENCODER = ProcedureSpec(
    id="autoencoder",
    title="Autoencoder",
    help="Learn to give back the input through a narrow layer (the code): the target is the"
    " input itself, so no labels are needed. Any network whose Output has the input's shape.",
    roles=(Role("model", "the network that reconstructs its input"),),
    data="inputs",
    settings=(RECON_LOSS,),
    kernel=KERNEL,
    check=check_plain,
    configure=configure_with("autoencoder"),
    example="autoencoder_digits",
    views=RECON_VIEWS,
    series=("loss",),
)

DENOISING = ProcedureSpec(
    id="denoising",
    title="Denoising autoencoder",
    help="Learn to give back the clean input from a corrupted copy (Gaussian noise, masking"
    " or salt-and-pepper): the noise is applied to the network's input only, the target stays"
    " clean.",
    roles=(Role("model", "the network that cleans its input"),),
    data="inputs",
    settings=(RECON_LOSS, NOISE, NOISE_LEVEL),
    kernel=KERNEL,
    check=check_plain,
    configure=configure_with("denoising"),
    example="denoising_digits",
    views=RECON_VIEWS,
    series=("loss",),
)

SPECS = (AUTOENCODER, DENOISING)
