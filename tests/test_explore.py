"""``cnninspect explore`` driven headlessly (Textual's ``run_test`` and Pilot): what its
panes hold is checked against ``filters --json`` / ``filters --in --json`` / ``weights
--stats --json`` for the same layer and map, and the PyTorch truth slices."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any, Awaitable, Callable

import numpy as np
import pytest
from rich.console import Console

from conftest import FIXTURES, SAMPLES, cli_json, load_truth, run

from cnninspect.explore.app import ExploreApp
from cnninspect.explore.keys import KEYS
from cnninspect.loaders import open_model
from cnninspect.render.heatmap import magnitude, number_format
from cnninspect.reports.shapes import shapes_report

pytest.importorskip("textual")

MNIST = SAMPLES / "mnist_cnn.h5"
TORCH = FIXTURES / "torch"


def explore(path: Path, script: Callable[[ExploreApp, Any], Awaitable[None]]) -> None:
    """Runs the app on ``path`` with no terminal and plays ``script(app, pilot)``."""

    async def main() -> None:
        with open_model(path) as model:
            app = ExploreApp(model, shapes_report(model))
            async with app.run_test(size=(200, 60)) as pilot:
                await script(app, pilot)

    asyncio.run(main())


async def settle(app: ExploreApp, pilot: Any) -> None:
    """Lets the workers finish and their answers reach the widgets."""
    await app.workers.wait_for_complete()
    await pilot.pause()


async def go_to(app: ExploreApp, pilot: Any, path: str) -> None:
    """Down the tree with the arrow key until the layer ``path`` is shown."""
    for _ in range(40):
        if app.row is not None and app.row.path == path:
            await settle(app, pilot)
            return
        await pilot.press("down")
    raise AssertionError(f"never reached {path}")


def text(app: Any, widget: str) -> str:
    """What a pane shows, as plain text."""
    console = Console(file=io.StringIO(), width=200, no_color=True, highlight=False)
    console.print(app.query_one(f"#{widget}").shown)
    return console.file.getvalue()


def same_document(shown: dict[str, Any], printed: dict[str, Any]) -> None:
    assert json.loads(json.dumps(shown)) == printed


def test_arrows_step_the_output_map_of_a_conv_layer() -> None:
    expected = {n: cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", str(n)) for n in (0, 2)}

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        same_document(app.document, expected[0])
        facts, config = text(app, "facts"), text(app, "config")
        kernel = expected[0]["weight"]
        assert kernel["layout"] in facts and f"kernel[{', '.join(kernel['axes'])}]" in facts
        assert '"kernel_size"' in config and '"filters": 32' in config
        await pilot.press("right", "right", "right", "left")
        await settle(app, pilot)
        report = expected[2]
        same_document(app.document, report)
        header, grid = text(app, "connection"), text(app, "filters")
        assert report["equation"] in header
        assert f"b[2] = {report['bias']:+.6g}" in header
        assert report["native_slice"] in header
        fmt = number_format(magnitude([e["filter"] for e in report["inputs"]]))
        for entry in report["inputs"][:3]:
            assert f"in[{entry['in']}]" in grid
            assert all(format(v, fmt) in grid for v in entry["filter"][0])
        best = report["ranking"][0]
        assert f"{best['l1']:.4g}" in grid

    explore(MNIST, script)


def test_r_flips_to_what_an_input_map_feeds() -> None:
    expected = cli_json("filters", MNIST, "--layer", "conv2d_1", "--in", "1")

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        await pilot.press("r", "right")
        await settle(app, pilot)
        same_document(app.document, expected)
        header, grid = text(app, "connection"), text(app, "filters")
        assert expected["equation"] in header and "input map 1 of 32" in header
        fmt = number_format(magnitude([e["filter"] for e in expected["outputs"]]))
        entry = expected["outputs"][7]
        assert "out[7]" in grid and all(format(v, fmt) in grid for v in entry["filter"][0])
        await pilot.press("r")
        await settle(app, pilot)
        assert app.document["schema"] == "cnninspect.filters/1" and app.document["out"] == 0

    explore(MNIST, script)


@pytest.mark.parametrize("file", ["small_cnn_module.pt"])
def test_pytorch_grouped_conv_against_the_truth(file: str) -> None:
    truth = load_truth(TORCH / "small_cnn.truth.json")["slices"]["features/2"]
    expected = cli_json("filters", TORCH / file, "--layer", "features/2", "--out", str(truth["out"]))

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "features/2")
        for _ in range(truth["out"]):
            await pilot.press("right")
        await settle(app, pilot)
        same_document(app.document, expected)
        shown = np.array([e["filter"] for e in app.document["inputs"]])
        np.testing.assert_allclose(shown, np.array(truth["values"]), rtol=1e-6)
        assert f"({truth['groups']} groups)" in text(app, "connection")

    explore(TORCH / file, script)


def test_search_jumps_to_the_named_layer_and_enter_to_the_next() -> None:
    async def script(app: ExploreApp, pilot: Any) -> None:
        await pilot.press("slash", *"dense")
        await settle(app, pilot)
        assert app.row is not None and app.row.path == "dense"
        assert "dense" in text(app, "facts")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.row.path == "dense_1"
        await pilot.press("escape", "up")
        await settle(app, pilot)
        assert app.row.path != "dense_1"  # the tree has the keys again

    explore(MNIST, script)


def test_e_writes_the_json_document_on_screen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", "1")
    feeds = cli_json("filters", MNIST, "--layer", "conv2d_1", "--in", "0")

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        await pilot.press("right")
        await settle(app, pilot)
        await pilot.press("e", "r")
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()

    explore(MNIST, script)
    assert json.loads((tmp_path / "cnninspect-conv2d_1-out1.json").read_text()) == expected
    assert json.loads((tmp_path / "cnninspect-conv2d_1-in0.json").read_text()) == feeds


def test_s_reads_statistics_in_a_worker_while_the_interface_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import cnninspect.explore.app as explore_app

    expected = cli_json("weights", MNIST, "--layer", "conv2d", "--stats")
    release = threading.Event()
    real = explore_app.weights_report

    def slow(model: Any, rows: Any, stats: bool, *rest: Any) -> Any:
        if stats:
            assert release.wait(10), "the test never released the worker"
        return real(model, rows, stats, *rest)

    monkeypatch.setattr(explore_app, "weights_report", slow)

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d")
        await pilot.press("s")
        await pilot.pause()
        assert "reading…" in text(app, "stats")
        await pilot.press("question_mark")  # the interface answers while the worker reads
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        release.set()
        await settle(app, pilot)
        shown = text(app, "stats")
        kernel = next(t for t in expected["tensors"] if t["role"] == "kernel")["stats"]
        assert "reading…" not in shown
        assert f"{kernel['min']:.3g}" in shown and f"{kernel['std']:.3g}" in shown

    explore(MNIST, script)


def test_help_lists_every_key_and_q_quits() -> None:
    async def script(app: ExploreApp, pilot: Any) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = text(app.screen, "help")
        for key in KEYS:
            assert key.label in help_text and key.description[:24] in help_text
        await pilot.press("escape", "q")
        await pilot.pause()
        assert app.return_code is not None or not app.is_running

    explore(MNIST, script)


def test_explore_refuses_a_pipe_in_one_line() -> None:
    result = run("explore", MNIST)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "needs a terminal" in result.stderr and "cnninspect shapes" in result.stderr
    assert result.stdout == ""


def test_explore_file_errors_are_the_usual_one_line() -> None:
    result = run("explore", "no/such/model.h5")
    assert result.returncode == 3
    assert result.stderr.strip() == "cnninspect: no/such/model.h5: no such file"


def test_a_failed_read_shows_one_line_in_the_pane(monkeypatch: pytest.MonkeyPatch) -> None:
    import cnninspect.explore.app as explore_app
    from cnninspect.errors import BrokenFile

    def broken(*_: Any) -> Any:
        raise BrokenFile("kernel: truncated data")

    monkeypatch.setattr(explore_app, "filters_report", broken)

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        assert text(app, "connection").strip() == "kernel: truncated data"
        await pilot.press("down")
        await settle(app, pilot)
        assert app.row.path != "conv2d_1" and app.is_running

    explore(MNIST, script)


# --- issue 14 §5: the details pane, the keys, a small terminal --------------------------


def explore_with(path: Path, script: Callable[[ExploreApp, Any], Awaitable[None]], size: tuple[int, int], **options: Any) -> None:
    async def main() -> None:
        with open_model(path) as model:
            app = ExploreApp(model, shapes_report(model), **options)
            async with app.run_test(size=size) as pilot:
                await script(app, pilot)

    asyncio.run(main())


def test_tab_focuses_the_details_pane_pagedown_scrolls_it_and_each_layer_opens_at_the_top() -> None:
    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        await pilot.press("tab", "pagedown")
        await pilot.pause()
        assert app.focused is app.detail and app.detail.scroll_y > 0
        assert app.row.path == "conv2d_1"  # PageDown scrolled the pane, not the tree
        await pilot.press("tab", "down")
        await settle(app, pilot)
        assert app.row.path == "max_pooling2d" and app.detail.scroll_y == 0

    explore_with(MNIST, script, (100, 30))


def test_s_brings_the_statistics_into_view_and_they_say_nothing_of_json() -> None:
    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        await pilot.press("s")
        await settle(app, pilot)
        await pilot.pause()
        stats = app.panes["stats"]
        assert "statistics" in text(app, "stats") and "--json" not in text(app, "stats")
        top, bottom = app.detail.region.y, app.detail.region.bottom
        assert top <= stats.region.y < bottom  # the statistics start inside the visible pane

    explore_with(MNIST, script, (100, 30))


def test_help_and_footer_name_tab_and_both_map_steps() -> None:
    labels = {k.label: k for k in KEYS}
    assert "Tab" in labels and "details pane" in labels["Tab"].description
    footer = {b.description for b in ExploreApp.BINDINGS if b.show}
    assert {"next map", "previous map"} <= footer


def line_texts(widget: Any) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


def test_at_80x24_names_shapes_and_weights_are_not_cut() -> None:
    from cnninspect.render.tables import format_shape

    report_layers = cli_json("shapes", MNIST)["layers"]

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        tree = "\n".join(line_texts(app.layer_tree))
        for layer in report_layers:
            assert f"{layer['name']}  {format_shape(layer['output_shapes'][0])}" in tree
        pane = app.panes["facts"]
        console = Console(file=io.StringIO(), width=pane.size.width, no_color=True, highlight=False)
        console.print(pane.shown)
        facts = console.file.getvalue()
        assert "…" not in facts and "kernel[kh, kw, in, out]" in facts and "3×3×32×32" in facts

    explore_with(MNIST, script, (80, 24))


def test_e_says_the_path_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d")
        await pilot.press("e")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert f"wrote {tmp_path / 'cnninspect-conv2d-out0.json'}" in messages

    explore_with(MNIST, script, (100, 30))


def test_dequantize_shows_real_values_as_filters_dequantize_does() -> None:
    tflite = FIXTURES / "tflite" / "small_int8.tflite"
    expected = cli_json("filters", tflite, "--layer", "2", "--out", "0", "--dequantize")

    async def script(app: ExploreApp, pilot: Any) -> None:
        while app.row is None or app.row.index < 2:
            await pilot.press("down")
        await settle(app, pilot)
        assert app.row.index == 2
        shown = json.loads(json.dumps(app.document))
        assert {k: v for k, v in shown.items() if k != "notes"} == {k: v for k, v in expected.items() if k != "notes"}
        assert shown["weight"]["quantization"]["dequantized"] is True
        assert "stored int8" not in text(app, "filters")
        assert any("--dequantize" in n for n in shown["notes"])

    explore_with(tflite, script, (160, 50), dequantize=True)


def test_dequantize_note_stays_right_on_every_map() -> None:
    tflite = FIXTURES / "tflite" / "small_int8.tflite"
    expected = cli_json("filters", tflite, "--layer", "2", "--out", "1", "--dequantize")

    async def script(app: ExploreApp, pilot: Any) -> None:
        while app.row is None or app.row.index < 2:
            await pilot.press("down")
        await settle(app, pilot)
        await pilot.press("right")
        await settle(app, pilot)
        same_document(app.document, expected)

    explore_with(tflite, script, (160, 50), dequantize=True)
