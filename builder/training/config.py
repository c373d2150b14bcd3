"""The training configuration: the project file's ``training`` section, checked and typed.

Every problem names its JSON path (``training.optimizer.lr: expected a number > 0, got -1``)
and all problems are reported at once. See docs/training.md for every field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from graph.errors import NeuralCanvasError, Problem

LOSSES = (
    "mse",
    "half_sse",
    "l1",
    "huber",
    "bce",
    "bce_with_logits",
    "cross_entropy",
    "nll",
    "hinge",
    "kl_div",
)
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "plateau")
CLIP_MODES = ("none", "norm", "value")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(NeuralCanvasError):
    """The training section is invalid; ``problems`` lists each place."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        if len(problems) == 1:
            text = f"Invalid training settings: {problems[0]}"
        else:
            text = "Invalid training settings:\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(text)


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0  # sgd, rmsprop
    nesterov: bool = False  # sgd (needs momentum > 0)
    weight_decay: float = 0.0  # the optimiser's own decoupled/coupled decay
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    eps: float = 1e-8
    alpha: float = 0.99  # rmsprop smoothing


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = "none"
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step: decay factor
    t_max: int | None = None  # cosine: period in epochs (default: all epochs)
    eta_min: float = 0.0  # cosine: lowest rate
    patience: int = 5  # plateau: epochs without improvement
    factor: float = 0.1  # plateau: decay factor


@dataclass(frozen=True)
class ClipConfig:
    mode: str = "none"
    max: float = 1.0


@dataclass(frozen=True)
class EarlyStopping:
    patience: int = 0  # 0 = off
    min_delta: float = 0.0
    restore_best: bool = True

    @property
    def enabled(self) -> bool:
        return self.patience > 0


@dataclass(frozen=True)
class HealthThresholds:
    """When a layer's gradient counts as vanishing or exploding (``training.health``).

    A layer's gradient L2 norm (all its parameters together) is *exploding* when above
    ``exploding`` or not finite, *vanishing* when below ``vanishing`` or below
    ``vanishing_ratio`` times the largest norm among the layers that are not exploding;
    otherwise *healthy*. See :mod:`builder.training.health`.
    """

    vanishing: float = 1e-5
    vanishing_ratio: float = 1e-3
    exploding: float = 100.0


@dataclass(frozen=True)
class TrainingConfig:
    dataset: dict[str, Any] = field(default_factory=lambda: {"name": "xor"})
    loss: str = "mse"
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    epochs: int = 100
    batch_size: int | None = 32  # None = full batch
    shuffle: bool = True  # False: the training rows in their order every epoch
    l1: float = 0.0
    l2: float = 0.0
    clip: ClipConfig = ClipConfig()
    early_stopping: EarlyStopping = EarlyStopping()
    seed: int = 0
    device: str = "auto"
    health: HealthThresholds = HealthThresholds()
    report_every: int = 10  # at least this many steps between step records
    report_interval: float = 0.025  # and at least this many seconds (0: every report_every)
    monitor: bool = True  # gradient / weight monitoring on or off
    procedure: str = "supervised"  # how the networks learn (builder.training.procedures)
    procedure_settings: dict[str, Any] = field(default_factory=dict)  # every setting given
    roles: dict[str, str] = field(default_factory=dict)  # role -> network name (as given)
    # Each role with an optimiser of its own (a GAN's two networks), every field given; the
    # other roles are optimised with ``optimizer``.
    optimizers: dict[str, OptimizerConfig] = field(default_factory=dict)
    # A weights file (relative to the project's folder) the first network starts from
    # (builder.training.initial_weights): the tensors of the same names; None: none.
    initial_weights: str | None = None

    def optimizer_of(self, role: str) -> OptimizerConfig:
        return self.optimizers.get(role, self.optimizer)


def _weights_path(r: Any, problems: list[Problem]) -> str | None:
    value = r.get("initial_weights", None)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 1000 or "\0" in value:
        problems.append(
            Problem(
                "training.initial_weights",
                f"expected the path of a weights file (text) or null, got {_describe(value)}",
            )
        )
        return None
    return value


class _Reader:
    """Reads typed fields from a dict, collecting problems with their JSON paths."""

    def __init__(self, data: Any, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problems.append(Problem(path, f"expected an object, got {_describe(data)}"))
            data = {}
        self.data = data
        self.used: set[str] = set()

    def _bad(self, key: str, what: str, value: Any) -> None:
        self.problems.append(
            Problem(f"{self.path}.{key}", f"expected {what}, got {_describe(value)}")
        )

    def get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def number(
        self,
        key: str,
        default: float,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float:
        value = self.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value <= hi
        if not ok:
            words = "a number"
            if lo is not None:
                words += f" {'>' if lo_open else '>='} {lo:g}"
            if hi is not None:
                words += f"{' and' if lo is not None else ''} <= {hi:g}"
            self._bad(key, words, value)
            return default
        return float(value)

    def integer(self, key: str, default: int | None, lo: int = 0, allow_none: bool = False) -> Any:
        value = self.get(key, default)
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            words = "a positive integer" if lo == 1 else f"an integer >= {lo}"
            self._bad(key, words, value)
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self._bad(key, "true or false", value)
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.get(key, default)
        if value not in choices:
            self._bad(key, "one of " + ", ".join(f'"{c}"' for c in choices), value)
            return default
        return value

    def sub(self, key: str) -> _Reader:
        self.used.add(key)
        return _Reader(self.data.get(key), f"{self.path}.{key}", self.problems)

    def unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                self.problems.append(Problem(f"{self.path}.{key}", "unknown setting"))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return repr(value)


def _procedure(r: _Reader, problems: list[Problem]) -> tuple[str, dict[str, Any]]:
    """``training.procedure`` (absent: supervised) and its settings, each checked by the
    procedure's declared :class:`~builder.catalog.params.Param` (defaults filled in)."""
    from builder.training.procedures import DEFAULT, PROCEDURES, did_you_mean

    name = r.get("procedure", DEFAULT)
    spec = PROCEDURES.get(name) if isinstance(name, str) else None
    if spec is None:
        known = ", ".join(f'"{k}"' for k in PROCEDURES)
        problems.append(
            Problem(
                "training.procedure",
                f"unknown procedure {_describe(name)}{did_you_mean(name)}; use one of {known}",
            )
        )
        spec = PROCEDURES[DEFAULT]
    s = r.sub("procedure_settings")
    settings = spec.defaults()
    for key, value in s.data.items():
        param = spec.param(key)
        if param is None:
            what = f'the {spec.id} procedure has no setting "{key}"'
            if spec.settings:
                what += "; its settings are " + ", ".join(p.name for p in spec.settings)
            problems.append(Problem(f"{s.path}.{key}", what))
            continue
        try:
            settings[key] = param.check(value)
        except ValueError as exc:
            problems.append(Problem(f"{s.path}.{key}", str(exc)))
    return spec.id, settings


def _optimizer(o: _Reader, base: OptimizerConfig, problems: list[Problem]) -> OptimizerConfig:
    """An optimiser object (``training.optimizer``, ``training.optimizers.<role>``): the
    fields given, the others from ``base``."""
    opt_name = o.choice("name", base.name, OPTIMIZERS)
    betas = o.get("betas", list(base.betas))
    if not (
        isinstance(betas, (list, tuple))
        and len(betas) == 2
        and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
        )
    ):
        problems.append(
            Problem(f"{o.path}.betas", f"expected two numbers in [0, 1), got {_describe(betas)}")
        )
        betas = list(base.betas)
    optimizer = OptimizerConfig(
        name=opt_name,
        lr=o.number("lr", base.lr, lo=0, lo_open=True),
        momentum=o.number("momentum", base.momentum, lo=0, hi=1),
        nesterov=o.boolean("nesterov", base.nesterov),
        weight_decay=o.number("weight_decay", base.weight_decay, lo=0),
        betas=(float(betas[0]), float(betas[1])),
        eps=o.number("eps", base.eps, lo=0, lo_open=True),
        alpha=o.number("alpha", base.alpha, lo=0, hi=1),
    )
    o.unknown()
    if optimizer.nesterov and (optimizer.name != "sgd" or optimizer.momentum <= 0):
        problems.append(Problem(f"{o.path}.nesterov", "needs the sgd optimizer with momentum > 0"))
    return optimizer


def _roles(
    r: _Reader, spec: Any, shared: OptimizerConfig, problems: list[Problem]
) -> tuple[dict[str, str], dict[str, OptimizerConfig]]:
    """``training.roles`` (role -> the network bound to it, by name) and each role's own
    optimiser: ``training.optimizers.<role>`` over the role's declared defaults, for every
    role that declares one or is given one (the others use ``training.optimizer``)."""
    names = [role.name for role in spec.roles]
    known = ", ".join(names)
    roles: dict[str, str] = {}
    given = r.sub("roles")
    for key, value in given.data.items():
        if key not in names:
            problems.append(
                Problem(
                    f"{given.path}.{key}",
                    f'the {spec.id} procedure has no role "{key}"; its roles are {known}',
                )
            )
        elif not isinstance(value, str) or not value:
            problems.append(
                Problem(
                    f"{given.path}.{key}", f"expected the name of a network, got {_describe(value)}"
                )
            )
        else:
            roles[key] = value
    own = r.sub("optimizers")
    for key in own.data:
        if key not in names:
            problems.append(
                Problem(
                    f"{own.path}.{key}",
                    f'the {spec.id} procedure has no role "{key}"; its roles are {known}',
                )
            )
    optimizers: dict[str, OptimizerConfig] = {}
    for role in spec.roles:
        if role.optimizer is None and role.name not in own.data:
            continue
        base = shared if role.optimizer is None else _optimizer_of(role.optimizer)
        optimizers[role.name] = _optimizer(own.sub(role.name), base, problems)
    return roles, optimizers


def _optimizer_of(values: Any) -> OptimizerConfig:
    """A role's declared optimiser defaults as an :class:`OptimizerConfig`."""
    plain = dict(values)
    if "betas" in plain:
        plain["betas"] = tuple(plain["betas"])
    return OptimizerConfig(**plain)


def parse_training(data: Any) -> TrainingConfig:
    """Check and type the ``training`` section; raise :class:`ConfigError` listing every problem."""
    problems: list[Problem] = []
    r = _Reader(data, "training", problems)

    dataset = r.get("dataset", {"name": "xor"})
    if (
        not isinstance(dataset, dict)
        or not isinstance(dataset.get("name"), str)
        or not dataset["name"]
    ):
        problems.append(
            Problem("training.dataset", 'expected an object with a "name", e.g. {"name": "xor"}')
        )
        dataset = {"name": "xor"}

    optimizer = _optimizer(r.sub("optimizer"), OptimizerConfig(), problems)

    s = r.sub("schedule")
    schedule = ScheduleConfig(
        name=s.choice("name", "none", SCHEDULES),
        step_size=s.integer("step_size", 10, lo=1),
        gamma=s.number("gamma", 0.1, lo=0, hi=1, lo_open=True),
        t_max=s.integer("t_max", None, lo=1, allow_none=True),
        eta_min=s.number("eta_min", 0.0, lo=0),
        patience=s.integer("patience", 5, lo=0),
        factor=s.number("factor", 0.1, lo=0, hi=1, lo_open=True),
    )
    s.unknown()

    batch = r.get("batch_size", 32)
    if batch == "full":
        batch_size = None
    elif isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1:
        batch_size = batch
    else:
        problems.append(
            Problem(
                "training.batch_size",
                f'expected a positive integer or "full", got {_describe(batch)}',
            )
        )
        batch_size = 32

    pen = r.sub("penalties")
    l1, l2 = pen.number("l1", 0.0, lo=0), pen.number("l2", 0.0, lo=0)
    pen.unknown()

    c = r.sub("clip")
    clip = ClipConfig(
        mode=c.choice("mode", "none", CLIP_MODES), max=c.number("max", 1.0, lo=0, lo_open=True)
    )
    c.unknown()

    e = r.sub("early_stopping")
    early = EarlyStopping(
        patience=e.integer("patience", 0, lo=0),
        min_delta=e.number("min_delta", 0.0, lo=0),
        restore_best=e.boolean("restore_best", True),
    )
    e.unknown()

    h = r.sub("health")
    health = HealthThresholds(
        vanishing=h.number("vanishing", 1e-5, lo=0, lo_open=True),
        vanishing_ratio=h.number("vanishing_ratio", 1e-3, lo=0, hi=1),
        exploding=h.number("exploding", 100.0, lo=0, lo_open=True),
    )
    h.unknown()
    if health.vanishing >= health.exploding:
        problems.append(
            Problem("training.health", "the vanishing threshold must be below the exploding one")
        )

    procedure, procedure_settings = _procedure(r, problems)
    from builder.training.procedures import PROCEDURES

    roles, optimizers = _roles(r, PROCEDURES[procedure], optimizer, problems)
    config = TrainingConfig(
        dataset=copy.deepcopy(dataset),
        loss=r.choice("loss", "mse", LOSSES),
        optimizer=optimizer,
        schedule=schedule,
        epochs=r.integer("epochs", 100, lo=1),
        batch_size=batch_size,
        shuffle=r.boolean("shuffle", True),
        l1=l1,
        l2=l2,
        clip=clip,
        early_stopping=early,
        seed=r.integer("seed", 0, lo=0),
        device=r.choice("device", "auto", DEVICES),
        health=health,
        report_every=r.integer("report_every", 10, lo=1),
        report_interval=r.number("report_interval", 0.025, lo=0, hi=3600),
        monitor=r.boolean("monitor", True),
        procedure=procedure,
        procedure_settings=procedure_settings,
        roles=roles,
        optimizers=optimizers,
        initial_weights=_weights_path(r, problems),
    )
    r.unknown()
    if problems:
        raise ConfigError(problems)
    return config
