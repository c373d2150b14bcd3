"""The main window opens on every example and shows what the summary says."""

from __future__ import annotations

import re

import pytest

import assets
from builder import CATALOG, compile_network
from graph.document import Project
from graph.project_file import load
from widgets.app import run
from widgets.main_window import EdgeLabel, MainWindow, NodeItem

EXAMPLES = assets.example_paths()


def torch_count(net) -> int:
    return sum(p.numel() for p in compile_network(net, seed=0).parameters())


def open_window(qtbot, project, path=None) -> MainWindow:
    window = MainWindow(project, path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_window_shows_each_example(qtbot, path):
    project = load(path, CATALOG)
    window = open_window(qtbot, project, path)
    assert window.windowTitle() == f"NeuralCanvas — {path.name}"
    assert len(window.pages) == len(project.networks) == window.tabs.count()
    for page, net in zip(window.pages, project.networks.values()):
        assert page.table.rowCount() == len(net)
        names = [page.table.item(r, 0).text() for r in range(page.table.rowCount())]
        assert names == [net.name_of(n) for n in net.topological_order()]
        digits = re.sub(r"\D", "", page.total_label.text())
        assert int(digits) == torch_count(net)
        nodes = [i for i in page.scene.items() if isinstance(i, NodeItem)]
        labels = [i for i in page.scene.items() if isinstance(i, EdgeLabel)]
        assert len(nodes) == len(net)
        assert len(labels) == len(net.edges())
        assert not page.panel.problems_label.isVisibleTo(page.panel)


def test_tab_bar_only_for_several_networks(qtbot):
    single = open_window(qtbot, load(assets.example("xor_mlp"), CATALOG))
    assert not single.tabs.tabBar().isVisible()
    double = open_window(qtbot, load(assets.example("gan_digits"), CATALOG))
    assert double.tabs.tabBar().isVisible()
    assert [double.tabs.tabText(i) for i in range(2)] == ["generator", "discriminator"]


def test_invalid_network_is_shown_not_raised(qtbot):
    project = Project(CATALOG, name="Broken")
    net = project.add_network("main")
    image = net.add_node("Input", "image", {"shape": [1, 8, 8]}, (0, 0))
    fc = net.add_node("Linear", "fc", {"out_features": 10}, (180, 0))
    out = net.add_node("Output", "scores", {}, (360, 0))
    net.connect(image, fc)
    net.connect(fc, out)
    window = open_window(qtbot, project)
    page = window.pages[0]
    assert window.windowTitle() == "NeuralCanvas — Untitled"
    assert page.table.rowCount() == 3
    assert "Flatten" in page.panel.problems_label.text()
    assert page.panel.problems_label.isVisibleTo(page.panel)
    assert page.table.item(1, 2).text() == "?"
    assert "Flatten" in page.table.item(1, 0).toolTip()
    assert page.total_label.text() == "Total parameters: 0"


def test_table_columns_are_not_clipped(qtbot):
    window = open_window(qtbot, load(assets.example("resnet_blocks"), CATALOG), "x.json")
    table = window.pages[0].table
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    for c in range(table.columnCount()):
        widest = max(
            metrics.horizontalAdvance(table.item(r, c).text()) for r in range(table.rowCount())
        )
        assert header.sectionSize(c) >= widest
    assert window.pages[0].panel.width() >= window.pages[0].panel.preferred_width() - 1


def test_run_renders_a_screenshot_without_an_event_loop(qtbot, tmp_path):
    path = assets.example("digits_cnn")
    png = tmp_path / "window.png"
    assert run(load(path, CATALOG), path, screenshot=str(png)) == 0
    assert png.stat().st_size > 1000
