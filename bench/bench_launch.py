"""Launch time: from process start to the first main window shown. Goal < 2 s.

Each run spawns a fresh interpreter (``--child``) that imports the app, loads the project
(the XOR example, as ``neuralcanvas`` without a file), creates the ``MainWindow``, shows it
and processes events; it prints the time since the parent's timestamp taken just before
the spawn (passed in the environment), so interpreter start-up is included. It also reports
whether torch was imported by then (it must not be: torch loads in a background thread
after the window is up).

Baselines, spawned the same way in the same run and interleaved with it:

- ``python -c pass``: the bare interpreter start-up;
- a ``QApplication`` with an empty ``QMainWindow`` shown: what any Qt window costs.

    .venv/bin/python bench/bench_launch.py [--runs 5] [--file PROJECT] [--platform NAME]

``--platform`` sets ``QT_QPA_PLATFORM`` for the children (default ``offscreen``, so it runs
headless; use ``xcb`` / ``wayland`` / ``cocoa`` on a desktop). Median of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 2.0
T0_ENV = "NEURALCANVAS_BENCH_T0"


# ----------------------------------------------------------------------------- children


def _since_start() -> float:
    return time.time() - float(os.environ[T0_ENV])


def child_app(file: str | None) -> None:
    """What ``neuralcanvas [FILE]`` does up to the first window shown."""
    marks = {"interpreter": _since_start()}
    sys.path.insert(0, str(ROOT))
    from builder.catalog.layers import CATALOG
    from graph.project_file import load
    from widgets.app import application
    from widgets.main_window import MainWindow

    marks["imports"] = _since_start()
    import assets

    path = Path(file) if file else assets.example("xor_mlp")
    project = load(path, CATALOG)
    app = application()
    window = MainWindow(project, None if file is None else path, autosave_ms=0)
    marks["window"] = _since_start()
    window.show()
    app.processEvents()
    marks["shown"] = _since_start()
    marks["torch_imported"] = "torch" in sys.modules
    print(json.dumps(marks))
    window.doc.undo.setClean()
    window.close()


def child_qt() -> None:
    """The baseline: the cheapest Qt window."""
    marks = {"interpreter": _since_start()}
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(1400, 860)
    window.show()
    app.processEvents()
    marks["shown"] = _since_start()
    print(json.dumps(marks))


# ----------------------------------------------------------------------------- parent


def spawn(args: list[str], env: dict[str, str]) -> dict:
    env = dict(env)
    env[T0_ENV] = repr(time.time())
    started = time.time()
    out = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    wall = time.time() - started
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    marks = json.loads(lines[-1]) if lines else {}
    marks["wall"] = wall
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--file", help="project to open (default: the XOR example)")
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for children")
    parser.add_argument("--child", choices=("app", "qt"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "app":
        child_app(args.file)
        return 0
    if args.child == "qt":
        child_qt()
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["QT_QPA_PLATFORM"] = args.platform
        env["NEURALCANVAS_DATA_DIR"] = str(Path(tmp) / "data")
        env["NEURALCANVAS_CONFIG_DIR"] = str(Path(tmp) / "config")
        me = str(Path(__file__).resolve())
        app_args = [me, "--child", "app"] + (["--file", args.file] if args.file else [])
        spawn(app_args, env)  # warm the OS file cache; not counted
        bare, qt, app = [], [], []
        for _ in range(args.runs):
            bare.append(spawn(["-c", "pass"], env)["wall"])
            qt.append(spawn([me, "--child", "qt"], env))
            app.append(spawn(app_args, env))

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    shown = med(app, "shown")
    qt_shown = med(qt, "shown")
    torch_seen = any(r["torch_imported"] for r in app)
    ok = shown < GOAL_S and not torch_seen
    print(
        f"Launch time, median of {args.runs} ({platform.python_version()}, "
        f"{os.cpu_count()} CPUs, QT_QPA_PLATFORM={args.platform})"
    )
    print(f"  bare interpreter (python -c pass)      {statistics.median(bare) * 1000:7.0f} ms")
    print(f"  empty QMainWindow shown (baseline)     {qt_shown * 1000:7.0f} ms")
    print(f"  NeuralCanvas window shown              {shown * 1000:7.0f} ms")
    print(f"    interpreter up                       {med(app, 'interpreter') * 1000:7.0f} ms")
    print(f"    imports done (Qt, editor, catalog)   {med(app, 'imports') * 1000:7.0f} ms")
    print(f"    project loaded, window built         {med(app, 'window') * 1000:7.0f} ms")
    runs = ", ".join(f"{r['shown'] * 1000:.0f}" for r in app)
    print(f"  all runs: {runs} ms")
    print(f"  ratio to the empty Qt window: {shown / qt_shown:.2f}x")
    print(f"  torch imported before the window was shown: {'YES' if torch_seen else 'no'}")
    print(f"Goal < {GOAL_S:.0f} s, torch not imported: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
