"""Layers of generative models: Sample, the reparameterisation of a variational autoencoder."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import GEN, float_input
from builder.catalog.spec import Ctor, LayerSpec, P, Shape, Shapes, fail

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
