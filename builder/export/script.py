"""Export: a network and its training as a standalone, readable PyTorch script (DESIGN.md,
data flow step 6).

:func:`export` writes, in this order:

- the settings: the project's seed, epochs, batch size, device, early stopping, its dataset
  options (``training.dataset``, every option given) and the procedure's kernel settings,
  as plain literals (:func:`builder.training.procedures.spec.ProcedureSpec.configure`
  returns plain values);
- the model class (:mod:`builder.export.model`): its attribute names are the compiled
  model's, so an in-app ``state_dict`` loads into it as is;
- NeuralCanvas's own code, copied from its source (:mod:`builder.export.source`): the
  dataset's loader, the splits, normalisation and augmentation, the procedure's kernel
  (chosen by ``spec.kernel``) with what it uses, and the generic loop ``fit``;
- a short main that makes the data, builds the model and the kernel's state and iterates
  ``fit``, printing each epoch, runnable with ``python model.py`` or under ``torchrun``;
  for a procedure of :data:`AFTER_TRAINING` it then saves what that procedure's script
  saves beside the weights: a GAN's fixed-noise samples as ``samples.png`` (when its
  generator makes images), a SOM's codebook, hit map and U-matrix (``.npy``, and PNGs when
  matplotlib is installed).

The script is therefore the app's training by construction; the tests run both and compare
(docs/export.md). Every string from a project enters it only through
:func:`~builder.export.layout.py_str` or :func:`~builder.export.layout.comment`.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import GraphInvalidError
from builder.export.layout import (
    WIDTH,
    ExportError,
    _assign,
    _call,
    _constant,
    _name,
    comment,
    py_literal,
    py_str,
)
from builder.export.main import (
    DOC_MODEL,
    DOC_TRAIN,
    MAIN,
    MAIN_MODEL_ONLY,
    SAVE_FILE,
    SAVE_FILES,
)
from builder.export.model import SCRIPT_NAMES, _model, class_name_for
from builder.export.source import Block, Copier, Import, NotPortableError
from graph.document import Network, Project
from graph.errors import NeuralCanvasError

# What the loop calls on a kernel (builder/training/loop.py).
KERNEL_CONTRACT = ("setup", "prepare", "train_step", "end_epoch", "evaluate")
LOOP = "builder.training.loop"
# What the script's main uses of the copied code.
MAIN_USES = (
    (LOOP, "fit"),
    (LOOP, "Progress"),
    (LOOP, "EarlyStopping"),
    (LOOP, "Epoch"),
    (LOOP, "Diverged"),
)


@dataclass(frozen=True)
class AfterTraining:
    """What a procedure's script saves after training, beside the weights (rank 0, unless
    the run diverged): the portable function ``save``, called with ``role``'s trained
    network, SETTINGS, the training inputs and either the file ``target`` in the output
    folder (it writes that file) or, when ``target`` is None, the output folder itself (it
    writes its files there and returns them); ``what`` is the comment above the call."""

    role: str
    save: tuple[str, str]  # (module, function), copied into the script
    what: str
    target: str | None = None
    images: bool = False  # only when the role's network makes images a PNG holds


# Procedures whose script saves something after training.
AFTER_TRAINING = {
    "gan": AfterTraining(
        "generator",
        ("builder.training.kernels.adversarial_samples", "save_samples"),
        "the generator's images from the fixed noise (the app's Samples view)",
        target="samples.png",
        images=True,
    ),
    "som": AfterTraining(
        "map",
        ("builder.training.kernels.som_outputs", "save_outputs"),
        "the codebook, hits and U-matrix as .npy (PNGs too if matplotlib is installed)",
    ),
}
DATA_USES = (
    ("builder.data.dataset", "Dataset"),
    ("builder.data.splits", "split_dataset"),
    ("builder.data.augmentation", "augment_batch"),
)
# The imports the script's own code uses, by the name they bind.
OWN_IMPORTS = {
    imp.bound: imp
    for imp in (
        Import("argparse", None, "argparse"),
        Import("json", None, "json"),
        Import("os", None, "os"),
        Import("pathlib", "Path", "Path"),
        Import("types", "SimpleNamespace", "SimpleNamespace"),
        Import("typing", "Any", "Any"),
        Import("torch", None, "torch"),
        Import("torch.distributed", None, "dist"),
        Import("torch", "nn", "nn"),
        Import("torch.nn.parallel", "DistributedDataParallel", "DistributedDataParallel"),
    )
}

# ============================================================================ the plan


@dataclass
class _Plan:
    """What the training part of the script needs, checked as the trainer checks it."""

    config: Any  # builder.training.config.TrainingConfig
    procedure: Any  # builder.training.procedures.spec.ProcedureSpec
    settings: dict[str, Any]  # the kernel's settings (plain values)
    dataset: dict[str, Any]  # training.dataset with every option given
    loader: tuple[str, str]  # (module, function) of the dataset's portable loader
    files: bool  # the loader reads the user's files (relative to PROJECT_DIR)
    project_dir: str
    after: AfterTraining | None = None  # what the script saves after training


def _plan(
    project: Project, nets: Mapping[str, Network], gms: Mapping[str, Any], base_dir: Path | None
) -> _Plan:
    """Bind the networks (by role) to the procedure's roles with the project's data and
    settings as the trainer does, with its checks (raises a NeuralCanvasError saying what
    does not fit)."""
    from builder.data import dataset_info, load_dataset, make_splits
    from builder.data.registry import read_options
    from builder.training import procedures
    from builder.training.binding import bind
    from builder.training.config import parse_training

    cfg = parse_training(project.training)
    procedure = procedures.procedure(cfg.procedure)
    ds = load_dataset(cfg.dataset, base_dir, seed=cfg.seed)
    splits = make_splits(ds, cfg.dataset, seed=cfg.seed)  # refuses fractions that leave no rows
    if len(procedure.roles) > 1 and len(nets) == 1:  # the roles could not be bound
        from builder.training.binding import role_networks

        role_networks(project, procedure, cfg.roles, None)  # raises what to set
    if len(procedure.roles) == 1:
        (net,), (gm,) = nets.values(), gms.values()
        nets, gms = {procedure.roles[0].name: net}, {procedure.roles[0].name: gm}
    loaded: frozenset[str] = frozenset()
    if cfg.initial_weights is not None:  # what the app's run loads (a rule keeps it)
        from builder.training.initial_weights import WeightsFileError, names_in

        if len(nets) > 1:
            raise ExportError(
                f"training.initial_weights loads one network's weights, but the {procedure.id}"
                " procedure trains several: set the weights of each by hand, or leave it null"
            )
        path = Path(base_dir or ".") / cfg.initial_weights
        try:
            loaded = frozenset(names_in(path)) & set(next(iter(gms.values())).state_dict())
        except WeightsFileError as exc:
            raise ExportError(str(exc)) from None
    binding = bind(nets, gms, splits, procedure, loaded)
    procedure.check(binding)
    settings = procedure.configure(binding, cfg)
    try:
        py_literal(settings)
    except ExportError as exc:
        raise ExportError(
            f"internal: the {procedure.id} procedure's kernel settings are not plain data ({exc})"
        ) from None
    info = dataset_info(cfg.dataset["name"])
    loader = (info.loader.__module__, info.loader.__name__)
    after = AFTER_TRAINING.get(procedure.id)
    if after is not None and after.images and not _makes_images(binding, after.role):
        after = None
    return _Plan(
        config=cfg,
        procedure=procedure,
        settings=settings,
        dataset={"name": info.name, **read_options(cfg.dataset, info)},
        loader=loader,
        files=info.needs_files,
        project_dir=str(Path(base_dir).resolve()) if base_dir is not None else ".",
        after=after,
    )


def _makes_images(binding: Any, role: str) -> bool:
    """Whether ``role``'s network has one Output and its samples are images a PNG holds."""
    from builder.training.kernels.image_png import is_image

    outputs = list(binding.outputs.get(role, {}).values())
    return len(outputs) == 1 and is_image(outputs[0].shape[1:])


# ============================================================================ assembly


def _section(title: str) -> str:
    return f"# {'-' * (74 - len(title))} {title}"


def _join(blocks: Iterable[str]) -> str:
    """Top-level blocks, two blank lines apart."""
    return "\n\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"


def _note(prefix: str, text: str) -> list[str]:
    """A comment paragraph: ``text`` escaped to one line, then wrapped."""
    return ["# " + line for line in textwrap.wrap(prefix + comment(text, False), WIDTH - 2)]


def _settings(plan: _Plan | None, seed: int) -> str:
    lines = [_section("settings")]
    if plan is None:
        lines.append(_constant("SEED", seed) + "  # the project's seed: the initial weights")
        return "\n".join(lines) + "\n"
    cfg = plan.config

    def const(name: str, value: Any, why: str = "") -> None:
        line = _constant(name, value)
        lines.append(line + (f"  # {why}" if why and "\n" not in line else ""))

    const("SEED", cfg.seed, "model init; SEED + 1 shuffling; + 2 augmentation; + 3 dropout")
    const("EPOCHS", cfg.epochs)
    const("BATCH_SIZE", cfg.batch_size, "None: the whole training split in every step")
    const("SHUFFLE", cfg.shuffle, "False: the training rows in their order every epoch")
    const("DEVICE", cfg.device, "auto: CUDA, then MPS, then the CPU")
    es = cfg.early_stopping
    stopping = {"patience": es.patience, "min_delta": es.min_delta, "restore_best": es.restore_best}
    lines.append("# Early stopping (patience 0: off)")
    const("EARLY_STOPPING", stopping)
    lines.append("")
    lines.append(
        f"# The dataset {comment(plan.dataset['name'])} (training.dataset, every option given)"
    )
    const("DATASET", plan.dataset)
    if plan.files or cfg.initial_weights is not None:
        const("PROJECT_DIR", plan.project_dir, "EDIT: where relative paths start")
    if cfg.initial_weights is not None:
        const("INITIAL_WEIGHTS", cfg.initial_weights, "training.initial_weights (from PROJECT_DIR)")
    lines.append("")
    lines.append(
        f"# The {plan.procedure.id} procedure's kernel settings ({plan.procedure.kernel}, below)"
    )
    const("SETTINGS", plan.settings)
    return "\n".join(lines) + "\n"


INITIAL_WEIGHTS = "builder.training.initial_weights"


def _kernel_namespace(copier: Copier, kernel: str) -> str:
    items = [(f, copier.name_of(kernel, f)) for f in KERNEL_CONTRACT]
    call = _call("SimpleNamespace", [], [(f, _name(name)) for f, name in items])
    return f"# The procedure's kernel ({kernel}, above), as the loop takes it.\n" + _assign(
        "KERNEL", call, 0
    )


def _training(plan: _Plan, copier: Copier, models: Mapping[str, str]) -> list[str]:
    """The copied data and training code and the main that runs it (``models``: each
    role's class name, in the order they are built)."""
    kernel = plan.procedure.kernel
    blocks: list[Block] = []
    blocks += copier.take([plan.loader, *DATA_USES])
    blocks += copier.take([*MAIN_USES, *((kernel, f) for f in KERNEL_CONTRACT)])
    for module, name in [*MAIN_USES, *DATA_USES]:
        if copier.name_of(module, name) != name:
            raise ExportError(f"internal: the script's main needs {module}.{name} by its name")
    table = "{" + ", ".join(f"{py_str(role)}: {cls}" for role, cls in models.items()) + "}"
    after = ""
    if plan.after is not None:
        blocks += copier.take([plan.after.save])
        after = _after_training(plan.after, copier.name_of(*plan.after.save))
    initial = ""
    if plan.config.initial_weights is not None:  # the weights the app's run starts from
        uses = [(INITIAL_WEIGHTS, "load_weights"), (INITIAL_WEIGHTS, "describe")]
        blocks += copier.take(uses)
        load, say = (copier.name_of(*use) for use in uses)
        initial = "\n".join(
            [
                "# the tensors of the same names in training.initial_weights (as the app loads)",
                "    first = next(iter(models.values()))",
                f"    report = {load}(first, Path(PROJECT_DIR) / INITIAL_WEIGHTS)",
                f"    print({say}(report, INITIAL_WEIGHTS))",
            ]
        )
    main = (
        MAIN.replace("__AFTER__\n", after)
        .replace("__KERNEL__", _kernel_namespace(copier, kernel))
        .replace("__LOADER__", copier.name_of(*plan.loader))
        .replace("__BASE__", "Path(PROJECT_DIR)" if plan.files else "None")
        .replace("__MODELS__", table)
        .replace("    __INITIAL__\n", f"    {initial}\n" if initial else "")
    )
    return [b.code for b in blocks] + [_section("main") + "\n" + main.strip("\n")]


def _after_training(after: AfterTraining, save: str) -> str:
    """The lines of ``run`` that call ``save`` (the copied function's name) after training."""
    lines = SAVE_FILES if after.target is None else SAVE_FILE
    if after.target is not None:
        lines = lines.replace("__TARGET__", py_str(after.target))
    return (
        lines.replace("__WHAT__", after.what)
        .replace("__SAVE__", save)
        .replace("__ROLE__", py_str(after.role))
    )


# Imports in the order isort writes them: __future__, the standard library, then third
# party; in each, ``import x`` lines before ``from x import y`` lines, by module.
def _import_block(body: str, imports: Mapping[str, Import]) -> str:
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    wanted = [imp for bound, imp in imports.items() if bound in used]
    lines = ["from __future__ import annotations"]
    for stdlib in (True, False):
        section = [imp for imp in wanted if imp.stdlib == stdlib]
        if not section:
            continue
        lines.append("")
        plain = sorted((i for i in section if i.member is None), key=lambda i: i.module.lower())
        for imp in plain:
            alias = f" as {imp.bound}" if imp.bound != imp.module else ""
            lines.append(f"import {imp.module}{alias}")
        members: dict[str, list[Import]] = {}
        for imp in section:
            if imp.member is not None:
                members.setdefault(imp.module, []).append(imp)
        for module in sorted(members, key=str.lower):
            names = sorted(members[module], key=_member_key)
            parts = [i.member if i.bound == i.member else f"{i.member} as {i.bound}" for i in names]
            line = f"from {module} import {', '.join(parts)}"
            if len(line) > WIDTH:
                line = f"from {module} import (\n" + "".join(f"    {p},\n" for p in parts) + ")"
            lines.append(line)
    return "\n".join(lines) + "\n"


def _member_key(imp: Import) -> tuple[int, str]:
    """isort's order of names in ``from x import ...``: constants, classes, the rest."""
    name = imp.member or ""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()


@dataclass(frozen=True)
class Export:
    """An exported script and what it holds."""

    code: str
    class_name: str
    network: str
    trainable: bool
    note: str = ""  # why the script has no training loop ("" when it has one)


_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.py$")


def export(
    project: Project,
    network: str | None = None,
    *,
    base_dir: str | Path | None = None,
    filename: str = "model.py",
) -> Export:
    """Export one network of ``project`` (the first by default) as a standalone script.

    Args:
        project: the project (its network and its ``training`` section).
        network: the network's name; None for the first one.
        base_dir: the project file's folder: relative data paths start there.
        filename: the script's file name, shown in its docstring (a plain name only).

    Raises:
        GraphInvalidError: the network cannot be built (the validator's message).
        NeuralCanvasError: there is no such network.

    When the training settings do not fit the network (several Inputs, a shape or loss
    that does not match the data, invalid settings, unreadable data, a procedure whose
    code is not portable), the script still holds the model class, without a training
    loop; ``note`` says why.
    """
    net = project.network(network)
    nets = _role_networks(project, network) or {_single_role(project): net}
    seed = _seed(project)
    base = Path(base_dir) if base_dir is not None else None
    names: dict[str, str] = {}
    models, gms = [], {}
    for offset, (role, role_net) in enumerate(nets.items()):
        name = class_name_for(project, role_net)
        while name in names.values():
            name += "Net"
        names[role] = name
        model, gms[role] = _model(role_net, name, seed + offset)
        models.append(model)
    # the class of the network asked for (the first role's when it takes none)
    asked = next((role for role, n in nets.items() if n is net), next(iter(nets)))
    name = names[asked]
    copier = Copier(SCRIPT_NAMES | set(names.values()))
    helpers = copier.take([h for m in models for h in m.helpers])
    try:
        plan: _Plan | None = _plan(project, nets, gms, base)
        training = _training(plan, copier, names)
        note = ""
    except GraphInvalidError:
        raise
    except NeuralCanvasError as exc:
        plan, training, note = None, [], str(exc)
    except NotPortableError as exc:
        plan, training, note = None, [], f"its training code is not portable: {exc}"
    shown = filename if _SAFE_FILENAME.match(filename or "") else "model.py"
    doc = (DOC_TRAIN if plan is not None else DOC_MODEL).replace("__FILE__", shown)
    if plan is not None:
        doc = doc.replace("__PROCEDURE__", plan.procedure.id)
    header = [f"# Project: {comment(project.name)}"]
    header += [
        f"# Network: {comment(n.name)}" + (f" (the {role})" if len(nets) > 1 else "")
        for role, n in nets.items()
    ]
    header.append(
        "# Exported by NeuralCanvas: the app's model, data and training, as plain PyTorch."
    )
    if note:
        header += ["#", *_note("No training loop here: ", note)]
    model_blocks = [*(b.code for b in helpers), *(m.code for m in models)]
    model_blocks[0] = _section("model") + "\n" + model_blocks[0].strip("\n")
    blocks = ["\n".join(header), _settings(plan, seed), *model_blocks]
    if plan is not None:
        blocks += training
    else:
        main = MAIN_MODEL_ONLY.replace("__MODEL__", next(iter(names.values())))
        blocks.append(_section("main") + "\n" + main.strip("\n"))
    body = _join(blocks)
    imports = {**copier.imports, **OWN_IMPORTS}
    code = doc.strip("\n") + "\n\n" + _import_block(body, imports) + "\n" + body
    return Export(code, name, nets[asked].name, plan is not None, note)


def export_script(
    project: Project,
    network: str | None = None,
    *,
    base_dir: str | Path | None = None,
    filename: str = "model.py",
) -> str:
    """The script :func:`export` writes (see there)."""
    return export(project, network, base_dir=base_dir, filename=filename).code


def _role_networks(project: Project, network: str | None) -> dict[str, Network] | None:
    """The networks of a procedure that trains several (a GAN's two), by role; None for a
    one-network procedure or when they cannot be bound (the script then holds ``network``
    alone, and its note says why)."""
    from builder.training import procedures
    from builder.training.binding import role_networks
    from builder.training.config import parse_training

    try:
        cfg = parse_training(project.training)
        spec = procedures.procedure(cfg.procedure)
        if len(spec.roles) < 2:
            return None
        return role_networks(project, spec, cfg.roles, network)
    except NeuralCanvasError:
        return None


def _single_role(project: Project) -> str:
    """The role a one-network procedure's network has (``model``; a SOM's ``map``)."""
    from builder.training import procedures

    name = project.training.get("procedure") if isinstance(project.training, Mapping) else None
    spec = procedures.PROCEDURES.get(name) if isinstance(name, str) else None
    return spec.roles[0].name if spec is not None and len(spec.roles) == 1 else "model"


def _seed(project: Project) -> int:
    seed = project.training.get("seed", 0) if isinstance(project.training, Mapping) else 0
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


__all__ = [
    "Export",
    "ExportError",
    "class_name_for",
    "comment",
    "export",
    "export_script",
    "py_literal",
    "py_str",
]
