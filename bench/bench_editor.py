"""Node editor benchmark: the canvas (widgets/canvas.py) on a 500-node network.

Figures (absolute times, PASS / FAIL against the goals; never asserted):

- E1 build: ``EditorDocument`` + ``Canvas`` for the network, shown, events processed and the
  viewport grabbed once. Goal < 1.5 s.
- E2 zoom / pan: p95 of ``viewport().repaint()`` after each of 200 steps (100 zoom steps
  around a point between 0.2x and 3x, 100 scroll steps). Goal p95 < 16 ms.
- E3 edit: push ``AddNode`` + ``Connect``, ``doc.check_now()``, process events (labels,
  shapes, counts and the repaint done). Goal p95 < 50 ms.

The baseline, measured in the same run, is the plainest scene Qt can draw for the same
network: one ``QGraphicsRectItem`` and three ``QGraphicsSimpleTextItem`` per node and one
``QGraphicsPathItem`` per edge, in a view with the same settings.

    .venv/bin/python bench/bench_editor.py [--quick] [--shots]

``--shots`` also saves screenshots: /tmp/canvas_bench_*.png (this network, fitted and at 1:1)
and /tmp/canvas_<example>.png (digits_cnn, resnet_blocks, attention_text, fitted). See bench/README.md for the latest figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QPoint, QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QPainter, QPainterPath, QTransform  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

import assets  # noqa: E402
from bench.generators import resnet_like  # noqa: E402
from builder.catalog.layers import CATALOG  # noqa: E402
from graph.document import Project  # noqa: E402
from graph.layout import layered_layout  # noqa: E402
from graph.project_file import load  # noqa: E402
from widgets import commands  # noqa: E402
from widgets.canvas import Canvas  # noqa: E402
from widgets.editor_document import EditorDocument  # noqa: E402

GOAL_BUILD_S = 1.5
GOAL_REPAINT_P95_S = 0.016
GOAL_EDIT_S = 0.050
VIEW_SIZE = (1400, 900)

VERDICTS: list[tuple[str, bool]] = []


def now() -> float:
    return time.perf_counter()


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def ms(s: float) -> str:
    return f"{s * 1e3:8.2f} ms"


def verdict(name: str, ok: bool) -> str:
    VERDICTS.append((name, ok))
    return "PASS" if ok else "FAIL"


def densenet_project() -> Project:
    """torchvision's DenseNet-121 imported (429 nodes, Concats of up to 32 inputs), laid
    out as the import lays it out."""
    from builder.importer import convert_module
    from tests.builder.torchvision_models import models

    return convert_module(models().densenet121().eval(), [(3, 224, 224)]).project


def project() -> Project:
    """The 500-node ResNet-like network, laid out as the editor's auto-layout would (the
    generator puts every node on one row, 120 apart, where 150-wide cards overlap)."""
    net = resnet_like(500)
    for node_id, pos in layered_layout(net).items():
        net.move(node_id, pos)
    proj = Project(CATALOG, name="bench")
    proj.networks[net.name] = net
    return proj


# ----------------------------------------------------------------------------- baseline


class PlainView(QGraphicsView):
    """The baseline: the plainest items Qt has, same view settings as the canvas."""

    def __init__(self, proj: Project):
        super().__init__()
        scene = QGraphicsScene(self)
        self.setScene(scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        net = next(iter(proj.networks.values()))
        for node_id in net.nodes:
            x, y = net.pos_of(node_id)
            rect = QGraphicsRectItem(QRectF(-75, -34, 150, 68))
            rect.setPos(x, y)
            scene.addItem(rect)
            for i, text in enumerate((net.type_of(node_id), net.name_of(node_id), "params")):
                label = QGraphicsSimpleTextItem(text, rect)
                label.setPos(-60, -30 + 18 * i)
        for e in net.edges():
            (ax, ay), (bx, by) = net.pos_of(e.src), net.pos_of(e.dst)
            path = QPainterPath(QPointF(ax + 75, ay))
            path.cubicTo(QPointF(ax + 120, ay), QPointF(bx - 120, by), QPointF(bx - 75, by))
            scene.addPath(path)
        self.setSceneRect(scene.itemsBoundingRect().adjusted(-10_000, -10_000, 10_000, 10_000))

    def set_zoom(self, zoom: float, anchor: QPoint) -> None:
        fixed = self.mapToScene(anchor)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        centre = QPointF(self.viewport().rect().center())
        self.centerOn(fixed + (centre - QPointF(anchor)) / zoom)

    def fit(self) -> None:
        self.set_zoom(0.2, self.viewport().rect().center())
        rect = self.scene().itemsBoundingRect()
        self.centerOn(rect.left() + self.viewport().width() / 0.4, rect.center().y())


# ----------------------------------------------------------------------------- figures


def build(app: QApplication, make) -> tuple[float, object]:
    gc.collect()
    t = now()
    view = make()
    view.resize(*VIEW_SIZE)
    view.show()
    app.processEvents()
    view.viewport().grab()
    return now() - t, view


def zoom_pan(app: QApplication, view, steps: int) -> tuple[list[float], list[float]]:
    """Repaint times after each zoom step and after each pan step."""
    vp = view.viewport()
    anchor = QPoint(vp.width() * 2 // 3, vp.height() // 2)
    half = steps // 2
    lo, hi = 0.2, 3.0
    # Up and down the whole zoom range geometrically, around one point.
    up = [lo * (hi / lo) ** (i / (half // 2 - 1)) for i in range(half // 2)]
    zooms = up + up[::-1]
    zoom_times = []
    for z in zooms[:half]:
        view.set_zoom(z, anchor)
        t = now()
        vp.repaint()
        zoom_times.append(now() - t)
    # Pan at a far-out zoom (the most items on screen): right, then down, then back.
    view.set_zoom(0.35, anchor)
    vp.repaint()
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()
    pan_times = []
    moves = [(40, 0)] * (half // 2) + [(0, 15)] * (half // 4) + [(-40, -15)] * (half // 4)
    for dx, dy in moves[:half]:
        h.setValue(h.value() + dx)
        v.setValue(v.value() + dy)
        t = now()
        vp.repaint()
        pan_times.append(now() - t)
    app.processEvents()
    return zoom_times, pan_times


EDITS = {  # network: (the layer a Dropout is added after, its shape, the Input, 2 shapes)
    "resnet": ("s3b10_relu", "(N, 1024, 4, 4)", "input", ((3, 32, 64), (3, 64, 64))),
    "densenet": (
        "features.denseblock3.denselayer12.relu2",
        "(N, 128, 14, 14)",
        "x",
        ((3, 224, 224), (3, 192, 192)),
    ),
}


def edits(
    app: QApplication, canvas: Canvas, rounds: int, which: str = "resnet"
) -> tuple[list[float], list[float]]:
    """Add a node + an edge (timed to labels and shapes shown), then undo both (untimed);
    and, for reference, the worst re-check: the Input shape changed (every label moves)."""
    doc = canvas.doc
    net = doc.net
    name, label, input_name, shapes = EDITS[which]
    src = net.find(name)
    canvas.reset_zoom()
    canvas.center_on_node(src)
    app.processEvents()
    x, y = net.pos_of(src)
    times = []
    for _ in range(rounds):
        gc.collect()
        t = now()
        add = commands.AddNode(net, "Dropout", (x + 100, y + 120))
        doc.push(add)
        doc.push(commands.Connect(net, src, add.node_id))
        doc.check_now()
        app.processEvents()
        times.append(now() - t)
        assert canvas.edges[net.in_edges(add.node_id)[0]].label.text == label
        doc.undo.undo()
        doc.undo.undo()
        doc.check_now()
        app.processEvents()
    worst = []
    inp = net.find(input_name)
    canvas.center_on_node(inp)
    app.processEvents()
    for i in range(rounds):
        gc.collect()
        t = now()
        doc.push(commands.SetParam(net, inp, "shape", shapes[i % 2]))
        doc.check_now()
        app.processEvents()
        worst.append(now() - t)
    return times, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    parser.add_argument("--shots", action="store_true", help="save /tmp/canvas_bench_*.png")
    parser.add_argument(
        "--densenet", action="store_true", help="torchvision's DenseNet-121, imported, instead"
    )
    args = parser.parse_args()
    runs, steps, rounds = (2, 100, 10) if args.quick else (5, 200, 30)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    proj = densenet_project() if args.densenet else project()
    net = next(iter(proj.networks.values()))
    print(
        f"Node editor bench — {len(net)} nodes, {len(net.edges())} edges, view {VIEW_SIZE};"
        f" {platform.python_version()}, Qt offscreen, {os.cpu_count()} CPUs"
        + (" (quick)" if args.quick else "")
    )

    # E1: build, interleaved with the baseline.
    canvas_t, plain_t = [], []
    for _ in range(runs):
        t, view = build(app, lambda: PlainView(proj))
        plain_t.append(t)
        view.close()
        view.deleteLater()
        doc_box = []

        def make_canvas(doc_box=doc_box):
            doc = EditorDocument(proj)
            doc_box.append(doc)
            return Canvas(doc)

        t, canvas = build(app, make_canvas)
        canvas_t.append(t)
        canvas.close()
        canvas.deleteLater()
        doc_box[0].close()
        doc_box[0].deleteLater()
        app.processEvents()
    first, median = canvas_t[0], statistics.median(canvas_t)
    base = statistics.median(plain_t)
    print(
        f"E1 build + first draw    canvas {ms(median)} (first {ms(first).strip()})"
        f"   plain items {ms(base)}   ratio {median / base:5.2f}x"
        f"   goal < {GOAL_BUILD_S:.1f} s   {verdict('E1', max(canvas_t) < GOAL_BUILD_S)}"
    )

    # E2: zoom / pan repaint.
    doc = EditorDocument(proj)
    _, canvas = build(app, lambda: Canvas(doc))
    _, plain = build(app, lambda: PlainView(proj))
    plain.fit()
    canvas.fit()
    cz, cp = zoom_pan(app, canvas, steps)
    pz, pp = zoom_pan(app, plain, steps)
    both_c, both_p = cz + cp, pz + pp
    print(
        f"E2 zoom/pan repaint p95  canvas {ms(p95(both_c))}   plain items {ms(p95(both_p))}"
        f"   ratio {p95(both_c) / p95(both_p):5.2f}x   goal < {GOAL_REPAINT_P95_S * 1e3:.0f} ms"
        f"   {verdict('E2', p95(both_c) < GOAL_REPAINT_P95_S)}"
    )
    print(
        f"   zoom steps: p95 {ms(p95(cz)).strip()}, median {ms(statistics.median(cz)).strip()};"
        f" pan steps: p95 {ms(p95(cp)).strip()}, median {ms(statistics.median(cp)).strip()}"
        f"  (plain: zoom p95 {ms(p95(pz)).strip()}, pan p95 {ms(p95(pp)).strip()})"
    )
    plain.close()

    # E3: an edit, to labels and shapes on screen.
    add, worst = edits(app, canvas, rounds, "densenet" if args.densenet else "resnet")
    print(
        f"E3 add node + edge       p95 {ms(p95(add))}   median {ms(statistics.median(add))}"
        f"   goal < {GOAL_EDIT_S * 1e3:.0f} ms   {verdict('E3', p95(add) < GOAL_EDIT_S)}"
    )
    print(
        f"   for reference, Input shape changed (all {len(net)} cards and labels re-checked):"
        f" p95 {ms(p95(worst)).strip()}, median {ms(statistics.median(worst)).strip()}"
    )
    if args.shots:
        canvas.fit()
        app.processEvents()
        canvas.grab().save("/tmp/canvas_bench_fit.png")
        canvas.reset_zoom()
        canvas.center_on_node(net.find("s2b1_add"))
        app.processEvents()
        canvas.grab().save("/tmp/canvas_bench_zoom1.png")
        shots = ["/tmp/canvas_bench_fit.png", "/tmp/canvas_bench_zoom1.png"]
        for name in ("digits_cnn", "resnet_blocks", "attention_text"):
            example = EditorDocument(load(assets.example(name), CATALOG))
            view = Canvas(example)
            view.resize(1400, 440)
            view.show()
            app.processEvents()
            view.grab().save(f"/tmp/canvas_{name}.png")
            shots.append(f"/tmp/canvas_{name}.png")
            view.close()
            example.close()
        print("screenshots:", " ".join(shots))
    canvas.close()
    doc.close()

    failed = [name for name, ok in VERDICTS if not ok]
    print("ALL PASS" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
