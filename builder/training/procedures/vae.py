"""The variational autoencoder: the encoder's ``mean`` and ``log_var`` Outputs feed a Sample
layer whose draw the decoder turns into the reconstruction; the loss is the reconstruction
plus β times the KL divergence of the codes from N(0, I), with a linear warm-up of β and
optional free bits (Kingma et al. 2016: each latent dimension's KL counts at least
``free_bits`` nats, so the optimiser gains nothing by collapsing it)."""

from __future__ import annotations

from dataclasses import replace

from builder.catalog.params import FLOAT, INT, Param
from builder.training.procedures.autoencoder import (
    KERNEL,
    LAYER_VIEWS,
    PROBES,
    RECON_LOSS,
    configure_with,
    reconstruction_output,
)
from builder.training.procedures.spec import Binding, BindingError, ProcedureSpec, Role, View

HEADS = ("mean", "log_var")


def check(binding: Binding) -> None:
    net = binding.networks["model"]
    outputs = binding.outputs["model"]
    missing = [h for h in HEADS if h not in outputs]
    if missing:
        listed = ", ".join(f"'{n}'" for n in outputs) or "none"
        raise BindingError(
            f"The vae procedure needs Outputs named 'mean' and 'log_var' (the encoder's two"
            f" heads, also wired into the Sample layer), but network {net.name!r} has {listed}:"
            f" add an Output named {' and '.join(repr(m) for m in missing)}"
        )
    if tuple(outputs["mean"].shape) != tuple(outputs["log_var"].shape):
        raise BindingError(
            f"The Outputs 'mean' {tuple(outputs['mean'].shape[1:])} and 'log_var'"
            f" {tuple(outputs['log_var'].shape[1:])} differ in shape: both give the latent code"
            " (N, latent); give the two heads the same out_features"
        )
    if len(outputs["mean"].shape) != 2:
        raise BindingError(
            f"The Output 'mean' gives {tuple(outputs['mean'].shape)}: a latent code is a vector"
            " per sample (N, latent); add a Flatten before the encoder's heads"
        )
    if not any(net.type_of(n) == "Sample" for n in net.nodes):
        raise BindingError(
            f"Network {net.name!r} has no Sample layer: connect 'mean' and 'log_var' to a"
            " Sample layer and decode its output into the reconstruction"
        )
    reconstruction_output(binding, HEADS)


VAE = ProcedureSpec(
    id="vae",
    title="Variational autoencoder",
    help="Learn a latent space you can sample from: the encoder gives a mean and a log-variance"
    " per latent dimension, Sample draws a code, the decoder reconstructs; the loss adds β·KL"
    " (the codes' divergence from N(0, I)) to the reconstruction.",
    roles=(Role("model", "encoder, Sample and decoder", outputs=("recon", *HEADS)),),
    data="inputs",
    settings=(
        replace(RECON_LOSS, default="bce"),
        Param("beta", FLOAT, 1.0, "the weight of the KL term (β-VAE; 1 is the ELBO)", min=0.0),
        Param(
            "warmup_epochs",
            INT,
            0,
            "epochs over which β grows linearly from 0 to its value (0: no warm-up); against"
            " posterior collapse",
            min=0,
        ),
        Param(
            "free_bits",
            FLOAT,
            0.0,
            "the KL each latent dimension counts at least, in nats (0: off); against"
            " posterior collapse",
            min=0.0,
        ),
    ),
    kernel=KERNEL,
    check=check,
    configure=configure_with("vae", HEADS),
    example="vae_digits",
    series=("loss", "recon", "kl", "beta"),
    views=(
        View("terms", "curves", "Loss, reconstruction, KL", series=("loss", "recon", "kl")),
        View("beta", "curves", "β (KL weight)", series=("beta",)),
        View(
            "reconstructions",
            "samples",
            "Reconstructions (fixed samples)",
            probe=f"{PROBES}:reconstructions",
        ),
        View("latent", "scatter", "Latent means by class", tab="Latent", probe=f"{PROBES}:latent"),
        View(
            "manifold",
            "image_grid",
            "Decoded latent grid (2-D manifold)",
            tab="Latent",
            probe=f"{PROBES}:manifold",
        ),
        View(
            "prior", "image_grid", "Samples from the prior", tab="Latent", probe=f"{PROBES}:prior"
        ),
        View(
            "kl_per_dim",
            "bars",
            "KL per latent dimension (active units)",
            tab="Latent",
            probe=f"{PROBES}:kl_per_dim",
        ),
        *LAYER_VIEWS,
    ),
)

SPECS = (VAE,)
