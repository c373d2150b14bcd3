"""Step mode through the real widgets: the textbook's competitive-learning example, stepped
from an idle panel, shows each update's arithmetic number for number in the Step tab."""

from __future__ import annotations

WAIT = 20_000
SAMPLES = ["[1, 0, 1, 0]", "[1, 0, 0, 0]", "[1, 1, 1, 1]", "[0, 1, 1, 0]"]

# (winner, the winner's weights after the update) for the four samples, as worked by hand
TEXTBOOK = [
    (0, "[0.72, 0.2, 0.88, 0.08]"),
    (0, "[0.888, 0.08, 0.352, 0.032]"),
    (1, "[0.84, 0.88, 0.76, 0.72]"),
    (1, "[0.336, 0.952, 0.904, 0.288]"),
]


def test_step_from_idle_works_the_textbook_example_one_sample_at_a_time(qtbot, make_panel):
    panel = make_panel("som_competitive_4x4")
    dash = panel.dashboard
    dash.resize(1200, 800)
    dash.show()  # views draw when they are seen
    assert panel.step_button.isEnabled()  # idle: Step starts a run, paused after one update
    for k, (winner, after) in enumerate(TEXTBOOK):
        panel.step_button.click()
        qtbot.waitUntil(
            lambda k=k: panel.state == "paused" and panel.trainer.step == k + 1, timeout=WAIT
        )
        tabs = [dash.tabs.tabText(i) for i in range(dash.tabs.count())]
        dash.tabs.setCurrentIndex(tabs.index("Step"))  # where the arithmetic is

        def shown(winner=winner, after=after):
            view = dash.views.widgets["update"]
            return view.is_highlighted(winner) and view.cell_text(winner, 4) == after

        qtbot.waitUntil(shown, timeout=WAIT)
        view = dash.views.widgets["update"]
        assert view.lines.text().splitlines()[0] == f"sample x = {SAMPLES[k]}   (update t = {k})"
    first = panel.trainer
    assert first.step == 4
    panel.stop()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=WAIT)
