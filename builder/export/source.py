"""The app's own code in the exported script: definitions copied from NeuralCanvas's source
(``inspect.getsource``), with what they use, so that the script trains as the app does by
construction (DESIGN.md, "Training procedures: declared once").

:class:`Copier` takes top-level definitions (``("builder.training.loop", "fit")``) and
follows every name they use: a definition of the same module, a name imported from another
``builder`` module (whose definition is copied in turn, and the import dropped: the script is
one file), or a name imported from the standard library, numpy, torch or scikit-learn (that
import goes to the script's import block). A name that leads anywhere else (the app's own
modules: graph, widgets, a ``builder`` module bound whole) is refused: such code is not
portable. The portable modules (:data:`PORTABLE`) are portable whole; the test suite keeps
them so (tests/builder/test_portable.py).

Each module's definitions are written in its source order, modules in the order their
definitions need each other, each under a comment naming the file, between ``# fmt: off``
and ``# fmt: on`` (they are NeuralCanvas's source as it is, formatted at its own line length).
Top-level names stay unique: a copied definition whose name is already taken in the script
(by the model, the script's own code, an import or an earlier module) is renamed there, with
every use of it, as ``<module>_<name>`` (``LoopStep`` for a class).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import io
import pkgutil
import sys
import textwrap
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache

# Every module here imports only the standard library, numpy, torch and each other (the
# data loaders import scikit-learn inside the functions that need it).
PORTABLE_DATA = (
    "builder.data.problems",
    "builder.data.seeds",
    "builder.data.dataset",
    "builder.data.normalisation",
    "builder.data.splits",
    "builder.data.augmentation",
    "builder.data.files",
    "builder.data.generated",
    "builder.data.sklearn_data",
    "builder.data.csv_loader",
    "builder.data.numpy_loader",
    "builder.data.idx_loader",
)
PORTABLE_TRAINING = ("builder.training.loop",)  # and every module of builder.training.kernels
PORTABLE_MODEL = ("builder.catalog.modules",)
THIRD_PARTY = ("numpy", "torch", "sklearn")  # what the script may import besides the stdlib


def kernel_modules() -> tuple[str, ...]:
    """Every module of :mod:`builder.training.kernels` (all portable)."""
    import builder.training.kernels as package

    found = pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    return tuple(sorted(m.name for m in found))


def portable_modules() -> tuple[str, ...]:
    return (*PORTABLE_MODEL, *PORTABLE_DATA, *PORTABLE_TRAINING, *kernel_modules())


class NotPortableError(Exception):
    """Code the script would copy uses something that is not portable."""


@dataclass(frozen=True)
class Import:
    """One name an import statement binds: ``import numpy as np`` (``member`` None) or
    ``from torch import nn``."""

    module: str
    member: str | None
    bound: str

    @property
    def stdlib(self) -> bool:
        return self.module.split(".")[0] in sys.stdlib_module_names


@dataclass(frozen=True)
class Definition:
    """A top-level statement that defines names: its source lines, comments above included."""

    module: str
    names: tuple[str, ...]
    first: int  # 0-based line of its first line (a leading comment or decorator)
    last: int  # 0-based, inclusive
    uses: frozenset[str]  # the module-level names it reads


@dataclass
class Parsed:
    """A module's source, read once: its definitions, and what its imports bind."""

    name: str
    lines: list[str]
    summary: str
    definitions: list[Definition] = field(default_factory=list)
    defines: dict[str, Definition] = field(default_factory=dict)
    imports: dict[str, Import] = field(default_factory=dict)  # stdlib and third party
    app: dict[str, tuple[str, str]] = field(default_factory=dict)  # bound -> (module, name)
    unsupported: dict[str, str] = field(default_factory=dict)  # bound -> why it is refused


def _summary(tree: ast.Module) -> str:
    doc = ast.get_docstring(tree) or ""
    first = doc.split("\n\n")[0].replace("\n", " ")
    return first.split(". ")[0].rstrip(".") + "." if first else ""


@cache
def parse(module_name: str) -> Parsed:
    """The module's definitions and imports (read from its source)."""
    module = importlib.import_module(module_name)
    text = inspect.getsource(module)
    tree = ast.parse(text)
    lines = text.splitlines()
    parsed = Parsed(module_name, lines, _summary(tree))
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "builder":
                    parsed.unsupported[alias.asname or alias.name] = "a builder module bound whole"
                elif alias.asname is None and "." in alias.name:
                    parsed.unsupported[alias.name.split(".")[0]] = f"import {alias.name}"
                else:
                    bound = alias.asname or alias.name
                    parsed.imports[bound] = Import(alias.name, None, bound)
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            if node.level or node.module is None:
                for alias in node.names:
                    parsed.unsupported[alias.asname or alias.name] = "a relative import"
                continue
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module.split(".")[0] == "builder":
                    parsed.app[bound] = (node.module, alias.name)
                else:
                    parsed.imports[bound] = Import(node.module, alias.name, bound)
        else:
            names = _defined_names(node)
            if not names:
                continue
            first = min([node.lineno, *(d.lineno for d in _decorators(node))]) - 1
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
            uses = frozenset(
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in names
            )
            definition = Definition(module_name, names, first, node.end_lineno - 1, uses)
            parsed.definitions.append(definition)
            for name in names:
                parsed.defines[name] = definition
    return parsed


def _decorators(node: ast.stmt) -> list[ast.expr]:
    return list(getattr(node, "decorator_list", []))


def _defined_names(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    names: list[str] = []
    for target in targets:
        for n in ast.walk(target):
            if isinstance(n, ast.Name):
                names.append(n.id)
    return tuple(names)


def _locate(module: str, name: str) -> tuple[str, str]:
    """Where ``module``'s ``name`` is defined: a package re-exports what its modules define."""
    parsed = parse(module)
    if name in parsed.defines:
        return module, name
    if name in parsed.app:
        return _locate(*parsed.app[name])
    value = getattr(importlib.import_module(module), name, None)
    home = getattr(value, "__module__", None)
    if isinstance(home, str) and home != module and home.split(".")[0] == "builder":
        return _locate(home, getattr(value, "__name__", name))
    raise NotPortableError(f"{module} defines no {name!r} at its top level")


@dataclass(frozen=True)
class Block:
    """One module's copied definitions, ready for the script."""

    module: str
    code: str  # the header comment, ``# fmt: off``, the definitions, ``# fmt: on``


class Copier:
    """Copies definitions into one script, keeping top-level names unique.

    ``taken`` are the names the script defines itself or imports: a copied definition that
    would take one of them is renamed. :meth:`take` copies what it is given and everything
    that needs; call it once per part of the script (the model's helpers, then the rest).
    """

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken: set[str] = set(taken)
        self.copied: set[tuple[str, str]] = set()  # (module, first name of a definition)
        self.final: dict[tuple[str, str], str] = {}  # (module, name) -> its name in the script
        self.imports: dict[str, Import] = {}

    def name_of(self, module: str, name: str) -> str:
        """``module``'s ``name`` as the script calls it (after :meth:`take`)."""
        return self.final[_locate(module, name)]

    def take(self, roots: Iterable[tuple[str, str]]) -> list[Block]:
        """Copy these definitions and what they use; the blocks to write, in order."""
        wanted: dict[str, set[Definition]] = {}
        needs: dict[str, set[str]] = {}  # module -> modules whose definitions it uses
        stack = [_locate(m, n) for m, n in roots]
        seen: set[tuple[str, str]] = set()
        while stack:
            module, name = stack.pop()
            parsed = parse(module)
            definition = parsed.defines[name]
            key = (module, definition.names[0])
            if key in seen or key in self.copied:
                continue
            seen.add(key)
            wanted.setdefault(module, set()).add(definition)
            needs.setdefault(module, set())
            for used in sorted(definition.uses):
                if used in parsed.defines:
                    stack.append((module, used))
                elif used in parsed.app:
                    target = _locate(*parsed.app[used])
                    if target[0] != module:
                        needs[module].add(target[0])
                    stack.append(target)
                elif used in parsed.imports:
                    self._import(parsed.imports[used], module)
                elif used in parsed.unsupported:
                    raise NotPortableError(
                        f"{module}.{definition.names[0]} uses {used!r} ({parsed.unsupported[used]})"
                    )
        blocks = []
        for module in _dependency_order(needs):
            definitions = sorted(wanted[module], key=lambda d: d.first)
            for definition in definitions:
                self.copied.add((module, definition.names[0]))
                for name in definition.names:
                    self.final[(module, name)] = self._unique(module, name)
            blocks.append(Block(module, self._block(module, definitions)))
        return blocks

    def _import(self, spec: Import, module: str) -> None:
        top = spec.module.split(".")[0]
        if not spec.stdlib and top not in THIRD_PARTY:
            raise NotPortableError(f"{module} imports {spec.module}: not portable")
        known = self.imports.get(spec.bound)
        if known is not None and known != spec:
            raise NotPortableError(
                f"{module} binds {spec.bound!r} to {spec.module}, elsewhere to {known.module}"
            )
        self.imports[spec.bound] = spec
        self.taken.add(spec.bound)

    def _unique(self, module: str, name: str) -> str:
        if name not in self.taken:
            self.taken.add(name)
            return name
        short = module.rsplit(".", 1)[-1]
        base = short.title().replace("_", "") + name if name[:1].isupper() else f"{short}_{name}"
        new, i = base, 2
        while new in self.taken:
            new, i = f"{base}{i}", i + 1
        self.taken.add(new)
        return new

    def _block(self, module: str, definitions: list[Definition]) -> str:
        parsed = parse(module)
        renames = {
            name: self.final[(module, name)]
            for d in definitions
            for name in d.names
            if self.final[(module, name)] != name
        }
        for bound, target in parsed.app.items():
            try:
                located = _locate(*target)
            except NotPortableError:
                continue  # not a definition (a module, say): nothing copied uses it
            if located in self.final and self.final[located] != bound:
                renames[bound] = self.final[located]
        codes = []
        for d in definitions:
            code = "\n".join(parsed.lines[d.first : d.last + 1])
            codes.append(rename(code, renames) if renames else code)
        path = module.replace(".", "/") + ".py"
        header = [_section(f"NeuralCanvas's {path}")]
        if parsed.summary:
            header += ["# " + line for line in textwrap.wrap(parsed.summary, 86)]
        return "\n".join([*header, "# fmt: off", "\n\n\n".join(codes), "# fmt: on"])


def _dependency_order(needs: dict[str, set[str]]) -> list[str]:
    """Modules ordered so that each comes after the modules it uses."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(module: str) -> None:
        if state.get(module) == 2:
            return
        if state.get(module) == 1:
            raise NotPortableError(f"modules use each other in a cycle through {module}")
        state[module] = 1
        for other in sorted(needs.get(module, ())):
            if other in needs:
                visit(other)
        state[module] = 2
        order.append(module)

    for module in needs:
        visit(module)
    return order


def rename(code: str, names: dict[str, str]) -> str:
    """``code`` with the identifiers in ``names`` renamed (attributes ``x.name`` and
    keyword arguments ``f(name=...)`` are left alone; so are strings and comments)."""
    lines = code.splitlines(keepends=True)
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    edits = []
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string not in names:
            continue
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before is not None and before.type == tokenize.OP and before.string == ".":
            continue
        if after is not None and after.type == tokenize.OP and after.string == "=":
            if before is not None and before.string in ("(", ","):
                continue  # a keyword argument
        edits.append((tok.start, tok.end, names[tok.string]))
    for (row, col), (_, end), new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines)


def _section(title: str) -> str:
    return f"# {'-' * max(4, 74 - len(title))} {title}"


def top_level_names(module_name: str) -> set[str]:
    """Every name ``module_name`` defines or imports at its top level."""
    parsed = parse(module_name)
    return set(parsed.defines) | set(parsed.imports) | set(parsed.app)


@lru_cache(maxsize=1)
def reserved_names() -> frozenset[str]:
    """The names a copied module could bring into a script (the model class avoids them)."""
    out: set[str] = set(dir(builtins))
    for module in portable_modules():
        out |= top_level_names(module)
    return frozenset(out)
