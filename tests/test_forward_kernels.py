"""The NumPy forward kernels against the libraries' own outputs.

tests/fixtures/forward/kernels_<library>.{json,zip} (npz archives) hold, per case, the inputs, the
parameters (already in cnninspect.forward's vocabulary) and what torch.nn.functional,
Keras 3, tf.keras or onnxruntime (one-node graphs) computed (scripts/make_forward_fixtures.py). Each case runs in
its own layout, and the torch cases with spatial axes run channels-last as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from cnninspect.forward import activations, conv, dense, norm, pool, resize, tensor

FIXTURES = Path(__file__).parent / "fixtures" / "forward"
LIBRARIES = ("torch", "keras3", "tfkeras", "onnx")


def _cases() -> list[Any]:
    params = []
    for library in LIBRARIES:
        doc = json.loads((FIXTURES / f"kernels_{library}.json").read_text())
        for case in doc["cases"]:
            params.append(pytest.param(library, case, id=f"{library}-{case['name']}"))
    return params


_ARRAYS: dict[str, Any] = {}


def _arrays(library: str, name: str) -> dict[str, np.ndarray]:
    if library not in _ARRAYS:
        _ARRAYS[library] = np.load(FIXTURES / f"kernels_{library}.zip")
    data = _ARRAYS[library]
    prefix = name + "/"
    return {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}


def _spatial(x: np.ndarray, cl: bool) -> list[int]:
    return list(x.shape[1:-1] if cl else x.shape[2:])


def _conv(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    pads = p.get("pads")
    if "padding" in p:
        pads = conv.conv_pads(_spatial(a["x"], cl), a["w"].shape[2:], p.get("strides", 1), p.get("dilation", 1), p["padding"])
    return conv.conv(a["x"], a["w"], a.get("b"), p.get("strides", 1), p.get("dilation", 1), pads, p.get("groups", 1), cl)


def _separable(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    pads = p.get("pads")
    if "padding" in p:
        pads = conv.conv_pads(_spatial(a["x"], cl), a["dw"].shape[2:], p.get("strides", 1), 1, p["padding"])
    return conv.separable_conv(a["x"], a["dw"], a["pw"], a.get("b"), p.get("strides", 1), 1, pads, cl)


def _transposed(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    pads, extra = p.get("pads"), p.get("output_padding") or 0
    if "padding" in p:
        pads, extra = conv.transposed_pads(_spatial(a["x"], cl), a["w"].shape[2:], p.get("strides", 1), p.get("dilation", 1), p["padding"], p.get("output_padding"), p.get("lower", False))
    return conv.conv_transpose(a["x"], a["w"], a.get("b"), p.get("strides", 1), p.get("dilation", 1), pads, extra, p.get("groups", 1), cl)


def _contributions(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    return conv.conv_contributions(a["x"], a["w"], p["out_channel"], p["strides"], p["dilation"], p["pads"], p["groups"], cl, p["batch"])


def _pool(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    pads = p.get("pads")
    if "padding" in p:
        pads = conv.conv_pads(_spatial(a["x"], cl), [p["kernel"]] * (a["x"].ndim - 2), p["strides"], 1, p["padding"])
    return pool.pool(a["x"], p["kind"], p["kernel"], p.get("strides"), pads, p.get("dilation", 1), p.get("ceil_mode", False), p.get("count_include_pad", False), cl)


def _activation(a: dict[str, np.ndarray], p: dict[str, Any], cl: bool) -> np.ndarray:
    return activations.ACTIVATIONS[p["name"]](a["x"], **p["params"])  # type: ignore[call-arg]


# kernel name -> (runs on arrays and params in the given layout, has spatial axes)
KERNELS: dict[str, tuple[Callable[[dict[str, np.ndarray], dict[str, Any], bool], np.ndarray], bool]] = {
    "conv": (_conv, True),
    "separable_conv": (_separable, True),
    "conv_transpose": (_transposed, True),
    "contributions": (_contributions, True),
    "pool": (_pool, True),
    "global_pool": (lambda a, p, cl: pool.global_pool(a["x"], p["kind"], cl), True),
    "adaptive_pool": (lambda a, p, cl: pool.adaptive_pool(a["x"], p["kind"], p["size"], cl), True),
    "resize": (lambda a, p, cl: resize.resize(a["x"], p["size"], p["mode"], p.get("coordinates", "asymmetric"), p.get("nearest", "floor"), p.get("scales"), cl), True),
    "upsample": (lambda a, p, cl: resize.upsample(a["x"], p["factors"], p["interpolation"], cl), True),
    "zero_pad": (lambda a, p, cl: tensor.zero_pad(a["x"], p["pads"], cl), True),
    "crop": (lambda a, p, cl: tensor.crop(a["x"], p["crops"], cl), True),
    "pad": (lambda a, p, cl: tensor.pad(a["x"], p["pads"], p["mode"], p["value"]), False),
    "activation": (_activation, False),
    "dense": (lambda a, p, cl: dense.dense(a["x"], a["w"], a.get("b")), False),
    "batch_norm": (lambda a, p, cl: norm.batch_norm(a["x"], a["mean"], a["variance"], a.get("gamma"), a.get("beta"), p["epsilon"], p["axis"]), False),
    "layer_norm": (lambda a, p, cl: norm.layer_norm(a["x"], a.get("gamma"), a.get("beta"), p["epsilon"], p["axes"]), False),
    "embedding": (lambda a, p, cl: tensor.embedding(a["ids"], a["table"]), False),
    "elementwise": (lambda a, p, cl: tensor.elementwise(p["kind"], *(a[k] for k in "abc" if k in a)), False),
    "concat": (lambda a, p, cl: tensor.concat([a[k] for k in "abc" if k in a], p["axis"]), False),
    "matmul": (lambda a, p, cl: dense.matmul(a["a"], a["b"]), False),
    "gemm": (lambda a, p, cl: dense.gemm(a["a"], a["b"], a["c"], p["alpha"], p["beta"], p["trans_a"], p["trans_b"]), False),
    "flatten": (lambda a, p, cl: tensor.flatten(a["x"], 1, p["channels_to_last"]), False),
    "transpose": (lambda a, p, cl: tensor.transpose(a["x"], p["perm"], p["keep_batch"]), False),
    "reshape": (lambda a, p, cl: tensor.reshape(a["x"], p["shape"]), False),
}


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """Largest absolute difference over the output's largest magnitude (at least 1)."""
    return float(np.max(np.abs(got.astype(np.float64) - want), initial=0.0) / max(1.0, float(np.max(np.abs(want), initial=0.0))))


def _check(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.dtype == want.dtype, f"computed in {got.dtype}, the library in {want.dtype}"
    rtol = 1e-4 if want.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 0.1 * max(1.0, float(np.abs(want).max(initial=0.0))))


@pytest.mark.parametrize(("library", "case"), _cases())
def test_kernel_matches_library(library: str, case: dict[str, Any]) -> None:
    arrays = _arrays(library, case["name"])
    want = arrays.pop("out")
    args = dict(case["args"])
    layout = bool(args.pop("channels_last", False))
    run, spatial = KERNELS[case["kernel"]]
    _check(run(arrays, args, layout), want)
    if spatial and library == "torch" and case["kernel"] != "contributions":
        moved = dict(arrays, x=np.moveaxis(arrays["x"], 1, -1))
        _check(np.moveaxis(run(moved, args, True), -1, 1), want)
    if case["kernel"] == "contributions":  # channels-last input, same maps
        moved = dict(arrays, x=np.moveaxis(arrays["x"], 1, -1))
        _check(run(moved, args, True), want)


def test_every_kernel_has_cases() -> None:
    kernels = {c.values[1]["kernel"] for c in _cases()}
    assert kernels == set(KERNELS)


def test_contributions_sum_to_the_convolution() -> None:
    """Σ_i in[i] ⋆ F[i, n] + bias[n] is the layer's pre-activation map n."""
    arrays = _arrays("torch", "conv2d_g2_k3s2d1p1")
    x, w, b = arrays["x"], arrays["w"], arrays["b"]
    full = conv.conv(x, w, b, 2, 1, [(1, 1)] * 2, groups=2)
    for n in (0, 5):
        parts = conv.conv_contributions(x, w, n, 2, 1, [(1, 1)] * 2, groups=2, batch=1)
        np.testing.assert_allclose(parts.sum(axis=0) + b[n], full[1, n], rtol=1e-5, atol=1e-5)


def test_conv_pads_named() -> None:
    # 'same' with an even total pads the odd pixel after (TensorFlow), before for same_lower (ONNX)
    assert conv.conv_pads([8], [4], 1, 1, "same") == [(1, 2)]
    assert conv.conv_pads([8], [4], 1, 1, "same_lower") == [(2, 1)]
    assert conv.conv_pads([9, 9], [3, 3], 2, 1, "same") == [(1, 1), (1, 1)]
    assert conv.conv_pads([8], [3], 2, 1, "same") == [(0, 1)]
    assert conv.conv_pads([10], [3], 1, 2, "causal") == [(4, 0)]
    assert conv.conv_pads([10], [3], 1, 2, "full") == [(4, 4)]
    assert conv.conv_pads([10, 10], [3, 3], 1, 1, [(1, 2), (0, 0)]) == [(1, 2), (0, 0)]
    with pytest.raises(ValueError, match="unknown padding"):
        conv.conv_pads([10], [3], 1, 1, "mirror")


def test_float64_stays_float64_and_float32_is_never_upcast() -> None:
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((1, 2, 5, 5))
    w32 = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    assert conv.conv(x64, w32).dtype == np.float64
    assert conv.conv(x64.astype(np.float32), w32.astype(np.float64)).dtype == np.float32
    x32 = x64.astype(np.float32)
    for name, fn in activations.ACTIVATIONS.items():
        assert fn(x32).dtype == np.float32, name
        assert fn(x64).dtype == np.float64, name
    assert pool.pool(x32, "avg", 2).dtype == np.float32
    assert resize.resize(x32, [7, 9], "linear", "half_pixel").dtype == np.float32
    assert norm.layer_norm(x32).dtype == np.float32


def test_pointwise_conv_needs_no_im2col_copy() -> None:
    """A 1x1, stride-1, unpadded channels-last conv contracts the input itself."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 6, 6, 4)).astype(np.float32)
    w = rng.standard_normal((5, 4, 1, 1)).astype(np.float32)
    want = np.einsum("nhwc,oc->nhwo", x, w[:, :, 0, 0])
    np.testing.assert_allclose(conv.conv(x, w, channels_last=True), want, rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_value_errors() -> None:
    x = np.zeros((1, 3, 5, 5), np.float32)
    with pytest.raises(ValueError, match="channels"):
        conv.conv(x, np.zeros((4, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv(x, np.zeros((4, 3, 7, 7), np.float32))
    with pytest.raises(ValueError, match="outside a vocabulary"):
        tensor.embedding(np.array([0, 12]), np.zeros((10, 2), np.float32))


def test_convolutions_in_blocks_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the im2col budget at one byte, every layer runs one output row at a
    time, and still gives the library's numbers."""
    monkeypatch.setattr(conv, "IM2COL_BYTES", 1)
    doc = json.loads((FIXTURES / "kernels_torch.json").read_text())
    checked = 0
    for case in doc["cases"]:
        if case["kernel"] not in ("conv", "conv_transpose", "separable_conv"):
            continue
        arrays = _arrays("torch", case["name"])
        want = arrays.pop("out")
        args = dict(case["args"])
        args.pop("channels_last")
        run = KERNELS[case["kernel"]][0]
        _check(run(arrays, args, False), want)
        moved = dict(arrays, x=np.moveaxis(arrays["x"], 1, -1))
        _check(np.moveaxis(run(moved, args, True), -1, 1), want)
        checked += 1
    assert checked > 50


# ---------------------------------------------------------------------------
# The kernels on the layers of real model files: every conv and pooling layer of
# the Keras fixtures whose input is a model input, fed the seeded input stored in
# tests/fixtures/forward/<family>/<model>.activations.*, against the layer output
# Keras computed for it (shape, stats, sampled elements, the whole array if small).
# ---------------------------------------------------------------------------

KERAS_MODELS = ("convs", "transposed", "depthwise_separable", "pooling", "mnist_cnn")


def _keras_layers(family: str, model: str) -> tuple[list[dict[str, Any]], list[str]]:
    import h5py

    with h5py.File(Path(__file__).parent / "fixtures" / family / f"{model}.h5", "r") as f:
        config = json.loads(f.attrs["model_config"])
    layers = config["config"]["layers"]
    if config["class_name"] == "Sequential":  # mnist_cnn: only its first layer reads the input
        first = next(layer for layer in layers if layer["class_name"] != "InputLayer")
        return [dict(first, source="input")], ["input"]
    inputs = [entry[0] for entry in config["config"]["input_layers"]]
    for layer in layers:
        nodes = layer.get("inbound_nodes") or []
        if not nodes:
            continue
        first = nodes[0]
        layer["source"] = first["args"][0]["config"]["keras_history"][0] if isinstance(first, dict) else first[0][0]
    return [layer for layer in layers if layer.get("source") in inputs], inputs


def _keras_layer(layer: dict[str, Any], x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """One Keras conv or pooling layer through the kernels (Keras kernels are
    ``(*k, in, out)``; transposed ``(*k, out, in)``; depthwise ``(*k, in, mult)``)."""
    kind, c = layer["class_name"], layer["config"]
    cl = c.get("data_format", "channels_last") == "channels_last"
    rank = x.ndim - 2
    spatial = list(x.shape[1:-1] if cl else x.shape[2:])
    strides, dilation = c.get("strides", 1), c.get("dilation_rate", 1)
    bias = weights[-1] if c.get("use_bias") else None
    if kind.startswith(("MaxPooling", "AveragePooling")):
        pads = conv.conv_pads(spatial, c["pool_size"], c["strides"], 1, c["padding"])
        return pool.pool(x, "max" if kind.startswith("Max") else "avg", c["pool_size"], c["strides"], pads, channels_last=cl)
    if kind.startswith("Global"):
        return pool.global_pool(x, "max" if "Max" in kind else "avg", cl, c.get("keepdims", False))
    if kind.startswith("Depthwise") or kind.startswith("Separable"):
        k = weights[0].shape[:rank]
        channels = weights[0].shape[rank]
        dw = np.moveaxis(weights[0].reshape(*k, -1, 1), (-2, -1), (0, 1))
        pads = conv.conv_pads(spatial, k, strides, dilation, c["padding"])
        if kind.startswith("Depthwise"):
            out = conv.conv(x, dw, bias, strides, dilation, pads, channels, cl)
        else:
            pw = np.moveaxis(weights[1], (-1, -2), (0, 1))
            out = conv.separable_conv(x, dw, pw, bias, strides, dilation, pads, cl)
    elif kind.endswith("Transpose"):
        w = np.moveaxis(weights[0], (-1, -2), (0, 1))
        pads, extra = conv.transposed_pads(spatial, w.shape[2:], strides, dilation, c["padding"], c.get("output_padding"))
        out = conv.conv_transpose(x, w, bias, strides, dilation, pads, extra, 1, cl)
    else:
        w = np.moveaxis(weights[0], (-1, -2), (0, 1))
        pads = conv.conv_pads(spatial, w.shape[2:], strides, dilation, c["padding"])
        out = conv.conv(x, w, bias, strides, dilation, pads, c.get("groups", 1), cl)
    return activations.ACTIVATIONS[c["activation"]](out)


def _matches_truth(got: np.ndarray, entry: dict[str, Any], full: Any) -> float:
    """Compare with one stored layer output; return the error over the output's scale."""
    assert list(got.shape) == entry["shape"]
    scale = max(1.0, abs(entry["stats"]["min"]), abs(entry["stats"]["max"]))
    flat = got.reshape(-1).astype(np.float64)
    errors = [np.abs(flat[entry["samples"]["flat_index"]] - entry["samples"]["value"]).max()]
    errors += [abs(float(getattr(flat, stat)()) - entry["stats"][stat]) for stat in ("min", "max", "mean", "std")]
    if full is not None:
        errors.append(float(np.abs(flat - full.reshape(-1)).max()))
    return max(errors) / scale


@pytest.mark.parametrize("family", ["keras3", "tfkeras"])
@pytest.mark.parametrize("model", KERAS_MODELS)
def test_kernels_reproduce_keras_layers(family: str, model: str) -> None:
    folder = FIXTURES / family
    truth = json.loads((folder / f"{model}.activations.json").read_text())
    stored = np.load(folder / f"{model}.activations.zip")
    weights = np.load(Path(__file__).parent / "fixtures" / family / f"{model}.weights.npz")
    layers, inputs = _keras_layers(family, model)
    assert layers
    names = [i["name"] for i in truth["inputs"]]
    for layer in layers:
        name = layer["config"]["name"]
        x = stored[f"input/{names.index(layer['source']) if layer['source'] in names else inputs.index(layer['source'])}"]
        own = [weights[f"{name}::{i}"] for i in range(len([k for k in weights.files if k.startswith(name + "::")]))]
        index, entry = next((i, e) for i, e in enumerate(truth["outputs"]) if e["path"] == name and e["call"] == 0)
        full = stored[str(index)] if entry["full"] else None
        assert _matches_truth(_keras_layer(layer, x, own), entry, full) < 1e-4, name


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize(("groups", "cin", "cout", "k"), [(1, 16, 24, 3), (4, 16, 24, 3), (16, 16, 32, 3), (1, 16, 24, 1)])
def test_conv_allocates_its_output_and_one_bounded_buffer(
    monkeypatch: pytest.MonkeyPatch, channels_last: bool, groups: int, cin: int, cout: int, k: int
) -> None:
    """Peak memory (NumPy reports its allocations to tracemalloc): the output, the
    padded input, one im2col block within the budget (a product the output's size
    for depthwise), the reordered kernel, and NumPy's own ufunc buffers (8192
    elements per strided operand); a 1x1 stride-1 conv copies nothing."""
    import tracemalloc

    budget = 64 << 10
    monkeypatch.setattr(conv, "IM2COL_BYTES", budget)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 40, 40, cin) if channels_last else (1, cin, 40, 40)).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    tracemalloc.start()
    try:
        out = conv.conv(x, w, None, 1, 1, [(k // 2, k // 2)] * 2, groups, channels_last)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    padded = 42 * 42 * cin * 4 if k > 1 else 0
    working = out.nbytes if groups == cin else (budget + w.nbytes if k > 1 else 0)
    ufunc_buffers = 2 * 8192 * x.itemsize
    assert peak <= out.nbytes + padded + working + ufunc_buffers + (16 << 10), (peak, out.nbytes, padded, working)


def test_dense_contributions_sum_to_the_library_output() -> None:
    arrays = _arrays("torch", "linear")
    x, w, b, want = arrays["x"], arrays["w"], arrays["b"], arrays["out"]
    for unit in (0, 4):
        parts = dense.dense_contributions(x, w, unit, batch=2)
        assert parts.shape == (3, 7)
        np.testing.assert_allclose(parts.sum(axis=-1) + b[unit], want[2, :, unit], rtol=1e-5, atol=1e-6)
