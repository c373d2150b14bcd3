"""Soak test of the live plots: 600 dashboard updates, each repainted, in a child
process.

Some PySide6 + pyqtgraph combinations abort the interpreter while repainting a plot
(PySide6 6.12.0 + pyqtgraph 0.14.0: "Fatal Python error: none_dealloc", see DESIGN.md). A
crash like that cannot be caught in the test process, so the loop runs in a child process
and the test checks that it got to the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPDATES = 600  # 600 updates, each repainted: 12-15 s on one slow core (painting is most of it)
DONE = "soak done"

CHILD = textwrap.dedent(
    """
    import sys

    import numpy as np
    from PySide6.QtWidgets import QApplication

    from builder.training.config import HealthThresholds
    from builder.training.records import EpochRecord, Histogram, ProbeRecord, StatusRecord, StepRecord
    from widgets.dashboard import Dashboard

    updates = int(sys.argv[1])
    app = QApplication([])
    dash = Dashboard()
    dash.resize(1000, 520)
    dash.show()
    app.processEvents()
    rng = np.random.default_rng(0)
    layers = ["conv1", "conv2", "fc1", "fc2", "out"]
    gx = tuple(np.linspace(-2, 2, 40).tolist())
    gy = tuple(np.linspace(-1, 1, 30).tolist())
    xx, yy = np.meshgrid(gx, gy)
    points = (rng.uniform(-2, 2, (200, 2)), rng.integers(0, 2, 200))
    dash.begin_run("soak", HealthThresholds(), points=points)
    step, epoch, per_report = 0, 1, 5
    for i in range(updates):
        losses = tuple(
            float(2.0 / (1 + 0.01 * (step + k)) + 0.1 * rng.random()) for k in range(per_report)
        )
        if i == updates // 2:
            losses = (float("nan"),) + losses[1:]  # one bad step: drawn as a gap
        first, step = step + 1, step + per_report
        norms = {name: float(10.0 ** rng.uniform(-8, 4)) for name in layers}
        if i % 97 == 0:
            norms["fc2"] = 0.0 if i % 2 else float("inf")  # clamped to the plot's limits
        records = [
            StepRecord(
                epoch, step, first, losses, float(np.nanmean(losses)), 1e4, 0.01, 0.01 * i,
                grad_norms=norms,
            )
        ]
        if i % 5 == 4:
            val = None if epoch % 7 == 0 else float(np.nanmean(losses)) * 1.1
            metrics = {"accuracy": min(1.0, 0.5 + 0.001 * i), "f1": min(1.0, 0.4 + 0.001 * i)}
            if epoch % 3 == 0:
                metrics["confusion"] = [[int(10 + i % 5), 2], [3, int(9 + i % 7)]]
            records.append(EpochRecord(epoch, step, losses[-1], val, metrics, 0.01, 0.01 * i, True))
            epoch += 1
        if i % 10 == 0:
            counts = tuple(int(c) for c in rng.integers(0, 50, 30))
            edges = tuple(np.linspace(-1, 1, 31).tolist())
            grid = (1 / (1 + np.exp(-(xx * yy) * (1 + i / 300)))).astype(np.float32)
            records.append(
                ProbeRecord(epoch, step, "fc1", Histogram(counts, edges), Histogram(counts, edges),
                            gx, gy, grid)
            )
        dash.add_records(records)
        dash.refresh()
        if i % 150 == 0:
            dash.tabs.setCurrentIndex((i // 150) % dash.tabs.count())
        if i % 400 == 200:
            dash.set_log_scale(not dash.log_y.isChecked())
        if i % 1000 == 500:  # a second run, compared with the first, then back
            first_run = dash.current
            dash.begin_run("soak", HealthThresholds(), points=points)
            dash.compare(first_run, dash.current)
            dash.show_current()
        if i % 10 == 0:
            dash.repaint()  # the synchronous path too
        app.processEvents()  # paints the views of the shown tab
    dash.add_records([StatusRecord("finished", epoch, step)])
    dash.refresh()
    dash.repaint()
    app.processEvents()
    assert dash.refreshes >= updates, dash.refreshes
    print("soak done", dash.refreshes, "refreshes", len(dash.runs), "runs", flush=True)
    """
)


def test_hundreds_of_updates_each_repainted_do_not_crash():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONFAULTHANDLER"] = "1"  # a crash prints the Python stack of every thread
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(UPDATES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"the child exited with {proc.returncode}:\n{tail}"
    assert DONE in proc.stdout, tail
