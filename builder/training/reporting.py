"""What the trainer's reports gather between two of them: the parameters grouped by layer
(for per-layer norms in one batched call) and the steps not yet reported."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


class Layers:
    """Parameters grouped by layer (node), for per-layer norms in one batched call."""

    def __init__(
        self,
        children: Iterable[tuple[str, nn.Module]],
        names: dict[str, str],
        device: torch.device,
    ):
        """``children``: each layer's module by attribute (``model.named_children()``; of
        several networks, attributes prefixed with the network's name and a slash)."""
        self.names: list[str] = []
        self.params: list[nn.Parameter] = []
        index: list[int] = []
        for attr, module in children:
            params = [p for p in module.parameters() if p.requires_grad]
            if not params:
                continue
            self.names.append(names.get(attr, attr))
            for p in params:
                self.params.append(p)
                index.append(len(self.names) - 1)
        self.index = torch.tensor(index, dtype=torch.long, device=device)
        self.device = device

    def __bool__(self) -> bool:
        return bool(self.params)

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]


class Pending:
    """The steps since the last report: their losses as the step left them, the host copies
    of the first ``len(values)`` of them and the steps among them that closed an epoch.

    On a GPU a step's loss stays on the device (a detached scalar) until the report or the
    epoch's end copies them all at once. On the CPU (``host``) reading a scalar is a plain
    memory read with nothing to wait for, cheaper than keeping a detached tensor and
    stacking it later: each loss is read as the step leaves it and ``values`` *is*
    ``losses``."""

    __slots__ = ("first", "losses", "values", "epoch_ends", "started", "series")

    def __init__(self, step: int, host: bool = False):
        self.first = step  # the step before the first one
        self.losses: list[Any] = []  # tensors on the device, or floats when ``host``
        self.values: list[float] = self.losses if host else []
        self.epoch_ends: list[int] = []
        self.started = time.perf_counter()
        self.series: dict[str, list[Any]] = {}  # the kernel's other named values, per step

    def series_values(self, count: int) -> dict[str, tuple[float, ...]]:
        """The named series of the first ``count`` steps, on the host."""
        out = {}
        for name, values in self.series.items():
            values = values[:count]
            if values and torch.is_tensor(values[0]):
                out[name] = tuple(torch.stack(values).tolist())
            else:
                out[name] = tuple(float(v) for v in values)
        return out

    def copy(self) -> list[float]:
        """All the losses on the host (copying only those not copied yet)."""
        rest = self.losses[len(self.values) :]
        if rest:
            self.values += torch.stack(rest).tolist()  # detached scalars: one op, one copy
        return self.values

    def host_copy(
        self,
        layers: Layers,
        norm_index: torch.Tensor | None,
        grads: Any,
        before: list[torch.Tensor] | None,
    ) -> tuple[list[float], list[float] | None, list[float] | None, list[float] | None]:
        """The step losses and the per-layer gradient, weight and update norms (None where not
        measured), all on the host in one copy. ``grads`` are the per-parameter gradient norms
        and ``before`` the parameters, both taken before the optimiser step (``before`` is
        overwritten here); ``norm_index`` sends each of them to its layer (see the trainer)."""
        rest = self.losses[len(self.values) :]
        g = w = u = None
        with torch.no_grad():
            if grads is not None:
                m = len(layers.names)
                if before is not None:
                    current = [p.detach() for p in layers.params]
                    torch._foreach_sub_(before, current)  # minus the update: the same norm
                    norms = torch.stack([*grads, *torch._foreach_norm([*current, *before])])
                    index, size = norm_index, 3 * m
                else:
                    norms, index, size = torch.stack(list(grads)), layers.index, m
                zeros = torch.zeros(size, dtype=norms.dtype, device=norms.device)
                per_layer = torch.index_add(zeros, 0, index, norms * norms).sqrt_()
                parts = [torch.stack(rest), per_layer] if rest else [per_layer]
                packed = torch.cat(parts).tolist()  # the one host copy
                k = len(rest)
                g = packed[k : k + m]
                if before is not None:
                    w, u = packed[k + m : k + 2 * m], packed[k + 2 * m :]
                values = self.values + packed[:k]
            else:
                values = self.values + (torch.stack(rest).tolist() if rest else [])
        return values, g, w, u
