"""``diff --input``: both networks run on one input, the first paired layer whose outputs
differ reported. The fixtures are scripts/make_diff_fixtures.py's: one small CNN in Keras 3,
tf-keras, PyTorch and ONNX, and its broken PyTorch ports, with what the libraries computed
(tests/fixtures/diff/diff.truth.json)."""

from __future__ import annotations

import dataclasses
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from conftest import FIXTURES, SAMPLES, cli
from test_diff import render
from cnninspect.core.ops import SPECS
from cnninspect.core.model import Model
from cnninspect.errors import ExitStatus, UsageError
from cnninspect.forward.layers import NotComputable
from cnninspect.loaders import open_model
from cnninspect.reports.diff import EXIT_DIFFERENT, diff_report, exit_code, prepare_both

DIR = FIXTURES / "diff"
TRUTH = json.loads((DIR / "diff.truth.json").read_text())
KERAS = DIR / "keras3.h5"
PORT = DIR / "port_module.pt"  # the correct port, saved as a whole module: its graph can run
RGB = FIXTURES / "inputs" / "rgb.png"


def run(a: Model, b: Model, specs: list[str], tolerance: float = 1e-6, preprocess: str = "unit") -> dict[str, Any]:
    report = diff_report(a, b, tolerance, prepare_both(a, b, specs, preprocess))
    json.dumps(report, allow_nan=False)
    return report


def diff(a: Path, b: Path, specs: list[str], tolerance: float = 1e-6) -> dict[str, Any]:
    with open_model(a) as model_a, open_model(b) as model_b:
        return run(model_a, model_b, specs, tolerance)


def grafted(stack: ExitStack, weights: Path) -> Model:
    """The port's graph (port_module.pt) holding the weights of a weights-only port: the
    broken ports are state dicts, with no graph to run."""
    module = stack.enter_context(open_model(PORT))
    state = stack.enter_context(open_model(weights))
    by_path = {r.path: r.layer for r in state.rows()}
    for row in module.rows():
        if row.path in by_path:
            row.layer.weights = by_path[row.path].weights
    return module


@pytest.mark.parametrize("name", ["keras3.keras", "tfkeras.h5", "port_module.pt", "port.onnx"])
@pytest.mark.parametrize("seed", ["random:0", "random:1"])
def test_one_network_in_every_library_runs_the_same(name: str, seed: str) -> None:
    report = diff(KERAS, DIR / name, [seed])
    assert report["first_divergent_activation"] is None
    assert report["activations_compared"] == 4  # conv_a, bn, conv_b, dense: every pair
    assert report["same_network"] and exit_code(report) == 0
    assert "none differs" in render(report)


def test_an_array_is_given_in_a_layout_and_transposed_for_b() -> None:
    with open_model(KERAS) as a, open_model(PORT) as b:
        for_a, for_b = prepare_both(a, b, ["random:3"], "unit")
    assert for_a[0].array.shape == (1, 6, 6, 2) and for_b[0].array.shape == (1, 2, 6, 6)
    np.testing.assert_array_equal(for_b[0].array, np.moveaxis(for_a[0].array, -1, 1))
    assert for_a[0].array.dtype == np.float64  # no float32 round-off to mistake for a divergence


def test_an_npy_input_in_a_layout(tmp_path: Path) -> None:
    x = np.random.default_rng(5).standard_normal((6, 6, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    report = diff(KERAS, DIR / "port.onnx", [str(tmp_path / "x.npy")])
    assert report["inputs"]["b"][0]["shape"] == [1, 2, 6, 6]
    assert report["first_divergent_activation"] is None and report["same_network"]


def test_an_image_is_prepared_for_each_model_in_its_own_layout() -> None:
    # These fixtures take 2 channels, which no image has: a channels-last Keras model
    # taking RGB images against a channels-first one shows the preparation.
    with open_model(FIXTURES / "keras3" / "norm_act.h5") as a, open_model(FIXTURES / "onnx" / "cnn_opset9.onnx") as b:
        (pa,), (pb,) = prepare_both(a, b, [str(RGB)], "torch")
    assert pa.array.shape == (1, 8, 8, 3) and pb.array.shape == (1, 3, 8, 8)  # B at A's size
    np.testing.assert_allclose(pb.array, np.moveaxis(pa.array, -1, 1))
    assert pb.preprocess == "torch" and pb.origin == str(RGB)


def test_an_image_runs_the_same_network_saved_by_keras_3_and_tf_keras() -> None:
    with open_model(SAMPLES / "mnist_cnn.h5") as a, open_model(SAMPLES / "mnist_cnn_tfkeras.h5") as b:
        report = run(a, b, [str(SAMPLES / "digits" / "7.png")])
    assert report["inputs"]["a"][0]["preprocess"] == "unit"
    assert report["first_divergent_activation"] is None and report["activations_compared"] == len(report["pairs"])
    assert report["same_network"]


def test_a_port_without_the_flatten_reorder_diverges_at_the_dense_after_the_flatten() -> None:
    with ExitStack() as stack, open_model(KERAS) as a:
        report = run(a, grafted(stack, DIR / "port_no_reorder.pt"), ["random:0"])
    first = report["first_divergent_activation"]
    assert (first["a"], first["b"]) == ("dense", "7")
    assert report["activations_compared"] == 4 and first["max_abs_diff"] > 0.01
    assert not report["same_network"] and exit_code(report) == EXIT_DIFFERENT
    assert "first divergent: dense ↔ 7" in render(report)


def test_a_kernel_left_in_hwio_diverges_at_that_conv() -> None:
    with ExitStack() as stack, open_model(KERAS) as a:
        report = run(a, grafted(stack, DIR / "port_hwio.pt"), ["random:0"])
    first = report["first_divergent_activation"]
    assert (first["a"], first["b"]) == ("conv_b", "4")  # conv_b's output after its ReLU: PyTorch's module 4
    assert report["activations_compared"] == 3


def test_batchnorm_epsilon_diverges_at_the_batchnorm_within_a_tolerance_the_libraries_justify() -> None:
    # The libraries' own outputs: the correct port differs from Keras by float32 round-off
    # (4.8e-7 on outputs of order 1), the eps port by 2e-3. 1e-5 of the largest |value|
    # sits between the two with a margin of 20 each way (our run is float64: no round-off).
    ports = TRUTH["ports"]
    tolerance = 1e-5
    assert ports["port_correct.pt"]["max_abs_output_diff"] * 20 < tolerance < ports["port_eps.pt"]["max_abs_output_diff"] / 20
    report = diff(KERAS, DIR / "port_eps.pt", ["random:0"], tolerance)
    first = report["first_divergent_activation"]
    assert (first["a"], first["b"]) == ("bn", "2")
    assert report["activations_compared"] == 2
    assert 0 < first["rel_l2"] < 1e-2
    # Beyond the eps change's size the run sees nothing; the weights' facts still do.
    loose = diff(KERAS, DIR / "port_eps.pt", ["random:0"], 1e-2)
    assert loose["first_divergent_activation"] is None and not loose["same_network"]


def test_a_layer_that_cannot_be_run_stops_the_comparison_without_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(step: Any, inputs: Any) -> Iterator[Any]:
        raise NotComputable("no forward here (test)")

    monkeypatch.setitem(SPECS, "pool", dataclasses.replace(SPECS["pool"], forward=refuse))
    report = diff(KERAS, PORT, ["random:0"])
    assert report["first_divergent_activation"] is None
    assert report["activations_stopped"]["side"] == "A" and "pool" in report["activations_stopped"]["reason"]
    assert report["activations_compared"] == 3  # conv_a, bn, conv_b ran before the pooling
    assert report["same_network"] is None and exit_code(report) == ExitStatus.UNSUPPORTED
    assert "stopped there" in render(report)


@pytest.mark.parametrize("weights_only", ["A", "B"])
def test_a_weights_only_file_cannot_be_run(weights_only: str) -> None:
    files = (DIR / "port_correct.pt", KERAS) if weights_only == "A" else (KERAS, DIR / "port_correct.pt")
    with open_model(files[0]) as a, open_model(files[1]) as b:
        with pytest.raises(UsageError, match=f"{weights_only} .*port_correct.pt.* holds weights only"):
            prepare_both(a, b, ["random:0"], "unit")


def test_b_in_the_other_layout_can_be_a_and_lend_its_input_shape() -> None:
    # A PyTorch module records no input shape: Keras' (6, 6, 2) is taken, in PyTorch's order.
    with open_model(DIR / "port_eps.pt") as a, open_model(KERAS) as b:
        report = run(a, b, ["random:0"], 1e-5)
    assert report["inputs"]["a"][0]["shape"] == [1, 2, 6, 6] and report["inputs"]["b"][0]["shape"] == [1, 6, 6, 2]
    assert (report["first_divergent_activation"]["a"], report["first_divergent_activation"]["b"]) == ("2", "bn")


def test_the_command_line_exit_codes_and_json() -> None:
    same = cli("diff", KERAS, DIR / "port.onnx", "--input", "random:0", "--json")
    assert same.exit_code == ExitStatus.OK, same.stderr
    doc = json.loads(same.stdout)
    assert doc["first_divergent_activation"] is None and doc["activations_compared"] == 4 and doc["same_network"] is True
    eps = cli("diff", KERAS, DIR / "port_eps.pt", "--input", "random:0", "--tolerance", "1e-5", "--json")
    assert eps.exit_code == ExitStatus.DIFFERENT, eps.stderr
    assert json.loads(eps.stdout)["first_divergent_activation"]["a"] == "bn"
    without = cli("diff", KERAS, DIR / "port.onnx", "--json")
    assert "first_divergent_activation" not in json.loads(without.stdout)  # only when --input asks for a run


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "random:0", "--input", "zeros"], "takes 1 input(s)"),
        (["--preprocess", "torch"], "give --input too"),
        (["--input", "random:0", "--preprocess", "sideways"], "--preprocess 'sideways'"),
    ],
)
def test_usage_mistakes_are_exit_2(args: list[str], message: str) -> None:
    result = cli("diff", KERAS, DIR / "port.onnx", *args)
    assert result.exit_code == ExitStatus.USAGE and message in result.stderr, result.stderr


def test_the_readme_documents_the_run_fields() -> None:
    readme = (FIXTURES.parent.parent / "README.md").read_text()
    schema = readme[readme.index('"schema": "cnninspect.diff/1"') :]
    schema = schema[: schema.index("```")]
    with ExitStack() as stack, open_model(KERAS) as a:
        report = run(a, grafted(stack, DIR / "port_hwio.pt"), ["random:0"])
    fields = set(report) | set(report["first_divergent_activation"]) | set(report["inputs"]["a"][0])
    assert [f for f in sorted(fields) if f'"{f}"' not in schema] == []
    assert "**9** when `--input` stopped" in readme
