"""Help: keyboard shortcuts read off the window's actions, the layer reference made from the
catalog, the documentation read from the shipped docs/ files, About with the versions."""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget, QTableWidget, QTextBrowser

from builder import CATALOG


def test_help_menu_lists_the_shortcuts_reference_docs_and_about(make_window):
    window = make_window()
    help_menu = window.help
    texts = [a.text().replace("&", "") for a in help_menu.menu.actions() if not a.isSeparator()]
    assert texts == ["Keyboard Shortcuts", "Layer Reference", "Documentation", "About NeuralCanvas"]
    assert help_menu.menu in [a.menu() for a in window.menuBar().actions()]

    table = help_menu.show_shortcuts().findChild(QTableWidget, "shortcuts")
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Python script"] == "Ctrl+E"  # File > Export
    assert "Ctrl+Y" in rows["Redo"].split(" or ")
    assert rows["Start"] == "F5" and rows["Layer Reference"] == "F1"

    reference = help_menu.show_reference("Maxout").findChild(QTextBrowser, "reference")
    text = reference.toPlainText()
    assert all(spec.type_id in text for spec in CATALOG)
    assert reference.textCursor().selectedText() == "Maxout"  # scrolled to the layer

    # F1 on a selected layer opens the reference at its type
    window.canvas.nodes[window.doc.net.find("tanh")].setSelected(True)
    assert help_menu.selected_type() == "Tanh"
    help_menu.reference_action.trigger()
    assert reference.textCursor().selectedText() == "Tanh"

    docs = help_menu.show_docs()
    pages = docs.findChild(QListWidget, "pages")
    names = [pages.item(i).text() for i in range(pages.count())]
    assert {"cli", "layers", "training"} <= set(names)
    pages.setCurrentRow(names.index("cli"))
    assert "neuralcanvas import" in docs.findChild(QTextBrowser, "page").toPlainText()
    assert help_menu.show_docs() is docs  # asked twice: the same window, raised

    about = help_menu.about_text()
    assert "NeuralCanvas" in about and "torch 2.13" in about and "PySide6 6.11" in about
