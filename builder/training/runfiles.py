"""A training run's files: metrics as CSV (one row per epoch) and JSON lines (every record),
the final weights and a checkpoint to resume from. Each line is flushed as it is written, so
an interrupted run keeps everything reported so far."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, TextIO

from builder.training.records import EpochRecord, Record

METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "mse", "mae")


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


def _whole_lines(path: Path) -> bool:
    """Cut a partly written last line (a run killed mid-write) off ``path``; True when whole
    lines remain."""
    if not path.is_file():
        return False
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with open(path, "r+b") as f:
            f.truncate(keep)
    return keep > 0


class RunWriter:
    """Writes ``metrics.csv`` (epochs) and ``records.jsonl`` (all records) into ``folder``.

    With ``append`` (a resumed run), both files are continued instead of replaced, so a run
    resumed into its own folder keeps the epochs written before; ``metrics.csv`` then keeps
    its header and columns.
    """

    def __init__(self, folder: str | Path, append: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        jsonl_path, csv_path = self.folder / "records.jsonl", self.folder / "metrics.csv"
        self.csv: csv.writer | None = None
        self.columns: list[str] = []
        mode = "w"
        if append:
            mode = "a"
            _whole_lines(jsonl_path)
            if _whole_lines(csv_path):
                with open(csv_path, encoding="utf-8", newline="") as f:
                    self.columns = next(csv.reader(f), [])
        self.jsonl: TextIO = open(jsonl_path, mode, encoding="utf-8")  # noqa: SIM115
        self.csv_file: TextIO = open(csv_path, mode, encoding="utf-8", newline="")  # noqa: SIM115
        if self.columns:
            self.csv = csv.writer(self.csv_file)

    def write(self, record: Record) -> None:
        if record.kind == "view":  # image payloads: the dashboard's, not the run files'
            return
        self.jsonl.write(json.dumps(record_dict(record)) + "\n")
        self.jsonl.flush()
        if isinstance(record, EpochRecord):
            metrics = {k: v for k, v in record.metrics.items() if not isinstance(v, (list, tuple))}
            if self.csv is None:
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
                self.csv = csv.writer(self.csv_file)
                self.csv.writerow(self.columns)
            row = {
                "epoch": record.epoch,
                "step": record.step,
                "train_loss": record.train_loss,
                "val_loss": "" if record.val_loss is None else record.val_loss,
                "lr": record.lr,
                "elapsed": round(record.elapsed, 3),
                **metrics,
            }
            self.csv.writerow([row.get(c, "") for c in self.columns])
            self.csv_file.flush()

    def close(self) -> None:
        self.jsonl.close()
        self.csv_file.close()
