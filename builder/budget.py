"""The memory a training run takes, estimated before any of it is taken, and the refusal of a
run that does not fit the machine.

The figures are rough (within a factor of about two) but known before a torch module or a
dataset exists: the parameters come from shape inference (:mod:`builder.shapes`, which
counts every layer's parameters from the catalog's rules), the activations from the shapes
of every layer's output times the batch, the data from the dataset's tensors, or, for a
generated dataset not made yet, from its options. :func:`check_data` runs before a dataset
is made, :func:`check_run` before the network is compiled; both raise
:class:`MemoryBudgetError`, whose message gives the figures and what to change.

Torch-free: :func:`available_memory` imports torch only to ask a GPU what it has free.
Tests replace :func:`available_memory` (``monkeypatch.setattr(budget, "available_memory",
...)``): every check looks it up when it runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.shapes import NodeInfo, label, live_nodes, values_per_sample
from graph.document import Network
from graph.errors import NeuralCanvasError

DTYPE_BYTES = {"float32": 4, "int64": 8}
# Per sample of the batch, each layer's output is kept for the backward pass, which makes a
# gradient of the same size; the rest of the work space is about one more.
ACTIVATION_FACTOR = 3
EVAL_CHUNK = 4096  # rows per forward pass when the kernels evaluate (no backward)
# Per parameter, besides the weights: their gradients, the best epoch's copy the run keeps
# (early stopping, divergence), the weights before a reported step (the update ratios), and
# the optimiser's state (see _optimizer_slots).
STATE_COPIES = 3
# A generated dataset, drawn by numpy in float64 and then copied to tensors and split,
# peaks at about this many bytes per value it holds (measured: moons 26, sine_sequences 16,
# token_sequences 12).
GENERATED_BYTES_PER_VALUE = 20
# The loaded dataset and its train / validation / test splits are both kept.
DATA_COPIES = 2


class MemoryBudgetError(NeuralCanvasError):
    """A run would need more memory than the machine has free; the message says how much,
    for what, and what to change."""


def available_memory(device: str = "cpu") -> int | None:
    """Bytes of memory free for a run on ``device`` now (None when it cannot be told).

    The host: ``MemAvailable`` of ``/proc/meminfo`` (what can be taken without swapping),
    else the free pages ``os.sysconf`` reports. A CUDA GPU: what its driver reports free.
    Apple's GPU shares the host's memory."""
    if device == "cuda":
        try:
            import torch

            return int(torch.cuda.mem_get_info()[0])
        except Exception:  # no driver answer: the host check still runs
            return None
    free = _host_free()
    for limit in (_address_space_left(), _cgroup_left()):
        if limit is not None:
            free = limit if free is None else min(free, limit)
    return free


def _host_free() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    """What a limit on this process's address space (``ulimit -v``) leaves, if one is set."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm", encoding="ascii") as f:
            used = int(f.read().split()[0]) * int(os.sysconf("SC_PAGE_SIZE"))
        return max(soft - used, 0)
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        return None


def _cgroup_left() -> int | None:
    """What the memory limit of this process's cgroup (a container's) leaves, if one is set."""
    try:
        base = "/sys/fs/cgroup/"
        with open(base + "memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open(base + "memory.current", encoding="ascii") as f:
            return max(int(limit) - int(f.read().strip()), 0)
    except (OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """``6.4e9`` -> ``'6.4 GB'`` (powers of 1000, two or three significant figures)."""
    n = float(min(n, 1e300))
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            value = n / size
            if unit == "TB" and value >= 1000:
                return f"{value:.3g} TB".replace("e+", "e")
            return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


@dataclass(frozen=True)
class Estimate:
    """The bytes a run needs, by what needs them, and what the advice names.

    ``largest`` is the layer with the most parameters (label, count); ``widest`` the one
    whose output holds the most values per sample (label, values; Inputs left out, the data
    sets them); ``batch`` the rows of a training step; ``data_hint`` what to change to have
    less data."""

    parameters: int
    state: int
    activations: int
    data: int
    batch: int
    largest: tuple[str, int] | None = None
    widest: tuple[str, int] | None = None
    batch_hint: str = "lower training.batch_size"
    evaluating: bool = False  # the activations are those of an evaluation, not a step
    data_hint: str = "use a smaller dataset"

    @property
    def total(self) -> int:
        return self.parameters + self.state + self.activations + self.data

    def parts(self) -> str:
        return (
            f"parameters {format_bytes(self.parameters)}, gradients and optimiser state"
            f" {format_bytes(self.state)}, activations {format_bytes(self.activations)}"
            f" (batches of {self.batch:,} rows), data {format_bytes(self.data)}"
        )

    def advice(self) -> str:
        """What to change, for the two largest parts."""
        weights = self.parameters + self.state
        ranked = sorted(
            (("weights", weights), ("activations", self.activations), ("data", self.data)),
            key=lambda kv: -kv[1],
        )
        advised = [part for part, size in ranked[:2] if size * 10 >= self.total]
        # the layer with the most parameters is often the widest too: named once
        same = (
            self.largest is not None
            and self.widest is not None
            and self.largest[0] == self.widest[0]
            and {"weights", "activations"} <= set(advised)
        )
        out: list[str] = []
        for part in advised:
            if part == "weights" and self.largest is not None:
                name, count = self.largest
                wide = f" and {self.widest[1]:,} values per sample" if same else ""
                out.append(f"make {name} smaller (it has {count:,} parameters{wide})")
            elif part == "activations":
                widest = ""
                if self.widest is not None and not same:
                    name, values = self.widest
                    widest = f"make {name} ({values:,} values per sample) smaller"
                if self.evaluating:  # rows evaluated at once: the batch size does not count
                    if widest:
                        out.append(widest)
                else:
                    out.append(f"{self.batch_hint}, or {widest}" if widest else self.batch_hint)
            elif part == "data":
                out.append(self.data_hint)
        return " or ".join(out) or self.batch_hint


def _optimizer_slots(optimizer: Any) -> int:
    """Values of state an optimiser keeps per parameter (Adam: two moments)."""
    name = getattr(optimizer, "name", "sgd")
    if name in ("adam", "adamw"):
        return 2
    if name == "rmsprop":
        return 1 + (getattr(optimizer, "momentum", 0) > 0)
    if name == "sgd":
        return 1 if getattr(optimizer, "momentum", 0) > 0 else 0
    return 1


def estimate(
    net: Network,
    results: Mapping[str, NodeInfo],
    config: Any,
    train_rows: int,
    eval_rows: int,
    data_bytes: int,
    data_hint: str = "use a smaller dataset",
) -> Estimate:
    """The memory a run of ``net`` (shape-checked: ``results``) with ``config`` (a
    :class:`~builder.training.config.TrainingConfig`) takes, with ``train_rows`` training
    rows, ``eval_rows`` rows evaluated at a time at most, and ``data_bytes`` of data in
    memory. Only nodes that feed an Output count (the others are not compiled)."""
    live = live_nodes(net)
    params = 0
    per_sample = 0  # bytes of every layer's outputs for one sample
    widest_bytes = 0  # bytes of the largest output of one sample
    largest: tuple[str, int] | None = None
    widest: tuple[str, int] | None = None
    for node_id in net.nodes:
        info = results.get(node_id)
        if node_id not in live or info is None or not info.ok:
            continue
        params += info.params
        if info.params and (largest is None or info.params > largest[1]):
            largest = (label(net, node_id), info.params)
        for shape in info.outputs.values():
            values = values_per_sample(shape)
            size = values * DTYPE_BYTES.get(getattr(shape, "dtype", "float32"), 4)
            per_sample += size
            widest_bytes = max(widest_bytes, size)
            if net.type_of(node_id) != "Input" and (widest is None or values > widest[1]):
                widest = (label(net, node_id), values)  # the Input's size is the data's
    batch_size = getattr(config, "batch_size", None)
    batch = train_rows if batch_size is None else min(batch_size, train_rows)
    batch = max(batch, 1)
    # Evaluating keeps no graph: about a layer's input and output at a time.
    evaluating = 2 * widest_bytes * min(EVAL_CHUNK, eval_rows)
    activations = max(per_sample * ACTIVATION_FACTOR * batch, evaluating)
    slots = STATE_COPIES + _optimizer_slots(getattr(config, "optimizer", None))
    if batch_size is None:
        batch_hint = f'set training.batch_size to a number (now "full": {batch:,} rows)'
    else:
        batch_hint = f"lower training.batch_size (now {batch_size:,})"
    return Estimate(
        parameters=4 * params,
        state=4 * params * slots,
        activations=activations,
        data=data_bytes,
        batch=batch,
        largest=largest,
        widest=widest,
        batch_hint=batch_hint,
        evaluating=evaluating > per_sample * ACTIVATION_FACTOR * batch,
        data_hint=data_hint,
    )


def run_estimate(
    net: Network, results: Mapping[str, NodeInfo], config: Any, splits: Any
) -> Estimate:
    """:func:`estimate` for a run of ``config`` on ``splits`` (a builder.data Splits): the
    training rows, the most rows evaluated at once (the validation split, or the training
    data without one, and the test split) and the data of the dataset and its splits."""
    held_out = splits.val if splits.val is not None and len(splits.val) else splits.train
    evaluated = [len(s) for s in (held_out, splits.test) if s is not None]
    return estimate(
        net,
        results,
        config,
        len(splits.train),
        max(evaluated),
        dataset_bytes(splits.dataset),
        data_hint=_data_hint(getattr(config, "dataset", None)),
    )


def _data_hint(spec: Any) -> str:
    """What to change in ``training.dataset`` to have less data."""
    from builder.data.errors import DatasetError
    from builder.data.registry import dataset_info

    try:
        info = dataset_info(spec.get("name")) if isinstance(spec, dict) else None
    except DatasetError:
        info = None
    options = {o.name: o.default for o in info.options} if info is not None else {}
    for name in ("samples", "repeat", "limit"):
        if name in options:
            value = spec.get(name, options[name])
            if isinstance(value, int) and not isinstance(value, bool):
                return f"lower training.dataset.{name} (now {value:,})"
            return f"set training.dataset.{name}"
    if info is not None and info.needs_files:
        return "use fewer rows of the data file"
    return "use a smaller dataset"


def dataset_bytes(ds: Any) -> int:
    """The bytes a loaded dataset and its splits hold (``ds``: a builder.data Dataset)."""
    total = 0
    for t in (ds.x, ds.y):
        if t is not None:
            total += int(t.numel()) * int(t.element_size())
    return DATA_COPIES * total


def check_data(spec: Any, device: str = "cpu") -> None:
    """Refuse a generated dataset too large for the memory free now, before it is made.

    ``spec`` is the project's ``training.dataset``; a spec that is wrong or names a file
    dataset passes here (its loader checks it, and the run's check counts what it loaded).
    """
    from builder.data.errors import DatasetError
    from builder.data.registry import dataset_info, generated_size, read_options

    try:
        info = dataset_info(spec.get("name")) if isinstance(spec, dict) else None
        size = generated_size(info, read_options(spec, info)) if info is not None else None
    except DatasetError:
        return
    if size is None:
        return
    rows, per_row = size
    need = rows * per_row * GENERATED_BYTES_PER_VALUE
    free = available_memory("cpu")
    if free is None or need <= free:
        return
    sized = [o.name for o in info.options if o.name in ("samples", "repeat", "steps")]
    raise MemoryBudgetError(
        f"training.dataset: making {info.name!r} ({rows:,} rows of {per_row:,} values) needs"
        f" about {format_bytes(need)} but the machine has {format_bytes(free)} free:"
        f" lower {' or '.join(f'training.dataset.{name}' for name in sized)}"
    )


def check_run(est: Estimate, device: str = "cpu") -> None:
    """Refuse a run whose estimate does not fit the memory free now.

    On the CPU (and Apple's GPU, which shares it) the whole run is on the host. On a CUDA
    GPU the host holds the data and the model as it is built, the GPU the rest and the data
    it trains on (half of :func:`dataset_bytes`)."""
    if device == "cuda":
        host = est.data + est.parameters
        on_gpu = est.total - est.data // 2
        _refuse(est, on_gpu, available_memory("cuda"), "the GPU")
        _refuse(est, host, available_memory("cpu"), "the machine")
    else:
        _refuse(est, est.total, available_memory("cpu"), "the machine")


def check_model(net: Network, results: Mapping[str, NodeInfo]) -> None:
    """Refuse building ``net``'s modules (outside a run: the code view, a script) when its
    weights alone do not fit the memory free now."""
    est = estimate(net, results, None, 1, 1, 0)
    free = available_memory("cpu")
    if free is None or est.parameters <= free:
        return
    name, count = est.largest if est.largest is not None else ("a layer", 0)
    raise MemoryBudgetError(
        f"Building this network takes about {format_bytes(est.parameters)} for its weights"
        f" but the machine has {format_bytes(free)} free: make {name} smaller (it has"
        f" {count:,} parameters)"
    )


def _refuse(est: Estimate, need: int, free: int | None, where: str) -> None:
    if free is None or need <= free:
        return
    raise MemoryBudgetError(
        f"This run needs about {format_bytes(need)} of memory ({est.parts()}) but {where} has"
        f" {format_bytes(free)} free: {est.advice()}"
    )
