"""Self-organizing maps (Kohonen): a network with one SOM layer learns by competitive
learning, a rule without an optimiser or gradients (kernel: :mod:`builder.training.kernels.som`).
What the layers before the SOM make of a sample (a Flatten, a fixed projection) is what the
map learns; the layers after it (a classifier on the best-matching unit) are not trained."""

from __future__ import annotations

import math
from typing import Any

from builder.catalog.params import CHOICE, FLOAT, INT, Param
from builder.training.procedures.spec import (
    Binding,
    BindingError,
    ProcedureSpec,
    Role,
    View,
    refuse_frozen,
    step_view,
)

KERNEL = "builder.training.kernels.som"
PROBES = "builder.training.probes.som"
DECAYS = ("linear", "exponential", "inverse", "asymptotic")
DECAY_HELP = (
    " linear: a straight line from start to end; exponential: the same ratio every update;"
    " inverse: start / (1 + c·t), fast first, then slowly; asymptotic: MiniSom's"
    " start / (1 + 2t/T), which ends at a third of the start (the end value is not used)."
)


def som_nodes(net: Any) -> list[str]:
    return [n for n in net.nodes if net.type_of(n) == "SOM"]


def check(binding: Binding) -> None:
    net = binding.networks["map"]
    nodes = som_nodes(net)
    if not nodes:
        raise BindingError(
            f"Network {net.name!r} has no SOM layer: the som procedure trains a"
            " self-organizing map; add a SOM layer after the Input (and a Flatten for images)"
        )
    refuse_frozen(net, nodes, "som")
    if len(nodes) > 1:
        names = ", ".join(repr(net.name_of(n)) for n in nodes)
        raise BindingError(
            f"Network {net.name!r} has {len(nodes)} SOM layers ({names}): the som procedure"
            " trains one map; keep one, or put the others in networks of their own"
        )


def _warnings(binding: Binding, params: Any, settings: dict[str, Any]) -> list[list[str]]:
    """What is allowed but probably not meant, as alarms (key, what, what to try): the run
    goes on and the dashboard says it."""
    out = []
    rows, cols = int(params["rows"]), int(params["cols"])
    n = binding.train[0].shape[0] if binding.train[0] is not None else None
    if n is not None and rows * cols > n:
        rule = 5 * math.sqrt(n)
        side = max(1, round(math.sqrt(rule)))
        out.append(
            [
                "units",
                f"The map has {rows * cols} units for {n} training samples: some units will"
                " win nothing",
                f"a rule of thumb is 5·√N ≈ {rule:.0f} units: try about {side} × {side}",
            ]
        )
    if settings["sigma"] > max(rows, cols):
        out.append(
            [
                "sigma",
                f"σ = {settings['sigma']:g} is wider than the map ({rows} × {cols}): at first"
                " every unit moves almost as much as the winner",
                f"start σ at about half the map's longer side ({max(rows, cols) / 2:g})",
            ]
        )
    return out


def alarms(evaluations: Any, grad_max: Any, settings: dict[str, Any]) -> list[tuple[str, ...]]:
    """The settings' warnings, said with every epoch (see :func:`_warnings`)."""
    return [tuple(w) for w in settings.get("warnings", ())]


def configure(binding: Binding, config: Any) -> dict[str, Any]:
    net = binding.networks["map"]
    (node,) = som_nodes(net)
    params = net.params_of(node)
    settings = dict(config.procedure_settings)
    ds = binding.dataset
    return {
        **settings,
        "epochs": config.epochs,
        "seed": config.seed,
        # weights set by hand (the textbook's starting codebook) or loaded from
        # training.initial_weights are kept as they are
        "init": "keep"
        if net.weights_of(node) or _loaded(binding, net, node)
        else params["weights_init"],
        "warnings": _warnings(binding, params, settings),
        "feature_names": list(ds.feature_names or []),
    }


def _loaded(binding: Binding, net: Any, node: str) -> bool:
    from builder.names import attribute_names

    return f"{attribute_names(net)[node]}.weight" in binding.loaded


def _rate(name: str, default: float, end: float, what: str) -> tuple[Param, Param]:
    return (
        Param(name, FLOAT, default, f"{what} at the start.", min=0.0, max=1e6),
        Param(f"{name}_end", FLOAT, end, f"{what} at the end (see the decay).", min=0.0, max=1e6),
    )


SOM = ProcedureSpec(
    id="som",
    title="Self-organizing map",
    help="Competitive learning (Kohonen): for each sample the unit whose weights are nearest"
    " wins, and it and its neighbours on the grid move towards the sample by η·h, h falling"
    " with the distance on the grid (radius σ). η and σ shrink as training goes on, so the"
    " map first orders itself, then fine-tunes. No optimiser, no gradients.",
    roles=(
        Role(
            "map",
            "a network with one SOM layer (after the Input, or after layers that prepare the"
            " samples: a Flatten)",
            optimised=False,
        ),
    ),
    data="inputs",
    settings=(
        Param(
            "mode",
            CHOICE,
            "online",
            "online: one update per sample, in turn (the classic rule); batch: Kohonen's"
            " batch map, each unit moved to the neighbourhood-weighted mean of the samples"
            " once an epoch (fast, no η needed: η = 1); minibatch: one update per batch, the"
            " mean of its samples' online moves.",
            choices=("online", "batch", "minibatch"),
        ),
        Param(
            "neighbourhood",
            CHOICE,
            "gaussian",
            "How much the winner's neighbours move: gaussian exp(−d²/2σ²); bubble: all units"
            " within σ equally; mexican_hat: near ones pulled, farther ones pushed away;"
            " triangle: falling linearly to 0 at σ. σ = 0: only the winner moves (pure"
            " competitive learning).",
            choices=("gaussian", "bubble", "mexican_hat", "triangle"),
        ),
        *_rate("learning_rate", 0.5, 0.01, "η, the share of the way a unit moves"),
        Param("decay", CHOICE, "linear", "How η falls." + DECAY_HELP, choices=DECAYS),
        *_rate("sigma", 3.0, 0.5, "σ, the neighbourhood's radius in grid units"),
        Param("sigma_decay", CHOICE, "linear", "How σ falls." + DECAY_HELP, choices=DECAYS),
        Param(
            "eval_rows",
            INT,
            2000,
            "Quantisation and topographic errors are measured every epoch on at most this"
            " many samples (a fixed, seeded draw; 0: all).",
            min=0,
            max=10_000_000,
        ),
    ),
    kernel=KERNEL,
    check=check,
    configure=configure,
    views=(
        View(
            "errors",
            "curves",
            "Quantisation error QE and topographic error TE",
            series=("loss", "qe", "te"),
            labels=("QE, batches", "QE", "TE"),
        ),
        View(
            "rates",
            "curves",
            "Learning rate η(t) and neighbourhood radius σ(t)",
            series=("eta", "sigma"),
            labels=("η", "σ"),
        ),
        View(
            "umatrix",
            "grid_map",
            "U-matrix (light: borders between clusters; ring: the winner's σ)",
            probe=f"{PROBES}:umatrix",
            every=0.5,
            history=60,
            live=True,
        ),
        View(
            "hits",
            "grid_map",
            "Hit map: samples each unit wins",
            probe=f"{PROBES}:hits",
            every=1.0,
        ),
        View(
            "classes",
            "grid_map",
            "Class map: each unit's most frequent class (click a unit)",
            probe=f"{PROBES}:classes",
            every=1.0,
        ),
        View(
            "net",
            "scatter",
            "The map over the data (an elastic net)",
            probe=f"{PROBES}:net",
            every=0.5,
            data="low_dim",
            live=True,
        ),
        View(
            "components",
            "grid_map",
            "Component planes: each feature's weight over the map",
            tab="Components",
            probe=f"{PROBES}:components",
            every=1.0,
        ),
        step_view(f"{PROBES}:update"),
    ),
    series=("loss", "eta", "sigma"),
    example="som_colors",
    blowup=0.0,  # QE does not blow up; weights stay inside the data's hull
    weight_growth=0.0,
    alarms="builder.training.procedures.som:alarms",
)

SPECS = (SOM,)
