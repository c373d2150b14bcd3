"""Import: an ``nn.Module`` (or a script that builds one) read back into a project via torch.fx.

The reverse of the compiler. :func:`import_module` traces the module with ``torch.fx`` and
maps every operation onto a catalog layer: submodules whose class is a catalog layer's
constructor target (``nn.Linear`` -> Linear, ...), the functions and tensor methods the
compiler and the script exporter emit (``+``, ``*``, ``torch.cat``, ``reshape`` / ``view``,
``torch.flatten``, ``F.relu``, ...) and the indexing that picks a recurrent layer's sequence or
final state or an attention layer's output. Placeholders become Input nodes (with the shapes
the caller gives: a module does not declare them), the returned values Output nodes.

Layer params come from the module's constructor arguments (``Linear.out_features``); the
arguments the catalog infers (``in_features``) are checked against shape inference, so a
module that does not fit the given input shapes is refused with the attribute that differs.
Everything without a layer is reported at once, one line per operation.

:func:`import_file` loads a class from a Python file, which runs that file's code.

The modules, in the order an import goes through them:

- ``convert``: :func:`convert_module` / :func:`import_module`, the entry points for a module.
- ``files``: :func:`load_class`, :func:`convert_file` / :func:`import_file` for a file.
- ``interpreter``: ``Importer``, which traces the module and visits its fx graph node by node.
- ``values``: what an fx node stands for meanwhile (a tensor ``Ref``, an LSTM's state tuple...).
- ``calls``: reading fx calls; the functions and tensor methods that are layers.
- ``readers``: a layer's params read from a torch module (``READERS``, ``module_types``).
- ``network``: ``NetworkDraft``, the network being built, connected and checked at the end;
  ``ImportedModel``, the result.
- ``compare``: each rebuilt layer module against the original one.
- ``errors``: ``ModelImportError`` (to the user) and ``Unsupported`` (one operation).
"""

from builder.importer.convert import convert_module, import_module
from builder.importer.errors import ModelImportError
from builder.importer.files import convert_file, import_file, load_class
from builder.importer.network import ImportedModel

__all__ = [
    "ImportedModel",
    "ModelImportError",
    "convert_file",
    "convert_module",
    "import_file",
    "import_module",
    "load_class",
]
