"""The procedures' live views (DESIGN.md, "Training procedures: declared once"): one widget
class per view kind (:data:`VIEW_WIDGETS`, napari's layer -> controls registry), and
:class:`ProcedureViews`, which lays the shown run's declared views out in the dashboard's tabs.

A procedure declares its views (:class:`~builder.training.procedures.spec.View`). The
supervised kinds (the loss and metrics curves, ``layer_norms``, ``histogram``, ``boundary``,
``confusion``) are drawn by the dashboard's own plots (:mod:`widgets.plots`) from the records
they have always read (:func:`builtin_part`); every other view gets a widget of its kind
(:func:`widget_for`), fed through ``update(payload)``: a
:class:`~builder.training.records.ViewRecord`'s payload for a probed view, the run's named
series for curves (:func:`curves_payload`).

- :mod:`~widgets.views.base`: :class:`ViewWidget`, what every view widget is;
- :mod:`~widgets.views.charts`: curves, scatter, bars;
- :mod:`~widgets.views.images`: samples, image grids, 2-D maps;
- :mod:`~widgets.views.som_map`: a self-organizing map on its grid (hexagons or squares);
  its parts in :mod:`~widgets.views.som_scale`, :mod:`~widgets.views.som_layout`,
  :mod:`~widgets.views.som_canvas` and :mod:`~widgets.views.som_members`;
- :mod:`~widgets.views.arithmetic`: one update worked by hand, number by number;
- :mod:`~widgets.views.registry`: kind -> widget;
- :mod:`~widgets.views.layout`: the dashboard's tabs, what each view draws.
"""

from widgets.views.arithmetic import ArithmeticView
from widgets.views.base import ViewWidget
from widgets.views.charts import BarsView, CurvesView, ScatterView
from widgets.views.images import ImageGridView, MapView, SamplesView, pixels, tile
from widgets.views.layout import (
    OVERVIEW,
    VIEW_PREFIX,
    ProcedureViews,
    curves_payload,
    dirty_key,
    flow,
)
from widgets.views.registry import (
    BUILTIN_KINDS,
    VIEW_WIDGETS,
    builtin_part,
    procedure_spec,
    widget_for,
)
from widgets.views.som_map import SomMapView

__all__ = [
    "BUILTIN_KINDS",
    "OVERVIEW",
    "VIEW_PREFIX",
    "VIEW_WIDGETS",
    "ArithmeticView",
    "BarsView",
    "CurvesView",
    "ImageGridView",
    "MapView",
    "ProcedureViews",
    "SamplesView",
    "ScatterView",
    "SomMapView",
    "ViewWidget",
    "builtin_part",
    "curves_payload",
    "dirty_key",
    "flow",
    "pixels",
    "procedure_spec",
    "tile",
    "widget_for",
]
