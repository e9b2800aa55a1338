"""The tables at 60, 80 and 120 columns: every number of the JSON document appears whole
(never cut with ``…``), every line fits, and each part of a split table keeps ``#`` and
the layer names. The expected numbers come from the ``--json`` document of the same
report, read back as numbers, not from stored text."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from conftest import FIXTURES, SAMPLES, cli_json

from cnninspect.render.columns import format_bytes, format_count, format_field
from cnninspect.render.tables import connections_view, format_shape, shapes_view, weights_view

WIDTHS = [60, 80, 120]
MNIST = SAMPLES / "mnist_cnn.h5"
NESTED = FIXTURES / "keras3" / "nested.h5"
TFLITE = FIXTURES / "tflite" / "small_int8.tflite"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?")


def render(renderables: Any, width: int) -> str:
    console = Console(file=StringIO(), width=width, no_color=True, highlight=False, emoji=False)
    for r in renderables(console):
        console.print(r)
    return console.file.getvalue()


def fits(text: str, width: int) -> None:
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width


def parts(text: str) -> list[list[str]]:
    """The table parts: each a list of lines from its header line (starting with ``#``)."""
    lines = text.splitlines()
    starts = [k for k, line in enumerate(lines) if line.split()[:1] == ["#"]]
    return [lines[k : k + 2 + 200] for k in starts]


def rows_of(part: list[str], n: int) -> list[str]:
    """The ``n`` body lines of a table part whose first cell is a row number (continuation
    lines of a folded or multi-line cell are joined to their row)."""
    rows: list[str] = []
    for line in part[2:]:
        first = line.split()[:1]
        if first and first[0].isdigit() and len(rows) < n:
            rows.append(line)
        elif rows and line.strip() and len(rows) <= n:
            rows[-1] += "\n" + line
        if len(rows) == n and not line.strip():
            break
    return rows


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path,columns", [
    (MNIST, None), (MNIST, "all"), (MNIST, "all,attrs"), (NESTED, "all"), (TFLITE, "all"),
])  # fmt: skip
def test_shapes_tables_never_cut_a_number(path: Any, columns: str | None, width: int) -> None:
    from cnninspect.render.columns import parse_columns

    report = cli_json("shapes", path)
    chosen = parse_columns(columns)
    text = render(lambda console: shapes_view(report, console, chosen), width)
    fits(text, width)
    layers = report["layers"]
    tables = parts(text)
    assert tables
    for part in tables:
        assert part[0].split()[:2] == ["#", "Layer"]  # every part keeps # and the name
        rows = rows_of(part, len(layers))
        assert [r.split()[0] for r in rows] == [str(x["index"]) for x in layers]
    whole = "\n".join("\n".join(rows_of(p, len(layers))) for p in tables)
    wanted = ["shape", "params", "macs"] if columns is None else chosen
    for layer in layers:
        row_text = "\n".join(r for p in tables for r in rows_of(p, len(layers)) if r.split()[0] == str(layer["index"]))
        if len(layer["name"]) <= 30:  # longer names may fold over lines
            assert f" {layer['name']}" in row_text
        expected = [f"{layer['params']:,}"]
        if "shape" in wanted:
            expected += [format_shape(s) for s in layer["output_shapes"]]
        if "macs" in wanted:
            expected.append(format_count(layer["macs"]))
        if "flops" in wanted:
            expected.append(format_count(layer["flops"]))
        if "memory" in wanted:
            expected.append(format_bytes(layer["activation_bytes"]))
        if "rf" in wanted and layer["receptive_field"]:
            expected.append(format_field(layer["receptive_field"]))
        for value in expected:
            assert value in row_text, (layer["name"], value)
    assert whole


@pytest.mark.parametrize("width", WIDTHS)
def test_the_totals_say_every_count_whole(width: int) -> None:
    report = cli_json("shapes", MNIST)
    text = render(lambda console: shapes_view(report, console), width)
    totals = report["totals"]
    for n in (totals["params"], totals["trainable_params"], totals["non_trainable_params"]):
        assert f"{n:,}" in text
    assert format_count(totals["macs"]) in text and format_count(totals["flops"]) in text


def numbers_in(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text)]


def decimals_of(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("args", [
    (MNIST, "conv2d_1", "--out", "5"), (MNIST, "conv2d_1", "--in", "3"), (MNIST, "dense_1", "--out", "3"),
    (FIXTURES / "keras3" / "depthwise_separable.h5", "separable_conv2d", "--out", "1"),
])  # fmt: skip
def test_filters_numbers_match_the_json_in_one_format_per_column(args: tuple, width: int) -> None:
    path, layer, side, n = args
    report = cli_json("filters", path, "--layer", layer, side, n)
    text = render(lambda console: connections_view(report, None), width)
    assert "…" not in text
    key = "in" if side == "--out" else "out"
    ranking = text[re.search(r"^strongest ", text, re.M).start() :]
    body = [line for line in ranking.splitlines()[4:] if line.strip() and line.split()[0].isdigit()]
    assert body
    if report["layer"]["op"] == "dense":  # rank, unit, weight
        weights = {e[key]: e["filter"] for e in report["inputs"]}
        cells = [line.split() for line in body]
        assert len({decimals_of(c[2]) for c in cells}) == 1  # one format for the column
        for c in cells:
            assert float(c[2]) == pytest.approx(weights[int(c[1])], abs=0.51 * 10 ** -decimals_of(c[2]))
        return
    cells = [line.split()[-2:] for line in body]
    for column in (0, 1):
        assert len({decimals_of(c[column]) for c in cells}) == 1  # no 1.04 beside 0.9506
    for entry, c in zip(report["ranking"], cells):
        for value, cell in zip((entry["l1"], entry["l2"]), c):
            assert float(cell) == pytest.approx(value, abs=0.51 * 10 ** -decimals_of(cell))


@pytest.mark.parametrize("width", WIDTHS)
def test_filter_grid_numbers_are_the_json_numbers(width: int) -> None:
    report = cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", "5", "--top", "4")
    text = render(lambda console: connections_view(report, 4), width)
    assert "…" not in text and "-0.000" not in text
    shown = {e["in"]: e["filter"] for e in report["inputs"] if e["in"] in {r["in"] for r in report["ranking"][:4]}}
    grid = [line for line in text.splitlines() if line.startswith("│")]
    values = [numbers_in(line.replace("│", " ")) for line in grid]
    expected = [[v for i in sorted(shown) for v in shown[i][r]] for r in range(3)]
    flat = [v for row in values for v in row]
    assert sorted(flat) == pytest.approx(sorted(v for row in expected for v in row), abs=5.1e-4)


@pytest.mark.parametrize("width", WIDTHS)
def test_weights_stats_tables_keep_the_numbers(width: int) -> None:
    report = cli_json("weights", MNIST, "--stats")
    text = render(lambda console: weights_view(report, console), width)
    fits(text, width)
    lines = text.splitlines()
    at = next(k for k, line in enumerate(lines) if "Std" in line.split())
    header = lines[at].split()
    if header[0] == "#":  # split: every part keeps the number
        assert all(p[0].split()[0] == "#" for p in parts(text))
    k = len(header) - header.index("Min")  # the columns after Std hold one word each
    for t, row in zip(report["tensors"], lines[at + 2 :]):
        shown = [float(x) for x in row.split()[-k:][:4]]
        for value, number in zip((t["stats"][m] for m in ("min", "max", "mean", "std")), shown):
            assert number == pytest.approx(value, rel=5e-3, abs=1e-12)  # three significant digits


def test_integer_weights_print_without_decimals() -> None:
    report = cli_json("filters", TFLITE, "--layer", "2", "--out", "1")
    text = render(lambda console: connections_view(report, None), 120)
    grid = [line for line in text.splitlines() if line.startswith("│")]
    assert grid and not any("." in line for line in grid)
    stored = sorted(v for e in report["inputs"] for row in e["filter"] for v in row)
    assert sorted(numbers_in(" ".join(g.replace("│", " ") for g in grid))) == stored
    assert "stored int8; real = scale·(q − zero_point); --dequantize shows real values" in text
    real = cli_json("filters", TFLITE, "--layer", "2", "--out", "1", "--dequantize")
    assert "stored int8" not in render(lambda console: connections_view(real, None), 120)


def test_top_limits_the_ranking() -> None:
    report = cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", "5")
    text = render(lambda console: connections_view(report, 3), 120)
    ranking = text[text.index("strongest input maps") :]
    ranks = [line.split()[0] for line in ranking.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert ranks == ["1", "2", "3"]


def test_layer_columns_on_demand() -> None:
    from cnninspect.render.columns import parse_columns

    assert parse_columns("attrs") == ("trainable", "kernel", "stride", "padding", "dilation", "groups")
    assert parse_columns("all") == ("shape", "params", "macs", "flops", "memory", "rf")
    report = cli_json("shapes", FIXTURES / "keras3" / "nested.h5")
    text = render(lambda console: shapes_view(report, console, ("trainable", "kernel")), 120)
    for layer in report["layers"]:
        line = next(r for r in text.splitlines() if r.split()[:2] == [str(layer["index"]), layer["name"]])
        word = "" if not layer["params"] else ("yes" if layer["trainable_params"] == layer["params"]
                                              else "no" if not layer["trainable_params"] else "partly")  # fmt: skip
        assert line.split()[3] == word if word else line.split()[3:4] not in (["yes"], ["no"], ["partly"])
        if layer["kernel_size"]:
            assert "×".join(map(str, layer["kernel_size"])) in line


def test_window_columns_lay_out_the_reports_window() -> None:
    """Stride, padding, dilation and groups come from the report's ``window`` (for the
    sliding-window layers); a value the file does not give is ``?``, and a layer without
    a window leaves the cells empty."""
    from cnninspect.render.columns import attr_cells

    conv = {"params": 10, "trainable_params": 4, "kernel_size": [3, 3], "op": "conv"}
    given = attr_cells({**conv, "window": {"kernel_size": [3, 3], "strides": [2, 1], "padding": "same", "dilation": [1, 1], "groups": 4}})
    assert given == {"trainable": "partly", "kernel": "3×3", "stride": "2×1", "padding": "same", "dilation": "1×1", "groups": "4"}
    unknown = attr_cells({**conv, "window": {"kernel_size": [3, 3], "strides": None, "padding": [1, 2], "dilation": None, "groups": None}})
    assert unknown["stride"] == unknown["dilation"] == unknown["groups"] == "?" and unknown["padding"] == "1×2"
    dense = attr_cells({"params": 6, "trainable_params": 0, "kernel_size": None, "op": "dense", "window": None})
    assert dense == {"trainable": "no", "kernel": "", "stride": "", "padding": "", "dilation": "", "groups": ""}
