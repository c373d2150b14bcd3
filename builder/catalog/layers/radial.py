"""Radial-basis layers: Gaussian units that respond to how near a sample is to their centre."""

from __future__ import annotations

from builder.catalog.layers.common import flat_features
from builder.catalog.params import FLOAT, INT, Param
from builder.catalog.spec import BATCH, Ctor, LayerSpec, P, Shape, Shapes

RADIAL = "Radial basis"
MAX_UNITS = 100_000

SPECS: list[LayerSpec] = []
add = SPECS.append


def _features(p: P, ins: Shapes) -> int:
    return flat_features(ins, "measures distances between real-valued samples and its centres")


add(
    LayerSpec(
        "RBF",
        RADIAL,
        "Radial-basis units: each unit j has a centre c_j (as long as a flattened sample)"
        " and a width σ_j, and outputs h_j = exp(−‖x − c_j‖² / (2σ_j²)): 1 for a sample at"
        " its centre, falling towards 0 with the distance. Follow it by a Linear layer: an"
        " RBF network. The 'rbf' procedure places the centres (k-means or training samples)"
        " and the widths, then solves the Linear layer by least squares; the supervised"
        " procedure learns centres and widths by gradient; or set them by hand (Weights).",
        params=(
            Param("units", INT, 10, "How many Gaussian units (centres).", min=1, max=MAX_UNITS),
            Param(
                "sigma",
                FLOAT,
                1.0,
                "Every unit's width σ to start with (2σ² is the spread in the exponent).",
                min=1e-6,
                max=1e6,
            ),
        ),
        infer=lambda p, ins: {"out": Shape((BATCH, p["units"]))} if _features(p, ins) else {},
        ctor=lambda p, ins: Ctor(
            "builder.catalog.modules.RBF",
            {"features": _features(p, ins), "units": p["units"], "sigma": p["sigma"]},
        ),
        count=lambda p, ins: p["units"] * (_features(p, ins) + 1),
        inferred=("features",),
        default_name="rbf",
    )
)
