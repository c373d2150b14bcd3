"""What the dashboard sees of a run beyond its numbers: each procedure's declared views
(:class:`~builder.training.procedures.spec.View`) probed on the trained networks.

A probe is ``function(context) -> payload | None`` (payload formats: ViewRecord's docstring);
:class:`ViewProber` runs a procedure's probes on report steps, each at most every
``View.every`` seconds, and always once more on the run's final weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from builder.training.records import ViewRecord, frozen

PROBE_ROWS = 512  # the fixed samples views are drawn from


@dataclass
class ViewContext:
    """What a probe may read: the kernel and its state, fixed samples of the evaluated split
    (on the device), and the modules some views hook (the Sample layer of a VAE, an
    autoencoder's narrowest layer: its code)."""

    kernel: Any
    state: dict[str, Any]
    x: torch.Tensor
    y: torch.Tensor | None
    image: bool  # a sample is an image ((H, W) or (C, H, W))
    class_names: list[str] | None = None
    sample: nn.Module | None = None  # the VAE's Sample layer
    code: nn.Module | None = None  # the layer whose output is the code (autoencoders)
    code_name: str = ""
    scratch: dict[str, Any] = field(default_factory=dict)  # fixed draws kept across probes


def view_prober(
    spec: Any, kernel: Any, state: dict[str, Any], model: nn.Module, net: Any, ds: Any, split: Any
) -> ViewProber | None:
    """The procedure's probes (None when it declares none) on fixed samples of ``split``
    ((x, y) on the device): the Sample layer is hooked for a VAE's decoded grids, the
    narrowest layer (the code) for an autoencoder's latent view."""
    if not any(v.probe for v in spec.views):
        return None
    from builder.names import attribute_names
    from builder.shapes import infer

    x, y = split
    sample = code = None
    code_name = ""
    modules = dict(model.named_modules())
    attrs = attribute_names(net)
    order = net.topological_order()
    for node in order:
        if net.type_of(node) == "Sample" and node in attrs:
            sample = modules.get(attrs[node])
    if sample is None:  # an autoencoder's code: its narrowest layer
        shapes = infer(net)
        sizes = []
        for i, node in enumerate(order):
            out = shapes[node].outputs.get("out")
            if node in attrs and attrs[node] in modules and out is not None:
                sizes.append((math.prod(out[1:]), i, node))
        if sizes:
            _, _, node = min(sizes)
            code, code_name = modules[attrs[node]], net.name_of(node)
    context = ViewContext(
        kernel=kernel,
        state=state,
        x=x[:PROBE_ROWS],
        y=y[:PROBE_ROWS] if y is not None else None,
        image=len(ds.input_shape) in (2, 3),
        class_names=ds.class_names,
        sample=sample,
        code=code,
        code_name=code_name,
    )
    return ViewProber(spec, context)


def number(value: float) -> str:
    """A number as a worked example writes it: 4 decimals at most, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def vector(values: Any) -> str:
    """``[0.3, 0.5, -1]``: :func:`number` of each value."""
    return "[" + ", ".join(number(float(v)) for v in values) + "]"


def lines_only(title: str, lines: list[str]) -> dict[str, Any]:
    """An arithmetic payload of lines and no table (what a view says when it has no single
    update to work: a batch, a network too big)."""
    return {
        "title": title,
        "lines": list(lines),
        "columns": [],
        "rows": [],
        "cells": [],
        "highlight": [],
    }


def readonly(array: Any) -> np.ndarray:
    out = np.ascontiguousarray(
        array.detach().float().cpu().numpy() if torch.is_tensor(array) else array
    )
    out.flags.writeable = False
    return out


class ViewProber:
    """The procedure's probes, by view key, with their intervals."""

    def __init__(self, spec: Any, context: ViewContext):
        self.context = context
        probes: dict[str, Callable[[ViewContext], Any]] = spec.load_probes()
        shape = tuple(context.x.shape[1:])  # the views that apply to this data
        self.views = {v.key: v for v in spec.views if v.key in probes and v.applies(shape)}
        self.probes = {k: probe for k, probe in probes.items() if k in self.views}
        self.last: dict[str, float] = {k: -math.inf for k in self.probes}

    def records(
        self, epoch: int, step: int, final: bool = False, now_all: bool = False
    ) -> list[ViewRecord]:
        """The views due now (``now_all``: every view, whatever its interval: a single step,
        which the learner reads view by view; ``final``: the same, on the final weights)."""
        out = []
        model_states = [(m, m.training) for m in self.context.state["models"].values()]
        try:
            for key, probe in self.probes.items():
                view = self.views[key]
                now = time.perf_counter()
                if not (final or now_all) and now - self.last[key] < view.every:
                    continue
                self.last[key] = now
                with torch.no_grad():
                    payload = probe(self.context)
                if payload is not None:
                    out.append(ViewRecord(key, view.kind, epoch, step, frozen(payload)))
        finally:
            for model, was_training in model_states:
                model.train(was_training)
        return out
