"""``cnninspect explore FILE --input X`` driven headlessly: the activations pane holds the
numbers ``activations --json`` prints for the selected layer, and the filter view of a
convolution carries the live equation of ``filters --out N --input X --json``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable, Awaitable

import pytest

from conftest import SAMPLES, cli_json, run
from test_explore import go_to, settle, text

from cnninspect.explore.app import ExploreApp
from cnninspect.loaders import open_model
from cnninspect.render.numbers import significant
from cnninspect.reports.activations import prepare_inputs
from cnninspect.reports.shapes import shapes_report

pytest.importorskip("textual")

MNIST = SAMPLES / "mnist_cnn.h5"
SEVEN = SAMPLES / "digits" / "7.png"


def explore(path: Path, specs: list[str], script: Callable[[ExploreApp, Any], Awaitable[None]]) -> None:
    async def main() -> None:
        with open_model(path) as model:
            inputs = prepare_inputs(model, specs, [], "unit", "float32")
            app = ExploreApp(model, shapes_report(model), inputs=inputs)
            async with app.run_test(size=(200, 60)) as pilot:
                await settle(app, pilot)
                await script(app, pilot)

    asyncio.run(main())


def test_the_activations_pane_and_the_live_equation_of_the_selected_map() -> None:
    activations = cli_json("activations", MNIST, "--input", SEVEN, "--layer", "conv2d_1")
    (expected,) = activations["layers"]
    live = {n: cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", str(n), "--input", SEVEN) for n in (0, 1)}

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, "conv2d_1")
        await settle(app, pilot)
        pane = text(app, "activations")
        for key in ("min", "max", "mean", "std"):
            assert significant(expected["stats"][key]) in pane, key
        assert f"{expected['stats']['zeros']:.0%}" in pane
        assert "strongest of 32 maps of 'conv2d_1'" in pane
        for n in (0, 1):
            equation = text(app, "live")
            check = live[n]["self_check"]
            assert f"self-check: max |this sum through {live[n]['activation']}" in equation
            assert f"= {significant(check['max_abs_diff'], 3)} (" in equation and "float32 round-off" in equation
            assert f"pre-activation = b[{n}]" in equation
            assert app.document["self_check"] == check  # e exports the live report
            await pilot.press("]")
            await settle(app, pilot)

    explore(MNIST, [str(SEVEN)], script)


def test_a_layer_without_filters_shows_its_activations_only() -> None:
    activations = cli_json("activations", MNIST, "--input", SEVEN)
    flatten = next(layer for layer in activations["layers"] if layer["type"] == "Flatten")

    async def script(app: ExploreApp, pilot: Any) -> None:
        await go_to(app, pilot, flatten["path"])
        await settle(app, pilot)
        assert significant(flatten["stats"]["max"]) in text(app, "activations")
        assert text(app, "live").strip() == ""

    explore(MNIST, [str(SEVEN)], script)


def test_an_input_the_model_cannot_take_is_a_usage_error_before_the_app() -> None:
    result = run("explore", str(MNIST), "--input", "zeros", "--input", "zeros")
    assert result.returncode == 2
    assert result.stderr.startswith("cnninspect: ") and "give --input once per input" in result.stderr
