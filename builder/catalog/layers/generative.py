"""Layers of generative models: Sample, the reparameterisation of a variational autoencoder,
and the restricted Boltzmann machine."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import GEN, flat_features, float_input
from builder.catalog.params import INT, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

SPECS: list[LayerSpec] = []
add = SPECS.append


def _sample_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    mean, log_var = ins["mean"], ins["log_var"]
    float_input("Sample", mean)
    float_input("Sample", log_var)
    if tuple(mean) != tuple(log_var):
        raise fail(
            f"needs mean and log_var of the same shape but receives {mean} on 'mean' and"
            f" {log_var} on 'log_var'",
            "feed both from layers of the same size (e.g. two Linear heads with the same"
            " out_features: the size of the latent code)",
        )
    return {"out": mean}


def _sample_emit(
    e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]
) -> dict[str, Any]:
    return {"out": e.call(xs["mean"], xs["log_var"])}


add(
    LayerSpec(
        "Sample",
        GEN,
        "The reparameterisation of a variational autoencoder: z = mean + exp(0.5·log_var)·ε"
        " with ε ~ N(0, 1) drawn anew on every call, so gradients reach mean and log_var. In"
        " evaluation it returns mean (deterministic reconstructions). Connect the encoder's"
        " two heads to 'mean' and 'log_var'; z has the shape of mean.",
        inputs=("mean", "log_var"),
        infer=_sample_infer,
        ctor=lambda p, ins: Ctor("builder.catalog.modules.Sample", {}),
        emit=_sample_emit,
        default_name="sample",
    )
)


def _rbm_features(p: P, ins: Shapes) -> int:
    return flat_features(ins, "takes real values in [0, 1] (probabilities)")


add(
    LayerSpec(
        "RBM",
        GEN,
        "A restricted Boltzmann machine: visible units (a flattened sample, values in [0, 1])"
        " and hidden binary units, joined by weights W, with biases b (visible) and c"
        " (hidden). It outputs p(h = 1 | v) = σ(v·Wᵀ + c): learned features that further"
        " layers can use (RBM features → logistic regression). The 'rbm' procedure trains it"
        " by contrastive divergence (CD-k or persistent CD): no gradients of a loss.",
        params=(Param("hidden", INT, 100, "How many hidden units.", min=1, max=100_000),),
        infer=lambda p, ins: {"out": Shape((BATCH, p["hidden"]))} if _rbm_features(p, ins) else {},
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.RBM",
            {"features": _rbm_features(p, ins), "hidden": p["hidden"]},
        ),
        count=lambda p, ins: (
            p["hidden"] * _rbm_features(p, ins) + p["hidden"] + _rbm_features(p, ins)
        ),
        inferred=("features",),
        default_name="rbm",
    )
)
