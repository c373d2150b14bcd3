"""The layer catalog: ``LayerSpec`` and ``Param`` (spec, params), the layer declarations
(layers) and the few torch modules torch does not ship (modules)."""
