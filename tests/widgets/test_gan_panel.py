"""A GAN in the Training panel: the two networks chosen per role (undoable), each role's
optimiser, Step D / Step G moving one network each, and the health badges on both tabs.
Short real runs in the worker thread; the panel fixture joins every trainer."""

from __future__ import annotations

import torch

WAIT = 30_000  # ms; a bound against hangs only


def params(trainer, role: str) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.models[role].parameters()]


def moved(before: list[torch.Tensor], after: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def badged(panel) -> set[str]:
    net = panel.doc.net
    return {
        net.name_of(node_id)
        for node_id, item in panel.canvas.nodes.items()
        if item.badge is not None and item.badge.isVisible()
    }


def test_roles_are_chosen_in_the_panel_and_undone(qtbot, make_panel, errors):
    panel = make_panel("gan_digits")
    form, doc = panel.roles_form, panel.doc
    assert not form.isHidden()
    assert form.networks["generator"].currentText() == "generator"
    assert form.networks["discriminator"].currentText() == "discriminator"
    # each role has its own optimiser, so the shared one's rows are gone
    assert not panel.training_form.isRowVisible(panel.lr_spin)
    assert form.rates["generator"].value() == 2e-4
    assert set(panel.phase_buttons) == {"discriminator", "generator"}

    box = form.networks["discriminator"]
    box.setCurrentText("generator")
    box.activated.emit(box.currentIndex())
    assert doc.project.training["roles"]["discriminator"] == "generator"
    assert panel.start()  # the networks are bound in the worker: it says why it cannot
    qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)
    assert "bound to both" in errors[-1][1] and "training.roles" in errors[-1][1]
    doc.undo.undo()
    assert "discriminator" not in doc.project.training.get("roles", {})
    assert box.currentText() == "discriminator"

    form.rates["generator"].setValue(0.001)
    form.rates["generator"].editingFinished.emit()
    assert doc.project.training["optimizers"]["generator"]["lr"] == 0.001

    # a one-network procedure shows no roles and no phase buttons
    panel.set_training({**doc.project.training, "procedure": "supervised"}, "procedure")
    assert form.isHidden() and panel.phase_buttons == {}
    assert panel.training_form.isRowVisible(panel.lr_spin)


def test_step_d_and_step_g_move_one_network_and_badge_both_tabs(qtbot, make_panel):
    panel = make_panel("gan_digits", epochs=1_000_000, report_every=1_000)
    assert panel.start()
    trainer = panel.trainer
    qtbot.waitUntil(lambda: panel.step > 0, timeout=WAIT)
    assert not panel.phase_buttons["discriminator"].isEnabled()  # running
    panel.pause()
    qtbot.waitUntil(lambda: trainer.state == "paused", timeout=WAIT)
    roles = ("discriminator", "generator")
    # Step D, Step G, then Step (a full iteration again: both)
    for button, moving in (
        (panel.phase_buttons["discriminator"], {"discriminator"}),
        (panel.phase_buttons["generator"], {"generator"}),
        (panel.step_button, set(roles)),
    ):
        assert button.isEnabled()
        before = {role: params(trainer, role) for role in roles}
        at = trainer.step
        button.click()

        def paused_again(at=at):
            last = trainer.history.events[-1]
            return last.kind == "status" and last.state == "paused" and last.step == at + 1

        qtbot.waitUntil(paused_again, timeout=WAIT)
        assert {r for r in roles if moved(before[r], params(trainer, r))} == moving
    # both tabs show their own network's badges from the newest report
    qtbot.waitUntil(lambda: bool(badged(panel)), timeout=WAIT)
    assert panel.doc.current == "generator" and {"fc1", "fc2"} <= badged(panel)
    panel.doc.set_current("discriminator")
    assert {"fc1", "fc2"} <= badged(panel)
    assert panel.doc.current == "discriminator"
    panel.stop()
    qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)
