"""Datasets: the registry, built-in and file loaders, splits, normalisation, augmentation.

Built-in generators, small real datasets shipped with scikit-learn, and the user's own CSV /
NumPy / IDX files; plus train/validation/test splits, k-fold, normalisation and batch-time
augmentation. Nothing is ever downloaded.

A project's ``training.dataset`` object picks a dataset by ``name`` and sets its options
(see docs/datasets.md)::

    ds = load_dataset({"name": "moons", "samples": 200}, base_dir=project_folder, seed=0)
    splits = make_splits(ds, spec, seed=0)

Every problem a user can cause raises :class:`DatasetError`, whose message names the
option, file or column and says what to do.

The modules:

- ``registry``: the registry and the check of ``training.dataset``; :func:`load_dataset`.
- ``options``: :class:`Option`, the value checks, the split options every dataset takes.
- ``splitting``: :func:`make_splits` and :func:`kfold`, app side (checks and messages).
- ``augment_checks``: the ``augment`` option's checks and :func:`augment`, app side.
- ``builtin``: the built-in datasets, declared (name, doc, kind, options, loader).
- Portable (standard library, numpy and torch only; the exported script copies their
  source): ``problems`` (:class:`DataError`), ``dataset`` (the data types), ``seeds``,
  ``splits`` (partition, k-fold ids, :func:`split_dataset`), ``normalisation``,
  ``augmentation``, and the loaders: ``generated``, ``sklearn_data`` (the built-in
  datasets), ``files`` (what file loaders share), ``csv_loader``, ``numpy_loader``,
  ``idx_loader``.
"""

# The built-in datasets are declared (registered) in builder.data.builtin, in the order of
# dataset_names() (the palette's).
from builder.data import builtin  # noqa: F401
from builder.data.augment_checks import augment
from builder.data.dataset import KINDS, TASKS, Dataset, Split, Splits
from builder.data.errors import DatasetError
from builder.data.normalisation import apply_normalisation
from builder.data.options import SPLIT_OPTIONS, Option, json_text
from builder.data.registry import DatasetInfo, dataset_info, dataset_names, describe, load_dataset
from builder.data.splitting import kfold, make_splits

__all__ = [
    "KINDS",
    "SPLIT_OPTIONS",
    "TASKS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "Option",
    "Split",
    "Splits",
    "apply_normalisation",
    "augment",
    "dataset_info",
    "dataset_names",
    "describe",
    "json_text",
    "kfold",
    "load_dataset",
    "make_splits",
]
