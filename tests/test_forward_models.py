"""The executor (cnninspect/forward/run.py) on whole model fixtures, against the libraries.

tests/fixtures/forward/<family>/<model>.activations.{json,zip} hold each model run by its
own library (Keras 3 and tf.keras ``Model`` outputs per layer call, PyTorch forward hooks,
onnxruntime with every node output exposed, the TFLite interpreter with every tensor
preserved) on a seeded input: per layer call the output's shape, stats, sampled elements
and, for small outputs, the whole array (scripts/make_forward_fixtures.py). The executor
runs the file as cnninspect reads it on the same input, and every output it reports that
the library also recorded, keyed by (path, call, output), must agree to a relative 1e-4
(float32). Where it stops, the layer it names is the one this table expects: a model that
starts to run further is a test to update, one that stops earlier a regression.

Worst relative error per model (python -m pytest tests/test_forward_models.py -s prints
them): at most 3.5e-6 (tfkeras/mnist_cnn: float32 sums over 6272 inputs); the int8 TFLite
model, computed from dequantized weights in float32 with each output rounded to its
quantization grid, is within 1 quantization step of the interpreter's integers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from cnninspect.forward.layers import NotComputable
from cnninspect.forward.run import Execution, run_network
from cnninspect.loaders import open_model

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "tests" / "fixtures" / "forward"
MODELS = sorted((p.parent.name, p.name.removesuffix(".activations.json")) for p in TRUTH.glob("*/*.activations.json"))

# Where the executor stops today (the layer it names), per model; absent: it runs to the end.
STOPS = {
    "keras3/lambda": "'lambda' (Lambda",
    "tfkeras/lambda": "'lambda' (Lambda",
}
# Models whose weights cnninspect cannot read as arrays: the loader's own error stops them.
UNREADABLE = {"tflite/sparse_dense": "stored sparse"}
QUANTIZED_STEPS = 1  # tolerance for the int8 model, in its outputs' quantization steps


def _truth(family: str, model: str) -> tuple[dict[str, Any], Any]:
    doc = json.loads((TRUTH / family / f"{model}.activations.json").read_text())
    return doc, np.load(TRUTH / family / f"{model}.activations.zip")


def _error(got: np.ndarray, entry: dict[str, Any], full: Optional[np.ndarray]) -> float:
    """The largest difference from the library's output over its scale; for a quantized
    output, in quantization steps of the real values."""
    q = entry.get("quantization") or {}
    step = q.get("scale") or 0.0
    flat = got.reshape(-1).astype(np.float64)
    want = np.asarray(entry["samples"]["value"], dtype=np.float64)
    whole = None if full is None else full.reshape(-1).astype(np.float64)
    if step and entry["dtype"] != "float32":  # the library's integers, as real numbers
        want = (want - q["zero_point"]) * step
        whole = None if whole is None else (whole - q["zero_point"]) * step
        scale = step
    else:
        scale = max(1.0, abs(entry["stats"]["min"]), abs(entry["stats"]["max"]))
    errors = [float(np.abs(flat[entry["samples"]["flat_index"]] - want).max())]
    if whole is not None:
        errors.append(float(np.abs(flat - whole).max()))
    if not step or entry["dtype"] == "float32":
        errors += [abs(float(getattr(flat, s)()) - entry["stats"][s]) for s in ("min", "max", "mean", "std")]
    return max(errors) / scale


def _compare(family: str, model: str) -> tuple[int, float, Optional[str], list[str]]:
    """(outputs compared, worst error, the stop message or None, the run's notes)."""
    doc, arrays = _truth(family, model)
    by_key = {(e["path"], e["call"], e["output"]): (i, e) for i, e in enumerate(doc["outputs"]) if "samples" in e}
    inputs = [arrays[f"input/{i}"] for i in range(len(doc["inputs"]))]
    inputs = [x.astype(np.float32) if x.dtype.kind == "i" and family == "tflite" else x for x in inputs]
    with open_model(ROOT / doc["source"]) as m:
        names = _node_names(m, doc) if family == "onnx" else {}
        execution = Execution(m, inputs)
        compared, worst, stop = 0, 0.0, None
        try:
            for out in execution:
                for k, got in enumerate(out.arrays):
                    hit = by_key.get((names.get(out.path, out.path), out.call, k))
                    if hit is None:
                        continue
                    i, entry = hit
                    assert list(got.shape) == entry["shape"], (out.path, out.call)
                    full = arrays[str(i)] if entry.get("full") else None
                    worst = max(worst, _error(got, entry, full))
                    compared += 1
        except NotComputable as exc:
            stop = str(exc)
        return compared, worst, stop, execution.notes


def _node_names(model: Any, doc: dict[str, Any]) -> dict[str, str]:
    """ONNX nodes without a name: the loader numbers them (``Conv_0``), the truth names
    them by their first output; both list the nodes in the file's order."""
    ours = [layer for layer in model.graph.layers if layer.op != "input"]
    theirs: list[tuple[str, str]] = []
    for entry in doc["outputs"]:
        if entry["output"] == 0:
            theirs.append((entry["path"], entry["class_name"]))
    assert [layer.type for layer in ours] == [kind for _, kind in theirs]
    return {layer.name: path for layer, (path, _) in zip(ours, theirs)}


@pytest.mark.parametrize(("family", "model"), MODELS, ids=[f"{f}/{m}" for f, m in MODELS])
def test_executor_reproduces_the_library(family: str, model: str) -> None:
    key = f"{family}/{model}"
    if key in UNREADABLE:
        from cnninspect.errors import BrokenFile

        with pytest.raises(BrokenFile, match=UNREADABLE[key]):
            _compare(family, model)
        return
    compared, worst, stop, notes = _compare(family, model)
    print(f"{key}: {compared} outputs, worst {worst:.2g}" + (f", stops at {stop}" if stop else ""))
    if key in STOPS:
        assert stop is not None and STOPS[key] in stop, stop
        assert "no forward" in stop or "has no forward" in stop
    else:
        assert stop is None, stop
    if family == "tflite" and "int8" in model:
        assert any("approximate" in n for n in notes)
        assert worst <= QUANTIZED_STEPS, worst
    else:
        assert worst < 1e-4
    assert compared or key in STOPS


def test_the_executor_covers_every_conv_variant_and_nested_containers() -> None:
    """The models that run to the end hold convolutions of every kind, shared layers and
    nested containers (calls of an inner layer numbered per container call)."""
    ran = {key for key in (f"{f}/{m}" for f, m in MODELS) if key not in STOPS and key not in UNREADABLE}
    assert {"keras3/convs", "keras3/transposed", "keras3/depthwise_separable", "keras3/nested", "keras3/rnn",
            "torch/grouped_transpose", "torch/mixed", "onnx/blocks_latest", "tflite/small_float"} <= ran
    doc, _ = _truth("keras3", "nested")
    inner_calls = {(e["path"], e["call"]) for e in doc["outputs"] if e["path"].startswith("block_fn/")}
    assert ("block_fn/conv2d_1", 1) in inner_calls


def _mnist_inputs() -> tuple[Any, list[np.ndarray]]:
    doc, arrays = _truth("keras3", "mnist_cnn")
    return open_model(ROOT / doc["source"]), [arrays["input/0"]]


def test_an_activation_is_freed_after_its_last_consumer() -> None:
    """A chain holds at most its input, one layer's input and its output at a time: the
    peak of live activation bytes is the largest such set, not the sum of every layer."""
    model, inputs = _mnist_inputs()
    sizes: list[int] = []
    execution = Execution(model, inputs, watch=(), keep={("dense_1", 0)})
    for _ in execution:
        pass
    live_counts = []
    with model:
        watched = Execution(model, inputs)
        for out in watched:
            sizes.append(sum(a.nbytes for a in out.arrays))
            live_counts.append(watched.live_tensors)
    chain = [max(a, b) for a, b in zip(sizes, sizes[1:])]
    assert execution.peak_bytes <= sizes[0] + 2 * max(chain)
    assert execution.peak_bytes < sum(sizes) / 2
    assert max(live_counts) <= 3  # the model input, a layer's input, its output
    assert execution.live_bytes == 2 * 10 * 4  # only the graph output (batch 2, 10 classes) is left


def test_run_network_keeps_what_it_is_asked_for() -> None:
    model, inputs = _mnist_inputs()
    with model:
        kept = run_network(model, inputs, keep={("conv2d", 0), ("dense", 0)})
        final = run_network(model, inputs)
        first = Execution(model, inputs, watch=[("conv2d", 0)])
        assert [out.path for out in first] == ["conv2d"] and first.ran == ["conv2d"]  # nothing after it runs
    assert set(kept) == {("conv2d", 0), ("dense", 0)}
    assert kept[("conv2d", 0)][0].shape == (2, 28, 28, 32) and kept[("dense", 0)][0].shape == (2, 64)
    (key, outs), = final.items()
    assert key == ("dense_1", 0)
    np.testing.assert_allclose(outs[0].sum(axis=1), 1.0, rtol=1e-5)


def test_float64_computes_in_float64() -> None:
    model, inputs = _mnist_inputs()
    with model:
        single = run_network(model, inputs)[("dense_1", 0)][0]
        double = run_network(model, inputs, dtype=np.float64)[("dense_1", 0)][0]
    assert single.dtype == np.float32 and double.dtype == np.float64
    np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-6)


def test_theano_kernels_compute_a_true_convolution() -> None:
    """A Keras 2 file written on Theano stores kernels for a true convolution: the first
    layer's output is Σ in[c, y + i, x + j] · K[2 - i, 2 - j, c, o] (the kernel flipped),
    here summed pixel by pixel from the stored array itself."""
    import h5py

    path = ROOT / "tests" / "fixtures" / "legacy" / "keras2_theano.h5"
    x = np.random.default_rng(4).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with open_model(path) as model:
        got = run_network(model, [x], keep={("conv2d_1", 0)})[("conv2d_1", 0)][0]
    with h5py.File(path, "r") as f:
        kernel = f["model_weights/conv2d_1/conv2d_1/conv2d_1/kernel"][()]  # (kh, kw, in, out)
        bias = f["model_weights/conv2d_1/conv2d_1/conv2d_1/bias"][()]
    padded = np.pad(x[0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    want = np.zeros((4, 32, 32)) + bias[:, None, None]
    for i in range(3):
        for j in range(3):
            window = padded[:, i : i + 32, j : j + 32]
            want += np.einsum("chw,co->ohw", window, kernel[2 - i, 2 - j].astype(np.float64))
    np.testing.assert_allclose(got[0], np.maximum(want, 0), rtol=1e-4, atol=1e-5)


def test_a_weights_only_file_cannot_run() -> None:
    from cnninspect.errors import UsageError
    from cnninspect.reports.activations import prepare_inputs

    with open_model(ROOT / "tests" / "fixtures" / "legacy" / "keras1_0_weights_only.h5") as model:
        with pytest.raises(UsageError, match="weights only"):
            prepare_inputs(model, ["zeros"], [], "unit", "float32")


@pytest.mark.parametrize("stem", ["small_cnn", "mixed"])
def test_torchscript_graphs_give_the_module_output(stem: str) -> None:
    """The TorchScript twin of a pickled module (its forward code read as the graph) gives
    the output PyTorch's forward hooks recorded for the module on the same input."""
    doc, arrays = _truth("torch", stem)
    index, final = next((i, e) for i, e in enumerate(doc["outputs"]) if e["path"] == "")
    with open_model(ROOT / "tests" / "fixtures" / "torch" / f"{stem}_script.pt") as model:
        (got,) = run_network(model, [arrays["input/0"]]).values()
    assert _error(got[0], final, arrays[str(index)] if final.get("full") else None) < 1e-4
