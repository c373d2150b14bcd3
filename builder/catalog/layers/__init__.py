"""Every layer type of the catalog, declared once (see :mod:`builder.catalog.spec`), one
module per family of layers. Each module lists its declarations in ``SPECS``; ``CATALOG``
registers them in the order below, which is the palette's and the layer reference's.

Declaring the catalog must not import torch (see :func:`common.torch_cat`).
"""

from __future__ import annotations

from builder.catalog.layers import (
    activations,
    competitive,
    convolution,
    core,
    generative,
    merge,
    normalisation,
    radial,
    recurrent,
    reshaping,
    sequence_tokens,
)
from builder.catalog.spec import Catalog

FAMILIES = (
    core,
    convolution,
    reshaping,
    normalisation,
    recurrent,
    sequence_tokens,
    merge,
    activations,
    generative,
    radial,
    competitive,
)

CATALOG = Catalog()
for _family in FAMILIES:
    for _spec in _family.SPECS:
        CATALOG.register(_spec)
