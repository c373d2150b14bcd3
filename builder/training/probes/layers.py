"""The supervised probe the dashboard asks for (:meth:`Trainer.set_probe`): the chosen
layer's weight and activation histograms, and for 2-D inputs the model's prediction on a grid
(the decision boundary or regression surface)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from builder.training.records import Histogram, ProbeRecord

FINAL_ROWS = 256  # training rows the final probe's forward pass sees


def histogram(values: torch.Tensor, bins: int = 30) -> Histogram:
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return Histogram((), ())
    lo, hi = finite.min(), finite.max()
    if bool(hi <= lo):
        hi = lo + 1e-6
    counts = torch.histc(finite, bins=bins, min=float(lo), max=float(hi))
    edges = torch.linspace(float(lo), float(hi), bins + 1)
    return Histogram(tuple(int(c) for c in counts.tolist()), tuple(edges.tolist()))


class LayerProber:
    """Probes one model; keeps a forward hook on the chosen layer between probes."""

    def __init__(
        self,
        model: nn.Module,
        name_to_attr: dict[str, str],
        task: str | None,
        loss: str,
        probability: bool = False,
        threshold: float | None = None,
    ):
        """``probability``: the model's one output is already 0 to 1 (a threshold unit's);
        ``threshold``: class 1 where the one output is above it (an RBF network's); else the
        loss says how to read it."""
        self.model, self.name_to_attr, self.task, self.loss = model, name_to_attr, task, loss
        self.probability, self.threshold = probability, threshold
        self.last = -math.inf  # the first report probes (perf_counter may be small)
        self.hooked: tuple[str, Any] | None = None  # (module attribute, hook handle)
        self.activation: list[torch.Tensor] = []

    def record(
        self,
        request: tuple[str | None, Any, float],
        epoch: int,
        step: int,
        x: torch.Tensor,
        final: bool = False,
    ) -> ProbeRecord | None:
        """A probe record, at most every ``interval`` seconds (else None); ``final``: now,
        with the activations of a fresh forward pass on ``x`` (the run's last state)."""
        layer, grid, interval = request
        now = time.perf_counter()
        if now - self.last < interval and not final:
            return None
        self.last = now
        fields: dict[str, Any] = {"layer": layer}
        attr = self.name_to_attr.get(layer) if layer is not None else None
        module = getattr(self.model, attr, None) if attr is not None else None
        if self.hooked is not None and self.hooked[0] != attr:
            self.hooked[1].remove()
            self.hooked = None
            self.activation.clear()
        if module is not None:
            if self.hooked is None:

                def keep(_module: nn.Module, _inputs: Any, output: Any) -> None:
                    self.activation[:] = [
                        (output[0] if isinstance(output, tuple) else output).detach()
                    ]

                self.hooked = (attr, module.register_forward_hook(keep))
            if final:  # the activations of the trained model on training rows
                was_training = self.model.training
                self.model.eval()
                try:
                    with torch.no_grad():
                        self.model(x[:FINAL_ROWS])
                finally:
                    self.model.train(was_training)
            with torch.no_grad():
                weights = [p.detach().flatten() for p in module.parameters() if p.dim() >= 2]
                if weights:
                    fields["weights"] = histogram(torch.cat(weights))
                if self.activation:
                    fields["activations"] = histogram(self.activation[0].flatten().float())
        if grid is not None and self.task is not None and tuple(x.shape[1:]) == (2,):
            fields.update(self.grid_prediction(grid, x.device))
        return ProbeRecord(epoch, step, **fields)

    @torch.no_grad()
    def grid_prediction(self, grid: tuple[Any, Any], device: torch.device) -> dict[str, Any]:
        xs = torch.as_tensor(np.asarray(grid[0], dtype=np.float32))
        ys = torch.as_tensor(np.asarray(grid[1], dtype=np.float32))
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([xx.flatten(), yy.flatten()], dim=1).to(device)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(points).float()
        finally:
            self.model.train(was_training)
        out = out.reshape(out.shape[0], -1)
        if self.task != "classification":
            values = out[:, 0]
        elif out.shape[1] == 1 and self.threshold is not None:
            values = (out[:, 0] > self.threshold).float()
        elif out.shape[1] == 1:
            probability = self.probability or self.loss in ("bce", "mse", "half_sse", "l1", "huber")
            values = out[:, 0].clamp(0, 1) if probability else torch.sigmoid(out[:, 0])
        elif out.shape[1] == 2:
            values = torch.softmax(out, dim=1)[:, 1]  # logits or log-probabilities alike
        else:
            values = out.argmax(dim=1).float()
        array = values.reshape(len(ys), len(xs)).cpu().numpy()
        array.flags.writeable = False
        return {"grid_x": tuple(xs.tolist()), "grid_y": tuple(ys.tolist()), "grid": array}
