"""The training panel's forms: the procedure and its settings (typed fields built from the
declared Params, written through the undo stack), the dataset options (typed fields from
the data registry's Options, augmentation one field per option) and the loss box's width."""

from __future__ import annotations

import copy
import threading

import pytest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

import assets
from builder import CATALOG
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, INTS, Param
from builder.training.config import LOSSES, ConfigError, parse_training
from builder.training.procedures import PROCEDURES, with_procedure
from graph.project_file import load
from widgets.editor_document import EditorDocument
from widgets.settings_form import UNSET, SettingsForm, from_param
from widgets.training_panel import TrainingPanel

WAIT = 60_000  # ms; only a bound against hangs


@pytest.fixture
def make_panel(qtbot):
    panels: list[TrainingPanel] = []

    def make(example: str = "xor_mlp", **training) -> TrainingPanel:
        project = load(assets.example(example), CATALOG)
        project.training.update(training)
        panel = TrainingPanel(EditorDocument(project), None, None)
        panel.show_error = lambda title, message: None
        qtbot.addWidget(panel)
        panel.fill_datasets()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown(10.0)
    assert not [t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"]


def choose(combo: QComboBox, *, data=None, text=None) -> None:
    """Pick an item as the user does (the panel listens to ``activated``)."""
    index = combo.findData(data) if data is not None else combo.findText(text)
    assert index >= 0, (data, text)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def type_into(edit: QLineEdit, text: str) -> None:
    edit.setText(text)
    edit.editingFinished.emit()


def items(combo: QComboBox) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def config_problem(training: dict, path: str) -> str:
    """The message parse_training gives for ``path`` (``path: message``)."""
    with pytest.raises(ConfigError) as info:
        parse_training(training)
    (problem,) = [p for p in info.value.problems if p.path == path]
    return str(problem)


def settle(widget: QWidget) -> None:
    """Let the posted layout requests run (no waiting on a clock)."""
    for _ in range(3):
        QApplication.processEvents()
        widget.layout().activate()


# ----------------------------------------------------------------------------- the generic form


def test_each_param_kind_gets_its_widget_with_bounds_docs_and_defaults(qtbot):
    params = (
        Param("count", INT, 3, "how many", min=1, max=9),
        Param("rate", FLOAT, 0.5, "how fast", min=0.0),
        Param("on", BOOL, True, "whether"),
        Param("mode", CHOICE, "b", "which", choices=("a", "b", "c")),
        Param("shape", INTS, (2, 3), "dims"),
    )
    form = SettingsForm([from_param(p) for p in params])
    qtbot.addWidget(form)
    f = form.fields
    assert isinstance(f["count"], QSpinBox)
    assert (f["count"].minimum(), f["count"].maximum(), f["count"].value()) == (1, 9, 3)
    assert isinstance(f["rate"], QLineEdit) and f["rate"].placeholderText() == "0.5"
    assert isinstance(f["on"], QCheckBox) and f["on"].isChecked()
    assert isinstance(f["mode"], QComboBox) and items(f["mode"]) == ["a", "b", "c"]
    assert f["mode"].currentText() == "b"
    assert isinstance(f["shape"], QLineEdit) and f["shape"].placeholderText() == "2, 3"
    for p in params:
        assert f[p.name].toolTip() == p.doc
        assert form.value(p.name) == p.default
    edits = []
    form.edited.connect(lambda name, value: edits.append((name, value)))
    f["count"].setValue(5)
    type_into(f["rate"], "1e-3")
    choose(f["mode"], text="c")
    f["on"].setChecked(False)
    type_into(f["shape"], "4, 5, 6")
    type_into(f["rate"], "")
    assert edits == [
        ("count", 5),
        ("rate", 0.001),
        ("mode", "c"),
        ("on", False),
        ("shape", [4, 5, 6]),
        ("rate", UNSET),
    ]
    form.set_values({"count": 7, "mode": "a"})  # showing values reports nothing
    assert f["count"].value() == 7 and f["mode"].currentText() == "a" and len(edits) == 6


def test_a_rejecting_form_shows_the_params_message_and_reports_nothing(qtbot):
    param = Param("beta", FLOAT, 1.0, "weight", min=0.0)
    form = SettingsForm([from_param(param)], reject_invalid=True)
    qtbot.addWidget(form)
    edits = []
    form.edited.connect(lambda name, value: edits.append(value))
    type_into(form.fields["beta"], "-1")
    assert not edits
    with pytest.raises(ValueError) as info:
        param.check(-1.0)
    assert form.error_text("beta") == str(info.value) == "expected a number >= 0, got -1.0"
    assert form.fields["beta"].property("invalid") is True
    type_into(form.fields["beta"], "2")
    assert edits == [2.0] and form.error_text("beta") == ""


# ----------------------------------------------------------------------------- the procedure


def test_every_procedure_is_offered_and_a_supervised_project_stays_as_it_was(make_panel):
    panel = make_panel()
    combo = panel.procedure_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(PROCEDURES)
    assert items(combo) == [spec.title for spec in PROCEDURES.values()]
    assert combo.currentData() == "supervised"
    assert "procedure" not in panel.training
    assert not panel.procedure_form.specs and panel.procedure_form.isHidden()
    before = copy.deepcopy(panel.training)
    count = panel.doc.undo.count()
    choose(combo, data="supervised")  # what it already learns by: nothing is written
    assert panel.training == before and panel.doc.undo.count() == count


def test_choosing_a_procedure_builds_its_form_and_undo_restores_the_previous(make_panel):
    panel = make_panel()
    before = copy.deepcopy(panel.training)
    choose(panel.procedure_combo, data="vae")
    assert panel.training["procedure"] == "vae"
    assert "procedure_settings" not in panel.training  # defaults are not written
    spec = PROCEDURES["vae"]
    form = panel.procedure_form
    assert list(form.specs) == [p.name for p in spec.settings]
    kinds = {p.name: p.kind for p in spec.settings}
    widget_of = {INT: QSpinBox, FLOAT: QLineEdit, BOOL: QCheckBox, CHOICE: QComboBox}
    for param in spec.settings:
        field = form.fields[param.name]
        assert isinstance(field, widget_of[kinds[param.name]]), param.name
        assert field.toolTip() == param.doc
        assert form.value(param.name) == param.default
    assert items(form.fields["recon_loss"]) == ["mse", "bce"]
    assert form.fields["recon_loss"].currentText() == "bce"  # the vae's default
    assert form.fields["warmup_epochs"].minimum() == 0
    assert panel.procedure_help.text() == spec.help
    assert not panel.training_form.isRowVisible(panel.loss_combo)  # recon_loss instead
    panel.doc.undo.undo()
    assert panel.training == before and "procedure" not in panel.training
    assert panel.procedure_combo.currentData() == "supervised"
    assert not panel.procedure_form.specs
    assert panel.training_form.isRowVisible(panel.loss_combo)


@pytest.mark.parametrize("name", list(PROCEDURES))
def test_the_loss_box_shows_only_for_procedures_that_use_it(make_panel, name):
    panel = make_panel()
    choose(panel.procedure_combo, data=name)
    assert panel.training_form.isRowVisible(panel.loss_combo) == PROCEDURES[name].uses_loss
    assert list(panel.procedure_form.specs) == [p.name for p in PROCEDURES[name].settings]
    assert panel.procedure_form.isHidden() == (not PROCEDURES[name].settings)
    parse_training(panel.training)  # the panel wrote a valid section


def test_editing_settings_writes_them_and_undo_restores_each(make_panel):
    panel = make_panel("vae_digits")
    doc, form = panel.doc, panel.procedure_form
    original = copy.deepcopy(panel.training["procedure_settings"])
    assert form.value("warmup_epochs") == original["warmup_epochs"]  # shown from the file
    type_into(form.fields["beta"], "0.5")
    assert panel.training["procedure_settings"]["beta"] == 0.5
    choose(form.fields["recon_loss"], text="mse")
    assert panel.training["procedure_settings"]["recon_loss"] == "mse"
    form.fields["warmup_epochs"].setValue(7)
    assert panel.training["procedure_settings"]["warmup_epochs"] == 7
    assert parse_training(panel.training).procedure_settings["beta"] == 0.5
    doc.undo.undo()
    assert panel.training["procedure_settings"]["warmup_epochs"] == original["warmup_epochs"]
    assert form.fields["warmup_epochs"].value() == original["warmup_epochs"]
    doc.undo.undo()
    assert form.fields["recon_loss"].currentText() == original["recon_loss"]
    doc.undo.undo()
    assert panel.training["procedure_settings"] == original
    assert form.value("beta") == original["beta"]


def test_emptying_a_setting_goes_back_to_its_default(make_panel):
    panel = make_panel(procedure="vae", procedure_settings={"beta": 4.0})
    assert panel.procedure_form.fields["beta"].text() == "4"
    type_into(panel.procedure_form.fields["beta"], "")
    assert "procedure_settings" not in panel.training
    assert panel.procedure_form.value("beta") == PROCEDURES["vae"].param("beta").default
    panel.doc.undo.undo()
    assert panel.training["procedure_settings"] == {"beta": 4.0}


def test_an_unknown_name_in_the_list_cannot_be_chosen(make_panel):
    panel = make_panel(procedure="vea")
    combo = panel.procedure_combo
    assert combo.count() == len(PROCEDURES) + 1
    choose(combo, text="vea")  # the name as written: nothing to write
    assert panel.training["procedure"] == "vea" and combo.currentText() == "vea"
    choose(combo, data="vae")
    assert panel.training["procedure"] == "vae"
    assert combo.count() == len(PROCEDURES)  # the unknown name is gone from the list


def test_a_bad_setting_shows_the_configs_message_and_training_does_not_start(make_panel):
    panel = make_panel()
    choose(panel.procedure_combo, data="vae")
    type_into(panel.procedure_form.fields["beta"], "-1")
    assert panel.training["procedure_settings"]["beta"] == -1.0  # written, undoable
    expected = config_problem(panel.training, "training.procedure_settings.beta")
    assert expected == "training.procedure_settings.beta: expected a number >= 0, got -1.0"
    assert panel.config_error.isVisibleTo(panel) and expected in panel.config_error.text()
    assert panel.procedure_form.error_text("beta") == "expected a number >= 0, got -1.0"
    assert panel.procedure_form.fields["beta"].property("invalid") is True
    assert not panel.start() and panel.trainer is None
    panel.doc.undo.undo()
    assert not panel.config_error.isVisibleTo(panel)
    assert panel.procedure_form.error_text("beta") == ""


def test_problems_in_the_file_are_shown_when_it_is_loaded(make_panel):
    panel = make_panel(procedure="vae", procedure_settings={"free_bits": -2, "gamma": 1})
    text = panel.config_error.text()
    for path in ("training.procedure_settings.free_bits", "training.procedure_settings.gamma"):
        assert config_problem(panel.training, path) in text
    assert panel.procedure_form.error_text("free_bits").startswith("expected a number >= 0")
    unknown = make_panel(procedure="vea")
    assert config_problem(unknown.training, "training.procedure") in unknown.config_error.text()
    assert 'did you mean "vae"' in unknown.config_error.text()
    assert unknown.procedure_combo.currentText() == "vea"  # shown as written
    assert unknown.procedure_combo.property("invalid") is True


def test_switching_keeps_the_settings_both_procedures_declare(make_panel):
    panel = make_panel(procedure="autoencoder", procedure_settings={"recon_loss": "bce"})
    choose(panel.procedure_combo, data="denoising")
    assert panel.training["procedure_settings"] == {"recon_loss": "bce"}
    assert panel.procedure_form.value("recon_loss") == "bce"
    assert panel.procedure_form.value("noise") == "gaussian"
    choose(panel.procedure_combo, data="supervised")
    assert panel.training["procedure"] == "supervised"
    assert "procedure_settings" not in panel.training
    panel.doc.undo.undo()
    panel.doc.undo.undo()
    assert panel.training["procedure"] == "autoencoder"
    assert panel.training["procedure_settings"] == {"recon_loss": "bce"}


def test_with_procedure_leaves_out_another_procedures_settings():
    training = {"procedure": "vae", "procedure_settings": {"recon_loss": "mse", "beta": 2.0}}
    assert with_procedure(training, "autoencoder")["procedure_settings"] == {"recon_loss": "mse"}
    assert "procedure_settings" not in with_procedure(training, "supervised")
    assert training["procedure_settings"]["beta"] == 2.0  # the input is not changed
    with pytest.raises(ConfigError) as info:
        with_procedure(training, "vea")
    assert 'did you mean "vae"' in str(info.value)


def test_loading_another_project_rebuilds_the_form(make_panel):
    panel = make_panel()
    vae = EditorDocument(load(assets.example("vae_digits"), CATALOG))
    panel.set_document(vae, None)
    assert panel.procedure_combo.currentData() == "vae"
    assert list(panel.procedure_form.specs) == [p.name for p in PROCEDURES["vae"].settings]
    settings = vae.project.training["procedure_settings"]
    for name, value in settings.items():
        assert panel.procedure_form.value(name) == value
    panel.set_document(EditorDocument(load(assets.example("xor_mlp"), CATALOG)), None)
    assert panel.procedure_combo.currentData() == "supervised"
    assert not panel.procedure_form.specs and panel.training_form.isRowVisible(panel.loss_combo)


def test_a_supervised_run_chosen_in_the_list_trains(qtbot, make_panel):
    panel = make_panel(epochs=3)
    choose(panel.procedure_combo, data="vae")
    choose(panel.procedure_combo, data="supervised")
    assert panel.training["procedure"] == "supervised"
    assert panel.start()
    qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)
    assert panel.last_error is None and panel.status.text().startswith("Finished")
    assert panel.last_trainer.config.procedure == "supervised"


# ----------------------------------------------------------------------------- dataset options


def _no_quotes_or_braces(panel: TrainingPanel) -> None:
    for name, field in panel._option_edits.items():
        texts = []
        if isinstance(field, QLineEdit):
            texts = [field.text(), field.placeholderText()]
        elif isinstance(field, QComboBox):
            texts = items(field)
        for text in texts:
            assert not set(text) & set("\"'{}"), (name, text)


def test_dataset_options_are_typed_fields_without_quotes_or_braces(make_panel):
    panel = make_panel("digits_cnn")
    edits = panel._option_edits
    assert isinstance(edits["normalise"], QComboBox)
    assert items(edits["normalise"]) == ["none", "minmax", "zscore"]
    assert isinstance(edits["flat"], QCheckBox)
    assert "augment" not in edits
    assert isinstance(edits["augment.flip"], QCheckBox)
    assert isinstance(edits["augment.shift"], QLineEdit)
    assert isinstance(edits["augment.noise"], QLineEdit)
    assert edits["validation"].placeholderText() == "0.2"
    _no_quotes_or_braces(panel)
    form = panel.dataset_box.form.layout_
    labels = [form.itemAt(i, QFormLayout.ItemRole.LabelRole) for i in range(form.rowCount())]
    shown = [item.widget().text() for item in labels if item is not None]
    assert shown[-3:] == ["flip", "shift", "noise"]


def test_dataset_option_edits_are_written_and_undone(make_panel):
    panel = make_panel("digits_cnn")
    dataset = lambda: panel.training["dataset"]  # noqa: E731
    original = copy.deepcopy(dataset())
    choose(panel._option_edits["normalise"], text="zscore")
    assert dataset()["normalise"] == "zscore"
    panel._option_edits["augment.flip"].setChecked(True)
    assert dataset()["augment"] == {"flip": True}
    type_into(panel._option_edits["augment.shift"], "2")
    assert dataset()["augment"] == {"flip": True, "shift": 2}
    panel._option_edits["augment.flip"].setChecked(False)  # off: the key goes
    assert dataset()["augment"] == {"shift": 2}
    type_into(panel._option_edits["augment.shift"], "")
    assert "augment" not in dataset()
    panel._option_edits["flat"].setChecked(True)
    assert dataset()["flat"] is True
    for _ in range(6):
        panel.doc.undo.undo()
    assert dataset() == original
    assert panel._option_edits["normalise"].currentText() == original.get("normalise", "none")


def test_a_choice_of_words_and_booleans_writes_the_boolean(make_panel):
    panel = make_panel()
    panel.dataset_combo.setCurrentText("csv")
    panel._dataset_chosen()
    header = panel._option_edits["header"]
    assert items(header) == ["auto", "true", "false"]
    choose(header, text="false")
    assert panel.training["dataset"]["header"] is False
    assert "training.dataset.path: required" in panel.dataset_box.problems.text()
    assert panel._option_edits["path"].placeholderText() == "(required)"


def test_a_bad_dataset_option_shows_the_data_layers_message(make_panel):
    panel = make_panel()
    panel.dataset_combo.setCurrentText("moons")
    panel._dataset_chosen()
    assert not panel.dataset_box.problems.isVisibleTo(panel)
    type_into(panel._option_edits["samples"], "-3")
    problems = panel.dataset_box.problems
    assert problems.isVisibleTo(panel)
    assert (
        "training.dataset.samples: expected an integer from 2 to 10000000, got -3"
        in problems.text()
    )
    assert (
        panel.dataset_box.form.error_text("samples")
        == "expected an integer from 2 to 10000000, got -3"
    )
    type_into(panel._option_edits["augment.noise"], "-1")
    assert "training.dataset.augment.noise: expected a number >= 0" in problems.text()
    assert panel.dataset_box.form.error_text("augment.noise").startswith("expected a number")
    panel.doc.undo.undo()
    panel.doc.undo.undo()
    assert not problems.isVisibleTo(panel)


def test_flip_and_shift_are_offered_for_images_only(make_panel):
    panel = make_panel()
    panel.dataset_combo.setCurrentText("moons")
    panel._dataset_chosen()
    assert not panel._option_edits["augment.flip"].isEnabled()
    assert not panel._option_edits["augment.shift"].isEnabled()
    assert panel._option_edits["augment.noise"].isEnabled()
    panel.dataset_combo.setCurrentText("digits")
    panel._dataset_chosen()
    assert panel._option_edits["augment.flip"].isEnabled()


# ----------------------------------------------------------------------------- widths


def _text_room(combo: QComboBox) -> int:
    """The width a combo box has for its text (its frame and arrow left out)."""
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    rect = combo.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox,
        option,
        QStyle.SubControl.SC_ComboBoxEditField,
        combo,
    )
    return rect.width()


@pytest.mark.parametrize("example", ["xor_mlp", "vae_digits"])
def test_at_its_narrowest_the_panel_cuts_nothing_off(qtbot, make_panel, example):
    panel = make_panel(example)
    panel.resize(panel.minimumSizeHint().width(), panel.minimumSizeHint().height())
    panel.show()
    qtbot.waitExposed(panel)
    settle(panel)
    # the loss box holds its longest loss, whether it is shown or not
    metrics = panel.loss_combo.fontMetrics()
    if panel.training_form.isRowVisible(panel.loss_combo):
        assert _text_room(panel.loss_combo) >= metrics.horizontalAdvance("cross_entropy")
        assert _text_room(panel.loss_combo) >= max(map(metrics.horizontalAdvance, LOSSES))
    assert panel.loss_combo.minimumSizeHint().width() > metrics.horizontalAdvance("cross_entropy")
    fields = [*panel.procedure_form.fields.values(), *panel._option_edits.values()]
    fields.append(panel.procedure_combo)
    for field in fields:
        if not field.isVisibleTo(panel):
            continue
        top_left = field.mapTo(panel, field.rect().topLeft())
        assert panel.rect().contains(top_left) and top_left.x() + field.width() <= panel.width()
        if isinstance(field, QComboBox):
            longest = max(map(field.fontMetrics().horizontalAdvance, items(field)))
            assert _text_room(field) >= longest, field.objectName()
