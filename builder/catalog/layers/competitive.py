"""Competitive learning: the self-organizing map (SOM), whose units learn by a rule."""

from __future__ import annotations

from typing import Any

from builder.catalog.layers.common import one_input, prod
from builder.catalog.params import BOOL, CHOICE, INT, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes, fail

COMPETITIVE = "Competitive"
MAX_SIDE = 200  # units along one side of a map

SPECS: list[LayerSpec] = []
add = SPECS.append


def _som_features(p: P, ins: Shapes) -> int:
    x = one_input(ins)
    if x.dtype != "float32":
        raise fail(
            f"compares real-valued samples with its units but receives {x.dtype} token ids",
            "set the Input's dtype to float32, or add an Embedding (and a Flatten) before it",
        )
    if len(x) < 2:
        raise fail(
            f"expects (N, features) or any (N, ...) it can flatten but receives {x}",
            "feed it one sample per row",
        )
    return prod(x.features)


def _som_infer(p: P, ins: Shapes) -> dict[str, Shape]:
    _som_features(p, ins)
    if p["toroidal"] and p["topology"] == "hexagonal" and p["cols"] % 2:
        raise fail(
            f"is a toroidal hexagonal map with {p['cols']} cols: its columns of hexagons"
            " alternate, so they only join up round the edge in pairs",
            f"use an even number of cols ({p['cols'] + 1}), or turn toroidal off",
        )
    units = p["rows"] * p["cols"]
    return {
        "out": Shape((BATCH, 2)),
        "unit": Shape((BATCH, 1)),
        "distances": Shape((BATCH, units)),
    }


def _som_ctor(p: P, ins: Shapes) -> Ctor:
    return Ctor(
        "builder.catalog.modules.SOM",
        {
            "features": _som_features(p, ins),
            "rows": p["rows"],
            "cols": p["cols"],
            "topology": p["topology"],
            "toroidal": p["toroidal"],
            "distance": p["distance"],
            "weights_init": p["weights_init"],
        },
    )


def _som_emit(e: Any, p: P, xs: dict[str, Any], shapes: Shapes, wanted: set[str]) -> dict[str, Any]:
    result = e.call(xs["in"])
    return {
        "out": e.item(result, 0),
        "unit": e.item(result, 1),
        "distances": e.item(result, 2),
    }


add(
    LayerSpec(
        "SOM",
        COMPETITIVE,
        "A self-organizing map (Kohonen): a grid of rows × cols units, each holding one"
        " weight vector as long as a sample (the input is flattened). For each sample the"
        " unit whose weights are nearest wins: the best-matching unit (BMU). The 'som'"
        " training procedure (a learning rule, no gradients) pulls the winner and its"
        " neighbours on the grid towards the sample, so that neighbouring units come to"
        " stand for similar samples: a map of the data. 'out' is the BMU's position on the"
        " grid (N, 2), 'unit' its index i·cols + j (N, 1), 'distances' the distance from the"
        " sample to every unit (N, rows·cols): feed them to further layers (a classifier on"
        " the BMU).",
        params=(
            Param(
                "rows",
                INT,
                10,
                "Units down the map (1 makes it a line of units).",
                min=1,
                max=MAX_SIDE,
            ),
            Param("cols", INT, 10, "Units across the map.", min=1, max=MAX_SIDE),
            Param(
                "topology",
                CHOICE,
                "rectangular",
                "How the units are laid out: on a square grid (8 neighbours each) or on"
                " hexagons (6 neighbours, every one at the same distance).",
                choices=("rectangular", "hexagonal"),
            ),
            Param(
                "toroidal",
                BOOL,
                False,
                "Join opposite edges (a doughnut): units on an edge neighbour those on the"
                " other edge, so the map has no border (hexagonal maps need even cols).",
            ),
            Param(
                "distance",
                CHOICE,
                "euclidean",
                "How near a sample is to a unit's weights: euclidean (straight line), cosine"
                " (the angle between them, ignoring length) or manhattan (sum of differences).",
                choices=("euclidean", "cosine", "manhattan"),
            ),
            Param(
                "weights_init",
                CHOICE,
                "random",
                "How the units' weights start when training begins: random (uniform within"
                " the data's range), samples (each unit a random training sample) or pca"
                " (spread over the plane of the data's two main directions: learns fastest)."
                " Seeded by the project's seed.",
                choices=("random", "samples", "pca"),
            ),
        ),
        outputs=("out", "unit", "distances"),
        infer=_som_infer,
        ctor=_som_ctor,
        emit=_som_emit,
        count=lambda p, ins: p["rows"] * p["cols"] * _som_features(p, ins),
        inferred=("features",),
        default_name="som",
    )
)
