"""The SOM: its module, its catalog layer and its portable kernel (builder.training.kernels.som),
checked against MiniSom 2.3.6 (the same initial weights and sample order give MiniSom's
weights, QE and TE) and against a textbook competitive-learning example, number for number."""

from __future__ import annotations

import math
import warnings

import minisom  # the reference, pinned as a test dependency (pyproject.toml, .ci)
import numpy as np
import pytest
import torch

import builder
import graph
from builder.catalog.modules import SOM
from builder.training import loop
from builder.training.kernels import som as kernel

MINISOM_DECAY = {  # ours (kind, end) -> MiniSom's decay function's name
    ("asymptotic", None): "asymptotic_decay",
    ("linear", 0.0): "linear_decay_to_zero",
    ("inverse", 0.0): "inverse_decay_to_zero",
    ("linear", 1.0): "linear_decay_to_one",
    ("inverse", 1.0): "inverse_decay_to_one",
}


def som_network(rows: int, cols: int, shape: tuple[int, ...], **params) -> torch.nn.Module:
    """Input -> SOM -> Output, compiled."""
    project = graph.Project(builder.CATALOG)
    net = project.add_network("main")
    x = net.add_node("Input", name="x", params={"shape": shape})
    som = net.add_node("SOM", name="som", params={"rows": rows, "cols": cols, **params})
    out = net.add_node("Output", name="y")
    net.connect(x, som, "out", "in")
    net.connect(som, out, "out", "in")
    return builder.compile_network(net, seed=0)


def settings(**changes) -> dict:
    base = {
        "mode": "online",
        "neighbourhood": "gaussian",
        "learning_rate": 0.5,
        "learning_rate_end": 0.0,
        "sigma": 1.5,
        "sigma_end": 1.0,
        "decay": "asymptotic",
        "sigma_decay": "asymptotic",
        "init": "keep",
        "epochs": 2,
        "seed": 0,
        "eval_rows": 0,
    }
    return {**base, **changes}


def train(state: dict, x: torch.Tensor, epochs: int, batch: int | None, seed: int = 3):
    """The generic loop on the kernel (no guard: a Mexican hat may push weights far)."""
    events = loop.fit(
        kernel,
        state,
        (x, torch.zeros(len(x))),
        None,
        epochs,
        batch,
        torch.Generator().manual_seed(seed),
        loop.Progress(),
        guard=loop.Guard(0, 0),
    )
    return [e for e in events if isinstance(e, loop.Epoch)]


# ----------------------------------------------------------------------------- MiniSom


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize(
    "neighbourhood, decay, sigma_decay, rate, sigma",
    [
        ("gaussian", ("asymptotic", None), ("asymptotic", None), 0.5, 1.5),
        ("mexican_hat", ("linear", 0.0), ("inverse", 1.0), 0.05, 1.5),
        ("bubble", ("inverse", 0.0), ("linear", 1.0), 0.5, 2.0),
        ("triangle", ("asymptotic", None), ("asymptotic", None), 0.3, 2.0),
    ],
)
def test_online_training_gives_minisoms_weights_qe_and_te(
    topology, neighbourhood, decay, sigma_decay, rate, sigma
):
    """300 updates on a 5 × 6 map, in float64: MiniSom's update() fed the loop's order."""
    data = np.random.RandomState(0).rand(150, 4)
    epochs = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MiniSom: "triangle does not take hexagons in account"
        theirs = minisom.MiniSom(
            5,
            6,
            4,
            sigma=sigma,
            learning_rate=rate,
            decay_function=MINISOM_DECAY[decay],
            sigma_decay_function=MINISOM_DECAY[sigma_decay],
            neighborhood_function=neighbourhood,
            topology=topology,
            random_seed=1,
        )
    model = som_network(5, 6, (4,), topology=topology).double()
    state = kernel.setup(
        {"map": model},
        settings(
            neighbourhood=neighbourhood,
            learning_rate=rate,
            learning_rate_end=decay[1] or 0.0,
            decay=decay[0],
            sigma=sigma,
            sigma_end=sigma_decay[1] or 0.0,
            sigma_decay=sigma_decay[0],
            epochs=epochs,
        ),
    )
    with torch.no_grad():
        state["som"].weight.copy_(torch.from_numpy(theirs.get_weights().reshape(30, 4)))
    last = train(state, torch.from_numpy(data), epochs, 16)[-1]

    gen = torch.Generator().manual_seed(3)  # the loop's shuffle, replayed for MiniSom
    total, t = epochs * len(data), 0
    for _ in range(epochs):
        for row in torch.randperm(len(data), generator=gen).tolist():
            theirs.update(data[row], theirs.winner(data[row]), t, total)
            t += 1
    ours = state["som"].weight.numpy()
    np.testing.assert_allclose(ours, theirs.get_weights().reshape(30, 4), rtol=1e-5, atol=1e-5)
    assert last.evaluation["qe"] == pytest.approx(theirs.quantization_error(data), rel=1e-12)
    assert last.evaluation["te"] == theirs.topographic_error(data)
    assert last.evaluation["loss"] == last.evaluation["qe"]


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_batch_mode_is_minisoms_train_batch_offline(topology):
    data = np.random.RandomState(1).rand(100, 3)
    theirs = minisom.MiniSom(
        4, 5, 3, sigma=1.5, learning_rate=0.7, topology=topology, random_seed=2
    )
    state = kernel.setup(
        {"map": som_network(4, 5, (3,), topology=topology).double()},
        settings(mode="batch", learning_rate=0.7, epochs=4),
    )
    with torch.no_grad():
        state["som"].weight.copy_(torch.from_numpy(theirs.get_weights().reshape(20, 3)))
    last = train(state, torch.from_numpy(data), 4, 32)[-1]  # 4 batches, one update an epoch
    theirs.train_batch_offline(data, 4)
    np.testing.assert_allclose(
        state["som"].weight.numpy(), theirs.get_weights().reshape(20, 3), rtol=1e-10, atol=1e-12
    )
    assert last.evaluation["qe"] == pytest.approx(theirs.quantization_error(data), rel=1e-12)


@pytest.mark.parametrize("rows, cols", [(5, 6), (1, 7)])
def test_pca_init_is_minisoms_up_to_the_eigenvectors_signs(rows, cols):
    data = np.random.RandomState(2).rand(60, 4) * [1, 2, 3, 4]
    state = kernel.setup({"map": som_network(rows, cols, (4,)).double()}, settings(init="pca"))
    kernel.prepare(state, torch.from_numpy(data), torch.zeros(60))
    theirs = minisom.MiniSom(rows, cols, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "one of the dimensions of the map is 1"
        theirs.pca_weights_init(data)
    ours = state["som"].weight.numpy().reshape(rows, cols, 4)
    w = theirs.get_weights()
    mirrored = [w, w[::-1], w[:, ::-1], w[::-1, ::-1]]  # pc1 and / or pc2 negated
    assert min(np.abs(ours - m).max() for m in mirrored) < 1e-12


def test_the_layout_is_minisoms():
    for topology in ("rectangular", "hexagonal"):
        for rows, cols in ((3, 4), (4, 5)):
            theirs = minisom.MiniSom(rows, cols, 2, topology=topology)
            xx, yy = theirs.get_euclidean_coordinates()
            module = SOM(2, rows, cols, topology=topology).double()
            want = np.stack([xx.reshape(-1), yy.reshape(-1)], axis=1)
            positions, _, _ = module.layout()
            assert np.array_equal(positions.numpy(), want), (topology, rows, cols)


@pytest.mark.parametrize("neighbourhood", ["gaussian", "mexican_hat", "bubble", "triangle"])
@pytest.mark.parametrize("mode", ["online", "batch", "minibatch"])
def test_a_big_map_without_the_grid_table_learns_alike(neighbourhood, mode, monkeypatch):
    """Past TABLE_UNITS the grid's rows are computed on the fly, and matrices in parts."""
    x = torch.from_numpy(np.random.RandomState(3).rand(40, 3))
    results = []
    for table_units, cells in ((kernel.TABLE_UNITS, kernel.CELLS), (0, 37)):
        monkeypatch.setattr(kernel, "TABLE_UNITS", table_units)
        monkeypatch.setattr(kernel, "CELLS", cells)
        model = som_network(3, 4, (3,), topology="hexagonal", toroidal=True).double()
        state = kernel.setup(
            {"map": model},
            settings(mode=mode, neighbourhood=neighbourhood, init="samples", sigma=1.5, epochs=2),
        )
        assert (state["table"] is None) == (table_units == 0)
        evaluation = train(state, x, 2, 8)[-1].evaluation
        results.append((state["som"].weight.clone(), evaluation))
    (a, first), (b, second) = results
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)  # (torch.testing imports for 1 s)
    assert first == pytest.approx(second, rel=1e-12)


# ----------------------------------------------------------------------------- textbook


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_winner_take_all_reproduces_the_textbook_example(dtype):
    """σ = 0, η = 0.6 throughout: only the winner moves, w += 0.6·(x - w)."""
    model = som_network(1, 2, (4,)).to(dtype)
    state = kernel.setup(
        {"map": model},
        settings(
            sigma=0.0,
            sigma_end=0.0,
            learning_rate=0.6,
            learning_rate_end=0.6,
            decay="linear",
            epochs=1,
        ),
    )
    state["batches"] = 4  # one sample a step
    with torch.no_grad():
        state["som"].weight.copy_(
            torch.tensor([[0.3, 0.5, 0.7, 0.2], [0.6, 0.7, 0.4, 0.3]], dtype=dtype)
        )
    samples = torch.tensor([[1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]], dtype=dtype)
    x, _ = kernel.prepare(state, samples, torch.zeros(4))
    expected = [  # (squared distances, winner, its change, the weights after)
        (
            [0.87, 1.10],
            0,
            [0.42, -0.3, 0.18, -0.12],
            [[0.72, 0.2, 0.88, 0.08], [0.6, 0.7, 0.4, 0.3]],
        ),
        (
            [0.8992, 0.90],
            0,
            [0.168, -0.12, -0.528, -0.048],
            [[0.888, 0.08, 0.352, 0.032], [0.6, 0.7, 0.4, 0.3]],
        ),
        (
            [2.215872, 1.10],
            1,
            [0.24, 0.18, 0.36, 0.42],
            [[0.888, 0.08, 0.352, 0.032], [0.84, 0.88, 0.76, 0.72]],
        ),
        (
            [2.055872, 1.296],
            1,
            [-0.504, 0.072, 0.144, -0.432],
            [[0.888, 0.08, 0.352, 0.032], [0.336, 0.952, 0.904, 0.288]],
        ),
    ]
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for step, (distances, winner, change, after) in enumerate(expected):
        logs = kernel.train_step(state, x[step : step + 1], None, step)
        last = state["last"]
        assert last["winner"] == winner
        assert last["distances"].tolist() == pytest.approx(distances, abs=tol)
        h = [0.0, 0.0]
        h[winner] = 1.0
        assert last["h"].tolist() == h
        delta = [[0.0] * 4, [0.0] * 4]
        delta[winner] = change
        assert last["delta"].tolist() == [pytest.approx(row, abs=tol) for row in delta]
        assert last["x"].tolist() == samples[step].tolist()
        assert state["som"].weight.tolist() == [pytest.approx(row, abs=tol) for row in after]
        assert float(logs["loss"]) == pytest.approx(math.sqrt(distances[winner]), abs=tol)
        assert float(logs["eta"]) == pytest.approx(0.6) and float(logs["sigma"]) == 0.0


# ----------------------------------------------------------------------------- learning


def clusters(n: int = 160, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 4.0, 2.0], [4.0, 4.0, 3.0]])
    which = torch.randint(0, 4, (n,), generator=gen)
    return centres[which] + 0.3 * torch.randn((n, 3), generator=gen)


@pytest.mark.parametrize(
    "mode, batch, changes",
    [
        (  # toroidal: a radius of 1 already spans a 4 × 4 torus
            "batch",
            64,
            {
                "learning_rate": 1.0,
                "learning_rate_end": 1.0,
                "decay": "linear",
                "sigma": 1.0,
                "sigma_end": 0.3,
            },
        ),
        ("minibatch", 8, {"learning_rate": 1.0, "learning_rate_end": 0.1, "decay": "linear"}),
        ("online", 64, {"neighbourhood": "bubble", "sigma": 2.0}),
        (
            "online",
            64,
            {
                "neighbourhood": "gaussian",
                "sigma": 2.0,
                "decay": "exponential",
                "learning_rate_end": 0.01,
                "sigma_decay": "exponential",
                "sigma_end": 0.5,
            },
        ),
    ],
)
def test_training_lowers_the_quantisation_error_well_below_the_random_starts(mode, batch, changes):
    x = clusters()
    state = kernel.setup(
        {"map": som_network(4, 4, (3,), toroidal=mode == "batch")},
        settings(
            **{
                "mode": mode,
                "init": "random",
                "sigma": 2.0,
                "sigma_end": 0.5,
                "sigma_decay": "linear",
                "epochs": 6,
                **changes,
            }
        ),
    )
    state["batches"] = math.ceil(len(x) / batch)
    inputs, _ = kernel.prepare(state, x, torch.zeros(len(x)))
    start, _ = kernel.errors(state, inputs)
    epochs = train(state, x, 6, batch)
    qe = epochs[-1].evaluation["qe"]
    assert qe < 0.4 * start, (start, qe)
    assert 0 <= epochs[-1].evaluation["te"] <= 1
    assert all(math.isfinite(e.train_loss) for e in epochs)


def test_layers_before_the_som_feed_it_and_eval_rows_samples_a_split():
    project = graph.Project(builder.CATALOG)
    net = project.add_network("main")
    x = net.add_node("Input", name="x", params={"shape": (1, 4, 4)})
    flat = net.add_node("Flatten", name="flat")
    fc = net.add_node("Linear", name="fc", params={"out_features": 3})
    som = net.add_node("SOM", name="som", params={"rows": 3, "cols": 3, "topology": "hexagonal"})
    for src, dst in ((x, flat), (flat, fc), (fc, som)):
        net.connect(src, dst, "out", "in")
    for port in ("out", "unit", "distances"):
        net.connect(som, net.add_node("Output", name=port), port, "in")
    model = builder.compile_network(net, seed=0)
    state = kernel.setup({"map": model}, settings(init="samples", eval_rows=50))
    data = torch.randn(200, 1, 4, 4)
    inputs, _ = kernel.prepare(state, data, torch.zeros(200))
    with torch.no_grad():
        assert torch.allclose(inputs, model.fc(data.flatten(1)))
        coords, unit, distances = model(data)
    # every unit starts as a training sample
    assert all((inputs == w).all(1).any() for w in state["som"].weight)
    assert distances.shape == (200, 9) and unit.shape == (200, 1) and coords.shape == (200, 2)
    assert torch.equal(unit[:, 0].long(), distances.argmin(1))
    assert torch.equal(coords, state["som"].positions[unit[:, 0].long()])
    result = kernel.evaluate(state, data, torch.zeros(200))
    assert state["eval"][1].shape == (50, 3)
    assert kernel.evaluate(state, data, torch.zeros(200)) == result  # the same fixed sample


def test_a_toroidal_map_wraps_round_its_edges():
    module = SOM(2, 4, 6, toroidal=True)
    d2 = module.grid_distance_sq()
    assert d2[0, 5] == 1 and d2[0, 3 * 6] == 1 and d2[0, 3 * 6 + 5] == 2  # corners meet
    hexagonal = SOM(2, 4, 6, topology="hexagonal", toroidal=True).double()
    d2 = hexagonal.grid_distance_sq()
    assert torch.allclose(d2.sort(dim=1).values[:, 1:7], torch.ones(24, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="even number of cols"):
        SOM(2, 4, 5, topology="hexagonal", toroidal=True)


# ----------------------------------------------------------------------------- bad input


def test_nan_data_is_refused_by_prepare_with_its_rows():
    state = kernel.setup({"map": som_network(2, 2, (3,))}, settings(init="random"))
    x = torch.rand(10, 3)
    x[4, 1] = math.nan
    x[7, 0] = math.inf
    with pytest.raises(
        ValueError, match=r"2 rows with NaN or infinite values \(the first: row 4\)"
    ):
        kernel.prepare(state, x, torch.zeros(10))


@pytest.mark.parametrize("mode", ["online", "batch", "minibatch"])
def test_a_single_sample_and_sigma_zero_train_without_trouble(mode):
    x = torch.tensor([[0.2, 0.4, 0.6]])
    for init in ("random", "samples"):
        state = kernel.setup(
            {"map": som_network(3, 3, (3,))}, settings(mode=mode, init=init, sigma=0.0)
        )
        epochs = train(state, x, 2, None)
        assert epochs[-1].evaluation["qe"] == pytest.approx(0.0, abs=1e-6)
        assert any("rule of thumb" in w for w in state["warnings"])
    state = kernel.setup({"map": som_network(3, 3, (3,))}, settings(init="pca"))
    with pytest.raises(ValueError, match="pca initialisation needs at least 2 samples"):
        kernel.prepare(state, x, torch.zeros(1))


def test_bad_settings_and_networks_get_clear_errors():
    model = som_network(2, 3, (2,))
    for changes, message in (
        ({"mode": "stochastic"}, "unknown SOM mode"),
        ({"neighbourhood": "cone"}, "unknown SOM neighbourhood"),
        ({"sigma": -1.0}, "sigma must be a number >= 0"),
        ({"decay": "exponential", "learning_rate_end": 0.0}, "exponential decay never reaches 0"),
        ({"epochs": 0}, "at least 1 epoch"),
    ):
        with pytest.raises(ValueError, match=message):
            kernel.setup({"map": model}, settings(**changes))
    with pytest.raises(ValueError, match="exactly one SOM layer, it holds 0"):
        kernel.setup({"map": torch.nn.Linear(2, 2)}, settings())
    state = kernel.setup({"map": som_network(1, 1, (2,))}, settings(sigma=5.0))
    assert any("larger than the map" in w for w in state["warnings"])
    epochs = train(state, torch.rand(5, 2), 1, None)  # one unit: no topographic error
    assert math.isnan(epochs[-1].evaluation["te"])


def test_the_layer_refuses_what_it_cannot_map():
    project = graph.Project(builder.CATALOG)
    net = project.add_network("main")
    x = net.add_node("Input", name="x", params={"shape": (5,), "dtype": "int64"})
    som = net.add_node("SOM", name="som")
    net.connect(x, som, "out", "in")
    info = builder.infer(net)[som]
    assert not info.ok and "token ids" in info.message
    net.set_param(x, "dtype", "float32")
    net.set_param(som, "topology", "hexagonal")
    net.set_param(som, "toroidal", True)
    net.set_param(som, "cols", 7)
    info = builder.infer(net)[som]
    assert not info.ok and "even number of cols" in info.message
