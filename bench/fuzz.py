"""Fuzz harness: hostile project files, exported names, checkpoints, data files and training
settings (bench/fuzz_cases.py) run through what a user runs — `neuralcanvas summary`,
compile, `neuralcanvas train` for one epoch (into a folder that holds an earlier run),
`neuralcanvas export`, and a save of the loaded project over a good one — and sorted into:

  accepted        every step worked (the input was valid after all)
  clean refusal   a step stopped with the project's own message (exit status 2, no traceback)
  crash           a traceback, another exit status, or the worker died (memory, a signal)
  hang            a case ran past --timeout seconds
  silently wrong  a file that must be refused was accepted, or exported code does not compile
  data lost       the earlier run's files or the saved project changed when they must not
  code executed   a payload ran: the file PWNED appeared, or NC_PWNED is code in an export

Goal: 0 in every column but "accepted" and "clean refusal".

    .venv/bin/python bench/fuzz.py                 # all 1,052 cases (about 6 minutes on 2 cores)
    .venv/bin/python bench/fuzz.py --scale 0.1     # a tenth of every family
    .venv/bin/python bench/fuzz.py --family data --show crash   # list one family's crashes

Each case runs in a worker process with a memory limit; a worker that dies or hangs is
replaced. The suite runs a seeded subset in-process (tests/e2e/test_fuzz_subset.py).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fuzz_cases import FAMILIES, MARK, Case, all_cases, make_case, mlp  # noqa: E402

COLUMNS = [
    "accepted",
    "clean refusal",
    "crash",
    "hang",
    "silently wrong",
    "data lost",
    "code executed",
]
BAD = COLUMNS[2:]


class _Timeout(Exception):
    pass


def _cli(argv: list[str]) -> tuple[str, str]:
    """Run the command in-process: ("ok" | "refused" | "crash", what it printed)."""
    from widgets import cli

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(argv)
    except _Timeout:
        raise
    except BaseException as exc:  # noqa: BLE001 - anything that escapes the command is a crash
        return "crash", f"{type(exc).__name__}: {exc}"[:500]
    text = (out.getvalue() + err.getvalue())[-2000:]
    if "Traceback" in text or rc not in (0, 2):
        return "crash", f"rc {rc}: {text}"
    return ("ok" if rc == 0 else "refused"), text


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _code_runs_mark(code: str) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return any(t.type == tokenize.NAME and t.string == MARK for t in tokens)


def _earlier_run(folder: Path) -> None:
    folder.mkdir()
    (folder / "metrics.csv").write_text("epoch,step,train_loss\n1,2,0.5\n")
    (folder / "records.jsonl").write_text('{"kind": "status", "state": "finished"}\n')
    (folder / "weights.pt").write_bytes(b"earlier weights")


def run_case(case: Case, folder: Path, run_exported: bool = False) -> dict[str, Any]:
    """Run one case in an empty folder; returns its outcome and the step that decided it."""
    outcome: dict[str, Any] = {"family": case.family, "index": case.index, "label": case.label}
    case.write(folder)
    project = str(folder / case.project)
    steps: dict[str, str] = {}
    detail = ""
    saved = folder / "saved.json"
    good = json.dumps(mlp())
    saved.write_text(good)
    earlier = folder / "run"
    _earlier_run(earlier)
    before = _tree(earlier)
    state, detail = _cli(["summary", project])
    steps["summary"] = state
    if state == "ok":
        state, detail = _compile_and_save(project, saved, good)
        steps["compile+save"] = state
    if state == "ok" or (case.resume and steps.get("summary") == "ok"):
        argv = ["train", project, "--epochs", "1", "--quiet", "--out", str(earlier)]
        argv += ["--checkpoint-every", "0"]
        if case.resume:
            argv = ["train", project, "--epochs", "3", "--quiet", "--out", str(earlier)]
            argv += ["--resume", str(folder / case.resume)]
        state, detail = _cli(argv)
        steps["train"] = state
    if state == "ok" or case.family == "inject":
        exported = folder / "exported.py"
        e_state, e_detail = _cli(["export", project, "-o", str(exported)])
        steps["export"] = e_state
        if e_state == "crash":
            state, detail = e_state, e_detail
        elif e_state == "ok":
            code = exported.read_text(encoding="utf-8")
            if _code_runs_mark(code):
                outcome["code executed"] = True
            try:
                compile(code, str(exported), "exec")
            except SyntaxError as exc:
                state, detail = "wrong", f"exported code does not compile: {exc}"
            if run_exported and state != "wrong":
                _import_exported(exported, folder)
        elif state == "ok":
            state, detail = e_state, e_detail
    outcome["steps"] = steps
    outcome["detail"] = detail[-400:]
    if _tree(earlier) != before:
        outcome["data lost"] = "the earlier run's files changed"
    if (folder / "PWNED").exists():
        outcome["code executed"] = True
    if state == "crash":
        outcome["result"] = "crash"
    elif state == "wrong":
        outcome["result"] = "silently wrong"
    elif state == "refused":
        outcome["result"] = "clean refusal"
    elif case.expect == "refuse":
        outcome["result"] = "silently wrong"
        outcome["detail"] = "accepted a file that must be refused"
    else:
        outcome["result"] = "accepted"
    for column in ("data lost", "code executed"):
        if outcome.get(column):
            outcome["result"] = column
    return outcome


def _compile_and_save(project: str, saved: Path, good: str) -> tuple[str, str]:
    """Compile every network; save the loaded project over a good file and load it back."""
    from builder import CATALOG
    from builder.compile import compile_network
    from graph import project_file
    from graph.errors import NeuralCanvasError

    try:
        loaded = project_file.load(project, CATALOG)
        for net in loaded.networks.values():
            compile_network(net)
    except _Timeout:
        raise
    except NeuralCanvasError as exc:
        return "refused", str(exc)[:300]
    except BaseException as exc:  # noqa: BLE001
        return "crash", f"compile: {type(exc).__name__}: {exc}"[:500]
    try:
        project_file.save(loaded, saved)
    except _Timeout:
        raise
    except NeuralCanvasError as exc:
        if saved.read_text() != good:
            return "wrong", f"a failed save changed the file: {exc}"
        return "refused", str(exc)[:300]
    except BaseException as exc:  # noqa: BLE001
        if saved.read_text() != good:
            return "wrong", f"a failed save changed the file: {exc}"
        return "crash", f"save: {type(exc).__name__}: {exc}"[:500]
    try:
        again = project_file.load(saved, CATALOG)
    except BaseException as exc:  # noqa: BLE001
        return "wrong", f"the saved project does not load again: {type(exc).__name__}: {exc}"[:500]
    if project_file.to_dict(again) != project_file.to_dict(loaded):
        return "wrong", "the saved project loads as something else"
    return "ok", ""


def _import_exported(path: Path, folder: Path) -> None:
    """Import the exported script as a module (its top level runs, not its training) with a
    NC_PWNED that leaves the PWNED file behind."""
    code = (
        "import builtins, runpy, sys\n"
        f"builtins.{MARK} = lambda *a, **k: open(sys.argv[2], 'w').close()\n"
        "runpy.run_path(sys.argv[1], run_name='nc_fuzz_import')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(folder / "PWNED")],
        capture_output=True,
        timeout=120,
        cwd=folder,
    )


# --- the worker and the parent -------------------------------------------------------------


def _good_checkpoint(folder: Path) -> Path:
    project = folder / "good.json"
    project.write_text(json.dumps(mlp()))
    state, detail = _cli(
        ["train", str(project), "--epochs", "2", "--quiet", "--out", str(folder / "good-run")]
    )
    if state != "ok":
        raise SystemExit(f"fuzz: the seed project does not train: {detail}")
    return folder / "good-run" / "checkpoint.pt"


def worker(seed: int, memory_gb: float, timeout: float) -> None:
    limit = int(memory_gb * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def alarm(signum, frame):
        raise _Timeout

    signal.signal(signal.SIGALRM, alarm)
    base = Path(tempfile.mkdtemp(prefix="nc-fuzz-"))
    os.environ["NC_FUZZ_GOOD_CHECKPOINT"] = str(_good_checkpoint(base))
    print("ready", flush=True)
    for line in sys.stdin:
        family, index, run_exported = json.loads(line)
        folder = base / f"{family}-{index}"
        folder.mkdir()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            outcome = run_case(make_case(family, index, seed), folder, run_exported)
        except _Timeout:
            outcome = {
                "family": family,
                "index": index,
                "result": "hang",
                "detail": f"over {timeout} s",
            }
        except BaseException as exc:  # noqa: BLE001 - the harness itself must go on
            outcome = {
                "family": family,
                "index": index,
                "result": "crash",
                "detail": f"harness: {type(exc).__name__}: {exc}"[:500],
            }
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps(outcome), flush=True)


class _Worker:
    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--seed",
            str(args.seed),
            "--memory-gb",
            str(args.memory_gb),
            "--timeout",
            str(args.timeout),
        ]
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, family: str, index: int, run_exported: bool, timeout: float) -> dict[str, Any]:
        import selectors

        self.proc.stdin.write(json.dumps([family, index, run_exported]) + "\n")
        self.proc.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout + 30):  # the alarm did not get through: a hard hang
            self.proc.kill()
            return {
                "family": family,
                "index": index,
                "result": "hang",
                "detail": "the worker did not answer",
            }
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            return {
                "family": family,
                "index": index,
                "result": "crash",
                "detail": f"the worker died (status {rc})",
            }
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of every family's cases")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address space of a worker")
    parser.add_argument("--exported-every", type=int, default=10, help="import every Nth export")
    parser.add_argument("--show", action="append", default=[], help="list the cases of a column")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.seed, args.memory_gb, args.timeout)
        return 0
    cases = [c for c in all_cases(args.seed, args.scale) if not args.family or c[0] in args.family]
    table: dict[str, Counter] = {
        f: Counter() for f in FAMILIES if not args.family or f in args.family
    }
    outcomes = []
    start = time.perf_counter()
    w = _Worker(args)
    for n, (family, index) in enumerate(cases, 1):
        if not w.alive():
            w = _Worker(args)
        outcome = w.run(family, index, index % args.exported_every == 0, args.timeout)
        outcome.setdefault("label", make_case(family, index, args.seed).label)
        outcomes.append(outcome)
        table[family][outcome["result"]] += 1
        if outcome["result"] in BAD:
            print(
                f"  {outcome['result']:>14}  {family} #{index} {outcome.get('label', '')!r}: {outcome.get('detail', '')[:200]!r}",
                flush=True,
            )
        if n % 50 == 0:
            print(f"[{n}/{len(cases)}] {time.perf_counter() - start:.0f} s", flush=True)
    w.proc.stdin.close()
    print(_table(table, time.perf_counter() - start))
    for column in args.show:
        for o in outcomes:
            if o["result"] == column:
                print(f"{o['family']} #{o['index']} {o.get('label', '')!r}: {o.get('detail', '')}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(outcomes, indent=1))
    return 1 if any(t[c] for t in table.values() for c in BAD) else 0


def _table(table: dict[str, Counter], seconds: float) -> str:
    head = "| family | tried | " + " | ".join(COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    total = Counter()
    for family, counts in table.items():
        total.update(counts)
        rows.append(
            f"| {family} | {sum(counts.values())} | "
            + " | ".join(str(counts[c]) for c in COLUMNS)
            + " |"
        )
    rows.append(
        f"| **all** | **{sum(total.values())}** | "
        + " | ".join(f"**{total[c]}**" for c in COLUMNS)
        + " |"
    )
    return "\n".join(rows) + f"\n\n{sum(total.values())} cases in {seconds:.0f} s"


if __name__ == "__main__":
    sys.exit(main())
