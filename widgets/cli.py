"""The ``neuralcanvas`` command.

``neuralcanvas [FILE]`` opens the app on a project (the built-in XOR example without one);
``neuralcanvas summary FILE`` prints each network's layers, shapes and parameter counts;
``neuralcanvas train FILE`` trains headless with a progress bar and writes the run's files.

Qt and torch are imported only when needed, so ``summary`` starts without loading Qt. Errors
a user can cause (a bad file, an invalid network) print their message and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from graph.errors import NeuralCanvasError

EXIT_OK = 0
EXIT_ERROR = 2
PROG = "neuralcanvas"


def version() -> str:
    """The installed package's version, or the source tree's when run from a checkout."""
    from importlib import metadata

    try:
        return metadata.version("neuralcanvas")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        import tomllib

        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, ValueError):
        return "unknown"


def _open_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build neural networks on a canvas, train them live, export PyTorch code.",
        epilog=f"Other commands: '{PROG} summary FILE' prints a project's layers and shapes;"
        f" '{PROG} train FILE' trains it without the GUI (see '{PROG} COMMAND --help').",
    )
    parser.add_argument(
        "file", nargs="?", help="project file to open (default: the built-in XOR example)"
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="render the window to this PNG file and exit instead of running the app",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    return parser


def _summary_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} summary",
        description="Print every network of a project: each layer's output shape, parameter"
        " count and status, and the totals. Exits with status 2 if the file cannot be read"
        " or a network cannot be built.",
    )
    parser.add_argument("file", help="project file (.json)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--network", metavar="NAME", help="only this network of the project")
    return parser


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} train",
        description="Train a project's network without the GUI: a progress bar with loss and"
        " ETA, metrics written as the run goes (metrics.csv per epoch, records.jsonl with every"
        " record), checkpoint.pt as it goes, then weights.pt. Ctrl-C or SIGTERM stops cleanly and"
        " keeps them; a folder holding an earlier run is never written over.",
    )
    parser.add_argument("file", help="project file (.json)")
    parser.add_argument("--epochs", type=int, metavar="N", help="override training.epochs")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), help="override training.device"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="folder for the run's files (default: <file stem>-run)"
    )
    parser.add_argument("--network", metavar="NAME", help="the network to train (default: first)")
    parser.add_argument(
        "--procedure",
        metavar="NAME",
        help="override training.procedure, how the network learns: "
        + ", ".join(_procedure_names())
        + "; the file's settings of another procedure are left out",
    )
    parser.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint.pt (or a run folder); the run's files in its folder"
        " are continued from the checkpoint's epoch",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="SECONDS",
        help="checkpoint.pt is replaced after every epoch (a kill loses at most the epoch"
        " under way) and synced to the disk once this many seconds have passed since the last"
        " sync (default 2; 0: after every epoch), against a crash of the whole system",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _procedure_names() -> list[str]:
    from builder.training.procedures import PROCEDURES  # the registry loads no torch

    return list(PROCEDURES)


def train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from builder.training.config import ConfigError, parse_training
    from builder.training.runfiles import RunWriter, holds_run, run_folder
    from builder.training.trainer import Trainer
    from graph.atomic import FileWriteError

    project = _load(args.file)
    if args.procedure is not None:
        try:
            from builder.training.procedures import with_procedure

            project.training = with_procedure(project.training, args.procedure)
        except ConfigError as exc:
            return _error(f"--procedure: {exc.problems[0].message}")
    config = parse_training(project.training)
    if args.epochs is not None:
        if args.epochs < 1:
            return _error("--epochs must be a positive integer")
        config = replace(config, epochs=args.epochs)
    if args.device is not None:
        config = replace(config, device=args.device)
    if args.checkpoint_every is not None and not args.checkpoint_every >= 0:
        return _error("--checkpoint-every must be a number of seconds >= 0")
    path = Path(args.file)
    resume = Path(args.resume) if args.resume else None
    try:
        resume_folder = resume is not None and resume.is_dir()
    except (OSError, ValueError):  # a name too long: the checkpoint's reading says so
        resume_folder = False
    if resume_folder:  # a run folder: its checkpoint
        inner = resume / "checkpoint.pt"
        if not inner.is_file():
            what = (
                "whose checkpoint.pt is not a file" if inner.exists() else "with no checkpoint.pt"
            )
            return _error(
                f"--resume {resume} is a folder {what}: a folder given to --resume must be a run"
                " folder holding its run's checkpoint.pt; give such a folder or the checkpoint"
                " file itself"
            )
        resume = inner
    trainer = Trainer(project, args.network, config, base_dir=path.resolve().parent, resume=resume)
    trainer.prepare()
    if trainer.resume_changes:
        print(
            f"Resuming at epoch {trainer.epoch} with the project's settings changed since the"
            " checkpoint: " + ", ".join(trainer.resume_changes),
            file=sys.stderr,
        )
    # A resumed run continues the files of its own folder (cut back to the checkpoint); any
    # other run goes to a folder of its own and never writes over an earlier run's files.
    out = (
        Path(args.out)
        if args.out
        else (resume.parent if resume else path.with_name(f"{path.stem}-run"))
    )
    continuing = resume is not None and _same(resume.parent, out)
    if not continuing and holds_run(out):
        earlier, out = out, run_folder(out)
        print(
            f"{earlier} holds an earlier run, kept as it is: this run goes to {out}"
            f" (continue that run with --resume {earlier / 'checkpoint.pt'}, or choose a"
            " folder with --out)",
            file=sys.stderr,
        )
    try:
        writer = RunWriter(out, resume_at=(trainer.epoch, trainer.step) if continuing else None)
    except FileWriteError as exc:
        return _error(str(exc))
    trainer.checkpoint_path = out / "checkpoint.pt"
    trainer.wait_for_records = True  # a checkpoint never runs ahead of the files
    if args.checkpoint_every is not None:
        trainer.checkpoint_every = args.checkpoint_every
    return _run(args, project, config, trainer, writer, out)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _run(args, project, config, trainer, writer, out: Path) -> int:
    """Train with a progress bar, writing the run's files; Ctrl-C and SIGTERM stop cleanly
    (a second one changes nothing), a file that cannot be written stops the run."""
    import signal

    from tqdm import tqdm

    from builder.training.records import (
        EpochRecord,
        ErrorRecord,
        EvaluationRecord,
        StatusRecord,
        StepRecord,
    )
    from graph.atomic import FileWriteError

    n = len(trainer.splits.train)
    per_epoch = -(-n // (config.batch_size or n))
    bar = tqdm(
        total=config.epochs * per_epoch,
        initial=trainer.step,
        unit="step",
        disable=args.quiet,
        dynamic_ncols=True,
        desc=f"{' and '.join(n.name for n in trainer.nets.values())} ({config.procedure}) on"
        f" {trainer.device}",
    )
    signals: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signum)
        trainer.stop()

    # Installed until the last file is written: a second Ctrl-C while saving changes nothing.
    handled = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.signal(s, on_signal) for s in handled}
    last_epoch: EpochRecord | None = None
    evaluation: EvaluationRecord | None = None
    error: ErrorRecord | None = None
    status: StatusRecord | None = None
    failed: FileWriteError | None = None
    raised: set[str] = set()  # the procedure's alarms now raised (by key)
    try:
        try:
            trainer.start()
            for record in trainer.records(timeout=3600):
                if failed is None:
                    try:
                        writer.write(record)
                        if isinstance(record, EpochRecord):  # its checkpoint may follow
                            trainer.records_written(record.epoch)
                    except FileWriteError as exc:  # the files keep their last whole line
                        failed = exc
                        trainer.stop()
                if isinstance(record, StepRecord):
                    bar.update(record.step - bar.n)
                    bar.set_postfix(loss=f"{record.train_loss:.4g}", refresh=False)
                elif isinstance(record, EpochRecord):
                    last_epoch = record
                    post = {"loss": f"{record.train_loss:.4g}"}
                    if record.val_loss is not None:
                        post["val"] = f"{record.val_loss:.4g}"
                    if "accuracy" in record.metrics:
                        post["acc"] = f"{record.metrics['accuracy']:.3f}"
                    bar.set_postfix(post)
                    alarms = record.metrics.get("alarms") or ()
                    for key, what, remedy in alarms:  # said once when raised
                        if key not in raised:
                            bar.write(f"alarm (epoch {record.epoch}): {what}; try: {remedy}")
                    raised = {a[0] for a in alarms}
                elif isinstance(record, EvaluationRecord):
                    evaluation = record
                elif isinstance(record, ErrorRecord):
                    error = record
                elif isinstance(record, StatusRecord):
                    status = record
                    if record.state == "running" and record.message:
                        bar.write(record.message)  # what initial_weights loaded
            trainer.join()
        finally:
            bar.close()
            writer.close()
        return _finish(trainer, out, last_epoch, evaluation, error, status, failed, signals)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _finish(trainer, out, last_epoch, evaluation, error, status, failed, signals) -> int:
    """Save the weights and checkpoint a run ends with and say what it did."""
    import signal

    from builder.training.checkpoint import save_weights
    from graph.atomic import FileWriteError

    wrote = [out / "metrics.csv", out / "records.jsonl"]
    diverged = error is not None and error.diverged
    kept_best = diverged and trainer.progress.best_state is not None
    checkpoint = out / "checkpoint.pt"
    # A run that failed keeps the checkpoint of its last good epoch; one that blew up also
    # gets its best weights.
    if failed is None and trainer.model is not None and trainer.step > 0:
        try:
            if error is None or kept_best:
                for name, weights in trainer.weight_files().items():
                    save_weights(out / name, weights)
                    wrote.append(out / name)
            if error is None:
                trainer.save_checkpoint(checkpoint)
                wrote.append(checkpoint)
        except FileWriteError as exc:
            failed = exc
    if last_epoch is not None:
        figures = [f"train loss {last_epoch.train_loss:.4g}"]
        if last_epoch.val_loss is not None:
            figures.append(f"validation loss {last_epoch.val_loss:.4g}")
        figures += _figures(last_epoch.metrics)
        print(f"Epoch {last_epoch.epoch}, step {last_epoch.step}: " + ", ".join(figures))
    if evaluation is not None:
        figures = [f"loss {evaluation.loss:.4g}", *_figures(evaluation.metrics)]
        print(f"The {evaluation.split} split: " + ", ".join(figures))
    if status is not None and status.message and failed is None:
        print(status.message)
    if failed is not None:
        return _error(f"{failed}\nThe run stopped at step {trainer.step}. {_resumable(checkpoint)}")
    print("Wrote " + ", ".join(str(p) for p in wrote))
    if diverged:
        best = "weights.pt holds its best weights." if kept_best else "No weights.pt written."
        print(f"The run diverged. {best} {_resumable(checkpoint)}")
    elif error is not None:
        print(_resumable(checkpoint))
    if error is not None:
        return _error(error.message)
    if signals:
        name = "Ctrl-C" if signals[0] == signal.SIGINT else "SIGTERM"
        print(f"Stopped by {name}: the files above hold the run so far.", file=sys.stderr)
        return 130 if name == "Ctrl-C" else 143
    return EXIT_OK


def _resumable(checkpoint: Path) -> str:
    """Where a run can be resumed from, as a sentence."""
    if not checkpoint.is_file():
        return "No checkpoint was written."
    try:
        from builder.training.checkpoint import load_checkpoint

        epoch = int(load_checkpoint(checkpoint)["epoch"])
    except (NeuralCanvasError, KeyError, TypeError, ValueError):
        return f"{checkpoint} cannot be read."
    return f"{checkpoint} holds epoch {epoch}: continue with --resume {checkpoint}."


METRIC_ORDER = ("accuracy", "precision", "recall", "f1", "mse", "mae")
NOT_FIGURES = ("count",)  # the rows counted, not a figure of the model


def _figures(metrics: Any) -> list[str]:
    """``key value`` for each number among a record's metrics: the supervised ones first,
    then any other procedure's (a VAE's recon, kl, active_units) as they come."""
    numbers = {
        k: v
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_FIGURES
    }
    keys = [k for k in METRIC_ORDER if k in numbers]
    keys += [k for k in numbers if k not in METRIC_ORDER]
    return [f"{k} {numbers[k]:.4g}" for k in keys]


def _import_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} import",
        description="Import a PyTorch nn.Module class as a NeuralCanvas project: its layers,"
        " the operations between them (+, *, torch.cat, reshape, flatten, activations) and"
        " its inputs and outputs become a network you can open, edit, train and export."
        " WARNING: this runs the Python file (its top-level code and ClassName()), with your"
        " rights: import only files you trust.",
        epilog="Example: neuralcanvas import models.py:SmallCNN -o cnn.json --input-shape 1,8,8",
    )
    parser.add_argument(
        "module",
        metavar="FILE.py:CLASS",
        help="the Python file and the nn.Module class in it (built with no arguments); the"
        " class may be left out when the file defines only one",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="PROJECT.json", help="project file to write"
    )
    parser.add_argument(
        "--input-shape",
        action="append",
        required=True,
        metavar="DIMS",
        help="one sample's shape without the batch dim, e.g. 1,8,8 for an 8x8 grey image;"
        " repeat it once per forward argument",
    )
    parser.add_argument(
        "--input-dtype",
        action="append",
        choices=("float32", "int64"),
        help="dtype per input (default: int64 for an input that feeds only Embeddings)",
    )
    parser.add_argument("--name", help="project name (default: the class name)")
    parser.add_argument(
        "--weights",
        action="store_true",
        help="also save the model's weights (as CLASS() holds them: load pretrained ones in"
        " its __init__) beside the project as PROJECT.weights.pt, named for the project, and"
        " start training from them (training.initial_weights): fine-tune the imported model",
    )
    return parser


def import_(args: argparse.Namespace) -> int:
    from builder.importer import convert_file
    from builder.summary import format_table, summarize
    from builder.training.checkpoint import save_weights
    from graph.project_file import save

    shapes = []
    for text in args.input_shape:
        try:
            shapes.append(tuple(int(part) for part in text.replace("x", ",").split(",") if part))
        except ValueError:
            return _error(f"--input-shape {text!r}: give sizes separated by commas, e.g. 1,8,8")
    imported = convert_file(args.module, shapes, name=args.name, input_dtypes=args.input_dtype)
    project = imported.project
    weights = Path(args.output).with_suffix(".weights.pt")
    try:
        if args.weights:  # beside the project: training.initial_weights is relative to it
            save_weights(weights, imported.state_dict)
            project.training["initial_weights"] = weights.name
        save(project, args.output)
    except OSError as exc:
        return _error(f"Cannot write {args.output}: {exc.strerror or exc}")
    print(f"Project {project.name!r} imported from {args.module}\n")
    print(format_table(summarize(project.network())))
    if args.weights:
        print(
            f"\nWrote {weights} ({len(imported.state_dict)} tensors, named for the project):"
            " training starts from them (training.initial_weights)"
        )
    print(f"\nWrote {args.output}")
    return EXIT_OK


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} export",
        description="Write a network of a project as a standalone, readable PyTorch script:"
        " the model class (the app's state_dict loads into it), the dataset and the app's"
        " training loop, to run with python or torchrun. Exits with status 2 if the file"
        " cannot be read or the network cannot be built.",
    )
    parser.add_argument("file", help="project file (.json)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="SCRIPT.py", help="the script to write"
    )
    parser.add_argument("--network", metavar="NAME", help="the network to export (default: first)")
    return parser


def export(args: argparse.Namespace) -> int:
    import shlex

    from builder.export.script import export as export_network
    from graph.atomic import atomic_write_text

    project = _load(args.file)
    out = Path(args.output)
    result = export_network(
        project, args.network, base_dir=Path(args.file).resolve().parent, filename=out.name
    )
    try:
        atomic_write_text(out, result.code)
    except OSError as exc:
        return _error(f"Cannot write {args.output}: {exc.strerror or exc}")
    shown = shlex.quote(str(out))
    print(f"Wrote {out} (class {result.class_name}, network {result.network!r})")
    if result.trainable:
        print(f"Train it:         python {shown} --epochs N --out run")
        print(f"On 2 processes:   torchrun --standalone --nproc_per_node=2 {shown} --out run")
    else:
        print(f"It has no training loop: {result.note}")
        print(f"Build the model:  python {shown} --out run")
    return EXIT_OK


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load(path: str) -> Any:
    from builder import CATALOG
    from graph.project_file import load

    return load(path, CATALOG)


def summary(args: argparse.Namespace) -> int:
    from builder.summary import format_table, summarize

    project = _load(args.file)
    if args.network is not None:
        networks = [project.network(args.network)]
    else:
        networks = list(project.networks.values())
    summaries = [summarize(net) for net in networks]
    if args.json:
        doc = {"project": project.name, "file": args.file, "networks": summaries}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(f"Project {project.name!r} ({args.file})\n")
        print("\n\n".join(format_table(s) for s in summaries))
    status = EXIT_OK
    for s in summaries:
        if not s["valid"]:
            problems = s["problems"]
            text = problems[0] if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems)
            sep = " " if len(problems) == 1 else "\n"
            status = _error(f"network {s['network']!r} cannot be built:{sep}{text}")
    return status


def open_app(args: argparse.Namespace) -> int:
    import assets

    path = Path(args.file) if args.file is not None else assets.example("xor_mlp")
    # A built-in example opens as an unsaved copy, so Save never overwrites the shipped file.
    as_copy = path.resolve().parent == assets.EXAMPLES.resolve()
    project = _load(str(path))  # before any window: a bad file exits with its message
    from widgets.app import run

    return run(project, path, screenshot=args.screenshot, as_copy=as_copy)


def main(argv: list[str] | None = None) -> int:
    """Run the ``neuralcanvas`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["summary"]:
            return summary(_summary_parser().parse_args(argv[1:]))
        if argv[:1] == ["train"]:
            return train(_train_parser().parse_args(argv[1:]))
        if argv[:1] == ["export"]:
            return export(_export_parser().parse_args(argv[1:]))
        if argv[:1] == ["import"]:
            return import_(_import_parser().parse_args(argv[1:]))
        return open_app(_open_parser().parse_args(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
    except NeuralCanvasError as exc:
        return _error(str(exc))
    except BrokenPipeError:  # e.g. `neuralcanvas summary f.json | head`
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
