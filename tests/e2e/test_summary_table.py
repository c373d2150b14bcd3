"""builder.summary: what the CLI prints and the main window shows.

(A unit test of builder/summary.py; it lives here because tests/builder belongs to
another work stream. Move it there freely.)
"""

from __future__ import annotations

import json

from builder import CATALOG, compile_network
from builder.summary import format_table, summarize
from graph.document import Project


def network(name: str = "main"):
    return Project(CATALOG).add_network(name)


def torch_count(net) -> int:
    return sum(p.numel() for p in compile_network(net).parameters())


def test_rows_follow_topological_order_and_output_shows_what_it_receives():
    net = network()
    out = net.add_node("Output", "y")  # added first, still listed last
    x = net.add_node("Input", "x", {"shape": [1, 8, 8]})
    flat = net.add_node("Flatten", "flat")
    fc = net.add_node("Linear", "fc", {"out_features": 3})
    net.connect(x, flat)
    net.connect(flat, fc)
    net.connect(fc, out)
    s = summarize(net)
    assert [n["name"] for n in s["nodes"]] == ["x", "flat", "fc", "y"]
    assert [n["output"] for n in s["nodes"]] == ["(N, 1, 8, 8)", "(N, 64)", "(N, 3)", "(N, 3)"]
    assert s["nodes"][2]["parameters"] == 64 * 3 + 3
    assert s["totals"] == {"parameters": torch_count(net), "nodes": 4, "errors": 0}
    assert s["valid"] and s["problems"] == []
    json.dumps(s)  # plain data


def test_several_outputs_show_the_connected_ports():
    net = network()
    x = net.add_node("Input", "x", {"shape": [5, 3]})
    lstm = net.add_node("LSTM", "lstm", {"hidden_size": 4, "output": "sequence"})
    o1 = net.add_node("Output", "seq")
    net.connect(x, lstm)
    net.connect(lstm, o1)
    row = summarize(net)["nodes"][1]
    assert row["output"] == "(N, 5, 4)"
    assert row["outputs"] == {"out": "(N, 5, 4)", "state": "(N, 4)"}
    o2 = net.add_node("Output", "state")
    net.connect(lstm, o2, "state", "in")
    s = summarize(net)
    assert s["nodes"][1]["output"] == "out (N, 5, 4), state (N, 4)"
    assert s["totals"]["parameters"] == torch_count(net)


def test_unused_layers_are_not_counted_and_errors_are_reported():
    net = network()
    x = net.add_node("Input", "x", {"shape": [4]})
    fc = net.add_node("Linear", "fc", {"out_features": 2})
    spare = net.add_node("Linear", "spare", {"out_features": 100})
    bad = net.add_node("LSTM", "bad")
    out = net.add_node("Output", "y")
    for a, b in ((x, fc), (fc, out), (x, spare), (x, bad)):
        net.connect(a, b)
    s = summarize(net)
    rows = {n["name"]: n for n in s["nodes"]}
    assert rows["spare"]["used"] is False and rows["spare"]["parameters"] == 500
    assert s["totals"]["parameters"] == 10 == torch_count(net)
    assert rows["bad"]["status"] == "error" and "Reshape" in rows["bad"]["message"]
    assert s["totals"]["errors"] == 1
    assert s["valid"]  # an unused broken layer does not stop compilation
    table = format_table(s)
    assert "unused" in table and "Problems:" in table and "LSTM 'bad'" in table


def test_blocked_layers_and_network_problems():
    net = network()
    x = net.add_node("Input", "x", {"shape": [1, 8, 8]})
    fc = net.add_node("Linear", "fc")
    relu = net.add_node("ReLU", "relu")
    net.connect(x, fc)
    net.connect(fc, relu)
    s = summarize(net)
    assert [n["status"] for n in s["nodes"]] == ["ok", "error", "blocked"]
    assert s["nodes"][1]["output"] == ""
    assert not s["valid"]
    assert any("no Output" in p for p in s["problems"])
    assert "?" in format_table(s)


def test_table_columns_line_up():
    net = network("a long network name")
    x = net.add_node("Input", "the input layer", {"shape": [3, 32, 32]})
    conv = net.add_node("Conv2d", "c", {"out_channels": 64})
    out = net.add_node("Output", "o")
    net.connect(x, conv)
    net.connect(conv, out)
    lines = format_table(summarize(net)).splitlines()
    assert lines[0] == "Network 'a long network name'"
    header, rule, *rows = lines[1:6]
    assert set(rule) == {"-"}
    type_col = header.index("Type")
    params_end = header.index("Params") + len("Params")
    for row in rows:
        assert row[type_col - 2 : type_col] == "  "  # the name column ends before Type
        assert row[params_end - 1].isdigit()  # counts are right-aligned under Params
    assert "1,792" in lines[4]
    assert lines[-1] == "Total: 1,792 parameters, 3 layers, 0 errors"
