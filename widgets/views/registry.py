"""The registry of view kinds: which widget draws a declared view, or which of the
dashboard's own plots does."""

from __future__ import annotations

from builder.training.procedures import DEFAULT, PROCEDURES, ProcedureSpec
from builder.training.procedures.spec import View
from widgets.plots import (
    METRIC_ORDER,
)
from widgets.views.arithmetic import ArithmeticView
from widgets.views.base import ViewWidget
from widgets.views.charts import BarsView, CurvesView, ScatterView
from widgets.views.images import ImageGridView, MapView, SamplesView
from widgets.views.som_map import SomMapView

# the kinds the dashboard's own plots draw, from the records they have always read
BUILTIN_KINDS = {
    "layer_norms": "gradients",
    "histogram": "layers",
    "boundary": "boundary",
    "confusion": "confusion",
}


def builtin_part(view: View) -> str | None:
    """The dashboard's own plot that draws ``view`` (``loss``, ``metrics``, ``gradients``,
    ``layers``, ``boundary``, ``confusion``), or None: a widget of its kind draws it."""
    if view.kind == "curves":
        if tuple(view.series) == ("loss",):
            return "loss"  # the loss plot: per step, per epoch, validation, comparisons
        if view.series and set(view.series) <= set(METRIC_ORDER):
            return "metrics"
        return None
    return BUILTIN_KINDS.get(view.kind)


def procedure_spec(procedure: str | ProcedureSpec | None) -> ProcedureSpec:
    """The registered procedure (the default for None or a name it does not know)."""
    if isinstance(procedure, ProcedureSpec):
        return procedure
    return PROCEDURES.get(procedure or DEFAULT, PROCEDURES[DEFAULT])


# every other kind: the widget that draws it (heatmap: a 2-D array of values; grid_map: a
# self-organizing map on its grid; arithmetic: one update worked by hand)
VIEW_WIDGETS: dict[str, type[ViewWidget]] = {
    "curves": CurvesView,
    "samples": SamplesView,
    "image_grid": ImageGridView,
    "scatter": ScatterView,
    "bars": BarsView,
    "heatmap": MapView,
    "grid_map": SomMapView,
    "arithmetic": ArithmeticView,
}


def widget_for(view: View) -> type[ViewWidget] | None:
    """The widget class that draws ``view`` (None: the dashboard's own plots do)."""
    if builtin_part(view) is not None:
        return None
    return VIEW_WIDGETS.get(view.kind)
