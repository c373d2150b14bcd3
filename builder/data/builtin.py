"""The built-in datasets, declared: each one's name, one-line doc, kind and options, and the
loader that makes it (in a portable module: :mod:`generated`, :mod:`sklearn_data`,
:mod:`csv_loader`, :mod:`numpy_loader`, :mod:`idx_loader`, whose source the exported
script copies). The order here is the order of ``dataset_names()`` (the palette's)."""

from __future__ import annotations

from builder.data import csv_loader, generated, idx_loader, numpy_loader, sklearn_data
from builder.data.options import (
    TASK_OPTION,
    Option,
    bool_check,
    choice_check,
    column_check,
    columns_check,
    delimiter_check,
    float_check,
    int_check,
    rows_check,
    targets_check,
    text_check,
)
from builder.data.registry import register

# The largest options a generated dataset takes: rows (10 million), steps of a sequence,
# and noise (a standard deviation far beyond the data's own scale, about 1, would only
# drown it; 1e308 overflowed float32 into infinite inputs). The values in all (rows x
# values per row) are capped too: registry.MAX_GENERATED_VALUES.
MAX_SAMPLES = 10_000_000
MAX_STEPS = 10_000
MAX_NOISE = 100.0
MAX_VOCAB = 10_000_000  # the Embedding's num_embeddings at most


def _samples(default: int, what: str = "number of rows") -> Option:
    return Option("samples", default, what, int_check(2, MAX_SAMPLES))


def _noise(default: float, what: str) -> Option:
    return Option("noise", default, what, float_check(0, MAX_NOISE))


def _std(default: float, what: str = "standard deviation of each Gaussian") -> Option:
    return Option("std", default, what, float_check(0, MAX_NOISE, lo_open=True))


def _length(name: str, default: float, what: str) -> Option:
    return Option(name, default, what, float_check(0, 1e6, lo_open=True))


def _points(o: dict) -> tuple[int, int]:
    return o["samples"], 3  # x1, x2 and the class


_REPEAT = Option(
    "repeat",
    1,
    "how many times the 4-row table is repeated (for mini-batches)",
    int_check(1, MAX_SAMPLES // 4),
)


for _name, _load, _what in (
    ("and", generated.and_table, "AND"),
    ("or", generated.or_table, "OR"),
    ("xor", generated.xor_table, "XOR"),
):
    register(
        _name,
        f"the {_what} truth table: inputs in {{0, 1}}², 4 rows (trains on all of them: validation defaults to 0)",
        "points2d",
        [_REPEAT],
        validation=0.0,
        size=lambda o: (4 * o["repeat"], 3),
    )(_load)


register(
    "table",
    "rows typed into the project (a textbook's worked example): inputs, and a target per row"
    " if there is one; trains on all of them, in their order",
    None,
    [
        Option(
            "rows",
            [[0, 0], [0, 1], [1, 0], [1, 1]],
            "the inputs: a list of rows, each a list of numbers",
            rows_check,
        ),
        Option(
            "targets",
            None,
            "one target per row (a class: 0, 1, ...; or numbers for regression), or null (none:"
            " for a procedure that needs no targets, such as som)",
            targets_check,
        ),
        Option("features", None, "the inputs' names, or null (x1, x2, ...)", columns_check),
        TASK_OPTION,
    ],
    validation=0.0,
    size=lambda o: (len(o["rows"]), len(o["rows"][0]) + 1),
)(generated.table)


register(
    "moons",
    "two interleaving half circles, 2 classes (scikit-learn make_moons)",
    "points2d",
    [_samples(400), _noise(0.1, "standard deviation of Gaussian noise added to the points")],
    size=_points,
)(generated.moons)


register(
    "circles",
    "a small circle inside a large one, 2 classes (scikit-learn make_circles)",
    "points2d",
    [
        _samples(400),
        _noise(0.1, "standard deviation of Gaussian noise added to the points"),
        Option(
            "factor",
            0.5,
            "radius of the inner circle relative to the outer one, in (0, 1)",
            float_check(0, 1, True, True),
        ),
    ],
    size=_points,
)(generated.circles)


register(
    "blobs",
    "Gaussian blobs around random centres, one class per blob (scikit-learn make_blobs)",
    "points2d",
    [
        _samples(400),
        Option("classes", 3, "number of blobs (classes)", int_check(2, 1000)),
        _std(1.0, "standard deviation of each blob"),
    ],
    size=_points,
)(generated.blobs)


register(
    "spirals",
    "2 or 3 interleaved spiral arms, one class per arm; noise jitters the angle (radians)",
    "points2d",
    [
        _samples(400),
        Option("classes", 2, "number of arms (classes)", int_check(2, 3)),
        _noise(0.2, "standard deviation of the angle noise, in radians"),
    ],
    size=_points,
)(generated.spirals)


register(
    "colors",
    "random colours: red, green, blue uniform in [0, 1], each labelled with the nearest of 8"
    " named colours (black, red, ..., white): the classic self-organizing map demo",
    "tabular",
    [_samples(1000)],
    size=lambda o: (o["samples"], 4),
)(generated.colors)


register(
    "ring",
    "a ring of Gaussians, one class per Gaussian (a GAN's modes)",
    "points2d",
    [
        _samples(2000),
        Option("classes", 8, "number of Gaussians on the ring", int_check(2, 1000)),
        _length("radius", 2.0, "radius of the ring"),
        _std(0.05),
    ],
    size=_points,
)(generated.ring)


register(
    "grid",
    "a square grid of side x side Gaussians, one class per Gaussian (a GAN's modes)",
    "points2d",
    [
        _samples(2500),
        Option("side", 5, "Gaussians along each side", int_check(2, 30)),
        _length("spacing", 1.0, "distance between neighbouring centres"),
        _std(0.05),
    ],
    size=_points,
)(generated.grid)


register(
    "sine",
    "regression: x uniform in [-π, π], y = sin(x) + Gaussian noise",
    "tabular",
    [_samples(400), _noise(0.05, "standard deviation of the noise on y")],
    size=lambda o: (o["samples"], 2),
)(generated.sine)


_STEPS = Option("steps", 20, "time steps per sequence", int_check(2, MAX_STEPS))


register(
    "sine_sequences",
    "sequence classification: noisy sine waves of random phase and amplitude; "
    "class 0 = low frequency (period 12–30 steps), class 1 = high (period 4–8 steps)",
    "sequence",
    [_samples(600), _STEPS, _noise(0.1, "standard deviation of the noise on each step")],
    size=lambda o: (o["samples"], o["steps"] + 1),
)(generated.sine_sequences)


register(
    "sine_forecast",
    "sequence regression: a window of a noisy sine wave (period 8–30 steps); y is the next value",
    "sequence",
    [_samples(600), _STEPS, _noise(0.05, "standard deviation of the noise on each step")],
    size=lambda o: (o["samples"], o["steps"] + 2),
)(generated.sine_forecast)


register(
    "token_sequences",
    "token classification: int64 ids; each sequence holds marker tokens 1 and 2 once among "
    "random filler tokens (>= 3); class 0 = token 1 comes first, class 1 = token 2 comes first",
    "tokens",
    [
        _samples(4000, "number of sequences"),
        Option("steps", 16, "tokens per sequence", int_check(2, MAX_STEPS)),
        Option(
            "vocab",
            1000,
            "vocabulary size: ids are in [0, vocab); match the Embedding's num_embeddings",
            int_check(4, MAX_VOCAB),
        ),
    ],
    size=lambda o: (o["samples"], 2 * o["steps"] + 1),  # ids and the draw that places them
)(generated.token_sequences)

register(
    "digits",
    "8×8 grey images of handwritten digits, 10 classes, 1797 rows (scikit-learn, offline); "
    "pixels scaled to [0, 1]",
    "image",
    [
        Option(
            "flat",
            False,
            "true: rows of 64 pixels (kind tabular) instead of (1, 8, 8) images",
            bool_check,
        )
    ],
)(sklearn_data.digits)


register(
    "iris", "iris flowers: 4 measurements, 3 species, 150 rows (scikit-learn, offline)", "tabular"
)(sklearn_data.iris)
register(
    "wine",
    "wines: 13 chemical measurements, 3 cultivars, 178 rows (scikit-learn, offline)",
    "tabular",
)(sklearn_data.wine)
register(
    "breast_cancer",
    "breast tumours: 30 cell measurements, malignant / benign, 569 rows (scikit-learn, offline)",
    "tabular",
)(sklearn_data.breast_cancer)


register(
    "csv",
    "your own table from a CSV file: numeric feature columns and one target column",
    None,
    [
        Option(
            "path",
            None,
            "the CSV file (relative to the project's folder)",
            text_check(),
            required=True,
        ),
        Option(
            "features",
            None,
            "feature columns: names or 0-based indices (default: all but the target)",
            columns_check,
        ),
        Option(
            "target",
            None,
            "the target column: name or 0-based index (default: the last column)",
            column_check,
        ),
        Option(
            "header",
            "auto",
            '"auto", true or false; auto: the first row is a header when a cell of it is text '
            "and the cell below it is a number",
            choice_check("auto", True, False),
        ),
        TASK_OPTION,
        Option(
            "delimiter",
            "auto",
            '"auto" (detected) or the separator character, e.g. ";"',
            delimiter_check,
        ),
    ],
    needs_files=True,
)(csv_loader.csv_table)


register(
    "numpy",
    "your own arrays: a .npz file (keys x and y) or a .npy file of inputs plus a .npy of targets",
    None,
    [
        Option(
            "path",
            None,
            "a .npz file, or the .npy file of inputs (relative to the project's folder)",
            text_check(),
            required=True,
        ),
        Option(
            "target_path",
            None,
            "the .npy file of targets (needed with a .npy path)",
            text_check(nullable=True),
        ),
        Option("x_key", "x", "the inputs' key in the .npz file", text_check()),
        Option("y_key", "y", "the targets' key in the .npz file", text_check()),
        TASK_OPTION,
        Option(
            "x_dtype",
            "float32",
            '"float32", or "int64" for token ids (whole numbers >= 0)',
            choice_check("float32", "int64"),
        ),
    ],
    needs_files=True,
)(numpy_loader.numpy_arrays)


register(
    "idx",
    "MNIST / Fashion-MNIST from IDX files in a local folder (e.g. train-images-idx3-ubyte[.gz]); "
    "images (1, 28, 28) scaled to [0, 1]",
    "image",
    [
        Option(
            "folder",
            None,
            "the folder holding the IDX files (relative to the project's folder)",
            text_check(),
            required=True,
        ),
        Option(
            "which", "train", '"train" (train-*) or "test" (t10k-*)', choice_check("train", "test")
        ),
        Option(
            "limit", None, "use only the first N images (null = all)", int_check(1, nullable=True)
        ),
    ],
    needs_files=True,
)(idx_loader.idx_images)
