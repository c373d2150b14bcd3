"""Live training dashboard benchmarks: the GUI stays responsive while a network trains in the
background (figure A), plots redraw long curves within a frame (B), a long run with the
dashboard open keeps its memory in bounds (C), and the dashboard costs training little speed
against headless ``neuralcanvas train`` (D). Goals are printed as PASS / FAIL, never asserted.

    .venv/bin/python bench/bench_dashboard.py            # full run (7 to 10 minutes on 2 cores)
    .venv/bin/python bench/bench_dashboard.py --quick    # smoke run (under 2 minutes)
    .venv/bin/python bench/bench_dashboard.py --only B --profile   # B with cProfile listings
    .venv/bin/python bench/bench_dashboard.py --only A --example gan_digits   # A with a GAN

Everything runs on Qt's ``offscreen`` platform (raster painting, no GPU). See bench/README.md
("Dashboard") for what each figure means and the latest numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402

import assets  # noqa: E402
from builder.catalog.layers import CATALOG  # noqa: E402
from builder.training.config import HealthThresholds  # noqa: E402
from builder.training.records import EpochRecord, StepRecord, frozen  # noqa: E402
from graph.project_file import load  # noqa: E402
from widgets.app import application, preload_torch  # noqa: E402
from widgets.main_window import MainWindow  # noqa: E402
from widgets.plots import GradientPlot, Ring  # noqa: E402

# Goals (the "Live training dashboard" issue; see bench/README.md, "Dashboard").
PROBE_MS = 10  # the GUI timer whose lateness figure A measures
GOAL_LATE_P99_MS = 16.0
GOAL_LATE_MAX_MS = 50.0
GOAL_REFRESH_P95_MS = 16.0
GOAL_GROWTH_MIB = 50e6 / 2**20  # 50 MB
GOAL_SPEED_RATIO = 0.9
GOAL_GRID_AGE_S = 1.0  # figure A: how far behind the trainer an image grid may be
CURVES, POINTS = 10, 10_000  # figure B
MEMORY_STEPS = 100_000  # figure C
D_EPOCHS = 20  # figure D: digits_cnn.json as the file sets it

ROWS: list[dict[str, str]] = []  # the summary table
RESULTS: dict[str, Any] = {}
ERRORS: list[str] = []  # error dialogs the app would have shown


def now() -> float:
    return time.perf_counter()


def cpu() -> float:
    """CPU time of the calling thread (the GUI thread, in this process)."""
    return time.thread_time()


def pct(xs: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if len(xs) else math.nan


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def row(figure: str, measured: str, baseline: str, goal: str, ok: bool | None) -> None:
    result = "" if ok is None else ("PASS" if ok else "FAIL")
    ROWS.append(
        {
            "figure": figure,
            "measured": measured,
            "baseline": baseline,
            "goal": goal,
            "result": result,
        }
    )


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


class OtherLoad:
    """CPU that other processes used while a figure ran, in cores (from /proc/stat, minus
    this process and the children it waited for): on a shared machine, read the figures
    next to it."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self) -> None:
        self.t, self.busy, self.own = now(), self._busy(), self._own()

    @staticmethod
    def _busy() -> int:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:3]) + sum(v[5:8])  # user nice system + irq softirq steal

    @staticmethod
    def _own() -> int:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])  # utime stime cutime cstime

    def cores(self) -> float:
        dt = now() - self.t
        other = (self._busy() - self.busy) - (self._own() - self.own)
        return max(0.0, other / self.HZ / dt) if dt > 0 else math.nan

    def own_cores(self) -> float:
        dt = now() - self.t
        return (self._own() - self.own) / self.HZ / dt if dt > 0 else math.nan


# ----------------------------------------------------------------------------- the app


SOM_MAP: tuple[int, int] | None = None  # --som-map ROWSxCOLS


def open_window(example: str, training: dict[str, Any]) -> MainWindow:
    """The main window on an example (its ``training`` section updated), as ``neuralcanvas``
    shows it: 1400x860, the Dashboard tab raised, torch loaded in the background."""
    app = application()
    project = load(assets.example(example), CATALOG)
    project.training.update(training)
    if SOM_MAP is not None:  # --som-map: every SOM layer of the example that size
        for net in project.networks.values():
            for node in net.nodes:
                if net.type_of(node) == "SOM":
                    net.set_param(node, "rows", SOM_MAP[0])
                    net.set_param(node, "cols", SOM_MAP[1])
    window = MainWindow(project, None, autosave_ms=0)
    # The dialogs a run may raise are recorded instead (a modal dialog would block the bench).
    window.show_error = lambda title, message: ERRORS.append(f"{title}: {message}")
    window.ask_save_changes = lambda: "discard"
    window.resize(1400, 860)
    window.show()
    for _ in range(3):
        app.processEvents()
    window.dashboard_dock.show()
    window.dashboard_dock.raise_()
    for _ in range(3):
        app.processEvents()
    preload_torch().join()
    return window


def close_window(window: MainWindow) -> None:
    window.doc.undo.setClean()
    window.close()
    application().processEvents()


def train_in_window(window: MainWindow, seconds: float | None, limit: float = 600.0) -> bool:
    """Train > Start, run the event loop, Train > Stop after ``seconds`` (None: let the run
    finish); returns once the training panel is idle again and the dashboard has drawn the
    run's end (False if it never started)."""
    panel = window.training
    loop = QEventLoop()
    began: list[str] = []
    t0 = now()

    def settled() -> None:  # the run's end drawn too (a plot group per turn)
        if panel.settled:
            QTimer.singleShot(100, loop.quit)
        else:
            QTimer.singleShot(10, settled)

    def changed(state: str) -> None:
        if state != "idle":
            began.append(state)
        elif began:
            settled()

    def guard() -> None:  # a run that failed to start, or one far over its time
        if (not began and now() - t0 > 10) or now() - t0 > limit:
            loop.quit()

    panel.state_changed.connect(changed)
    watchdog = QTimer()
    watchdog.timeout.connect(guard)
    watchdog.start(500)
    QTimer.singleShot(100, window.start_action.trigger)
    if seconds is not None:
        QTimer.singleShot(100 + int(seconds * 1000), window.stop_action.trigger)
    loop.exec()
    watchdog.stop()
    panel.state_changed.disconnect(changed)
    if panel.state != "idle":  # over the limit: stop and wait
        window.stop_action.trigger()
        while panel.state != "idle" and now() - t0 < limit + 30:
            application().processEvents()
            time.sleep(0.01)
    return bool(began)


def idle_loop(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def last_records(window: MainWindow) -> tuple[StepRecord | None, EpochRecord | None]:
    run = window.dashboard.current
    if run is None:
        return None, None
    steps = list(run.history.steps())
    epochs = run.history.epochs
    return (steps[-1] if steps else None), (epochs[-1] if epochs else None)


class Meter:
    """Timing wrappers around pyqtgraph's paint methods, installed once when this module is
    imported: PySide looks a Python override up once per object, so a method replaced after
    a view has painted is not called. Off, a wrapper only counts view paints; :meth:`spans`
    records when each view paint started and ended; :meth:`method_cpu` adds up the GUI thread's
    CPU time per method (outermost calls)."""

    paints = 0
    _spans: list[tuple[float, float]] | None = None
    _cpu: dict[str, float] | None = None

    @classmethod
    def install(cls) -> None:
        for key, klass, name in (
            ("views", pg.GraphicsView, "paintEvent"),
            ("curves", pg.PlotCurveItem, "paint"),
            ("axes", pg.AxisItem, "paint"),
            ("legends", pg.LegendItem, "paint"),
            ("bands", pg.LinearRegionItem, "paint"),
            ("view boxes", pg.ViewBox, "paint"),
            ("scatter", pg.ScatterPlotItem, "paint"),
            ("images", pg.ImageItem, "paint"),
            ("auto-range before painting", pg.GraphicsScene, "prepareForPaint"),
        ):
            setattr(klass, name, cls._wrap(key, getattr(klass, name)))

    @classmethod
    def _wrap(cls, key: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        depth = [0]

        def wrapper(*args: Any) -> Any:
            if key == "views":
                cls.paints += 1
            if cls._spans is None and cls._cpu is None:
                return orig(*args)
            depth[0] += 1
            t, c = now(), cpu()
            try:
                return orig(*args)
            finally:
                depth[0] -= 1
                if cls._spans is not None and key == "views":
                    cls._spans.append((t, now()))
                if cls._cpu is not None and depth[0] == 0:
                    cls._cpu[key] = cls._cpu.get(key, 0.0) + cpu() - c

        return wrapper

    @classmethod
    @contextmanager
    def spans(cls) -> Iterator[list[tuple[float, float]]]:
        cls._spans = spans = []
        try:
            yield spans
        finally:
            cls._spans = None

    @classmethod
    @contextmanager
    def method_cpu(cls) -> Iterator[dict[str, float]]:
        cls._cpu = totals = {}
        try:
            yield totals
        finally:
            cls._cpu = None


Meter.install()


class Ticks:
    """The training panel's ticks (records relayed, dashboard refreshed): start and end of
    each, and their GUI CPU time."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.cpu = 0.0


@contextmanager
def tick_spans(window: MainWindow) -> Iterator[Ticks]:
    """The panel's timer reconnected to a timing wrapper while the context lasts."""
    panel = window.training
    ticks = Ticks()

    def tick() -> None:
        t, c = now(), cpu()
        try:
            panel.tick()
        finally:
            ticks.spans.append((t, now()))
            ticks.cpu += cpu() - c

    try:
        panel.timer.timeout.disconnect(panel.tick)
    except (RuntimeError, TypeError):  # wired differently: no tick figures
        yield ticks
        return
    panel.timer.timeout.connect(tick)
    try:
        yield ticks
    finally:
        panel.timer.timeout.disconnect(tick)
        panel.timer.timeout.connect(panel.tick)


class TrainerCpu:
    """How much of the time the trainer's thread was on a CPU while it trained: its CPU time
    (from /proc/self/task/<tid>/stat) over the wall time, read every 50 ms. Below 100 % with
    cores to spare, it waits for the GIL."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self) -> None:
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.timer = QTimer()
        self.timer.timeout.connect(self._read)

    def _read(self) -> None:
        worker = next((t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"), None)
        if worker is None or worker.native_id is None:
            return
        try:
            with open(f"/proc/self/task/{worker.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread has just ended
            return
        reading = (now(), (int(fields[11]) + int(fields[12])) / self.HZ)
        if self.first is None:
            self.first = reading
        self.last = reading

    def __enter__(self) -> TrainerCpu:
        self.timer.start(50)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timer.stop()

    @property
    def share(self) -> float:
        if self.first is None or self.last is None or self.last[0] - self.first[0] < 0.2:
            return math.nan
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


class GridWatch:
    """What :class:`SampleAge` saw during one probe: the image-grid payloads the worker made
    while it trained (time, step) and the draws of them (time drawn, time made, step, the
    trainer's step then)."""

    def __init__(self) -> None:
        self.made: list[tuple[float, int]] = []
        self.draws: list[tuple[float, float, int, int]] = []


class SampleAge:
    """How far behind the trainer the dashboard's image grids (a GAN's or a VAE's samples)
    are: the worker's probes (``ViewProber.records``) note when each image-grid payload was
    made, and each ``ImageGridView.draw`` of one notes when it reached the widget (its paint
    follows in the same turn of the event loop) and the trainer's step then. Both wrappers are
    installed on the classes when this module is imported (the worker looks the method up at
    every call); outside :meth:`watch` they only note the probe times."""

    _probed: dict[int, tuple[float, int]] = {}  # id(payload) -> (time made, step)
    _watch: GridWatch | None = None
    window: MainWindow | None = None

    @classmethod
    def install(cls) -> None:
        from builder.training.probes import ViewProber
        from widgets.views.images import ImageGridView

        records, draw = ViewProber.records, ImageGridView.draw

        def timed_records(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = records(self, *args, **kwargs)
            final = kwargs.get("final", args[2] if len(args) > 2 else False)
            t = now()
            for record in out:
                if record.view_kind == "image_grid":
                    if len(cls._probed) > 10_000:
                        cls._probed.clear()
                    cls._probed[id(record.payload)] = (t, record.step)
                    if cls._watch is not None and not final:  # the last, after the run: no
                        cls._watch.made.append((t, record.step))
            return out

        def timed_draw(self: Any, payload: Any) -> None:
            draw(self, payload)
            made = cls._probed.get(id(payload))
            trainer = cls.window.training.trainer if cls.window is not None else None
            if cls._watch is not None and made is not None and trainer is not None:
                if trainer.alive:  # a grid drawn after the run ended is behind nothing
                    cls._watch.draws.append((now(), made[0], made[1], trainer.step))

        ViewProber.records = timed_records
        ImageGridView.draw = timed_draw

    @classmethod
    @contextmanager
    def watch(cls, window: MainWindow) -> Iterator[GridWatch]:
        cls._watch, cls.window = seen, _ = GridWatch(), window
        try:
            yield seen
        finally:
            cls._watch, cls.window = None, None

    @staticmethod
    def summary(seen: GridWatch) -> dict[str, Any]:
        """From the first payload made to the last one made while the trainer trained: at
        each draw, how old the drawn samples were (made -> drawn) and how many steps the
        trainer had gone on; and how old the grid on screen got (now - made of the grid shown,
        largest just before each draw and at the end; before the first draw of the run, the
        age of the first payload that was not shown): what the learner sees lags by up to it."""
        made, draws = seen.made, [d for d in seen.draws if seen.made and d[0] >= seen.made[0][0]]
        if not made:
            return {}
        start, end = made[0][0], made[-1][0]
        at_draw = [(d - m) * 1e3 for d, m, _, _ in draws]
        behind = [s_now - s for _, _, s, s_now in draws]
        shown_made = start  # nothing of this run on screen yet: stale since the first payload
        ages = []
        for drawn, made_at, _, _ in draws:
            if drawn > end:
                break
            ages.append((drawn - shown_made) * 1e3)
            shown_made = made_at
        ages.append((end - shown_made) * 1e3)
        gaps = [(b[0] - a[0]) * 1e3 for a, b in zip(draws, draws[1:])]
        return {
            "made": len(made),
            "seconds": end - start,
            "draws": len(draws),
            "at_draw_ms": (
                {"p50": pct(at_draw, 50), "p95": pct(at_draw, 95), "max": max(at_draw)}
                if at_draw
                else {}
            ),
            "steps_behind": {"p50": pct(behind, 50), "max": max(behind)} if behind else {},
            "shown_age_ms": {"p50": pct(ages, 50), "p95": pct(ages, 95), "max": max(ages)},
            "between_draws_ms": {"p50": pct(gaps, 50), "max": max(gaps)} if gaps else {},
        }


SampleAge.install()


def overlap(spans: list[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in spans if s < b and e > a)


# ----------------------------------------------------------------------------- figure A


def probe_lateness(window: MainWindow, seconds: float, train: bool) -> dict[str, Any]:
    """A 10 ms ``PreciseTimer`` in the GUI thread for ``seconds`` (and, with ``train``, over
    a whole training run started and stopped from the Train menu)."""
    wall: list[float] = []
    gui: list[float] = []

    def fired() -> None:
        wall.append(now())
        gui.append(cpu())

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(fired)
    load = OtherLoad()
    gcs: list[tuple[float, float, int]] = []  # (start, end, generation)
    started: list[float] = []

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(now())
        elif started:
            gcs.append((started.pop(), now(), info["generation"]))

    gc.callbacks.append(collected)
    with (
        Meter.spans() as paints,
        tick_spans(window) as panel_ticks,
        TrainerCpu() as worker,
        SampleAge.watch(window) as grids,
    ):
        timer.start()
        t0 = now()
        if train:
            started = train_in_window(window, seconds)
            if not started:
                raise RuntimeError(
                    f"training did not start: {ERRORS[-1:] or window.training.state}"
                )
        else:
            idle_loop(seconds)
        timer.stop()
        elapsed = now() - t0
    gc.callbacks.remove(collected)
    collections = [(a, b) for a, b, _ in gcs]
    ticks = panel_ticks.spans
    late = np.diff(wall) * 1e3 - PROBE_MS
    out: dict[str, Any] = {
        "seconds": elapsed,
        "ticks": len(late),
        "p50": pct(late, 50),
        "p99": pct(late, 99),
        "max": float(late.max()) if len(late) else math.nan,
        "over_16": int((late > 16).sum()),
        "over_50": int((late > 50).sum()),
        "gui_cpu_share": (gui[-1] - gui[0]) / (wall[-1] - wall[0]) if len(wall) > 1 else 0.0,
        "other_load": load.cores(),
        "own_load": load.own_cores(),
        "trainer_cpu_share": worker.share,
        "tick_cpu_s": panel_ticks.cpu,
        "panel_ticks": len(ticks),
        "paints": len(paints),
    }
    for key, spans in (("tick_ms", ticks), ("paint_ms", paints)):
        if spans:
            durations = [(e - s) * 1e3 for s, e in spans]
            out[key] = {"p50": pct(durations, 50), "p99": pct(durations, 99), "max": max(durations)}
    # Where the late intervals went: GUI work (the panel's ticks, plot paints, the rest of its
    # CPU) or the GUI thread not running (waiting for the GIL or for a free core).
    bad = np.nonzero(late > GOAL_LATE_P99_MS)[0]
    total = in_tick = in_gc = in_paint = busy = 0.0
    for i in bad:
        a, b = wall[i], wall[i + 1]
        total += b - a
        in_tick += overlap(ticks, a, b)
        in_gc += overlap(collections, a, b)
        in_paint += overlap(paints, a, b)  # the event loop paints after a tick
        busy += gui[i + 1] - gui[i]
    out["late"] = {
        "intervals": len(bad),
        "wall_ms": total * 1e3,
        "tick_ms": in_tick * 1e3,
        "gc_ms": in_gc * 1e3,
        "paint_ms": in_paint * 1e3,
        "gui_cpu_ms": busy * 1e3,
        "worst": [
            {
                "late_ms": float(late[i]),
                "gui_cpu_ms": (gui[i + 1] - gui[i]) * 1e3,
                "tick_ms": overlap(ticks, wall[i], wall[i + 1]) * 1e3,
                "paint_ms": overlap(paints, wall[i], wall[i + 1]) * 1e3,
                "gc_ms": overlap(collections, wall[i], wall[i + 1]) * 1e3,
                "at_s": wall[i] - wall[0],
            }
            for i in np.argsort(late)[-5:][::-1]
        ],
    }
    full = [(e - s_) * 1e3 for s_, e, g in gcs if g == 2]
    young = [(e - s_) * 1e3 for s_, e, g in gcs if g < 2]
    out["gc"] = {
        "full": len(full),
        "full_ms_median": med(full),
        "full_ms_max": max(full, default=0.0),
        "young": len(young),
        "young_ms_total": sum(young),
    }
    out["lateness"] = late
    if train:
        step, epoch = last_records(window)
        if step is not None:
            out["steps"] = step.step
            out["steps_per_s"] = step.step / step.elapsed if step.elapsed > 0 else math.nan
        out["refreshes"] = window.dashboard.refreshes
        if grids.made:
            out["sample_age"] = SampleAge.summary(grids)
    return out


def merge(probes: list[dict[str, Any]]) -> dict[str, float]:
    """The pooled lateness of several probes."""
    late = np.concatenate([p["lateness"] for p in probes])
    return {
        "ticks": len(late),
        "p50": pct(late, 50),
        "p99": pct(late, 99),
        "max": float(late.max()),
        "other_load": max(p["other_load"] for p in probes),
    }


def describe_probe(name: str, p: dict[str, Any]) -> None:
    print(
        f"   {name:<30} {p['ticks']:>5} ticks in {p['seconds']:5.1f} s: lateness p50"
        f" {p['p50']:5.2f}  p99 {p['p99']:6.2f}  max {p['max']:7.2f} ms; > 16 ms: {p['over_16']},"
        f" > 50 ms: {p['over_50']}"
    )
    extra = ""
    if "steps" in p:
        extra = (
            f"; trained {p['steps']:,} steps ({p['steps_per_s']:.0f} steps/s), the trainer's"
            f" thread on a CPU {p['trainer_cpu_share']:.0%} of the time"
        )
    print(
        f"      CPU: GUI thread {p['gui_cpu_share']:.0%} of a core, this process"
        f" {p['own_load']:.2f} cores, other processes {p['other_load']:.2f} cores{extra}"
    )
    if "tick_ms" in p:
        t = p["tick_ms"]
        print(
            f"      panel ticks: {p['panel_ticks']} (median {t['p50']:.2f}, p99 {t['p99']:.2f},"
            f" max {t['max']:.1f} ms); plot paints: {p['paints']}"
            + (
                f" (median {p['paint_ms']['p50']:.2f}, p99 {p['paint_ms']['p99']:.2f},"
                f" max {p['paint_ms']['max']:.1f} ms)"
                if "paint_ms" in p
                else ""
            )
        )
    late = p["late"]
    if late["intervals"]:
        rest = late["gui_cpu_ms"] - late["tick_ms"] - late["paint_ms"]
        waiting = late["wall_ms"] - late["gui_cpu_ms"]
        print(
            f"      the {late['intervals']} intervals over {GOAL_LATE_P99_MS:.0f} ms"
            f" ({late['wall_ms']:.0f} ms in all): panel ticks {late['tick_ms']:.0f} ms (of which"
            f" garbage collection {late['gc_ms']:.0f} ms), plot"
            f" paints {late['paint_ms']:.0f} ms, other GUI CPU {max(rest, 0):.0f} ms; GUI thread"
            f" not running {waiting:.0f} ms (idle <= {PROBE_MS} ms each, else waiting for the GIL"
            " or a core)"
        )
        worst = ", ".join(
            f"{w['late_ms']:.0f} ({w['gui_cpu_ms']:.0f}/{w['tick_ms']:.0f}/{w['gc_ms']:.0f}/"
            f"{w['paint_ms']:.0f} at {w['at_s']:.1f} s)"
            for w in late["worst"]
        )
        print(f"      worst, ms late (GUI CPU / in ticks / of it in gc / in paints; when): {worst}")
    age = p.get("sample_age")
    if age:
        a, shown, behind = age["at_draw_ms"], age["shown_age_ms"], age["steps_behind"]
        when = (
            f": samples {a['p50']:.0f} ms old when drawn (p95 {a['p95']:.0f}, max"
            f" {a['max']:.0f}), the trainer {behind['p50']:.0f} steps further (max"
            f" {behind['max']:.0f})"
            if a
            else ""
        )
        gaps = age["between_draws_ms"]
        apart = f"; draws {gaps['p50']:.0f} ms apart (max {gaps['max']:.0f})" if gaps else ""
        print(
            f"      image grid: {age['made']} payloads made in {age['seconds']:.1f} s, drawn"
            f" {age['draws']} times{when}; the grid on screen up to {shown['max']:.0f} ms old"
            f" (p50 {shown['p50']:.0f}){apart}"
        )
    g = p["gc"]
    if g["full"] or g["young"]:
        print(
            f"      garbage collections in the GUI thread: {g['full']} full (median"
            f" {g['full_ms_median']:.0f} ms, max {g['full_ms_max']:.0f} ms), {g['young']} young"
            f" ({g['young_ms_total']:.0f} ms in all)"
        )


def window_view_every(example: str) -> float:
    """The shortest probe interval of the example's procedure's image-grid views."""
    from builder.training.procedures import procedure

    project = load(assets.example(example), CATALOG)
    spec = procedure(project.training.get("procedure", "supervised"))
    return min((v.every for v in spec.views if v.kind == "image_grid"), default=math.nan)


def figure_a(quick: bool, profile: bool, example: str = "digits_cnn") -> None:

    from widgets.training_panel import training_threads

    cold_s, idle_s, train_s, rounds = (6, 4, 8, 1) if quick else (15, 10, 20, 2)
    threads = training_threads()  # what Train > Start sets: every core but one
    print(
        f"\n== A. GUI timer lateness ({PROBE_MS} ms PreciseTimer in the GUI thread) while"
        f" {example}.json trains from Train > Start with the Dashboard shown (main window"
        f" 1400x860, offscreen); the window trains with {threads} torch thread(s)"
    )
    window = open_window(example, {"epochs": 100_000})
    cold = probe_lateness(window, cold_s, train=True)
    describe_probe("first run after launch", cold)
    grids = {
        k: w for k, w in window.dashboard.views.widgets.items() if w.view.kind == "image_grid"
    }  # they exist once a run has begun
    if grids:
        shown = ", ".join(
            f"{k} ({'shown' if w.isVisible() else 'hidden'})" for k, w in grids.items()
        )
        print(f"   the procedure's image grids: {shown}")
    probes: dict[str, list[dict[str, Any]]] = {"idle": [], "training": []}
    prof = cProfile.Profile(cpu) if profile else None
    for r in range(rounds):
        order = ["idle", "training"]
        for key in order if r % 2 == 0 else order[::-1]:
            if prof is not None and key == "training":
                prof.enable()
            probes[key].append(
                probe_lateness(window, idle_s if key == "idle" else train_s, key != "idle")
            )
            if prof is not None and key == "training":
                prof.disable()
            name = "no training" if key == "idle" else f"training, {threads} thread(s)"
            describe_probe(f"{name} ({r + 1})", probes[key][-1])
    close_window(window)
    base = merge(probes["idle"])
    goal = f"p99 <= {GOAL_LATE_P99_MS:.0f} ms, max <= {GOAL_LATE_MAX_MS:.0f} ms"
    what = "" if example == "digits_cnn" else f" {example}"
    for name, p in (
        (
            f"A  lateness while{what} training ({threads} torch thread(s))",
            merge(probes["training"]),
        ),
        (f"A  lateness,{what} first run after launch", merge([cold])),
    ):
        row(
            f"{name}; {p['ticks']:,} ticks",
            f"p99 {p['p99']:.1f} ms, max {p['max']:.0f} ms",
            f"no training: p99 {base['p99']:.1f} ms, max {base['max']:.0f} ms",
            goal,
            p["p99"] <= GOAL_LATE_P99_MS and p["max"] <= GOAL_LATE_MAX_MS,
        )
    ages = [p["sample_age"] for p in probes["training"] if p.get("sample_age")]
    if ages:  # the image grids' lag behind the trainer, over the training probes
        age = max(a["shown_age_ms"]["max"] for a in ages)
        drawn = [a["at_draw_ms"] for a in ages if a["at_draw_ms"]]
        when = (
            f"; when drawn: p50 {med([d['p50'] for d in drawn]):.0f} ms, max"
            f" {max(d['max'] for d in drawn):.0f} ms"
            if drawn
            else ""
        )
        row(
            f"A  image grid behind the trainer; {sum(a['draws'] for a in ages)} draws of"
            f" {sum(a['made'] for a in ages)} payloads in {sum(a['seconds'] for a in ages):.0f} s",
            f"grid on screen up to {age / 1e3:.2f} s old (p50"
            f" {med([a['shown_age_ms']['p50'] for a in ages]) / 1e3:.2f} s){when}",
            f"probed every {window_view_every(example):.2f} s",
            f"<= {GOAL_GRID_AGE_S:g} s",
            age / 1e3 <= GOAL_GRID_AGE_S,
        )
    for group in (*probes.values(), [cold]):
        for p in group:
            p.pop("lateness", None)
    RESULTS["A"] = {"example": example, "threads": threads, "cold": cold, **probes}
    if prof is not None:
        print("\n   cProfile of the GUI thread (CPU time) over the training probes:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)


# ----------------------------------------------------------------------------- figure B


def gradient_rings(points: int, seed: int) -> dict[str, Ring]:
    """Ten layers' gradient norms as the dashboard buffers them: one point per report (every
    10 steps), a random walk in log space at levels from 1e-4 to 10."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, points + 1) * 10.0
    rings = {}
    for i in range(CURVES):
        ring = Ring(2, max(2 * points, 20_000))
        level = 1.0 - 0.5 * i
        y = 10 ** (level + np.cumsum(rng.normal(0, 0.02, points)))
        ring.extend((x, y))
        rings[f"layer{i + 1}"] = ring
    return rings


def grow(rings: dict[str, Ring], rng: np.random.Generator) -> None:
    """One more report: a point per layer."""
    for ring in rings.values():
        ring.append(ring.last(0) + 10, ring.last(1) * 10 ** rng.normal(0, 0.02))


def settle() -> int:
    """Process events until no plot paints any more (pyqtgraph often paints twice after new
    data: the first paint finds new bounds and asks for another); returns the paints."""
    app = application()
    first = Meter.paints
    for _ in range(8):
        before = Meter.paints
        app.processEvents()
        if Meter.paints == before:
            break
    return Meter.paints - first


def step_record(i: int, layers: list[str], rng: np.random.Generator) -> StepRecord:
    """Report ``i`` (every 10 steps) of a 10-layer network."""
    losses = tuple(float(v) for v in np.exp(-i / 3000) + rng.normal(0, 0.05, 10) ** 2)
    norms = {
        name: float(10 ** (1.0 - 0.5 * j + rng.normal(0, 0.1))) for j, name in enumerate(layers)
    }
    return StepRecord(
        epoch=i // 100 + 1,
        step=10 * (i + 1),
        first_step=10 * i + 1,
        losses=losses,
        train_loss=sum(losses) / 10,
        samples_per_sec=20_000.0,
        lr=1e-3,
        elapsed=i * 0.02,
        grad_norms=frozen(norms),
        weight_norms=frozen({name: 3.0 for name in layers}),
        update_ratios=frozen({name: 1e-3 for name in layers}),
        health=frozen({name: "healthy" for name in layers}),
    )


def epoch_record(i: int) -> EpochRecord:
    confusion = np.diag(np.full(10, 30)).tolist()
    metrics = {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "f1": 0.9, "confusion": confusion}
    return EpochRecord(i // 100, 10 * (i + 1), 0.5, 0.6, frozen(metrics), 1e-3, i * 0.02, False)


def feed(window: MainWindow, reports: int, seed: int) -> tuple[list[str], np.random.Generator]:
    """A run of ``reports`` reports of a 10-layer network (an epoch every 100) into the
    window's dashboard, drawn once."""
    rng = np.random.default_rng(seed)
    layers = [f"layer{j + 1}" for j in range(CURVES)]
    dash = window.dashboard
    dash.begin_run("bench", HealthThresholds())
    batch: list[Any] = []
    for i in range(reports):
        batch.append(step_record(i, layers, rng))
        if (i + 1) % 100 == 0:
            batch.append(epoch_record(i))
        if len(batch) >= 500:
            dash.add_records(batch)
            batch = []
    dash.add_records(batch)
    dash.refresh()
    return layers, rng


def time_cycles(cycles: int, variants: dict[str, Callable[[], None]]) -> dict[str, dict[str, Any]]:
    """Each variant's refresh cycle (``fn()`` then events processed until nothing paints),
    the variants interleaved cycle by cycle in alternating order."""
    wall: dict[str, list[float]] = {k: [] for k in variants}
    gui: dict[str, list[float]] = {k: [] for k in variants}
    counts: dict[str, list[int]] = {k: [] for k in variants}
    names = list(variants)
    for i in range(cycles):
        for name in names if i % 2 == 0 else names[::-1]:
            t, c = now(), cpu()
            variants[name]()
            n = settle()
            wall[name].append((now() - t) * 1e3)
            gui[name].append((cpu() - c) * 1e3)
            counts[name].append(n)
    return {
        k: {
            "p50": pct(wall[k], 50),
            "p95": pct(wall[k], 95),
            "max": max(wall[k]),
            "cpu_p50": pct(gui[k], 50),
            "cpu_p95": pct(gui[k], 95),
            "paints": float(np.mean(counts[k])),
        }
        for k in variants
    }


def breakdown(label: str, cycles: int, fn: Callable[[], None]) -> None:
    """Where a refresh cycle's GUI CPU time goes (timed apart from the figures)."""
    data = 0.0
    n0 = Meter.paints
    with Meter.method_cpu() as totals:
        t = cpu()
        for _ in range(cycles):
            c = cpu()
            fn()
            data += cpu() - c
            settle()
        total = cpu() - t
    per = {k: v / cycles * 1e3 for k, v in totals.items()}
    views = per.pop("views", 0.0)
    names = {"axes": "axes with ticks, labels and grid"}
    parts = ", ".join(
        f"{names.get(k, k)} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])
    )
    rest = views - sum(per.values())
    print(
        f"      where the GUI CPU goes ({label}; ms per cycle, {cycles} cycles,"
        f" {(Meter.paints - n0) / cycles:.1f} paints each): total {total / cycles * 1e3:.2f} ="
        f" new data {data / cycles * 1e3:.2f} + paints {views:.2f} ({parts}; the rest, Qt's"
        f" own: scene traversal, text labels, backing store {rest:.2f}) + other events"
        f" {(total - data) / cycles * 1e3 - views:.2f}"
    )


def figure_b(quick: bool, profile: bool) -> None:
    cycles = 40 if quick else 150
    print(
        f"\n== B. Plot refresh: {CURVES} curves x {POINTS:,} points (setData of the grown data,"
        " then events processed until nothing paints; wall and GUI-thread CPU ms per cycle)"
    )
    window = open_window("digits_cnn", {})
    app = application()
    in_window = window.dashboard.gradient_plot.size()
    size = (in_window.width(), in_window.height())
    big_size = (1200, 600)
    plots = {}
    for key, (w, h), points in (
        ("gradient", size, POINTS),
        ("gradient small", size, 100),
        ("big", big_size, POINTS),
        ("big small", big_size, 100),
        ("gradient ds", size, POINTS),
    ):
        plot = GradientPlot()
        plot.resize(w, h)
        plot.show()
        rings = gradient_rings(points, seed=len(plots))
        plot.set_layers({k: (r.col(0), r.col(1)) for k, r in rings.items()})
        plots[key] = (plot, rings, np.random.default_rng(len(plots)))
    for _ in range(3):
        app.processEvents()
    # widgets/plots.py asks each curve for auto downsampling and clip-to-view; say whether
    # they are in effect (PlotItem.addItem applies the plot's own modes to a curve it adds).
    curves = list(plots["gradient"][0].curves.values())
    ds_on = all(c.opts["autoDownsample"] and c.opts["clipToView"] for c in curves)
    drawn = [c.curve.xData.size for c in curves if c.curve.xData is not None]
    # What-if (diagnosis only, not a figure): the same plot with both modes set on its PlotItem.
    what_if = plots["gradient ds"][0].plotItem
    what_if.setDownsampling(auto=True, mode="peak")
    what_if.setClipToView(True)
    app.processEvents()

    def cycle(key: str) -> Callable[[], None]:
        plot, rings, rng = plots[key]

        def fn() -> None:
            grow(rings, rng)
            plot.set_layers({k: (r.col(0), r.col(1)) for k, r in rings.items()})

        return fn

    # The whole dashboard in the main window: a 100,000-step run of a 10-layer network
    # (10,000 reports), one more report per cycle; baseline: the same 10 reports into a run.
    full_reports = 1_000 if quick else 10_000
    small = open_window("digits_cnn", {})
    layers, rng_full = feed(window, full_reports, seed=1)
    _, rng_small = feed(small, 10, seed=2)
    counters = {"full": full_reports, "small": 10, "what-if": full_reports}
    dash_variants = {"full": (window, rng_full), "small": (small, rng_small)}
    what_if_window = None
    if not ds_on:  # the same run with downsampling on every plot of the dashboard
        what_if_window = open_window("digits_cnn", {})
        for plot_widget in what_if_window.dashboard.findChildren(pg.PlotWidget):
            item = plot_widget.plotItem
            if all(isinstance(c, pg.PlotDataItem) for c in item.curves):  # not the scatter
                item.setDownsampling(auto=True, mode="peak")
                item.setClipToView(True)
        dash_variants["what-if"] = (what_if_window, feed(what_if_window, full_reports, seed=1)[1])
    app.processEvents()

    def dash_cycle(win: MainWindow, key: str, rng: np.random.Generator) -> Callable[[], None]:
        def fn() -> None:
            i = counters[key]
            counters[key] += 1
            records: list[Any] = [step_record(i, layers, rng)]
            if (i + 1) % 100 == 0:
                records.append(epoch_record(i))
            win.dashboard.add_records(records)
            win.dashboard.refresh()

        return fn

    settle()
    for key in plots:  # warm-up
        cycle(key)()
        settle()
    plot_stats = time_cycles(
        cycles, {k: cycle(k) for k in ("gradient", "gradient small", "gradient ds")}
    )
    big_stats = time_cycles(cycles, {k: cycle(k) for k in ("big", "big small")})
    dash_stats = time_cycles(
        cycles, {k: dash_cycle(w, k, rng) for k, (w, rng) in dash_variants.items()}
    )
    print(f"   GradientPlot alone at its size in the main window ({size[0]}x{size[1]}):")
    show_cycles(plot_stats["gradient"], plot_stats["gradient small"])
    print(
        f"      pyqtgraph auto downsampling and clip-to-view on the curves:"
        f" {'on' if ds_on else 'OFF'}; points drawn per curve: {max(drawn, default=0):,}"
    )
    breakdown(f"{size[0]}x{size[1]}", 30 if quick else 60, cycle("gradient"))
    if not ds_on:
        w = plot_stats["gradient ds"]
        print(
            "      what-if, same run: with PlotItem.setDownsampling(auto=True, mode='peak') and"
            f" setClipToView(True) on the plot: p50 {w['p50']:.2f}, p95 {w['p95']:.2f} ms"
            f" ({w['paints']:.1f} paints per cycle)"
        )
        breakdown("what-if, downsampling on", 30 if quick else 60, cycle("gradient ds"))
    print(
        f"   GradientPlot alone at {big_size[0]}x{big_size[1]} (a dashboard undocked and enlarged):"
    )
    show_cycles(big_stats["big"], big_stats["big small"])
    breakdown(f"{big_size[0]}x{big_size[1]}", 30 if quick else 60, cycle("big"))
    print(
        f"   The whole Dashboard in the main window, one report per cycle"
        f" (Dashboard.add_records + refresh), after {full_reports:,} reports of 10 steps"
        f" ({10 * full_reports:,} step losses, {CURVES} layers):"
    )
    show_cycles(dash_stats["full"], dash_stats["small"])
    breakdown("whole dashboard", 30 if quick else 60, dash_cycle(window, "full", rng_full))
    if what_if_window is not None:
        w = dash_stats["what-if"]
        print(
            "      what-if, same run: the same dashboard with downsampling and clip-to-view set on"
            f" each plot's PlotItem: p50 {w['p50']:.2f}, p95 {w['p95']:.2f} ms ({w['paints']:.1f}"
            " paints per cycle)"
        )
        what_if_rng = dash_variants["what-if"][1]
        breakdown(
            "what-if, downsampling on",
            30 if quick else 60,
            dash_cycle(what_if_window, "what-if", what_if_rng),
        )
    if profile:
        prof = cProfile.Profile(cpu)
        fn = cycle("gradient")
        prof.enable()
        for _ in range(30):
            fn()
            settle()
        prof.disable()
        print("\n   cProfile (GUI CPU) of 30 GradientPlot cycles at the in-window size:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    for p, _, _ in plots.values():
        p.close()
    close_window(small)
    close_window(window)
    if what_if_window is not None:
        close_window(what_if_window)
    goal = f"p95 <= {GOAL_REFRESH_P95_MS:.0f} ms"
    for name, s, b in (
        (
            f"B  GradientPlot {CURVES}x{POINTS:,}, {size[0]}x{size[1]} (in window)",
            plot_stats["gradient"],
            plot_stats["gradient small"],
        ),
        (
            f"B  GradientPlot {CURVES}x{POINTS:,}, {big_size[0]}x{big_size[1]}",
            big_stats["big"],
            big_stats["big small"],
        ),
        (
            f"B  whole Dashboard after {10 * full_reports:,} steps, {CURVES} layers",
            dash_stats["full"],
            dash_stats["small"],
        ),
    ):
        row(
            name,
            f"p95 {s['p95']:.1f} ms (p50 {s['p50']:.1f}, max {s['max']:.0f}; CPU p95 {s['cpu_p95']:.1f})",
            f"100 points: p95 {b['p95']:.1f} ms"
            if "Dashboard" not in name
            else f"10 reports: p95 {b['p95']:.1f} ms",
            goal,
            s["p95"] <= GOAL_REFRESH_P95_MS,
        )
    RESULTS["B"] = {
        "size": size,
        "downsampling_on": ds_on,
        "gradient": plot_stats,
        "big": big_stats,
        "dashboard": dash_stats,
        "reports": full_reports,
    }


def show_cycles(s: dict[str, Any], b: dict[str, Any]) -> None:
    print(
        f"      {CURVES} x {POINTS:,}: p50 {s['p50']:6.2f}  p95 {s['p95']:6.2f}  max {s['max']:6.1f} ms"
        f" (GUI CPU p50 {s['cpu_p50']:.2f}, p95 {s['cpu_p95']:.2f}; {s['paints']:.1f} paints per"
        f" cycle)   baseline: p50 {b['p50']:6.2f}  p95 {b['p95']:6.2f} ms ({b['paints']:.1f} paints)"
    )


# ----------------------------------------------------------------------------- figure C


def xor_training(steps: int) -> dict[str, Any]:
    """xor_mlp.json with batch 1 on XOR repeated 25 times (100 rows: 100 steps an epoch)."""
    return {"dataset": {"name": "xor", "repeat": 25}, "batch_size": 1, "epochs": steps // 100}


def child_memory(steps: int) -> dict[str, Any]:
    """One figure C run with the main window and the Dashboard shown, in this (fresh)
    process: RSS when the first report is drawn, at 10 % / 50 % of the steps and at the end."""
    window = open_window("xor_mlp", xor_training(steps))
    panel = window.training
    marks = {"10%": steps // 10, "50%": steps // 2}
    got: dict[str, Any] = {}

    def sample() -> None:
        step = panel.step
        if "first" not in got and window.dashboard.refreshes > 0 and step > 0:
            got["first"] = (step, rss_mib())
        for key, mark in marks.items():
            if key not in got and step >= mark:
                got[key] = (step, rss_mib())

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(20)
    rss0 = rss_mib()
    t0 = now()
    train_in_window(window, None, limit=900)
    seconds = now() - t0
    timer.stop()
    application().processEvents()
    got["end"] = (panel.step, rss_mib())
    run = window.dashboard.current
    return {
        "steps": panel.step,
        "seconds": seconds,
        "rss_before": rss0,
        "samples": got,
        "dashboard": {
            "step_losses": len(run.steps) if run else 0,
            "grad_points": sum(len(r) for r in run.grads.values()) if run else 0,
            "history": len(run.history) if run else 0,
            "refreshes": window.dashboard.refreshes,
        },
        "errors": ERRORS,
    }


def child_memory_headless(steps: int) -> dict[str, Any]:
    """The baseline: the same training with no window, the channel drained at 30 Hz."""
    from dataclasses import replace

    from builder.training.config import parse_training
    from builder.training.trainer import Trainer

    project = load(assets.example("xor_mlp"), CATALOG)
    project.training.update(xor_training(steps))
    trainer = Trainer(project, config=replace(parse_training(project.training), device="cpu"))
    marks = {"10%": steps // 10, "50%": steps // 2}
    got: dict[str, Any] = {}
    rss0 = rss_mib()
    t0 = now()
    trainer.start()
    received = 0
    while trainer.alive:
        time.sleep(1 / 30)
        records = trainer.poll()
        received += len(records)
        step = trainer.step
        if "first" not in got and any(isinstance(r, StepRecord) for r in records):
            got["first"] = (step, rss_mib())
        for key, mark in marks.items():
            if key not in got and step >= mark:
                got[key] = (step, rss_mib())
    trainer.join()
    trainer.poll()
    got["end"] = (trainer.step, rss_mib())
    return {"steps": trainer.step, "seconds": now() - t0, "rss_before": rss0, "samples": got}


def spawn_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def figure_c(quick: bool) -> None:
    steps = 20_000 if quick else MEMORY_STEPS
    print(
        f"\n== C. Memory over {steps:,} training steps with the Dashboard open (xor_mlp.json,"
        " batch 1, XOR x25: 100 steps an epoch; a fresh process each; RSS from VmRSS)"
    )
    load = OtherLoad()
    gui = spawn_child(["--child", "memory", str(steps)])
    headless = spawn_child(["--child", "memory-headless", str(steps)])
    others = load.cores()
    if gui.get("errors"):
        print(f"   the run reported: {gui['errors']}")
    out = {}
    for name, r in (("window + dashboard", gui), ("headless (baseline)", headless)):
        s = r["samples"]
        first = s["first"][1]
        growth = {k: s[k][1] - first for k in ("10%", "50%", "end") if k in s}
        print(
            f"   {name:<20} {r['steps']:,} steps in {r['seconds']:.1f} s; RSS at the first"
            f" report {first:.1f} MiB (step {s['first'][0]:,}); growth at 10 % / 50 % / end:"
            f" {growth.get('10%', math.nan):+.1f} / {growth.get('50%', math.nan):+.1f} /"
            f" {growth['end']:+.1f} MiB"
        )
        out[name] = {**r, "growth": growth}
    d = gui["dashboard"]
    print(
        f"      dashboard buffers at the end: {d['step_losses']:,} step losses,"
        f" {d['grad_points']:,} gradient points, {d['history']:,} records kept;"
        f" {d['refreshes']:,} refreshes; other processes {others:.2f} cores"
    )
    g, b = out["window + dashboard"]["growth"], out["headless (baseline)"]["growth"]
    row(
        f"C  RSS growth over {steps:,} steps, dashboard open",
        f"{g['end']:+.1f} MiB (10 %: {g.get('10%', math.nan):+.1f}, 50 %: {g.get('50%', math.nan):+.1f})",
        f"headless: {b['end']:+.1f} MiB",
        f"<= 50 MB ({GOAL_GROWTH_MIB:.1f} MiB)",
        g["end"] <= GOAL_GROWTH_MIB and gui["steps"] >= steps,
    )
    RESULTS["C"] = out


# ----------------------------------------------------------------------------- figure D


def child_gui_train(epochs: int) -> dict[str, Any]:
    """digits_cnn.json trained from Train > Start with the Dashboard shown, to the end."""
    import torch

    window = open_window("digits_cnn", {"epochs": epochs})
    load = OtherLoad()
    c = cpu()
    with Meter.method_cpu() as painting, tick_spans(window) as ticks, TrainerCpu() as worker:
        train_in_window(window, None)
    gui_cpu = cpu() - c
    _, epoch = last_records(window)
    return {
        "steps": epoch.step if epoch else 0,
        "elapsed": epoch.elapsed if epoch else math.nan,
        "epochs": epoch.epoch if epoch else 0,
        "gui_cpu": gui_cpu,
        "paint_cpu": painting.get("views", 0.0),
        "tick_cpu": ticks.cpu,
        "trainer_cpu_share": worker.share,
        "own_load": load.own_cores(),
        "threads": torch.get_num_threads(),
        "errors": ERRORS,
    }


def cli_train(epochs: int, env: dict[str, str], out: Path) -> dict[str, Any]:
    """``neuralcanvas train digits_cnn.json --epochs N`` (``python -m widgets.cli``)."""
    cmd = [sys.executable, "-m", "widgets.cli", "train", str(assets.example("digits_cnn"))]
    cmd += ["--epochs", str(epochs), "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"neuralcanvas train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    last = None
    with open(out / "records.jsonl") as f:
        for line in f:
            record = json.loads(line)
            if record.get("kind") == "epoch":
                last = record
    assert last is not None
    return {"steps": last["step"], "elapsed": last["elapsed"], "epochs": last["epoch"]}


def figure_d(quick: bool) -> None:
    reps = 3 if quick else 5
    from widgets.training_panel import training_threads

    # The window trains with every core but one; headless runs with the same threads (like
    # with like: the goal's row) and, for reference, with torch's default.
    same = str(training_threads())
    settings = [("same", same)] if quick else [("same", same), ("default", None)]
    print(
        f"\n== D. Training speed with the Dashboard vs headless `neuralcanvas train`"
        f" (digits_cnn.json, {D_EPOCHS} epochs, batch 64: {D_EPOCHS * 23} steps); each run a"
        " fresh process, GUI and CLI interleaved; steps/s from the last epoch record's elapsed"
        " (training + per-epoch evaluation; no start-up, data loading or compiling)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, threads in settings:
            env = dict(os.environ)
            env.pop("OMP_NUM_THREADS", None)
            if threads is not None:
                env["OMP_NUM_THREADS"] = threads
            load = OtherLoad()
            runs: dict[str, list[dict[str, Any]]] = {"gui": [], "cli": []}
            for i in range(reps):
                for kind in ("gui", "cli") if i % 2 == 0 else ("cli", "gui"):
                    if kind == "gui":
                        r = spawn_child(["--child", "gui-train", str(D_EPOCHS)], env)
                        if r.get("errors"):
                            raise RuntimeError(f"the GUI run reported: {r['errors']}")
                    else:
                        r = cli_train(D_EPOCHS, env, Path(tmp) / f"run{i}-{label}")
                    r["steps_s"] = r["steps"] / r["elapsed"]
                    runs[kind].append(r)
            others = load.cores()
            gui, cli = runs["gui"], runs["cli"]
            g = med([r["steps_s"] for r in gui])
            c = med([r["steps_s"] for r in cli])
            paired = med([a["steps_s"] / b["steps_s"] for a, b in zip(gui, cli)])
            threads_used = gui[0]["threads"]
            print(
                f"   torch threads {label} ({threads_used}), {reps} runs each: with the dashboard"
                f" {g:6.1f} steps/s (runs {min(r['steps_s'] for r in gui):.0f}–"
                f"{max(r['steps_s'] for r in gui):.0f}), headless {c:6.1f} steps/s (runs"
                f" {min(r['steps_s'] for r in cli):.0f}–{max(r['steps_s'] for r in cli):.0f});"
                f" ratio {g / c:.3f} (paired {paired:.3f}); other processes {others:.2f} cores"
            )
            print(
                f"      with the dashboard, per run (medians): GUI thread CPU"
                f" {med([r['gui_cpu'] for r in gui]):.2f} s (plot paints"
                f" {med([r['paint_cpu'] for r in gui]):.2f} s, panel ticks"
                f" {med([r['tick_cpu'] for r in gui]):.2f} s) for"
                f" {med([r['elapsed'] for r in gui]):.2f} s of training; the trainer's thread on a"
                f" CPU {med([r['trainer_cpu_share'] for r in gui]):.0%} of the time; the process"
                f" {med([r['own_load'] for r in gui]):.2f} cores"
            )
            ok = g / c >= GOAL_SPEED_RATIO
            row(
                f"D  steps/s with dashboard ({threads_used} thread(s)) / headless CLI"
                f" ({'the same threads' if label == 'same' else 'torch default threads'})",
                f"{g / c:.3f} ({g:.0f} vs {c:.0f} steps/s; paired {paired:.3f})",
                f"headless {c:.0f} steps/s",
                f">= {GOAL_SPEED_RATIO}",
                ok if label == "same" else None,
            )
            out[label] = {"gui": gui, "cli": cli, "ratio": g / c, "paired": paired}
    RESULTS["D"] = out


# ----------------------------------------------------------------------------- main


def print_table() -> None:
    print("\n== Summary\n")
    print("| Figure | Measured | Baseline (same run) | Goal | Result |")
    print("|---|---|---|---|---|")
    for r in ROWS:
        print(
            f"| {r['figure']} | {r['measured']} | {r['baseline']} | {r['goal']} | {r['result']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    parser.add_argument("--only", choices=("A", "B", "C", "D"), help="run one figure only")
    parser.add_argument("--profile", action="store_true", help="cProfile listings for A and B")
    parser.add_argument(
        "--example",
        default="digits_cnn",
        help="figure A: the example project trained (assets/examples/NAME.json; default"
        " digits_cnn; gan_digits: a GAN, its sample grid's lag behind the trainer too)",
    )
    parser.add_argument(
        "--som-map",
        help="figure A: the example's SOM layers ROWSxCOLS (e.g. 30x30 with som_digits)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # a run in a fresh process
    args = parser.parse_args(argv)
    if args.som_map:
        global SOM_MAP
        rows, _, cols = args.som_map.lower().partition("x")
        SOM_MAP = (int(rows), int(cols))

    # The app's settings and autosaves go to a scratch folder (children inherit it).
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("NEURALCANVAS_CONFIG_DIR", str(Path(scratch) / "config"))
        os.environ.setdefault("NEURALCANVAS_DATA_DIR", str(Path(scratch) / "data"))
        if args.child:
            kind, value = args.child
            children = {
                "memory": child_memory,
                "memory-headless": child_memory_headless,
                "gui-train": child_gui_train,
            }
            print(json.dumps(children[kind](int(value)), default=str))
            return 0
        return run_all(args)


def run_all(args: argparse.Namespace) -> int:
    import PySide6
    import torch

    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    print(
        f"NeuralCanvas bench_dashboard  {time.strftime('%Y-%m-%d %H:%M')}"
        f"  python {platform.python_version()}  PySide6 {PySide6.__version__}"
        f"  pyqtgraph {pg.__version__}  torch {torch.__version__}  cpus {os.cpu_count()}"
        f"  load average {loadavg}  {'QUICK' if args.quick else 'full'}"
    )
    t0 = now()
    figures = {
        "A": lambda: figure_a(args.quick, args.profile, args.example),
        "B": lambda: figure_b(args.quick, args.profile),
        "C": lambda: figure_c(args.quick),
        "D": lambda: figure_d(args.quick),
    }
    for key, fn in figures.items():
        if args.only in (None, key):
            fn()
    print_table()
    print(f"\n({now() - t0:.0f} s)")
    if ERRORS:
        print("errors reported by the app:", *ERRORS, sep="\n   ")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": ROWS, "results": RESULTS}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
