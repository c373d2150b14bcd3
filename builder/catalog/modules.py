"""The few torch modules the catalog needs that torch does not ship."""

from __future__ import annotations

import math

import torch
from torch import nn


class Step(nn.Module):
    """McCulloch–Pitts threshold unit: 1 where ``x >= threshold``, else 0.

    Its gradient is zero almost everywhere, which is why the perceptron rule (not backprop)
    trains it; it is here to show exactly that.
    """

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= self.threshold).to(x.dtype)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class Sample(nn.Module):
    """The reparameterisation of a variational autoencoder.

    In training, ``mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, 1)`` (a new draw on
    every call), so gradients flow through ``mean`` and ``log_var``; in evaluation, ``mean``.
    """

    def forward(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return mean
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)


# MiniSom's spacing of the rows of a hexagonal map: (3/2)/√3 = √3/2, written as MiniSom
# writes it (Y_HEX_CONV_FACTOR), so that the positions are MiniSom's to the last bit.
SOM_HEX_ROW = (3.0 / 2.0) / math.sqrt(3)
SOM_TOPOLOGIES = ("rectangular", "hexagonal")
SOM_DISTANCES = ("euclidean", "cosine", "manhattan")


def som_layout(
    rows: int, cols: int, hexagonal: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where a map's units are, in float64, unit ``i * cols + j`` for grid cell ``(i, j)``:

    - ``positions`` (units, 2): the unit's point on the plane, as MiniSom lays maps out:
      ``(i, j)`` on a rectangular map; on a hexagonal one every other column of units
      (those whose ``cols - 1 - j`` is even) is moved by -0.5 along ``i`` and the columns are
      √3/2 apart, so that each unit is 1 from its six neighbours;
    - ``index`` (units, 2): the cell ``(i, j)`` itself (bubble and triangle neighbourhoods and
      the rectangular topographic error count cells, as MiniSom does, on either topology);
    - ``period`` (2,): how far the plane repeats along each axis when the map is toroidal
      (``rows``, and ``cols`` or ``cols·√3/2``).
    """
    i = torch.arange(rows, dtype=torch.float64).repeat_interleave(cols)
    j = torch.arange(cols, dtype=torch.float64).repeat(rows)
    index = torch.stack([i, j], dim=1)
    if not hexagonal:
        period = torch.tensor([float(rows), float(cols)], dtype=torch.float64)
        return index.clone(), index, period
    shifted = torch.remainder(cols - 1 - j, 2) == 0
    x = torch.where(shifted, i - 0.5, i)
    positions = torch.stack([x, j * SOM_HEX_ROW], dim=1)
    period = torch.tensor([float(rows), cols * SOM_HEX_ROW], dtype=torch.float64)
    return positions, index, period


def som_delta(points: torch.Tensor, at: torch.Tensor, period: torch.Tensor | None) -> torch.Tensor:
    """``points`` (units, 2) less each of ``at`` (k, 2): (k, units, 2). With a ``period``
    (a toroidal map) each difference is the shortest way round (the minimum-image
    convention, as TorchSOM's periodic boundaries)."""
    delta = points.unsqueeze(0) - at.unsqueeze(1)
    if period is not None:
        delta = delta - period * torch.round(delta / period)
    return delta


def som_distances(x: torch.Tensor, weight: torch.Tensor, kind: str) -> torch.Tensor:
    """The distance from every row of ``x`` (n, features) to every unit's weights (units,
    features): (n, units), as MiniSom measures them.

    - ``euclidean``: ‖x - w‖, computed as √max(0, ‖x‖² - 2x·w + ‖w‖²) (one matrix product);
    - ``cosine``: 1 - x·w / (‖x‖‖w‖ + 1e-8);
    - ``manhattan``: Σ|x - w|.
    """
    if kind == "euclidean":
        x_sq = x.square().sum(1, keepdim=True)
        w_sq = weight.square().sum(1)
        return torch.addmm(x_sq, x, weight.t(), alpha=-2).add_(w_sq).clamp_(min=0).sqrt_()
    if kind == "cosine":
        norms = torch.outer(
            torch.linalg.vector_norm(x, dim=1), torch.linalg.vector_norm(weight, dim=1)
        )
        return 1 - (x @ weight.t()) / (norms + 1e-8)
    if kind == "manhattan":
        return torch.cdist(x, weight, p=1)
    raise ValueError(f"unknown SOM distance {kind!r}: expected one of {', '.join(SOM_DISTANCES)}")


class SOM(nn.Module):
    """A self-organizing map (Kohonen): ``rows`` × ``cols`` units on a grid, each with a
    weight vector of ``features`` values (the codebook, ``weight``: one row per unit, unit
    ``i * cols + j`` for cell ``(i, j)``, MiniSom's order).

    A sample (any shape, flattened) is won by its best-matching unit, the unit whose weights
    are nearest (``distance``: euclidean, cosine or manhattan). ``forward`` returns
    ``(coords, unit, distances)``: the winner's position on the grid's plane (N, 2), its
    index (N, 1) and the distances to every unit (N, units).

    The weights learn by a rule, not by gradients (``requires_grad`` is off): the ``som``
    training procedure moves the winner and its grid neighbours towards each sample.
    Hexagonal maps are laid out as MiniSom lays them (:func:`som_layout`); a toroidal map
    wraps round both edges (a hexagonal one needs an even number of columns for that).
    """

    def __init__(
        self,
        features: int,
        rows: int,
        cols: int,
        topology: str = "rectangular",
        toroidal: bool = False,
        distance: str = "euclidean",
        weights_init: str = "random",
    ):
        super().__init__()
        if topology not in SOM_TOPOLOGIES:
            raise ValueError(
                f"unknown SOM topology {topology!r}: expected rectangular or hexagonal"
            )
        if distance not in SOM_DISTANCES:
            raise ValueError(
                f"unknown SOM distance {distance!r}: expected one of {', '.join(SOM_DISTANCES)}"
            )
        if min(features, rows, cols) < 1:
            raise ValueError(
                f"a SOM needs features, rows and cols >= 1, got {features}, {rows}, {cols}"
            )
        if toroidal and topology == "hexagonal" and cols % 2:
            raise ValueError(f"a toroidal hexagonal map needs an even number of cols, got {cols}")
        self.features, self.rows, self.cols = int(features), int(rows), int(cols)
        self.topology, self.toroidal, self.distance = topology, bool(toroidal), distance
        self.weights_init = weights_init  # how the som procedure sets the codebook first
        units = self.rows * self.cols
        self.weight = nn.Parameter(
            torch.empty(units, self.features).uniform_(-1, 1), requires_grad=False
        )
        positions, _, _ = som_layout(self.rows, self.cols, topology == "hexagonal")
        self.register_buffer("positions", positions.to(torch.get_default_dtype()), persistent=False)

    @property
    def units(self) -> int:
        return self.rows * self.cols

    def layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """:func:`som_layout` of this map, in float64 on the weights' device; the period is
        None unless the map is toroidal."""
        positions, index, period = som_layout(self.rows, self.cols, self.topology == "hexagonal")
        device = self.weight.device
        period = period.to(device) if self.toroidal else None
        return positions.to(device), index.to(device), period

    def grid_distance_sq(self, units: torch.Tensor | None = None) -> torch.Tensor:
        """Squared distances on the grid's plane from ``units`` (indices; default every unit)
        to every unit: (k, units), in the weights' dtype (computed in float64; toroidal maps
        the shortest way round)."""
        positions, _, period = self.layout()
        at = positions if units is None else positions[units.to(positions.device)]
        return som_delta(positions, at, period).square().sum(-1).to(self.weight.dtype)

    def grid_offsets(self, units: torch.Tensor | None = None) -> torch.Tensor:
        """How many cells apart ``units`` (default every unit) and every unit are along the
        rows and along the columns: (k, units, 2), the absolute values (toroidal maps the
        shortest way round), in the weights' dtype."""
        _, index, period = self.layout()
        if period is not None:
            period = torch.tensor(
                [float(self.rows), float(self.cols)], dtype=torch.float64, device=index.device
            )
        at = index if units is None else index[units.to(index.device)]
        return som_delta(index, at, period).abs().to(self.weight.dtype)

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """The distance from every row of ``x`` (N, features) to every unit: (N, units)."""
        return som_distances(x, self.weight, self.distance)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        d = self.distances(flat)
        unit = d.argmin(dim=1)
        return self.positions[unit], unit.unsqueeze(1).to(d.dtype), d

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, rows={self.rows}, cols={self.cols},"
            f" topology={self.topology!r}, toroidal={self.toroidal}, distance={self.distance!r},"
            f" weights_init={self.weights_init!r}"
        )


class RBF(nn.Module):
    """Gaussian radial-basis units: ``h_j = exp(−‖x − c_j‖² / (2·σ_j²))`` for each unit j,
    ``x`` a flattened sample, ``c_j`` the unit's centre and ``σ_j`` its width (both
    parameters: hand-set, placed by the rbf procedure, or learned by gradient). The output
    is (N, units), each value in (0, 1]: 1 at the centre, falling with the distance."""

    def __init__(self, features: int, units: int, sigma: float = 1.0):
        super().__init__()
        if min(features, units) < 1:
            raise ValueError(f"an RBF layer needs features and units >= 1, got {features}, {units}")
        if not sigma > 0:
            raise ValueError(f"an RBF layer's width sigma must be > 0, got {sigma}")
        self.features, self.units = int(features), int(units)
        self.centres = nn.Parameter(torch.empty(units, features).uniform_(-1, 1))
        self.sigma = nn.Parameter(torch.full((units,), float(sigma)))

    def squared_distances(self, x: torch.Tensor) -> torch.Tensor:
        """‖x − c_j‖² from every row of ``x`` (N, features) to every centre: (N, units)."""
        return (x[:, None, :] - self.centres[None]).square().sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d2 = self.squared_distances(x.reshape(x.shape[0], -1))
        return torch.exp(-d2 / (2 * self.sigma.square()))

    def extra_repr(self) -> str:
        return f"features={self.features}, units={self.units}"


class RBM(nn.Module):
    """A restricted Boltzmann machine with Bernoulli visible and hidden units: ``weight``
    (hidden, visible), ``visible_bias`` b, ``hidden_bias`` c, as scikit-learn's BernoulliRBM
    (``components_``, ``intercept_visible_``, ``intercept_hidden_``) and initialised as it
    is: weights N(0, 0.01), biases 0. The forward pass gives the hidden units' probabilities
    p(h = 1 | v) = σ(v·Wᵀ + c) of a flattened sample v: features for further layers."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        if min(features, hidden) < 1:
            raise ValueError(f"an RBM needs features and hidden >= 1, got {features}, {hidden}")
        self.features, self.hidden = int(features), int(hidden)
        self.weight = nn.Parameter(torch.randn(hidden, features) * 0.01)
        self.visible_bias = nn.Parameter(torch.zeros(features))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v @ self.weight.T + self.hidden_bias)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.weight + self.visible_bias)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = −v·b − Σ_j softplus(v·W_j + c_j), one value per row of ``v``."""
        return -(v @ self.visible_bias) - nn.functional.softplus(
            v @ self.weight.T + self.hidden_bias
        ).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden_probs(x.reshape(x.shape[0], -1))

    def extra_repr(self) -> str:
        return f"features={self.features}, hidden={self.hidden}"


class Permute(nn.Module):
    """Reorders a sample's dims (the batch dim stays first): ``dims`` is the new order of
    dims 1, 2, ... counted from 0, as ``x.permute(0, *[d + 1 for d in dims])`` (ViT's patches
    (N, C, P) to (N, P, C): dims (1, 0))."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(len(self.dims))):
            raise ValueError(f"dims must order 0 to {len(self.dims) - 1}, got {self.dims}")
        self.order = (0, *(d + 1 for d in self.dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.order)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class ClassToken(nn.Module):
    """A learned vector put before a sequence (a vision transformer's class token): (N, L, D)
    becomes (N, L + 1, D), position 0 the token, the same for every sample."""

    def __init__(self, dim: int):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, int(dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


def sinusoids(length: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The transformer's sinusoidal positions (Vaswani et al.): (length, dim), sin on even
    and cos on odd features, wavelengths from 2π to base·2π."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table


class PositionalEncoding(nn.Module):
    """Adds each position's vector to a sequence (N, L, D): sinusoidal (fixed, base 10000) or
    learned (a parameter, N(0, 0.02) as ViT's), for sequences of up to ``max_len``."""

    def __init__(self, dim: int, max_len: int, kind: str = "sinusoidal"):
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(
                f"unknown positional encoding {kind!r}: expected sinusoidal or learned"
            )
        self.kind = kind
        if kind == "learned":
            self.positions = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        else:
            self.register_buffer("positions", sinusoids(max_len, dim)[None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.positions[:, : x.shape[1]]

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class Mean(nn.Module):
    """``x.mean(dims, keepdim)`` (``dims`` as torch counts them: 0 is the batch)."""

    def __init__(self, dims: tuple[int, ...], keepdim: bool = False):
        super().__init__()
        self.dims = tuple(int(d) for d in dims)
        self.keepdim = bool(keepdim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdim={self.keepdim}"


class StochasticDepth(nn.Module):
    """Drop path: in training, the input zeroed for each sample (``mode`` "row") or for the
    whole batch ("batch") with probability ``p``, what is kept scaled by 1 / (1 - p); the
    identity in evaluation (torchvision.ops.stochastic_depth's arithmetic)."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if mode not in ("row", "batch"):
            raise ValueError(f"mode must be row or batch, got {mode!r}")
        self.p, self.mode = float(p), mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * noise.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class Slice(nn.Module):
    """``x.narrow(dim, start, length)``, and with ``squeeze`` (length 1) the dim dropped, as
    ``x[:, start]`` does (dims as torch counts them)."""

    def __init__(self, dim: int, start: int, length: int, squeeze: bool = False):
        super().__init__()
        self.dim, self.start, self.length = int(dim), int(start), int(length)
        self.squeeze = bool(squeeze)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze:
            return x.select(self.dim, self.start)
        return x.narrow(self.dim, self.start, self.length)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, length={self.length}, squeeze={self.squeeze}"


class Scale(nn.Module):
    """``scale * x`` with ``scale`` a learned tensor of ``shape`` (broadcast over the sample),
    every value ``start`` at first (ConvNeXt's layer scale: (C, 1, 1), 1e-6)."""

    def __init__(self, shape: tuple[int, ...], start: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full(tuple(int(s) for s in shape), float(start)))
        self.start = float(start)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x

    def extra_repr(self) -> str:
        return f"shape={tuple(self.scale.shape)}, start={self.start}"


class EncoderLayer(nn.TransformerEncoderLayer):
    """torch's nn.TransformerEncoderLayer, batch first, with the mask the layer's settings
    make (``causal``: the square subsequent mask) and an optional padding mask (N, L) as a
    second input (non-zero or True: a padded step); its weights are named as torch's."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
        causal: bool = False,
    ):
        super().__init__(
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first=True,
            norm_first=norm_first,
            bias=bias,
        )
        self.causal = bool(causal)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = None
        if self.causal:  # True: a later step, not attended to (bool, as the padding mask)
            steps = x.shape[1]
            mask = torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)
        if padding_mask is not None and padding_mask.dtype != torch.bool:
            padding_mask = padding_mask != 0
        return super().forward(
            x, src_mask=mask, src_key_padding_mask=padding_mask, is_causal=self.causal
        )


class Maxout(nn.Module):
    """``out_features`` units, each the largest of ``pieces`` linear functions of the input:
    one Linear to out_features × pieces values, viewed as (..., out_features, pieces), max
    over the pieces."""

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, bias: bool = True):
        super().__init__()
        self.out_features, self.pieces = int(out_features), int(pieces)
        self.linear = nn.Linear(int(in_features), self.out_features * self.pieces, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return z.view(*z.shape[:-1], self.out_features, self.pieces).amax(-1)

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, pieces={self.pieces}"
