"""Generative adversarial networks: two networks of the project, the generator (noise in, a
sample out) and the discriminator (a sample in, one score out), trained against each other
(kernel: :mod:`builder.training.kernels.adversarial`)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from builder.catalog.params import CHOICE, FLOAT, INT, Param
from builder.training.procedures.autoencoder import RESHAPING
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    training_settings,
)

KERNEL = "builder.training.kernels.adversarial"
PROBES = "builder.training.probes.adversarial"
# DCGAN's optimiser (Radford et al. 2015), each role's own unless training.optimizers says
DCGAN_ADAM = {"name": "adam", "lr": 2e-4, "betas": (0.5, 0.999)}
SCORES_ONLY = ("hinge", "wasserstein_gp")  # losses on an unbounded score


def _shape(shape: Any) -> str:
    dims = [int(d) for d in shape]
    return "(N, " + ", ".join(map(str, dims)) + ")"


def _last_layer(net: Any, port: Any) -> str:
    """The layer type an Output's values come from, through layers that only reshape."""
    node = net.in_edges(port.node_id)[0].src
    while net.type_of(node) in RESHAPING and net.in_edges(node):
        node = net.in_edges(node)[0].src
    return net.type_of(node)


def _single(binding: Binding, role: str) -> tuple[str, Any]:
    outputs = binding.outputs[role]
    net = binding.networks[role]
    if len(outputs) != 1:
        listed = ", ".join(repr(n) for n in outputs)
        raise BindingError(
            f"The {role} {net.name!r} has Outputs {listed}: a {role} has exactly one Output;"
            " remove the others"
        )
    return next(iter(outputs.items()))


def check(binding: Binding) -> None:
    g_net, d_net = binding.networks["generator"], binding.networks["discriminator"]
    g_name, g_port = _single(binding, "generator")
    d_name, d_port = _single(binding, "discriminator")
    (g_input,) = binding.roles["generator"].meta["inputs"]
    (d_input,) = binding.roles["discriminator"].meta["inputs"]
    if g_input.shape.dtype != "float32":
        raise BindingError(
            f"The generator's Input {g_net.name_of(g_input.node_id)!r} has dtype"
            f" {g_input.shape.dtype}: it takes noise, real values; set its dtype to float32"
        )
    made, taken = tuple(g_port.shape[1:]), tuple(d_input.shape[1:])
    if made != taken:
        advice = (
            f"add a Reshape to {tuple(taken)} before the generator's Output {g_name!r}"
            if math.prod(made) == math.prod(taken)
            else f"make the generator's last layer give {math.prod(taken)} values per sample"
            f" and Reshape them to {tuple(taken)}"
        )
        raise BindingError(
            f"The generator's Output {g_name!r} ({g_net.name!r}) gives {_shape(made)} but the"
            f" discriminator's Input {d_net.name_of(d_input.node_id)!r} ({d_net.name!r}) takes"
            f" {_shape(taken)}: {advice}"
        )
    verdict = tuple(d_port.shape[1:])
    if math.prod(verdict) != 1:
        raise BindingError(
            f"The discriminator's Output {d_name!r} gives {_shape(verdict)}: a discriminator"
            " scores each sample with one number (N, 1); set its last Linear's out_features"
            " to 1"
        )


def configure(binding: Binding, config: Any) -> dict[str, Any]:
    settings = dict(config.procedure_settings)
    d_net = binding.networks["discriminator"]
    _, d_port = _single(binding, "discriminator")
    probabilities = _last_layer(d_net, d_port) == "Sigmoid"
    if probabilities and settings["loss"] in SCORES_ONLY:
        raise BindingError(
            f"The {settings['loss']} loss compares unbounded scores, but the discriminator"
            f" {d_net.name!r} ends in a Sigmoid: remove the Sigmoid before its Output, or set"
            " training.procedure_settings.loss to non_saturating"
        )
    (g_input,) = binding.roles["generator"].meta["inputs"]
    plain = training_settings(config)
    plain.pop("optimizer")
    return {
        **plain,
        **settings,
        "optimizers": {
            role: {**asdict(config.optimizer_of(role))} for role in ("generator", "discriminator")
        },
        "latent_shape": [int(d) for d in g_input.shape[1:]],
        "probabilities": probabilities,
        "density": tuple(binding.dataset.input_shape) == (2,),
        "quality": len(binding.dataset.input_shape) in (2, 3)
        and binding.dataset.task == "classification",
    }


GAN = ProcedureSpec(
    id="gan",
    title="GAN (adversarial)",
    help="Two networks learn against each other: the generator turns noise into samples, the"
    " discriminator tells real samples from generated ones; each step trains the"
    " discriminator, then the generator to fool it.",
    roles=(
        Role(
            "generator",
            "noise in (its Input sets the latent size), a sample out (the discriminator's"
            " input shape)",
            takes_data=False,
            optimizer=DCGAN_ADAM,
        ),
        Role(
            "discriminator",
            "a sample in, one score out: how real the sample looks",
            optimizer=DCGAN_ADAM,
        ),
    ),
    data="inputs",
    settings=(
        Param(
            "loss",
            CHOICE,
            "non_saturating",
            "the game: non_saturating (BCE, the generator maximises log D(G(z))), minimax"
            " (the original log(1 - D(G(z)))), least_squares (LSGAN), hinge, wasserstein_gp"
            " (WGAN with gradient penalty; hinge and wasserstein_gp need a discriminator"
            " without a final Sigmoid)",
            choices=("non_saturating", "minimax", "least_squares", "hinge", "wasserstein_gp"),
        ),
        Param("d_steps", INT, 1, "discriminator updates per step", min=1, max=100),
        Param("g_steps", INT, 1, "generator updates per step", min=1, max=100),
        Param(
            "label_smoothing",
            FLOAT,
            0.0,
            "one-sided label smoothing: the discriminator's label for real samples is"
            " 1 - this (0.1 is common)",
            min=0.0,
            max=0.5,
        ),
        Param(
            "label_noise",
            FLOAT,
            0.0,
            "the fraction of the discriminator's labels swapped at random (BCE and least squares)",
            min=0.0,
            max=0.5,
        ),
        Param(
            "instance_noise",
            FLOAT,
            0.0,
            "the standard deviation of Gaussian noise added to every sample the discriminator"
            " sees, at the start (0: off)",
            min=0.0,
            max=10.0,
        ),
        Param(
            "instance_noise_epochs",
            INT,
            10,
            "epochs over which the instance noise falls linearly to 0 (0: it stays)",
            min=0,
        ),
        Param("gp_weight", FLOAT, 10.0, "the gradient penalty's weight (wasserstein_gp)", min=0.0),
        Param(
            "init",
            CHOICE,
            "default",
            "the networks' initial weights: default (each layer's own init), or dcgan"
            " (weights from N(0, 0.02), batch-norm scales from N(1, 0.02))",
            choices=("default", "dcgan"),
        ),
        Param(
            "noise",
            CHOICE,
            "normal",
            "the generator's noise: normal (N(0, 1)) or uniform (in [-1, 1])",
            choices=("normal", "uniform"),
        ),
        Param(
            "fixed_samples",
            INT,
            64,
            "generated samples shown from the same noise through the run",
            min=8,
            max=256,
        ),
    ),
    kernel=KERNEL,
    check=check,
    configure=configure,
    example="gan_digits",
    series=("loss", "d_loss", "g_loss", "d_x", "d_g_z1", "d_g_z2"),
    blowup=0.0,  # a GAN's losses rise and fall as the two networks trade places
    role_losses=(("discriminator", "d_loss"), ("generator", "g_loss")),
    alarms="builder.training.procedures.gan_alarms:alarms",
    phases=(
        (
            "discriminator",
            "Step D",
            "Paused: one update of the discriminator only (the generator stays), then pause",
        ),
        (
            "generator",
            "Step G",
            "Paused: one update of the generator only (the discriminator stays), then pause",
        ),
    ),
    views=(
        View(
            "losses",
            "curves",
            "Discriminator and generator losses",
            series=("d_loss", "g_loss"),
            labels=("D loss", "G loss"),
        ),
        View(
            "d_outputs",
            "curves",
            "D(x) on real samples, D(G(z)) at D's step and at G's step",
            series=("d_x", "d_g_z1", "d_g_z2"),
            labels=("D(x)", "D(G(z)), D's step", "D(G(z)), G's step"),
        ),
        View(
            "samples",
            "image_grid",
            "Generated samples (fixed noise)",
            probe=f"{PROBES}:samples",
            data="image",
            history=60,
            live=True,
        ),
        View(
            "quality",
            "curves",
            "Sample quality: feature Fréchet distance and KID (lower is better)",
            series=("fid", "kid"),
            labels=("FID", "KID"),
            data="image",
        ),
        View(
            "coverage",
            "bars",
            "Classes of the generated images (feature classifier)",
            probe=f"{PROBES}:coverage",
            data="image",
        ),
        View(
            "points",
            "scatter",
            "Real and generated points",
            tab="Plane",
            probe=f"{PROBES}:points",
            data="points",
        ),
        View(
            "verdict",
            "heatmap",
            "Discriminator's verdict over the plane",
            tab="Plane",
            probe=f"{PROBES}:verdict",
            data="points",
        ),
        View(
            "manifold",
            "scatter",
            "Generator's manifold (a latent grid, generated)",
            tab="Plane",
            probe=f"{PROBES}:manifold",
            data="points",
        ),
        View(
            "density",
            "curves",
            "Divergence of the generated density (KL, JS)",
            series=("kl", "js"),
            labels=("KL", "JS"),
            data="points",
        ),
        View("gradients", "layer_norms", "Gradient norms (both networks)", tab="Gradients"),
    ),
)

SPECS = (GAN,)
