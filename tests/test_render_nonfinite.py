"""NaN, +Inf and -Inf in every view: the number grid, the shade ramp, the colour blocks and
the PNGs give each its own mark and colour, with a legend line. The fixture is a Keras 3
model whose weights were set with NaN/±Inf (scripts/make_nonfinite_fixtures.py); where
they are comes from what Keras read back (``nonfinite.expect.json``, ``.weights.npz``).

The reports are built in-process: the JSON of such a file is the report owners' part."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from conftest import FIXTURES
from test_pictures import cell, frames, scale_colour

from cnninspect.loaders import open_model
from cnninspect.render.heatmap import NONFINITE
from cnninspect.render.picture import filters_picture, weights_picture
from cnninspect.render.tables import connections_view
from cnninspect.reports.filters import filters_report, layer_filters_report
from cnninspect.reports.selection import select_layer

PATH = FIXTURES / "keras3" / "nonfinite.h5"
EXPECT = json.loads((FIXTURES / "keras3" / "nonfinite.expect.json").read_text())
ARRAYS = np.load(FIXTURES / "keras3" / "nonfinite.weights.npz")
KERNEL = ARRAYS["conv::0"]  # Keras (kh, kw, in, out)
MARKS = {"nan": "nan", "posinf": "+inf", "neginf": "-inf"}


def report(layer: str, out: int) -> dict[str, Any]:
    with open_model(PATH) as model:
        return filters_report(model, select_layer(model, layer), out)


def render(renderable: Any, colour: str | None) -> str:
    console = Console(file=StringIO(), width=120, color_system=colour, force_terminal=colour is not None, highlight=False)
    for r in renderable:
        console.print(r)
    return console.file.getvalue()


def marked() -> list[tuple[str, int, int]]:
    """(kind, row, column) of the non-finite weights of conv output map 1, input map 0."""
    where = EXPECT["weights"]["conv/kernel"]
    return [(MARKS[kind], r, c) for kind in MARKS for r, c, i, o in where[kind] if (i, o) == (0, 1)]


def test_the_fixture_holds_every_kind_where_the_tests_look() -> None:
    kinds = {kind for kind, _, _ in marked()}
    assert kinds == {"nan", "+inf", "-inf"}
    for kind, r, c in marked():
        value = KERNEL[r, c, 0, 1]
        assert np.isnan(value) if kind == "nan" else value == (np.inf if kind == "+inf" else -np.inf)


def grid_lines(text: str, tile: int) -> list[list[str]]:
    """The cells of the ``tile``-th panel of the first row of panels, row by row."""
    rows = [line for line in text.splitlines() if line.startswith("│")]
    return [line.split("│")[1 + 2 * tile].split() for line in rows]


def test_number_grid_names_each_value_and_counts_them() -> None:
    text = render(connections_view(report("conv", 1), None, "numbers"), None)
    cells = grid_lines(text, 0)  # in[0]
    for kind, r, c in marked():
        assert cells[r][c] == kind
    finite = [(r, c) for r in range(3) for c in range(3) if np.isfinite(KERNEL[r, c, 0, 1])]
    for r, c in finite:
        assert float(cells[r][c]) == pytest.approx(float(KERNEL[r, c, 0, 1]), abs=6e-3)
    assert "not finite: nan ×1   +inf ×1   -inf ×1" in text


def test_shade_ramp_marks_each_value_without_colour() -> None:
    text = render(connections_view(report("conv", 1), None, "blocks"), None)
    rows = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")][:3]
    for kind, r, c in marked():
        assert rows[r][2 * c : 2 * c + 2] == NONFINITE[kind].shade
    assert "!! = NaN ×1" in text and "+∞ = +Inf ×1" in text and "-∞ = -Inf ×1" in text


def test_colour_blocks_paint_each_value_its_own_colour() -> None:
    text = render(connections_view(report("conv", 1), None, "blocks"), "truecolor")
    for kind, _, _ in marked():
        colour = "{};{};{}".format(*NONFINITE[kind].colour)
        assert f"38;2;{colour}" in text or f"48;2;{colour}" in text  # as a weight (upper or lower half)
        assert f"48;2;{colour}m  " in text  # and its swatch in the legend
    values, shared = KERNEL[..., 0, 1], KERNEL[..., 1]  # one scale for both inputs' filters
    vmax = float(np.abs(shared[np.isfinite(shared)]).max())

    def colour_of(r: int, c: int) -> str:
        v = float(values[r, c])
        return "{};{};{}".format(*(scale_colour(v, vmax) if np.isfinite(v) else NONFINITE[mark_of(v)].colour))

    for _, r, c in marked():  # each half-block: the upper weight's colour over the lower one's
        top = r - r % 2
        below = f";48;2;{colour_of(top + 1, c)}" if top + 1 < 3 else ""
        assert f"\x1b[38;2;{colour_of(top, c)}{below}m▀" in text


def mark_of(value: float) -> str:
    return "nan" if np.isnan(value) else "+inf" if value > 0 else "-inf"


def test_filters_png_paints_nan_and_inf_in_their_colours(tmp_path: Path) -> None:
    data = report("conv", 1)
    image = filters_picture(data, data["inputs"])
    image.save(tmp_path / "x.png")
    image = Image.open(tmp_path / "x.png").convert("RGB")
    boxes = frames(image)
    assert len(boxes) == 2
    s = (boxes[0][2] - 2) // 3
    finite = KERNEL[..., 1][np.isfinite(KERNEL[..., 1])]
    vmax = float(np.abs(finite).max())
    for kind, r, c in marked():
        assert cell(image, boxes[0], r, c, s) == NONFINITE[kind].colour
    r, c = 2, 0
    assert cell(image, boxes[0], r, c, s) == scale_colour(float(KERNEL[r, c, 0, 1]), vmax)
    pixels = np.asarray(image).reshape(-1, 3)
    legend = pixels[(boxes[0][1] + boxes[0][3]) * image.width :]  # below the tiles: the legends
    for kind, _, _ in marked():
        assert (legend == NONFINITE[kind].colour).all(axis=1).sum() >= 100  # a swatch, not a stray pixel


def test_weights_png_marks_the_values_in_their_tile() -> None:
    with open_model(PATH) as model:
        image = weights_picture(layer_filters_report(select_layer(model, "conv"))).convert("RGB")
    boxes = frames(image)  # rows = output maps, columns = input maps
    assert len(boxes) == 4 * 2
    tile = boxes[1 * 2 + 0]  # output map 1, input map 0
    s = (tile[2] - 2) // 3
    for kind, r, c in marked():
        assert cell(image, tile, r, c, s) == NONFINITE[kind].colour


def test_dense_png_is_laid_out_as_the_maps_before_flatten() -> None:
    """Given the shape Flatten received (from the shapes report: the conv's output), the
    dense layer's input units are drawn as one tile per channel, (y, x) as Keras flattens
    (h, w, c) row-major: unit (y*w + x)*c + ch."""
    from cnninspect.reports.shapes import shapes_report

    with open_model(PATH) as model:
        shapes = {layer["name"]: layer for layer in shapes_report(model)["layers"]}
        data = filters_report(model, select_layer(model, "dense"), 1)
    h, w, c = shapes["conv"]["output_shapes"][0][1:]
    assert [h, w, c] == EXPECT["flatten_input"]
    data["unflattened"] = {"shape": [h, w, c], "axes": ["h", "w", "c"]}
    image = filters_picture(data, data["inputs"]).convert("RGB")
    boxes = frames(image)
    assert len(boxes) == c and {(b[2], b[3]) for b in boxes} == {(boxes[0][2], boxes[0][3])}
    s = (boxes[0][2] - 2) // w
    column = ARRAYS["dense::0"][:, 1]  # Keras (in, out)
    vmax = float(np.abs(column).max())
    for ch, box in enumerate(boxes):
        for y in range(h):
            for x in range(w):
                assert cell(image, box, y, x, s) == pytest.approx(scale_colour(float(column[(y * w + x) * c + ch]), vmax), abs=1)


def test_png_title_says_how_many_of_how_many_inputs() -> None:
    from cnninspect.render import picture

    data = report("conv", 2)
    titles: list[str] = []
    real = picture._text

    def spy(text: str) -> Any:
        titles.append(text)
        return real(text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(picture, "_text", spy)
        picture.filters_picture(data, data["inputs"][:1])
        picture.filters_picture(data, data["inputs"])
    assert "the 1 strongest of 2 input maps feeding output map 2 of 4" in titles[0]
    assert "filters feeding output map 2 of 4" in titles[1]


def test_dense_ranking_names_each_unit_by_its_place_before_flatten() -> None:
    with open_model(PATH) as model:
        data = filters_report(model, select_layer(model, "dense"), 2)
    h, w, c = EXPECT["flatten_input"]
    data["unflattened"] = {"shape": [h, w, c], "axes": ["h", "w", "c"]}
    text = render(connections_view(data, 64), None)
    assert "at (h, w, c)" in text
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit() and "(" in line]
    assert len(rows) == h * w * c
    for row in rows:
        unit = int(row[1])
        y, x, ch = np.unravel_index(unit, (h, w, c))  # Keras flattens (h, w, c) row-major
        assert " ".join(row[2:5]) == f"({y}, {x}, {ch})"


def test_json_writes_null_for_nan_and_inf() -> None:
    from cnninspect.render.jsondoc import dumps

    data = report("conv", 1)
    document = json.loads(dumps(data))  # the strict JSON parser would refuse NaN tokens
    cells = [v for row in document["inputs"][0]["filter"] for v in row]
    assert cells.count(None) == 3 and document["bias"] is None
    finite = [float(v) for v in np.ravel(KERNEL[..., 0, 1]) if np.isfinite(v)]
    assert sorted(v for v in cells if v is not None) == pytest.approx(sorted(finite))
    assert document["inputs"][1] == json.loads(json.dumps(data["inputs"][1]))  # finite parts unchanged


def test_explore_export_writes_null_for_nan_and_inf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from cnninspect.explore.app import ExploreApp
    from cnninspect.reports.shapes import shapes_report

    monkeypatch.chdir(tmp_path)

    async def main() -> None:
        with open_model(PATH) as model:
            app = ExploreApp(model, shapes_report(model))
            async with app.run_test(size=(160, 50)) as pilot:
                while app.row is None or app.row.path != "conv":
                    await pilot.press("down")
                await app.workers.wait_for_complete()
                await pilot.press("right")
                await app.workers.wait_for_complete()
                await pilot.pause()
                await pilot.press("e")
                await pilot.pause()

    asyncio.run(main())
    document = json.loads((tmp_path / "cnninspect-conv-out1.json").read_text())
    assert document["schema"] == "cnninspect.filters/1" and document["bias"] is None
    assert [v for row in document["inputs"][0]["filter"] for v in row].count(None) == 3


def test_a_lone_array_says_its_bias_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "kernel.npy"
    np.save(path, KERNEL)
    with open_model(path) as model:
        data = filters_report(model, select_layer(model, "0"), 1)
    text = render(connections_view(data, None), None)
    assert "bias: unknown" in text and "use_bias=False" not in text
