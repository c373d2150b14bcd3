"""A training run's files: metrics as CSV (one row per epoch) and JSON lines (every record),
the weights and a checkpoint to resume from, in a folder of their own.

- Each line is written whole or not at all: a failed write (a full disk) is cut back to the
  last complete line, so the files stay readable and describe the run up to that point.
- A folder that holds an earlier run is never written over: :func:`run_folder` picks a new
  folder beside it (``NAME-2``, ``NAME-3``, ...).
- A run resumed in its own folder continues its files, cut back to the checkpoint's epoch
  first, so no epoch is listed twice.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from builder.training.records import EpochRecord, Record
from graph.atomic import FileWriteError, write_error

METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "mse", "mae")
RUN_FILES = ("records.jsonl", "metrics.csv", "weights.pt", "checkpoint.pt")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record_dict(record: Record) -> dict[str, Any]:
    """A record as JSON-ready data (``kind`` first)."""
    fields = {name: getattr(record, name) for name in record.__dataclass_fields__}
    return {"kind": fields.pop("kind"), **_plain(fields)}


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds files of a run."""
    return any(os.path.exists(folder / name) for name in RUN_FILES)  # False on errors


def run_folder(out: Path) -> Path:
    """``out``, or when it holds an earlier run the first of ``out-2``, ``out-3``, ... that
    does not."""
    if not holds_run(out):
        return out
    n = 2
    while holds_run(out.with_name(f"{out.name}-{n}")):
        n += 1
    return out.with_name(f"{out.name}-{n}")


def make_folder(out: Path) -> None:
    """Create ``out`` and check that files can be written in it; raise
    :class:`FileWriteError` saying why not (a file, read-only, too long, no permission)."""
    try:
        if out.exists() and not out.is_dir():
            raise FileWriteError(
                f"Cannot write the run to {_short(out)}: it is a file, not a folder: choose a folder with --out"
            )
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".neuralcanvas-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except FileWriteError:
        raise
    except OSError as exc:
        raise write_error(out, exc) from None


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]


class _Lines:
    """An append-only file written a whole line at a time (unbuffered): a line that cannot
    be written whole is cut off again, and the error says what happened."""

    def __init__(self, path: Path, keep: int | None):
        self.path = path
        mode = "r+b" if keep is not None else "wb"
        try:
            self.file = open(path, mode, buffering=0)  # noqa: SIM115
            if keep is not None:
                self.file.truncate(keep)
                self.file.seek(keep)
        except OSError as exc:
            raise write_error(path, exc) from None
        self.good = self.file.tell()

    def write(self, line: str) -> None:
        data = line.encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[self.file.write(view) :]
        except OSError as exc:
            try:
                self.file.truncate(self.good)  # back to the last whole line
                self.file.seek(self.good)
            except OSError:
                pass
            raise write_error(self.path, exc) from None
        self.good += len(data)

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass


def _kept_bytes(path: Path, keep_line) -> int | None:
    """The length of ``path``'s first lines that ``keep_line`` keeps (whole lines only;
    None when there is no file)."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    keep = 0
    for i, line in enumerate(data[:end].splitlines(keepends=True)):
        if not keep_line(i, line):
            break
        keep += len(line)
    return keep


def _record_before(step: int):
    def keep(_: int, line: bytes) -> bool:
        try:
            record = json.loads(line)
        except ValueError:
            return False
        return isinstance(record, dict) and int(record.get("step", 0)) <= step

    return keep


def _row_before(epoch: int):
    def keep(i: int, line: bytes) -> bool:
        if i == 0:
            return True  # the header
        first = line.split(b",", 1)[0]
        return first.isdigit() and int(first) <= epoch

    return keep


class RunWriter:
    """Writes ``metrics.csv`` (epochs) and ``records.jsonl`` (all records) into ``folder``.

    With ``resume_at`` (epoch, step) of the checkpoint a run resumes from, both files are
    continued instead of replaced, cut back first to that epoch and step, so a run resumed
    into its own folder lists every epoch once; ``metrics.csv`` keeps its header and columns.
    A write that fails raises :class:`FileWriteError` with the files cut back to their last
    whole line.
    """

    def __init__(self, folder: str | Path, resume_at: tuple[int, int] | None = None):
        self.folder = Path(folder)
        make_folder(self.folder)
        jsonl_path, csv_path = self.folder / "records.jsonl", self.folder / "metrics.csv"
        self.csv: csv.writer | None = None
        self.columns: list[str] = []
        keep_jsonl = keep_csv = None
        if resume_at is not None:
            epoch, step = resume_at
            keep_jsonl = _kept_bytes(jsonl_path, _record_before(step))
            keep_csv = _kept_bytes(csv_path, _row_before(epoch))
            if keep_csv:
                with open(csv_path, encoding="utf-8", newline="") as f:
                    self.columns = next(csv.reader(f), [])
        self.jsonl = _Lines(jsonl_path, keep_jsonl)
        self.csv_file = _Lines(csv_path, keep_csv)

    @staticmethod
    def _csv_line(row: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(row)
        return buffer.getvalue()

    def write(self, record: Record) -> None:
        if record.kind == "view":  # image payloads: the dashboard's, not the run files'
            return
        self.jsonl.write(json.dumps(record_dict(record)) + "\n")
        if isinstance(record, EpochRecord):
            metrics = {k: v for k, v in record.metrics.items() if not isinstance(v, (list, tuple))}
            if not self.columns:
                ordered = [m for m in METRIC_ORDER if m in metrics] + sorted(
                    set(metrics) - set(METRIC_ORDER)
                )
                self.columns = [
                    "epoch",
                    "step",
                    "train_loss",
                    "val_loss",
                    "lr",
                    "elapsed",
                    *ordered,
                ]
                self.csv_file.write(self._csv_line(self.columns))
            row = {
                "epoch": record.epoch,
                "step": record.step,
                "train_loss": record.train_loss,
                "val_loss": "" if record.val_loss is None else record.val_loss,
                "lr": record.lr,
                "elapsed": round(record.elapsed, 3),
                **metrics,
            }
            self.csv_file.write(self._csv_line([row.get(c, "") for c in self.columns]))

    def close(self) -> None:
        self.jsonl.close()
        self.csv_file.close()
