"""The procedures' declared views (widgets.views): every view of every registered procedure
draws a synthetic payload of its kind (read back from its plot items), and a VAE run's records
give the dashboard its Latent tab and draw there; switching runs and projects clears it."""

from __future__ import annotations

import numpy as np
import pytest
from dashboard_records import data, epoch, step

from builder.training.config import HealthThresholds
from builder.training.procedures import PROCEDURES
from builder.training.procedures.spec import VIEW_KINDS, View
from builder.training.records import Histogram, ProbeRecord, StepRecord, ViewRecord, frozen
from widgets.views import (
    VIEW_WIDGETS,
    BarsView,
    CurvesView,
    ImageGridView,
    SamplesView,
    ScatterView,
    builtin_part,
    curves_payload,
    tile,
    widget_for,
)
from widgets.views.som_layout import default_centers

WARNING = (
    "KL is near 0 in 7 of 8 latent dimensions: posterior collapse; try KL warm-up, free bits"
    " or a smaller decoder"
)
RNG = np.random.default_rng(0)


def ro(array) -> np.ndarray:
    out = np.ascontiguousarray(array)
    out.flags.writeable = False
    return out


def samples(rows: int = 3, vectors: bool = False) -> dict:
    shape = (rows, 8, 64) if vectors else (rows, 8, 1, 8, 8)
    names = ("input", "noisy input", "output") if rows == 3 else ("input", "output")
    return {
        "samples": ro(RNG.random(shape, dtype=np.float32)),
        "rows": names,
        "value_range": (0.0, 1.0),
    }


def image_grid(n: int = 64, cols: int = 8, axis: bool = False) -> dict:
    payload = {
        "images": ro(RNG.random((n, 1, 8, 8), dtype=np.float32)),
        "cols": cols,
        "value_range": (0.0, 1.0),
    }
    if axis:
        payload["axis"] = tuple(np.linspace(-1.6, 1.6, cols).tolist())
    return payload


def scatter(labels: bool = True) -> dict:
    return {
        "points": ro(RNG.normal(size=(500, 2)).astype(np.float32)),
        "labels": ro(RNG.integers(0, 10, 500)) if labels else None,
        "axis_labels": ("mean[0]", "mean[1]"),
        "note": "2-D codes of 'mean'",
    }


def bars(warning: str = WARNING) -> dict:
    values = np.array([1.5, 0.001, 0.0, 0.002, 0.003, 0.0, 0.001, 0.004], np.float32)
    return {
        "values": ro(values),
        "labels": tuple(f"z{i}" for i in range(8)),
        "threshold": 0.01,
        "warning": warning,
    }


def values_map() -> dict:
    return {"values": ro(RNG.random((6, 9), dtype=np.float32))}


def som_map(planes: bool = False) -> dict:
    payload = {
        "rows": 4,
        "cols": 6,
        "centers": ro(default_centers(4, 6, True).astype(np.float32)),
        "hexagonal": True,
    }
    if planes:
        return {
            **payload,
            "planes": ro(RNG.random((3, 24), dtype=np.float32)),
            "names": ["R", "G", "B"],
        }
    return {
        **payload,
        "values": ro(RNG.random(24, dtype=np.float32)),
        "value_name": "mean distance",
        "marker": {"unit": 7, "radius": 1.5},
    }


def arithmetic() -> dict:
    return {
        "title": "One update",
        "lines": ["η = 0.6, σ = 0: only the winner moves"],
        "columns": ["w", "d", "w after"],
        "rows": ["unit 1", "unit 2"],
        "cells": [["[0.3, 0.5]", "1.07", "[0.3, 0.5]"], ["[0.6, 0.7]", "0.98", "[0.84, 0.28]"]],
        "highlight": [1],
    }


DECLARED = [
    pytest.param(spec, view, id=f"{spec.id}-{view.key}")
    for spec in PROCEDURES.values()
    for view in spec.views
]


def test_every_view_kind_is_drawn_by_a_widget_or_by_the_dashboards_own_plots():
    drawn = set(VIEW_WIDGETS) | {"layer_norms", "histogram", "boundary", "confusion"}
    assert set(VIEW_KINDS) <= drawn
    for spec in PROCEDURES.values():
        for view in spec.views:
            assert widget_for(view) is not None or builtin_part(view) is not None, view


@pytest.mark.parametrize(("spec", "view"), DECLARED)
def test_every_declared_view_draws_a_payload_of_its_kind(qtbot, dash, spec, view):
    """Each declared view of each registered procedure, fed a payload of its kind: a widget
    of its kind shows it, or (the supervised kinds) the dashboard's own plot draws the
    records it reads."""
    part = builtin_part(view)
    if part is not None:
        _builtin_draws(dash, spec, view, part)
        return
    widget = widget_for(view)(view)
    qtbot.addWidget(widget)
    widget.resize(640, 360)
    widget.show()
    qtbot.waitExposed(widget)
    kind = view.kind
    if kind == "samples":
        widget.update(samples(3))
        assert widget.images.image.image.shape == (3 * 8 + 2, 8 * 8 + 7, 3)
        ticks = widget.images.plotItem.getAxis("left")._tickLevels[0]
        assert [t for _, t in ticks] == ["input", "noisy input", "output"]
        widget.update(samples(2, vectors=True))  # vectors: a curve per row
        assert widget.vectors.isVisible() and not widget.images.isVisible()
        drawn = [data(c) for c in widget.curves if data(c)[0]]
        assert len(drawn) == 2
        assert all(int(np.isfinite(y).sum()) == 8 * 64 for _, y in drawn)
        legend = widget.rows.text()
        assert widget.rows.isVisible() and legend.index("input") < legend.index("output")
    elif kind == "image_grid":
        widget.update(image_grid(64, 8))
        assert widget.plot.image.image.shape == (8 * 9 - 1, 8 * 9 - 1, 3)
        widget.update(image_grid(144, 12, axis=True))
        assert widget.plot.image.image.shape == (12 * 9 - 1, 12 * 9 - 1, 3)
        assert widget.plot.plotItem.getAxis("bottom").isVisible()
    elif kind == "scatter":
        widget.update(scatter(labels=True))
        assert widget.point_count() == 500
        assert widget.legend.isVisible() and widget.legend.text().count("●") == 10
        assert widget.note.text() == "2-D codes of 'mean'"
        widget.update(scatter(labels=False))
        assert widget.point_count() == 500 and not widget.legend.isVisible()
    elif kind == "bars":
        payload = bars()
        widget.update(payload)
        assert widget.heights() == pytest.approx(np.asarray(payload["values"], float))
        assert widget.line.isVisible() and widget.line.value() == pytest.approx(0.01)
        assert widget.warning.isVisible() and widget.warning.text() == WARNING
        assert widget.note.text().startswith("1 of 8")
        widget.update(bars(warning=""))
        assert not widget.warning.isVisible()
    elif kind == "curves":
        n = 5
        payload = {
            "steps": {name: (np.arange(1.0, n + 1), np.linspace(1, 2, n)) for name in view.series},
            "epochs": {name: (np.array([5.0]), np.array([1.5])) for name in view.series},
            "split": "validation",
        }
        widget.update(payload)
        for name in view.series:
            assert data(widget.raw[name]) == (
                [1.0, 2.0, 3.0, 4.0, 5.0],
                pytest.approx(list(np.linspace(1, 2, n))),
            )
            assert data(widget.epoch[name]) == ([5.0], [1.5])
        names = [label.text for _, label in widget.plot.legend.items]
        first = view.label(view.series[0])
        assert names[:2] == [first, f"{first} (validation)"]
    elif kind == "heatmap":
        widget.update(values_map())
        assert widget.image.image.shape == (6, 9)
    elif kind == "grid_map":
        widget.update(som_map())
        assert widget.canvas.cell_count() == 24
        widget.update(som_map(planes=True))
        widget.canvas.layout_maps()
        assert len(widget.canvas.rects) == 3 and widget.canvas.content.names == ["R", "G", "B"]
    elif kind == "arithmetic":
        widget.update(arithmetic())
        assert widget.cell_text(1, 1) == "0.98" and widget.is_highlighted(1)
    else:  # a new kind: give it a payload here
        pytest.fail(f"no synthetic payload for kind {kind!r}")
    widget.reset()  # a new run: empty again


def _builtin_draws(dash, spec, view: View, part: str) -> None:
    """The dashboard's own plot draws a view of a supervised kind from the records."""
    rng = np.random.default_rng(1)
    points = (rng.uniform(-1, 1, (20, 2)), rng.integers(0, 2, 20))
    dash.begin_run("builtin", HealthThresholds(), points=points, procedure=spec)
    grid = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    dash.add_records(
        [
            step(1, [1.0, 0.8], 1, grads={"fc1": 0.5}),
            epoch(1, 2, 0.9, 1.0, accuracy=0.75, confusion=[[3, 1], [0, 4]]),
            ProbeRecord(
                1,
                2,
                "fc1",
                Histogram((1, 2), (0.0, 1.0, 2.0)),
                Histogram((2, 1), (0.0, 1.0, 2.0)),
                (0.0, 1.0, 2.0, 3.0),
                (0.0, 1.0, 2.0),
                grid,
            ),
        ]
    )
    dash.refresh()
    if part == "loss":
        assert data(dash.loss_plot.step_curve) == ([1.0, 2.0], [1.0, 0.8])
        assert dash.loss_plot.isVisibleTo(dash)
    elif part == "metrics":
        assert data(dash.metrics_plot.curves["accuracy"]) == ([2.0], [0.75])
    elif part == "gradients":
        assert set(dash.gradient_plot.curves) == {"fc1"}
        assert dash.heatmap.image.image.shape == (1, 1)
    elif part == "layers":
        assert data(dash.weights_hist.curve) == ([0.0, 1.0, 2.0], [1.0, 2.0])
    elif part == "boundary":
        assert dash.boundary.isVisibleTo(dash) and dash.boundary.image.image.shape == (3, 4)
    elif part == "confusion":
        assert dash.confusion.counts.tolist() == [[3, 1], [0, 4]]
    else:
        pytest.fail(f"unknown part {part!r}")


def test_images_are_tiled_one_pixel_apart():
    a = np.zeros((3, 2, 2, 3), np.uint8)
    a[1] = 100
    out = tile(a, cols=2)
    assert out.shape == (2 * 3 - 1, 2 * 3 - 1, 3)
    assert (out[:2, 2] == 255).all() and (out[2, :] == 255).all()  # the gaps
    assert (out[:2, 3:5] == 100).all() and (out[3:, 3:] == 255).all()  # a missing tile: gap


# ----------------------------------------------------------------------------- the dashboard


class Trainer:
    def __init__(self):
        self.views: list[bool] = []

    def set_views(self, on: bool) -> None:
        self.views.append(on)


def vae_records(first: int = 1, n: int = 6, epoch_no: int = 1) -> list:
    losses = np.linspace(40, 30, n)
    recon, kl = losses - 2.0, np.full(n, 2.0)
    beta = np.linspace(0.1, 0.6, n)
    s = StepRecord(
        epoch=epoch_no,
        step=first + n - 1,
        first_step=first,
        losses=tuple(losses.tolist()),
        train_loss=float(losses.mean()),
        samples_per_sec=100.0,
        lr=1e-3,
        elapsed=0.1,
        series=frozen(
            {"recon": tuple(recon.tolist()), "kl": tuple(kl.tolist()), "beta": tuple(beta.tolist())}
        ),
    )
    e = epoch(epoch_no, first + n - 1, 35.0, 34.0, recon=31.0, kl=2.5, active_units=1)
    at = first + n - 1
    views = [
        ViewRecord("reconstructions", "samples", epoch_no, at, frozen(samples(2))),
        ViewRecord("latent", "scatter", epoch_no, at, frozen(scatter())),
        ViewRecord("manifold", "image_grid", epoch_no, at, frozen(image_grid(144, 12, axis=True))),
        ViewRecord("prior", "image_grid", epoch_no, at, frozen(image_grid(64, 8))),
        ViewRecord("kl_per_dim", "bars", epoch_no, at, frozen(bars())),
    ]
    return [s, e, *views]


def tab_names(dash) -> list[str]:
    tabs = dash.tabs
    return [tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)]


def select(dash, name: str) -> None:
    tabs = dash.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == name))


def test_a_vae_run_gets_its_latent_tab_and_draws_its_records(dash, qtbot):
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Confusion"]
    trainer = Trainer()
    run = dash.begin_run("vae #1", HealthThresholds(), procedure="vae", trainer=trainer)
    assert run.procedure == "vae" and trainer.views == [True]
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Latent"]  # as declared
    views = dash.views.widgets
    assert set(views) == {
        "terms",
        "beta",
        "reconstructions",
        "latent",
        "manifold",
        "prior",
        "kl_per_dim",
    }
    # Its own loss curves replace the loss plot; it declares the gradient norms.
    assert not dash.loss_plot.isVisibleTo(dash) and dash.gradient_plot.isVisibleTo(dash)

    records = vae_records()
    dash.add_records(records)
    dash.refresh()  # the Overview tab: its views drawn, the Latent tab's wait
    terms, beta = views["terms"], views["beta"]
    assert isinstance(terms, CurvesView)
    steps = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert data(terms.raw["loss"]) == (steps, pytest.approx(list(records[0].losses)))
    assert data(terms.raw["recon"])[1] == pytest.approx(list(records[0].series["recon"]))
    assert data(terms.epoch["kl"]) == ([6.0], [2.5])
    assert data(terms.epoch["loss"]) == ([6.0], [34.0])  # the validation loss
    assert data(beta.raw["beta"])[1] == pytest.approx(list(records[0].series["beta"]))
    recon = views["reconstructions"]
    assert isinstance(recon, SamplesView) and recon.images.image.image.shape == (17, 71, 3)
    latent = views["latent"]
    assert isinstance(latent, ScatterView) and latent.point_count() == 0  # hidden: waits
    assert "view:latent" in dash._dirty

    select(dash, "Latent")  # shown: drawn
    assert latent.point_count() == 500
    manifold = views["manifold"]
    assert isinstance(manifold, ImageGridView)
    assert manifold.plot.image.image.shape == (107, 107, 3)
    assert views["prior"].plot.image.image.shape == (71, 71, 3)
    kl = views["kl_per_dim"]
    assert isinstance(kl, BarsView) and kl.heights()[0] == pytest.approx(1.5)
    assert kl.warning.isVisible() and "posterior collapse" in kl.warning.text()
    assert not dash._dirty

    # only the newest record of a view is drawn
    newer = ViewRecord(
        "kl_per_dim", "bars", 2, 12, frozen({**bars(""), "values": ro(np.ones(8, np.float32))})
    )
    dash.add_records([newer])
    dash.refresh()
    assert kl.heights() == pytest.approx(np.ones(8)) and not kl.warning.isVisible()

    # a supervised run: today's tabs, the Latent tab gone
    dash.begin_run("mlp #2", HealthThresholds())
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Confusion"]
    # (its Step tab's arithmetic waits for data of a few inputs)
    assert list(dash.views.widgets) == ["update"] and dash.loss_plot.isVisibleTo(dash)
    # comparing shows the compared-from run's views again
    dash.compare(run, None)
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Latent"]
    select(dash, "Latent")
    assert dash.views.widgets["latent"].point_count() == 500
    # another project: the dashboard as at first
    dash.end_project("vae_digits")
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Confusion"]
    assert dash.views.widgets == {} and dash.tabs.count() == 4


def test_live_redraws_take_the_views_in_turn_and_leave_hidden_tabs_waiting(dash):
    dash.begin_run("vae", HealthThresholds(), procedure="vae")
    dash.live_interval = dash.live_budget = 0.0
    dash.add_records(vae_records())
    for _ in range(40):
        dash.refresh_live()
    views = dash.views.widgets
    assert data(views["terms"].raw["kl"])[0] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert views["reconstructions"].images.image.image is not None
    assert views["latent"].point_count() == 0  # its tab is hidden
    waiting = {k for k in dash._dirty if k.startswith("view:")}
    assert waiting == {"view:latent", "view:manifold", "view:prior", "view:kl_per_dim"}
    assert dash.state_label.text() == "step 6"  # without the (hidden) loss plot
    select(dash, "Latent")
    assert views["latent"].point_count() == 500 and not dash._dirty  # refresh: all drawn


def test_an_autoencoder_run_keeps_the_loss_plot_and_adds_its_views(dash):
    """The autoencoder's loss view is the dashboard's loss plot (epochs, validation,
    comparisons); its reconstructions of vector data are curves."""
    dash.begin_run("ae", HealthThresholds(), procedure="autoencoder")
    assert tab_names(dash) == ["Overview", "Gradients", "Layers", "Latent"]
    assert dash.loss_plot.isVisibleTo(dash) and not dash.metrics_plot.isVisibleTo(dash)
    rows = samples(2, vectors=True)
    dash.add_records(
        [step(1, [1.0, 0.5], 1), ViewRecord("reconstructions", "samples", 1, 2, frozen(rows))]
    )
    dash.refresh()
    assert data(dash.loss_plot.step_curve) == ([1.0, 2.0], [1.0, 0.5])
    recon = dash.views.widgets["reconstructions"]
    assert recon.vectors.isVisible() and len([c for c in recon.curves if data(c)[0]]) == 2


def test_curves_payload_reads_the_runs_series_and_epoch_metrics(dash):
    run = dash.begin_run("vae", HealthThresholds(), procedure="vae")
    dash.add_records(vae_records() + vae_records(first=7, epoch_no=2))
    view = next(v for v in PROCEDURES["vae"].views if v.key == "terms")
    payload = curves_payload(run, view)
    x, y = payload["steps"]["recon"]
    assert x.tolist() == list(range(1, 13)) and len(y) == 12
    assert payload["epochs"]["kl"][0].tolist() == [6.0, 12.0]
    assert payload["split"] == "validation"


def test_a_view_with_history_scrubs_back_and_stays_there_while_the_run_goes_on(dash):
    """A GAN's sample grid: every probe is kept (thinned); the slider shows an earlier grid
    and keeps it while new ones come, and at its right end follows the run again."""
    dash.begin_run("gan #1", HealthThresholds(), procedure="gan")
    dash.set_run_data(sample_shape=(1, 8, 8))
    grid = dash.views.widgets["samples"]
    assert grid.scrub is not None and grid.live
    drawn = []
    for i in range(5):
        dash.add_records([ViewRecord("samples", "image_grid", i, 10 * i, frozen(image_grid()))])
        dash.refresh()
        drawn.append(grid.plot.image.image.copy())
    assert grid.scrub.maximum() == 4 and grid.scrub.value() == 4
    assert grid.scrub_label.text() == "epoch 4 · step 40 (live)"
    assert not np.array_equal(drawn[0], drawn[4])
    grid.scrub.setValue(1)
    assert np.array_equal(grid.plot.image.image, drawn[1])
    assert grid.scrub_label.text() == "epoch 1 · step 10" and not grid.live
    dash.add_records([ViewRecord("samples", "image_grid", 5, 50, frozen(image_grid()))])
    dash.refresh()
    assert grid.scrub.maximum() == 5 and grid.scrub.value() == 1  # stays where it was
    assert np.array_equal(grid.plot.image.image, drawn[1])
    grid.scrub.setValue(5)
    assert grid.live and grid.scrub_label.text().endswith("(live)")
    assert not np.array_equal(grid.plot.image.image, drawn[4])
    # the history is bounded: at most twice the view's declared number of records
    for i in range(6, 400):
        dash.add_records([ViewRecord("samples", "image_grid", i, 10 * i, frozen(image_grid(8)))])
    run = dash.current
    kept = list(run.history.view_history["samples"])
    limit = grid.view.history
    assert len(kept) <= 2 * limit and kept[0].step == 0 and kept[-1].step == 3990


def test_a_runs_alarms_are_shown_with_what_to_try_and_go_when_cleared(dash):
    dash.begin_run("gan #2", HealthThresholds(), procedure="gan")
    assert dash.alarms.isHidden()
    raised = (("mode_collapse", "Mode collapse: 2 classes, down from 9", "lower <both> rates"),)
    dash.add_records([epoch(1, 10, 1.0, None, alarms=raised)])
    dash.refresh()
    assert not dash.alarms.isHidden()
    assert "Mode collapse: 2 classes" in dash.alarms.text()
    assert "lower &lt;both&gt; rates" in dash.alarms.text()  # text, not markup
    dash.add_records([epoch(2, 20, 1.0, None)])
    dash.refresh()
    assert dash.alarms.isHidden()


def test_a_procedures_views_are_made_ahead_a_widget_per_turn_and_start_takes_them(dash, qtbot):
    made: list[str] = []
    real = dash.views._make

    def counted(view):
        widget = real(view)
        if widget is not None:
            made.append(view.key)
        return widget

    dash.views._make = counted
    dash.prepare_views("vae")
    assert made == []  # nothing in the call itself: one widget per turn of the event loop
    keys = [v.key for v in PROCEDURES["vae"].views if widget_for(v) is not None]
    qtbot.waitUntil(lambda: set(dash.views.widgets) == set(keys))  # no run: laid out, empty
    assert made == keys and "Latent" in tab_names(dash)
    before = dict(dash.views.widgets)
    dash.begin_run("vae #1", HealthThresholds(), procedure="vae")
    assert dash.views.widgets == before and made == keys  # Start made none of them
    dash.prepare_views("gan")  # another procedure's, while a run is shown: made, not shown
    qtbot.waitUntil(lambda: len(made) > len(keys))
    assert dash.views.widgets == before
    qtbot.waitUntil(
        lambda: len(dash.views._made) == len([v for v in PROCEDURES["gan"].views if widget_for(v)])
    )
    ahead = dict(dash.views._made)
    dash.begin_run("gan #1", HealthThresholds(), procedure="gan")
    assert set(ahead.values()) <= set(dash.views.widgets.values())


def test_a_runs_end_is_drawn_a_plot_group_per_turn(dash, qtbot):
    dash.begin_run("vae", HealthThresholds(), procedure="vae")
    dash.add_records(vae_records())
    drawn: list[set[str]] = []
    real = dash._draw
    dash._draw = lambda dirty, live=False: (drawn.append(set(dirty)), real(dirty, live))
    dash.refresh_in_turns()
    assert dash.in_turns and len(drawn) == 1  # the first group now, the others later
    qtbot.waitUntil(lambda: not dash.in_turns)
    assert len(drawn) > 3 and all(not (a & b) for a, b in zip(drawn, drawn[1:]))
    views = dash.views.widgets
    assert data(views["terms"].raw["kl"])[0] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert dash._dirty == {"view:latent", "view:manifold", "view:prior", "view:kl_per_dim"}
    # a refresh meanwhile draws what was left at once, and the pass in turns stops
    dash.add_records(vae_records(7, epoch_no=2))
    dash.refresh_in_turns()
    dash.refresh()
    assert not dash.in_turns and dash._dirty == {
        "view:latent",
        "view:manifold",
        "view:prior",
        "view:kl_per_dim",
    }
    count = len(drawn)
    qtbot.wait(50)
    assert len(drawn) == count


def test_a_live_view_is_drawn_at_its_probes_pace_whatever_the_others_cost(dash):
    dash.begin_run("gan", HealthThresholds(), procedure="gan")
    samples = next(v for v in PROCEDURES["gan"].views if v.key == "samples")
    assert samples.live and dash.views.live_every(frozenset({"view:samples"})) == samples.every
    assert dash.views.live_every(frozenset({"view:losses"})) is None
    dash.live_interval, dash.live_budget = 0.0, 1e-6  # every redraw "costs" hours of budget
    due = dash._group_due
    dash.add_records([ViewRecord("samples", "image_grid", 1, 1, frozen(image_grid()))])
    for _ in range(20):
        dash.refresh_live()
    group = frozenset({"view:samples"})
    assert group in due and due[group] - dash._live_t <= samples.every / 2 + 1e-9
    others = [g for g in due if g != group]
    assert others and all(due[g] - dash._live_t > 60 for g in others)


def test_a_pass_in_turns_ends_when_another_run_is_shown(dash, qtbot):
    dash.begin_run("vae", HealthThresholds(), procedure="vae")
    dash.add_records(vae_records())
    dash.refresh_in_turns()
    assert dash.in_turns
    dash.begin_run("mlp", HealthThresholds())  # shown before the pass is through
    qtbot.waitUntil(lambda: not dash.in_turns)
