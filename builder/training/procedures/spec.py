"""A training procedure, declared once (DESIGN.md, "Training procedures: declared once").

A :class:`ProcedureSpec` says which networks a procedure trains (its :class:`Role`\\ s and the
Outputs each role binds by name), what data it needs, its typed settings (the same
:class:`~builder.catalog.params.Param` as layers: the project-file check, the settings form
and the docs all read them), its portable kernel, the check that refuses a bad binding with
advice, and the live views the dashboard draws.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from builder.catalog.params import Param
from graph.errors import NeuralCanvasError

VIEW_KINDS = (
    "curves",
    "samples",
    "image_grid",
    "heatmap",
    "scatter",
    "histogram",
    "confusion",
    "boundary",
    "layer_norms",
    "grid_map",
    "bars",
    "arithmetic",
)
VIEW_DATA = ("any", "image", "points", "low_dim", "few_inputs")
FEW_INPUTS = 16  # "few_inputs": samples of at most this many values (a worked example's)


class BindingError(NeuralCanvasError):
    """A procedure's roles cannot be bound to the project's networks; the message says what
    to add or change."""


@dataclass(frozen=True)
class Role:
    """A network the procedure trains (``model``, ``generator``, ``discriminator``).

    ``outputs`` are the Output nodes the role binds, by name; a single-output role binds its
    one Output whatever it is called. ``optimised`` is False for a learning rule (SOM, RBM,
    perceptron) that updates weights itself."""

    name: str
    help: str
    outputs: tuple[str, ...] = ("out",)
    optimised: bool = True
    # False: the network's Input takes something else than the dataset's samples (a GAN's
    # generator takes noise); the procedure's check then checks that Input.
    takes_data: bool = True
    # The optimiser settings this role starts from when it has an optimiser of its own
    # (``training.optimizers.<role>`` overrides them); None: ``training.optimizer``.
    optimizer: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class View:
    """A live view the dashboard draws (one widget class per ``kind``).

    ``probe`` is ``"module:function"`` (imported when a run starts, so the registry loads no
    torch): ``function(probe_context) -> payload | None`` runs in the worker at most every
    ``every`` seconds and returns the read-only numpy payload of a
    :class:`~builder.training.records.ViewRecord` of this ``kind`` (None: nothing to show for
    this data, e.g. a manifold grid of vector data). Views without a probe draw what the
    records carry: curves plot the named ``series`` of the step records and the epoch
    records' metrics; the supervised kinds (layer_norms, histogram, boundary, confusion)
    read the records the dashboard has always read."""

    key: str
    kind: str
    title: str
    tab: str = "Overview"
    series: tuple[str, ...] = ()
    probe: str | None = None
    every: float = 0.5
    # The data the view shows something for: any, image (samples of 2 or 3 dimensions),
    # points (2-D vectors: a GAN Lab view) or low_dim (2-D or 3-D vectors: a SOM's elastic
    # net over the data); the dashboard leaves out the views that do not
    # apply to the run's data and the trainer does not probe them.
    data: str = "any"
    # Earlier payloads the dashboard keeps to scrub back through with a slider (the newest
    # ``history`` at full resolution, older ones thinned: at most twice as many); 0: only
    # the newest.
    history: int = 0
    # What the legend calls each of ``series`` (a curves view; default: the series' names)
    labels: tuple[str, ...] = ()
    # True: the view that shows the run moving (a GAN's samples, a SOM's map): the dashboard
    # draws each of its payloads soon after it comes, whatever the other plots cost
    live: bool = False

    def __post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.series):
            raise ValueError(f"view {self.key!r}: one label per series")
        if self.history < 0:
            raise ValueError(f"view {self.key!r}: history must be >= 0")
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"view {self.key!r}: unknown kind {self.kind!r}")
        if self.data not in VIEW_DATA:
            raise ValueError(f"view {self.key!r}: unknown data {self.data!r}")

    def label(self, series: str) -> str:
        """What the legend calls ``series``."""
        if self.labels and series in self.series:
            return self.labels[self.series.index(series)]
        return series

    def applies(self, sample_shape: tuple[int, ...]) -> bool:
        """Whether the view shows something for samples of ``sample_shape``."""
        if self.data == "image":
            return len(sample_shape) in (2, 3)
        if self.data == "points":
            return tuple(sample_shape) == (2,)
        if self.data == "low_dim":
            return tuple(sample_shape) in ((2,), (3,))
        if self.data == "few_inputs":
            return len(sample_shape) == 1 and sample_shape[0] <= FEW_INPUTS
        return True


def refuse_frozen(net: Any, nodes: Any, procedure: str) -> None:
    """A learning rule writes these layers' weights itself: a frozen one is refused (the
    rule would change it although its card says frozen)."""
    for n in nodes:
        if not net.trainable_of(n):
            raise BindingError(
                f"{net.type_of(n)} {net.name_of(n)!r} is frozen, but the {procedure} procedure"
                " trains it: make it trainable (Properties: Trainable), or choose another"
                " procedure"
            )


def step_view(probe: str, title: str = "The last update, number by number", **kw: Any) -> View:
    """The Step tab's arithmetic view: one update worked number by number (``probe`` is
    its "module:function")."""
    return View("update", "arithmetic", title, tab="Step", probe=probe, every=0.5, **kw)


@dataclass(frozen=True)
class Binding:
    """What a procedure trains: for each role, the compiled network and its Outputs by name,
    plus the dataset it learns from. Built by the trainer, checked by the procedure."""

    roles: Mapping[str, Any]  # role name -> compiled torch.fx.GraphModule (meta: inputs, outputs)
    networks: Mapping[str, Any]  # role name -> graph.document.Network
    outputs: Mapping[str, Mapping[str, Any]]  # role -> Output name -> output port (shape)
    dataset: Any  # builder.data Dataset
    train: tuple[Any, Any] = (None, None)  # the training split (x, y) as trained (normalised)
    # the first network's tensors loaded from training.initial_weights, by name: a rule that
    # would place them itself (a SOM's weights_init) keeps them instead
    loaded: frozenset[str] = frozenset()


def training_settings(config: Any) -> dict[str, Any]:
    """The training section's optimiser, schedule, penalties, clipping and seed as plain
    values (every field given): what every optimised kernel's settings start from."""
    from dataclasses import asdict

    plain = asdict(config)
    return {
        "optimizer": plain["optimizer"],
        "schedule": plain["schedule"],
        "epochs": config.epochs,
        "l1": config.l1,
        "l2": config.l2,
        "clip": plain["clip"],
        "seed": config.seed,
    }


@dataclass(frozen=True)
class ProcedureSpec:
    id: str
    title: str
    help: str
    roles: tuple[Role, ...]
    data: Literal["labelled", "inputs"]
    settings: tuple[Param, ...]
    kernel: str  # the kernel module's import path (imported when a run starts)
    check: Callable[[Binding], None]
    configure: Callable[[Binding, Any], dict[str, Any]]  # (binding, config) -> kernel settings
    views: tuple[View, ...] = ()
    series: tuple[str, ...] = ("loss",)  # the named step series train_step returns
    uses_loss: bool = False  # True: the training section's loss setting applies
    example: str = ""  # a built-in example (assets/examples/<example>.json) that trains with it
    # When a run counts as blown up although its losses are finite (builder.training.loop.Guard:
    # the loss far above its lowest, the weights' norm far above its start; 0: off).
    blowup: float = 10.0
    weight_growth: float = 1000.0
    # (role, series) pairs: the series that is each role's own loss, so a loss that becomes
    # NaN is reported with the network it came from (a GAN's d_loss and g_loss).
    role_losses: tuple[tuple[str, str], ...] = ()
    # Single steps of one part of an iteration, for the learner who watches one move at a
    # time: (phase, button label, what it does). The trainer sets ``state["phase"]`` for
    # that one step; the kernel reads it (a GAN: Step D, Step G).
    phases: tuple[tuple[str, str, str], ...] = ()
    # "module:function" (evaluations, grad_max, settings) -> alarms: what goes wrong, said
    # after each epoch with what to try (builder.training.procedures.gan_alarms); None: none
    alarms: str | None = None
    _by_name: dict[str, Param] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.settings})
        keys = [v.key for v in self.views]
        if len(set(keys)) != len(keys):
            raise ValueError(f"procedure {self.id!r}: duplicate view keys")

    def load_kernel(self) -> ModuleType:
        return importlib.import_module(self.kernel)

    def load_probes(self) -> dict[str, Callable[..., Any]]:
        """The probe function of each view that has one, by view key."""
        out = {}
        for view in self.views:
            if view.probe is not None:
                module, _, name = view.probe.partition(":")
                out[view.key] = getattr(importlib.import_module(module), name)
        return out

    def load_alarms(self) -> Callable[..., Any] | None:
        if self.alarms is None:
            return None
        module, _, name = self.alarms.partition(":")
        return getattr(importlib.import_module(module), name)

    def param(self, name: str) -> Param | None:
        return self._by_name.get(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.settings}
