#!/usr/bin/env python3
"""Ground truth for cnninspect's NumPy forward kernels and, per layer, for the model
fixtures, computed by the real libraries.

Two kinds of files under ``tests/fixtures/forward/``:

* Kernel truth, ``kernels_<library>.zip`` + ``kernels_<library>.json``: small seeded
  random inputs, the library's output, and the case's parameters already in
  ``cnninspect.forward``'s vocabulary (weights in its neutral layouts, pads per side,
  named paddings kept by name when the library's own rule for them is what is under
  test). ``torch`` (``torch.nn.functional``) covers convolutions, transposed
  convolutions, pooling, interpolation, padding, activations and norms;
  ``keras3`` and ``tfkeras`` cover what only Keras defines: 'same'/'causal' padding,
  hard_sigmoid, gelu's default, UpSampling2D bilinear, the BatchNormalization epsilon,
  LeakyReLU's slope, Flatten of channels-first maps, the merge layers; ``onnx``
  (onnxruntime on one-node graphs) covers ONNX's own rules: Resize's coordinate modes
  and nearest roundings, auto_pad SAME_UPPER/SAME_LOWER for Conv and ConvTranspose,
  AveragePool's count_include_pad with ceil_mode, negative Pad, its activation
  defaults (HardSigmoid alpha 0.2), Gemm.
* Per-layer activation truth for the model fixtures,
  ``<family>/<model>.activations.zip`` + ``.json``: each model run in its own library
  on a fixed seeded input; for every layer call (or node, or tensor) its output's
  shape, min, max, mean, std, a few sampled elements (flat indices) and, for outputs
  of at most ``FULL_LIMIT`` elements, the whole array. Families: ``keras3``,
  ``tfkeras`` (``Model`` of every layer call's output), ``torch`` (forward hooks on
  the pickled modules), ``onnx`` (onnxruntime with every node output made a graph
  output) and ``tflite`` (the interpreter with ``experimental_preserve_all_tensors``).

The arrays are compressed npz archives named ``.zip`` (``np.load`` reads them): they
are truth data, not model files for the sweeps over every fixture.

Run (paths are resolved from this file; each part runs in the interpreter that has
its library, Keras 3 and tf_keras in separate processes)::

    python3 scripts/make_forward_fixtures.py            # every part
    python3 scripts/make_forward_fixtures.py --part torch-kernels

Versions used: torch 2.13.0 (system python 3.11); tensorflow-cpu 2.21.0 with keras
3.15.1 and tf-keras 2.21.0, onnx 1.x and onnxruntime, in /work/venv-tf (each JSON
file records the exact versions).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "forward"
FIXTURES = REPO / "tests" / "fixtures"
TF_PYTHON = "/work/venv-tf/bin/python"
FULL_LIMIT = 512  # outputs up to this many elements are stored whole
SAMPLES = 8  # sampled elements per layer output

PARTS: dict[str, str] = {
    "torch-kernels": sys.executable,
    "keras3-kernels": TF_PYTHON,
    "tfkeras-kernels": TF_PYTHON,
    "onnx-kernels": TF_PYTHON,
    "keras3-models": TF_PYTHON,
    "tfkeras-models": TF_PYTHON,
    "torch-models": sys.executable,
    "onnx-models": TF_PYTHON,
    "tflite-models": TF_PYTHON,
}


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A compressed npz (``np.load`` reads it) named ``.zip``: these are truth data, and
    the sweeps over every model fixture (``*.npz`` included) must not take them for
    models."""
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


class Cases:
    """Kernel cases collected for one library: parameters in a JSON list, arrays in one npz."""

    def __init__(self, library: str, versions: dict[str, str], channels_last: bool) -> None:
        self.library = library
        self.channels_last = channels_last
        self.versions = versions
        self.cases: list[dict[str, Any]] = []
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, name: str, kernel: str, args: dict[str, Any], call: str, out: Any, **inputs: Any) -> None:
        if any(c["name"] == name for c in self.cases):
            raise ValueError(f"duplicate case {name}")
        names = []
        for key, value in inputs.items():
            if value is not None:
                self.arrays[f"{name}/{key}"] = np.asarray(value)
                names.append(key)
        self.arrays[f"{name}/out"] = np.asarray(out)
        args = {"channels_last": self.channels_last, **args}
        self.cases.append({"name": name, "kernel": kernel, "args": args, "inputs": names, "library_call": call})

    def save(self) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        _save_arrays(OUT / f"kernels_{self.library}.zip", self.arrays)
        doc = {"generated_by": "scripts/make_forward_fixtures.py", "library": self.library, "versions": self.versions, "cases": self.cases}
        (OUT / f"kernels_{self.library}.json").write_text(json.dumps(doc, indent=1) + "\n")
        size = (OUT / f"kernels_{self.library}.zip").stat().st_size
        print(f"kernels_{self.library}: {len(self.cases)} cases, {size / 1024:.0f} KiB", flush=True)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "float32", scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


# --------------------------------------------------------------------------
# torch.nn.functional kernels (channels first; the tests also run each spatial
# case channels-last by moving the axes of input and output)
# --------------------------------------------------------------------------


def torch_kernels() -> None:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    rng = np.random.default_rng(13)
    cases = Cases("torch", {"torch": torch.__version__, "numpy": np.__version__}, channels_last=False)

    def t(a: np.ndarray) -> "torch.Tensor":
        return torch.from_numpy(np.ascontiguousarray(a))

    def run(fn: Callable[..., "torch.Tensor"], *args: Any, **kw: Any) -> np.ndarray:
        with torch.no_grad():
            return fn(*args, **kw).numpy()

    size = {1: 11, 2: 8, 3: 5}
    convs = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
    transposed = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
    # (in, out, groups): plain, grouped, depthwise with multiplier 2
    channel_sets = [(3, 4, 1), (4, 6, 2), (4, 8, 4)]
    # (kernel, stride, dilation, pad)
    conv_sets = [(3, 1, 1, 0), (3, 2, 1, 1), (3, 1, 2, 2), (2, 2, 1, 0), (5, 3, 1, 2)]
    for rank in (1, 2, 3):
        for cin, cout, groups in channel_sets:
            for k, s, d, p in conv_sets:
                if rank == 3 and (k, s) == (5, 3):
                    continue
                x = _normal(rng, (2, cin, *(size[rank],) * rank))
                w = _normal(rng, (cout, cin // groups, *(k,) * rank), scale=0.5)
                b = _normal(rng, (cout,))
                out = run(convs[rank], t(x), t(w), t(b), stride=s, padding=p, dilation=d, groups=groups)
                args = {"strides": s, "dilation": d, "pads": [[p, p]] * rank, "groups": groups}
                call = f"conv{rank}d(stride={s}, padding={p}, dilation={d}, groups={groups})"
                cases.add(f"conv{rank}d_g{groups}_k{k}s{s}d{d}p{p}", "conv", args, call, out, x=x, w=w, b=b)
    # asymmetric pads (F.pad, then the convolution), an anisotropic kernel, no bias, float64
    x = _normal(rng, (2, 3, 9, 8))
    w = _normal(rng, (5, 3, 3, 2), scale=0.5)
    out = run(lambda: F.conv2d(F.pad(t(x), (2, 1, 0, 1)), t(w), stride=(2, 1)))
    cases.add("conv2d_asymmetric_pads", "conv", {"strides": [2, 1], "pads": [[0, 1], [2, 1]]}, "conv2d(pad(x, (2, 1, 0, 1)), stride=(2, 1))", out, x=x, w=w)
    for groups in (1, 3):
        x = _normal(rng, (2, 6, 9, 9), "float64")
        w = _normal(rng, (6, 6 // groups, 3, 3), "float64")
        b = _normal(rng, (6,), "float64")
        out = run(F.conv2d, t(x), t(w), t(b), stride=2, padding=1, groups=groups)
        cases.add(f"conv2d_float64_g{groups}", "conv", {"strides": 2, "pads": [[1, 1]] * 2, "groups": groups}, f"conv2d(float64, stride=2, padding=1, groups={groups})", out, x=x, w=w, b=b)

    # transposed: (kernel, stride, dilation, pad, output_padding)
    transposed_sets = [(3, 1, 1, 0, 0), (3, 2, 1, 1, 1), (4, 2, 1, 1, 0), (3, 2, 2, 2, 1), (2, 3, 1, 0, 2)]
    for rank in (1, 2, 3):
        for cin, cout_group, groups in ((3, 4, 1), (4, 3, 2)):
            for k, s, d, p, op in transposed_sets:
                x = _normal(rng, (2, cin, *(size[rank] - 1 if rank < 3 else 3,) * rank))
                w = _normal(rng, (cin, cout_group, *(k,) * rank), scale=0.5)
                b = _normal(rng, (cout_group * groups,))
                out = run(transposed[rank], t(x), t(w), t(b), stride=s, padding=p, output_padding=op, groups=groups, dilation=d)
                args = {"strides": s, "dilation": d, "pads": [[p, p]] * rank, "output_padding": op, "groups": groups}
                call = f"conv_transpose{rank}d(stride={s}, padding={p}, output_padding={op}, groups={groups}, dilation={d})"
                cases.add(f"conv_transpose{rank}d_g{groups}_k{k}s{s}d{d}p{p}op{op}", "conv_transpose", args, call, out, x=x, w=w, b=b)
    x = _normal(rng, (1, 4, 5, 6), "float64")
    w = _normal(rng, (4, 2, 3, 3), "float64")
    out = run(F.conv_transpose2d, t(x), t(w), stride=2, padding=1, output_padding=1, groups=2)
    cases.add("conv_transpose2d_float64", "conv_transpose", {"strides": 2, "pads": [[1, 1]] * 2, "output_padding": 1, "groups": 2}, "conv_transpose2d(float64, stride=2, padding=1, output_padding=1, groups=2)", out, x=x, w=w)

    # separable = depthwise (multiplier 2) then pointwise, and the per-input-map contributions
    x = _normal(rng, (2, 3, 9, 9))
    dw = _normal(rng, (6, 1, 3, 3))
    pw = _normal(rng, (5, 6, 1, 1))
    b = _normal(rng, (5,))
    out = run(lambda: F.conv2d(F.conv2d(t(x), t(dw), stride=2, padding=1, groups=3), t(pw), t(b)))
    cases.add("separable2d", "separable_conv", {"strides": 2, "pads": [[1, 1]] * 2}, "conv2d(conv2d(x, dw, stride=2, padding=1, groups=3), pw, b)", out, x=x, dw=dw, pw=pw, b=b)
    for rank, groups, s, d, p in ((2, 1, 1, 1, 1), (2, 2, 2, 1, 1), (2, 1, 1, 2, 0), (1, 1, 2, 1, 1), (3, 1, 1, 1, 1)):
        x = _normal(rng, (2, 4, *(size[rank],) * rank))
        w = _normal(rng, (6, 4 // groups, *(3,) * rank))
        n = 5
        g = n // (6 // groups)
        per = 4 // groups
        # The library's own convolution of one input map with its kernel slice, per map.
        maps = [
            run(convs[rank], t(x[1:2, g * per + i : g * per + i + 1]), t(w[n : n + 1, i : i + 1]), stride=s, padding=p, dilation=d)[0, 0]
            for i in range(per)
        ]
        args = {"out_channel": n, "strides": s, "dilation": d, "pads": [[p, p]] * rank, "groups": groups, "batch": 1}
        call = f"stack(conv{rank}d(x[1:2, i:i+1], w[{n}:{n + 1}, i:i+1], stride={s}, padding={p}, dilation={d}) for i)"
        cases.add(f"contributions{rank}d_g{groups}s{s}d{d}p{p}", "contributions", args, call, np.stack(maps), x=x, w=w)

    # pooling: max (kernel, stride, pad, dilation, ceil) and avg (kernel, stride, pad, ceil, count_include_pad)
    maxes = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
    avgs = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
    pool_size = {1: 11, 2: 9, 3: 7}
    for rank in (1, 2, 3):
        for k, s, p, d, ceil in ((2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (3, 2, 0, 2, False), (2, 3, 1, 1, True), (3, 1, 1, 1, False)):
            x = _normal(rng, (2, 3, *(pool_size[rank],) * rank))
            out = run(maxes[rank], t(x), k, s, p, d, ceil_mode=ceil)
            args = {"kind": "max", "kernel": k, "strides": s, "pads": [[p, p]] * rank, "dilation": d, "ceil_mode": ceil}
            cases.add(f"maxpool{rank}d_k{k}s{s}p{p}d{d}{'_ceil' if ceil else ''}", "pool", args, f"max_pool{rank}d(k={k}, stride={s}, padding={p}, dilation={d}, ceil_mode={ceil})", out, x=x)
        for k, s, p, ceil, cip in ((2, 2, 0, False, True), (3, 2, 1, False, True), (3, 2, 1, False, False), (3, 2, 1, True, True), (3, 2, 1, True, False), (2, 3, 1, True, False)):
            x = _normal(rng, (2, 3, *(pool_size[rank],) * rank))
            out = run(avgs[rank], t(x), k, s, p, ceil_mode=ceil, count_include_pad=cip)
            args = {"kind": "avg", "kernel": k, "strides": s, "pads": [[p, p]] * rank, "ceil_mode": ceil, "count_include_pad": cip}
            cases.add(f"avgpool{rank}d_k{k}s{s}p{p}{'_ceil' if ceil else ''}{'_cip' if cip else ''}", "pool", args, f"avg_pool{rank}d(k={k}, stride={s}, padding={p}, ceil_mode={ceil}, count_include_pad={cip})", out, x=x)
    x = _normal(rng, (2, 3, 9, 9), "float64")
    out = run(F.avg_pool2d, t(x), 3, 2, 1, ceil_mode=True, count_include_pad=False)
    cases.add("avgpool2d_float64", "pool", {"kind": "avg", "kernel": 3, "strides": 2, "pads": [[1, 1]] * 2, "ceil_mode": True}, "avg_pool2d(float64, 3, 2, 1, ceil_mode=True, count_include_pad=False)", out, x=x)
    x = _normal(rng, (2, 4, 5, 6))
    cases.add("global_avg2d", "global_pool", {"kind": "avg"}, "adaptive_avg_pool2d(x, 1).flatten(1)", run(lambda: F.adaptive_avg_pool2d(t(x), 1).flatten(1)), x=x)
    cases.add("global_max2d", "global_pool", {"kind": "max"}, "adaptive_max_pool2d(x, 1).flatten(1)", run(lambda: F.adaptive_max_pool2d(t(x), 1).flatten(1)), x=x)

    # interpolation: (name, input spatial, torch kwargs, our args)
    interp = [
        ("nearest_size", (6, 5), {"size": (13, 10), "mode": "nearest"}, {"size": [13, 10], "mode": "nearest"}),
        ("nearest_scale2", (6, 5), {"scale_factor": 2, "mode": "nearest"}, {"size": [12, 10], "mode": "nearest", "scales": [2, 2]}),
        ("nearest_scale1_5", (6, 5), {"scale_factor": 1.5, "mode": "nearest"}, {"size": [9, 7], "mode": "nearest", "scales": [1.5, 1.5]}),
        ("nearest_down", (9, 7), {"size": (4, 3), "mode": "nearest"}, {"size": [4, 3], "mode": "nearest"}),
        ("nearest_exact", (6, 5), {"size": (13, 10), "mode": "nearest-exact"}, {"size": [13, 10], "mode": "nearest", "coordinates": "half_pixel", "nearest": "round_prefer_ceil"}),
        ("bilinear_size", (6, 5), {"size": (13, 10), "mode": "bilinear", "align_corners": False}, {"size": [13, 10], "mode": "linear", "coordinates": "half_pixel"}),
        ("bilinear_scale2", (6, 5), {"scale_factor": 2, "mode": "bilinear", "align_corners": False}, {"size": [12, 10], "mode": "linear", "coordinates": "half_pixel", "scales": [2, 2]}),
        ("bilinear_align", (6, 5), {"size": (13, 10), "mode": "bilinear", "align_corners": True}, {"size": [13, 10], "mode": "linear", "coordinates": "align_corners"}),
        ("bilinear_down", (9, 7), {"size": (4, 3), "mode": "bilinear", "align_corners": False}, {"size": [4, 3], "mode": "linear", "coordinates": "half_pixel"}),
        ("linear1d", (7,), {"size": (15,), "mode": "linear", "align_corners": False}, {"size": [15], "mode": "linear", "coordinates": "half_pixel"}),
        ("trilinear", (3, 4, 5), {"scale_factor": 2, "mode": "trilinear", "align_corners": False}, {"size": [6, 8, 10], "mode": "linear", "coordinates": "half_pixel", "scales": [2, 2, 2]}),
        ("nearest3d", (3, 4, 5), {"size": (5, 8, 7), "mode": "nearest"}, {"size": [5, 8, 7], "mode": "nearest"}),
    ]
    for name, spatial, kw, args in interp:
        x = _normal(rng, (2, 3, *spatial))
        cases.add(f"interpolate_{name}", "resize", args, f"interpolate({kw})", run(F.interpolate, t(x), **kw), x=x)

    # padding of a whole tensor
    x = _normal(rng, (2, 3, 6, 7))
    for mode, torch_mode in (("constant", "constant"), ("reflect", "reflect"), ("edge", "replicate")):
        value = 0.5 if mode == "constant" else None
        out = run(F.pad, t(x), (1, 2, 3, 0), mode=torch_mode, value=value)
        args = {"pads": [[0, 0], [0, 0], [3, 0], [1, 2]], "mode": mode, "value": value or 0.0}
        cases.add(f"pad_{mode}", "pad", args, f"pad(x, (1, 2, 3, 0), mode={torch_mode!r})", out, x=x)

    # activations
    acts: list[tuple[str, dict[str, Any], Callable[["torch.Tensor"], "torch.Tensor"], str]] = [
        ("relu", {}, F.relu, "relu"),
        ("relu6", {}, F.relu6, "relu6"),
        ("leaky_relu", {"alpha": 0.1}, lambda v: F.leaky_relu(v, 0.1), "leaky_relu(0.1)"),
        ("elu", {"alpha": 0.7}, lambda v: F.elu(v, 0.7), "elu(alpha=0.7)"),
        ("selu", {}, F.selu, "selu"),
        ("sigmoid", {}, torch.sigmoid, "sigmoid"),
        ("hard_sigmoid", {"alpha": 1 / 6, "beta": 0.5}, F.hardsigmoid, "hardsigmoid"),
        ("hard_swish", {}, F.hardswish, "hardswish"),
        ("tanh", {}, torch.tanh, "tanh"),
        ("softplus", {}, F.softplus, "softplus"),
        ("softsign", {}, F.softsign, "softsign"),
        ("swish", {}, F.silu, "silu"),
        ("gelu", {}, F.gelu, "gelu"),
        ("gelu", {"approximate": True}, lambda v: F.gelu(v, approximate="tanh"), "gelu(approximate='tanh')"),
        ("softmax", {"axis": 1}, lambda v: F.softmax(v, dim=1), "softmax(dim=1)"),
        ("softmax", {"axis": -1}, lambda v: F.softmax(v, dim=-1), "softmax(dim=-1)"),
        ("log_softmax", {"axis": 1}, lambda v: F.log_softmax(v, dim=1), "log_softmax(dim=1)"),
        ("exponential", {}, torch.exp, "exp"),
    ]
    for dtype in ("float32", "float64"):
        x = _normal(rng, (2, 3, 5, 7), dtype, scale=4.0)
        x[0, 0, 0, :5] = [-30.0, -3.0, 0.0, 3.0, 30.0]
        for i, (name, params, fn, call) in enumerate(acts):
            out = run(fn, t(x))
            cases.add(f"act{i:02d}_{name}_{dtype}", "activation", {"name": name, "params": params}, call, out, x=x)

    # dense, norms, embedding
    x = _normal(rng, (4, 3, 7))
    w = _normal(rng, (5, 7))
    b = _normal(rng, (5,))
    cases.add("linear", "dense", {}, "linear(x, weight (5, 7), bias): w stored as weight.T", run(F.linear, t(x), t(w), t(b)), x=x, w=w.T.copy(), b=b)
    for dtype in ("float32", "float64"):
        x = _normal(rng, (2, 4, 5, 6), dtype, scale=3.0)
        mean, var = _normal(rng, (4,), dtype), rng.uniform(0.5, 2.0, 4).astype(dtype)
        gamma, beta = _normal(rng, (4,), dtype), _normal(rng, (4,), dtype)
        out = run(F.batch_norm, t(x), t(mean), t(var), t(gamma), t(beta), False, 0.0, 1e-5)
        cases.add(f"batch_norm_{dtype}", "batch_norm", {"epsilon": 1e-5, "axis": 1}, "batch_norm(training=False, eps=1e-5)", out, x=x, mean=mean, variance=var, gamma=gamma, beta=beta)
    x = _normal(rng, (2, 4, 5, 6), scale=3.0)
    for shape in ((6,), (5, 6)):
        gamma, beta = _normal(rng, shape), _normal(rng, shape)
        out = run(F.layer_norm, t(x), shape, t(gamma), t(beta), 1e-5)
        axes = list(range(-len(shape), 0))
        cases.add(f"layer_norm_{len(shape)}", "layer_norm", {"epsilon": 1e-5, "axes": axes}, f"layer_norm(normalized_shape={shape}, eps=1e-5)", out, x=x, gamma=gamma, beta=beta)
    ids = rng.integers(0, 10, (3, 5))
    table = _normal(rng, (10, 4))
    cases.add("embedding", "embedding", {}, "embedding(ids, table)", run(F.embedding, t(ids), t(table)), ids=ids, table=table)

    # adaptive pooling, windows of uneven length included
    adaptive = {("max", 1): F.adaptive_max_pool1d, ("max", 2): F.adaptive_max_pool2d, ("max", 3): F.adaptive_max_pool3d, ("avg", 1): F.adaptive_avg_pool1d, ("avg", 2): F.adaptive_avg_pool2d, ("avg", 3): F.adaptive_avg_pool3d}
    for spatial, out_size in (((9, 7), (4, 3)), ((7, 7), (7, 7)), ((10, 5), (3, 2)), ((8, 8), (1, 1)), ((11,), (4,)), ((5, 6, 7), (2, 3, 4))):
        for kind in ("max", "avg"):
            x = _normal(rng, (2, 3, *spatial))
            out = run(adaptive[kind, len(spatial)], t(x), out_size)
            name = f"adaptive_{kind}{len(spatial)}d_{'x'.join(map(str, spatial))}_to_{'x'.join(map(str, out_size))}"
            cases.add(name, "adaptive_pool", {"kind": kind, "size": list(out_size)}, f"adaptive_{kind}_pool{len(spatial)}d(x, {out_size})", out, x=x)

    # elementwise with broadcasting, concatenation, matrix products
    a, b, c = _normal(rng, (2, 3, 4, 5)), _normal(rng, (3, 1, 5)), _normal(rng, (1, 4, 1))
    for kind, fn in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("max", torch.maximum), ("min", torch.minimum)):
        cases.add(f"elementwise_{kind}", "elementwise", {"kind": kind}, f"{fn.__name__}({fn.__name__}(a, b), c), broadcasting", run(lambda f=fn: f(f(t(a), t(b)), t(c))), a=a, b=b, c=c)
    d = np.abs(_normal(rng, (3, 1, 5))) + 0.5
    cases.add("elementwise_div", "elementwise", {"kind": "div"}, "div(a, d), broadcasting", run(torch.div, t(a), t(d)), a=a, b=d)
    parts = [_normal(rng, (2, n, 4, 5)) for n in (1, 3, 2)]
    cases.add("concat_axis1", "concat", {"axis": 1}, "cat([a, b, c], dim=1)", run(lambda: torch.cat([t(v) for v in parts], dim=1)), a=parts[0], b=parts[1], c=parts[2])
    m1, m2 = _normal(rng, (2, 1, 3, 4)), _normal(rng, (5, 4, 6))
    cases.add("matmul_batched_broadcast", "matmul", {}, "matmul(a (2, 1, 3, 4), b (5, 4, 6))", run(torch.matmul, t(m1), t(m2)), a=m1, b=m2)
    ga, gb, gc = _normal(rng, (4, 3)), _normal(rng, (5, 4)), _normal(rng, (5,))
    out = run(lambda: torch.addmm(t(gc), t(ga).T, t(gb).T, beta=0.5, alpha=2.0))
    cases.add("gemm_transposed", "gemm", {"alpha": 2.0, "beta": 0.5, "trans_a": True, "trans_b": True}, "addmm(c, a.T, b.T, beta=0.5, alpha=2) (ONNX Gemm transA=1 transB=1)", out, a=ga, b=gb, c=gc)
    cases.save()


# --------------------------------------------------------------------------
# Keras kernels (Keras 3 or tf_keras; channels last unless a case says otherwise)
# --------------------------------------------------------------------------


def keras_kernels(api: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if api == "keras3":
        import keras as K
    else:
        import tf_keras as K
    L = K.layers
    K.utils.set_random_seed(0)
    rng = np.random.default_rng(31 if api == "keras3" else 37)
    library = "keras3" if api == "keras3" else "tfkeras"
    cases = Cases(library, {"keras": K.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}, channels_last=True)

    def call(layer: Any, *xs: np.ndarray) -> np.ndarray:
        out = layer(list(xs) if len(xs) > 1 else xs[0], training=False)
        return np.asarray(out)

    def conv_kernel(w: np.ndarray) -> np.ndarray:  # (*k, in, out) -> (out, in, *k)
        return np.moveaxis(w, (-1, -2), (0, 1)).copy()

    spatial = {1: (11,), 2: (9, 8), 3: (5, 6, 5)}
    layers = {1: L.Conv1D, 2: L.Conv2D, 3: L.Conv3D}
    for rank in (1, 2, 3):
        for k, s, d, padding in ((3, 2, 1, "same"), (2, 2, 1, "same"), (4, 3, 1, "same"), (3, 1, 2, "same"), (3, 1, 1, "valid"), (3, 1, 2, "causal")):
            if padding == "causal" and rank != 1:
                continue
            if d > 1 and s > 1:
                continue
            x = _normal(rng, (2, *spatial[rank], 3))
            layer = layers[rank](4, k, strides=s, dilation_rate=d, padding=padding)
            out = call(layer, x)
            w, b = layer.get_weights()
            b = _normal(rng, b.shape)
            layer.set_weights([w, b])
            out = call(layer, x)
            args = {"strides": s, "dilation": d, "padding": padding}
            cases.add(f"conv{rank}d_{padding}_k{k}s{s}d{d}", "conv", args, f"Conv{rank}D(4, {k}, strides={s}, dilation_rate={d}, padding={padding!r})", out, x=x, w=conv_kernel(w), b=b)
    x = _normal(rng, (2, 3, 9, 8))
    layer = L.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first")
    out = call(layer, x) if api == "keras3" else None  # TensorFlow's CPU kernels have no channels-first conv
    if out is not None:
        w, b = layer.get_weights()
        cases.add("conv2d_channels_first_same", "conv", {"strides": 2, "padding": "same", "channels_last": False}, "Conv2D(4, 3, strides=2, padding='same', data_format='channels_first')", out, x=x, w=conv_kernel(w), b=b)
    for s, padding, mult in ((2, "same", 2), (1, "valid", 1), (2, "valid", 3)):
        x = _normal(rng, (2, 9, 8, 3))
        layer = L.DepthwiseConv2D(3, strides=s, padding=padding, depth_multiplier=mult, bias_initializer="random_normal")
        out = call(layer, x)
        w, b = layer.get_weights()  # (kh, kw, in, mult)
        dw = w.reshape(3, 3, 3 * mult, 1).transpose(2, 3, 0, 1).copy()
        cases.add(f"depthwise2d_{padding}_s{s}_m{mult}", "conv", {"strides": s, "padding": padding, "groups": 3}, f"DepthwiseConv2D(3, strides={s}, padding={padding!r}, depth_multiplier={mult})", out, x=x, w=dw, b=b)
    x = _normal(rng, (2, 9, 8, 3))
    layer = L.SeparableConv2D(5, 3, strides=2, padding="same", depth_multiplier=2, bias_initializer="random_normal")
    out = call(layer, x)
    dwk, pwk, b = layer.get_weights()  # (kh, kw, in, mult), (1, 1, in*mult, out)
    cases.add("separable2d_same", "separable_conv", {"strides": 2, "padding": "same"}, "SeparableConv2D(5, 3, strides=2, padding='same', depth_multiplier=2)", out, x=x, dw=dwk.reshape(3, 3, 6, 1).transpose(2, 3, 0, 1).copy(), pw=conv_kernel(pwk), b=b)

    tlayers = {1: L.Conv1DTranspose, 2: L.Conv2DTranspose, 3: L.Conv3DTranspose}
    for rank in (1, 2, 3):
        for k, s, padding, op in ((3, 2, "same", None), (3, 2, "valid", None), (2, 3, "valid", None), (3, 2, "valid", 1), (4, 2, "same", None), (3, 2, "same", 1)):
            if rank == 3 and k == 4:
                continue
            x = _normal(rng, (2, *(4,) * rank, 3))
            layer = tlayers[rank](2, k, strides=s, padding=padding, output_padding=op, bias_initializer="random_normal")
            out = call(layer, x)
            w, b = layer.get_weights()  # (*k, out, in) -> (in, out, *k)
            wt = np.moveaxis(w, (-1, -2), (0, 1)).copy()
            args = {"strides": s, "padding": padding, "output_padding": op}
            cases.add(f"conv{rank}d_transpose_{padding}_k{k}s{s}op{op}", "conv_transpose", args, f"Conv{rank}DTranspose(2, {k}, strides={s}, padding={padding!r}, output_padding={op})", out, x=x, w=wt, b=b)

    pools = {("max", 1): L.MaxPooling1D, ("max", 2): L.MaxPooling2D, ("max", 3): L.MaxPooling3D, ("avg", 1): L.AveragePooling1D, ("avg", 2): L.AveragePooling2D, ("avg", 3): L.AveragePooling3D}
    for (kind, rank), cls in pools.items():
        for k, s, padding in ((3, 2, "same"), (2, 2, "same"), (2, 1, "valid"), (3, 3, "same")):
            x = _normal(rng, (2, *spatial[rank], 3))
            out = call(cls(k, strides=s, padding=padding), x)
            args = {"kind": kind, "kernel": k, "strides": s, "padding": padding}
            cases.add(f"{kind}pool{rank}d_{padding}_k{k}s{s}", "pool", args, f"{cls.__name__}({k}, strides={s}, padding={padding!r})", out, x=x)

    x = _normal(rng, (2, 4, 5, 3))
    for interpolation in ("nearest", "bilinear"):
        for size in ((2, 2), (2, 3)):
            out = call(L.UpSampling2D(size, interpolation=interpolation), x)
            cases.add(f"upsampling2d_{interpolation}_{size[0]}x{size[1]}", "upsample", {"factors": list(size), "interpolation": interpolation}, f"UpSampling2D({size}, interpolation={interpolation!r})", out, x=x)
    x = _normal(rng, (2, 9, 7, 3))
    out = call(L.Resizing(4, 5), x)
    cases.add("resizing_bilinear_down", "resize", {"size": [4, 5], "mode": "linear", "coordinates": "half_pixel"}, "Resizing(4, 5)", out, x=x)
    out = call(L.ZeroPadding2D(((1, 2), (0, 3))), x)
    cases.add("zero_padding2d", "zero_pad", {"pads": [[1, 2], [0, 3]]}, "ZeroPadding2D(((1, 2), (0, 3)))", out, x=x)
    out = call(L.Cropping2D(((1, 0), (2, 1))), x)
    cases.add("cropping2d", "crop", {"crops": [[1, 0], [2, 1]]}, "Cropping2D(((1, 0), (2, 1)))", out, x=x)
    xf = _normal(rng, (2, 3, 4, 5))
    out = call(L.Flatten(data_format="channels_first"), xf)
    cases.add("flatten_channels_first", "flatten", {"channels_to_last": True}, "Flatten(data_format='channels_first')", out, x=xf)
    out = call(L.Permute((2, 1, 3)), x)
    cases.add("permute", "transpose", {"perm": [2, 1, 3], "keep_batch": True}, "Permute((2, 1, 3))", out, x=x)
    out = call(L.Reshape((-1, 7)), x)
    cases.add("reshape", "reshape", {"shape": [-1, 7]}, "Reshape((-1, 7))", out, x=x)

    x = _normal(rng, (2, 5, 4, 6), scale=3.0)
    layer = L.BatchNormalization()
    call(layer, x)
    gamma, beta, _, _ = layer.get_weights()
    gamma, beta = _normal(rng, gamma.shape), _normal(rng, beta.shape)
    mean, var = _normal(rng, (6,)), rng.uniform(0.01, 0.1, 6).astype("float32")  # small: epsilon matters
    layer.set_weights([gamma, beta, mean, var])
    out = call(layer, x)
    cases.add("batch_normalization_default", "batch_norm", {"epsilon": float(layer.epsilon), "axis": -1}, f"BatchNormalization() (epsilon {layer.epsilon})", out, x=x, mean=mean, variance=var, gamma=gamma, beta=beta)
    layer = L.LayerNormalization(beta_initializer="random_normal", gamma_initializer="random_normal")
    out = call(layer, x)
    gamma, beta = layer.get_weights()
    cases.add("layer_normalization_default", "layer_norm", {"epsilon": float(layer.epsilon), "axes": [-1]}, f"LayerNormalization() (epsilon {layer.epsilon})", out, x=x, gamma=gamma, beta=beta)
    x2 = _normal(rng, (2, 3, 7))
    layer = L.Dense(4, bias_initializer="random_normal")
    out = call(layer, x2)
    w, b = layer.get_weights()
    cases.add("dense_3d_input", "dense", {}, "Dense(4) on (2, 3, 7)", out, x=x2, w=w, b=b)

    # activations as Keras defines them, with their default parameters
    x = _normal(rng, (2, 5, 4, 6), scale=4.0)
    x[0, 0, 0, :5] = [-30.0, -3.0, 0.0, 3.0, 30.0]
    hard_alpha = 1 / 6 if api == "keras3" else 0.2
    gelu_approx = bool(inspect.signature(K.activations.gelu).parameters["approximate"].default)
    act = K.activations
    named: list[tuple[str, dict[str, Any], Callable[[Any], Any], str]] = [
        ("hard_sigmoid", {"alpha": hard_alpha, "beta": 0.5}, act.hard_sigmoid, "activations.hard_sigmoid"),
        ("gelu", {"approximate": gelu_approx}, act.gelu, "activations.gelu"),
        ("swish", {}, act.swish, "activations.swish"),
        ("selu", {}, act.selu, "activations.selu"),
        ("elu", {}, act.elu, "activations.elu"),
        ("softplus", {}, act.softplus, "activations.softplus"),
        ("softsign", {}, act.softsign, "activations.softsign"),
        ("softmax", {"axis": -1}, act.softmax, "activations.softmax"),
        ("sigmoid", {}, act.sigmoid, "activations.sigmoid"),
        ("exponential", {}, act.exponential, "activations.exponential"),
        ("linear", {}, act.linear, "activations.linear"),
        ("leaky_relu", {"alpha": 0.3}, L.LeakyReLU(), "layers.LeakyReLU()"),
        ("relu", {"max_value": 6.0}, L.ReLU(max_value=6.0), "layers.ReLU(max_value=6)"),
        ("relu", {"negative_slope": 0.1, "threshold": 0.5}, L.ReLU(negative_slope=0.1, threshold=0.5), "layers.ReLU(negative_slope=0.1, threshold=0.5)"),
        ("elu", {"alpha": 0.5}, L.ELU(alpha=0.5), "layers.ELU(alpha=0.5)"),
    ]
    if api == "keras3":
        named.append(("hard_swish", {}, act.hard_swish, "activations.hard_swish"))
        named.append(("relu6", {}, act.relu6, "activations.relu6"))
    for i, (name, params, fn, label) in enumerate(named):
        out = np.asarray(fn(tf.constant(x)))
        cases.add(f"act{i:02d}_{name}", "activation", {"name": name, "params": params}, label, out, x=x)

    a, b, c = _normal(rng, (2, 4, 6)), _normal(rng, (2, 4, 6)), _normal(rng, (2, 4, 6))
    merges = [("add", L.Add), ("sub", L.Subtract), ("mul", L.Multiply), ("mean", L.Average), ("max", L.Maximum), ("min", L.Minimum)]
    for kind, cls in merges:
        operands = (a, b) if kind == "sub" else (a, b, c)
        out = call(cls(), *operands)
        cases.add(f"merge_{kind}", "elementwise", {"kind": kind}, f"{cls.__name__}()", out, **dict(zip("abc", operands)))
    out = call(L.Concatenate(axis=1), a, b)
    cases.add("concatenate_axis1", "concat", {"axis": 1}, "Concatenate(axis=1)", out, a=a, b=b)
    cases.save()


# --------------------------------------------------------------------------
# ONNX operators, as onnxruntime computes them (one-node graphs)
# --------------------------------------------------------------------------


def onnx_kernels() -> None:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(43)
    cases = Cases("onnx", {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}, channels_last=False)

    def run(op: str, feeds: dict[str, np.ndarray], inputs: list[str], constants: Optional[dict[str, np.ndarray]] = None, opset: int = 18, **attrs: Any) -> np.ndarray:
        constants = constants or {}
        node = helper.make_node(op, inputs, ["y"], **attrs)
        graph = helper.make_graph(
            [node],
            op.lower(),
            [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            initializer=[numpy_helper.from_array(v, k) for k, v in constants.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, feeds)[0])

    # Resize: coordinate modes and nearest roundings, by sizes and by scales
    linear = ["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"]
    nearest = [("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"), ("align_corners", "round_prefer_ceil"), ("asymmetric", "ceil"), ("half_pixel", "round_prefer_ceil")]
    for spatial, size in (((5, 6), (9, 13)), ((9, 7), (4, 3))):
        x = _normal(rng, (2, 3, *spatial))
        sizes = np.array([2, 3, *size], dtype=np.int64)
        for mode in linear:
            out = run("Resize", {"x": x}, ["x", "", "", "sizes"], {"sizes": sizes}, mode="linear", coordinate_transformation_mode=mode)
            cases.add(f"resize_linear_{mode}_{spatial[0]}x{spatial[1]}_to_{size[0]}x{size[1]}", "resize", {"size": list(size), "mode": "linear", "coordinates": mode}, f"Resize(mode=linear, coordinate_transformation_mode={mode}, sizes={list(sizes)})", out, x=x)
        for mode, rounding in nearest:
            out = run("Resize", {"x": x}, ["x", "", "", "sizes"], {"sizes": sizes}, mode="nearest", coordinate_transformation_mode=mode, nearest_mode=rounding)
            args = {"size": list(size), "mode": "nearest", "coordinates": mode, "nearest": rounding}
            cases.add(f"resize_nearest_{mode}_{rounding}_{spatial[0]}x{spatial[1]}_to_{size[0]}x{size[1]}", "resize", args, f"Resize(mode=nearest, coordinate_transformation_mode={mode}, nearest_mode={rounding})", out, x=x)
    x = _normal(rng, (1, 2, 4, 6))
    scales = np.array([1, 1, 2.5, 1.5], dtype=np.float32)
    for mode in ("linear", "nearest"):
        out = run("Resize", {"x": x}, ["x", "", "scales"], {"scales": scales}, mode=mode, coordinate_transformation_mode="half_pixel")
        args = {"size": [10, 9], "mode": mode, "coordinates": "half_pixel", "nearest": "round_prefer_floor", "scales": [2.5, 1.5]}
        cases.add(f"resize_{mode}_scales", "resize", args, f"Resize(mode={mode}, half_pixel, scales=[1, 1, 2.5, 1.5])", out, x=x)

    # Conv and ConvTranspose with auto_pad, AveragePool counting pads
    x = _normal(rng, (2, 3, 7, 8))  # odd total pads on both axes: UPPER and LOWER differ
    w = _normal(rng, (4, 3, 4, 3), scale=0.5)
    for auto in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        out = run("Conv", {"x": x}, ["x", "w"], {"w": w}, auto_pad=auto, strides=[2, 2])
        cases.add(f"conv_auto_pad_{auto.lower()}", "conv", {"strides": 2, "padding": auto.lower()}, f"Conv(auto_pad={auto}, strides=[2, 2]) kernel 4x3", out, x=x, w=w)
    x = _normal(rng, (2, 4, 5, 6))
    wt = _normal(rng, (4, 3, 3, 3), scale=0.5)
    for auto in ("SAME_UPPER", "SAME_LOWER"):
        out = run("ConvTranspose", {"x": x}, ["x", "w"], {"w": wt}, auto_pad=auto, strides=[2, 2])
        args = {"strides": 2, "padding": "same", "lower": auto == "SAME_LOWER"}
        cases.add(f"conv_transpose_auto_pad_{auto.lower()}", "conv_transpose", args, f"ConvTranspose(auto_pad={auto}, strides=[2, 2])", out, x=x, w=wt)
    x = _normal(rng, (2, 3, 9, 9))
    for include in (0, 1):
        out = run("AveragePool", {"x": x}, ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2], ceil_mode=1, count_include_pad=include)
        args = {"kind": "avg", "kernel": 3, "strides": 2, "pads": [[1, 1], [0, 2]], "ceil_mode": True, "count_include_pad": bool(include)}
        cases.add(f"averagepool_ceil_cip{include}", "pool", args, f"AveragePool(3x3, strides 2, pads [1, 0, 1, 2], ceil_mode=1, count_include_pad={include})", out, x=x)
    out = run("MaxPool", {"x": x}, ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2], dilations=[1, 2], ceil_mode=1)
    cases.add("maxpool_ceil_dilated", "pool", {"kind": "max", "kernel": 3, "strides": 2, "pads": [[1, 1], [0, 2]], "dilation": [1, 2], "ceil_mode": True}, "MaxPool(3x3, strides 2, pads [1, 0, 1, 2], dilations [1, 2], ceil_mode=1)", out, x=x)

    # activations with ONNX's defaults
    x = _normal(rng, (2, 3, 4, 5), scale=4.0)
    for op, name, params in (("HardSigmoid", "hard_sigmoid", {"alpha": 0.2, "beta": 0.5}), ("LeakyRelu", "leaky_relu", {"alpha": 0.01}), ("Elu", "elu", {}), ("Selu", "selu", {}), ("HardSwish", "hard_swish", {}), ("Softplus", "softplus", {}), ("Softsign", "softsign", {})):
        cases.add(f"act_{op}", "activation", {"name": name, "params": params}, f"{op} (default attributes)", run(op, {"x": x}, ["x"]), x=x)
    cases.add("act_Gelu", "activation", {"name": "gelu", "params": {}}, "Gelu (opset 20, approximate='none')", run("Gelu", {"x": x}, ["x"], opset=20), x=x)
    cases.add("act_Gelu_tanh", "activation", {"name": "gelu", "params": {"approximate": True}}, "Gelu (opset 20, approximate='tanh')", run("Gelu", {"x": x}, ["x"], opset=20, approximate="tanh"), x=x)

    # Pad (negative pads crop), BatchNormalization, Gemm
    x = _normal(rng, (2, 3, 6, 7))
    pads = np.array([0, 0, 2, -1, 0, 0, -1, 3], dtype=np.int64)
    for mode in ("constant", "reflect", "edge"):
        constants = {"pads": pads, "value": np.array(0.25, dtype=np.float32)} if mode == "constant" else {"pads": pads}
        out = run("Pad", {"x": x}, ["x", "pads", "value"] if mode == "constant" else ["x", "pads"], constants, mode=mode)
        args = {"pads": [[0, 0], [0, 0], [2, -1], [-1, 3]], "mode": mode, "value": 0.25 if mode == "constant" else 0.0}
        cases.add(f"pad_{mode}_negative", "pad", args, f"Pad(mode={mode}, pads={pads.tolist()})", out, x=x)
    mean, var = _normal(rng, (3,)), rng.uniform(0.5, 2.0, 3).astype(np.float32)
    gamma, beta = _normal(rng, (3,)), _normal(rng, (3,))
    out = run("BatchNormalization", {"x": x}, ["x", "gamma", "beta", "mean", "var"], {"gamma": gamma, "beta": beta, "mean": mean, "var": var})
    cases.add("batch_normalization", "batch_norm", {"epsilon": 1e-5, "axis": 1}, "BatchNormalization (epsilon 1e-5 default)", out, x=x, mean=mean, variance=var, gamma=gamma, beta=beta)
    ga, gb, gc = _normal(rng, (4, 3)), _normal(rng, (4, 5)), _normal(rng, (1, 5))
    out = run("Gemm", {"a": ga}, ["a", "b", "c"], {"b": gb, "c": gc}, alpha=1.5, beta=0.5, transA=1)
    cases.add("gemm", "gemm", {"alpha": 1.5, "beta": 0.5, "trans_a": True, "trans_b": False}, "Gemm(alpha=1.5, beta=0.5, transA=1)", out, a=ga, b=gb, c=gc)
    cases.save()


# --------------------------------------------------------------------------
# Per-layer activations of the model fixtures
# --------------------------------------------------------------------------


class Activations:
    """One model's per-layer outputs: stats and samples in JSON, inputs and the small
    outputs whole in an npz (``input/<i>`` and ``<entry index>``)."""

    def __init__(self, family: str, model: str, source: str, versions: dict[str, str]) -> None:
        self.family, self.model = family, model
        self.doc: dict[str, Any] = {"generated_by": "scripts/make_forward_fixtures.py", "source": source, "versions": versions, "inputs": [], "outputs": []}
        self.arrays: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(5)
        self.calls: dict[tuple[str, int], int] = {}

    def input(self, value: np.ndarray, name: str, how: str) -> None:
        self.arrays[f"input/{len(self.doc['inputs'])}"] = value
        self.doc["inputs"].append({"name": name, "shape": list(value.shape), "dtype": str(value.dtype), "from": how})

    def output(self, value: Any, path: str, class_name: str, output: int = 0, **where: Any) -> None:
        """One output of one call of ``path`` (calls counted in the order they come)."""
        a = np.asarray(value)
        call = self.calls.get((path, output), 0)
        self.calls[(path, output)] = call + 1
        entry: dict[str, Any] = {"path": path, "class_name": class_name, "call": call, "output": output, **where}
        entry.update({"shape": list(a.shape), "dtype": str(a.dtype)})
        if a.size and a.dtype.kind in "fiub":
            f = a.astype(np.float64)
            entry["stats"] = {"min": float(f.min()), "max": float(f.max()), "mean": float(f.mean()), "std": float(f.std()), "zeros": float(np.mean(f == 0))}
            index = np.unique(self.rng.integers(0, a.size, min(SAMPLES, a.size)))
            entry["samples"] = {"flat_index": index.tolist(), "value": f.reshape(-1)[index].tolist()}
            entry["full"] = a.size <= FULL_LIMIT
            if entry["full"]:
                self.arrays[str(len(self.doc["outputs"]))] = a
        self.doc["outputs"].append(entry)

    def save(self) -> None:
        folder = OUT / self.family
        folder.mkdir(parents=True, exist_ok=True)
        _save_arrays(folder / f"{self.model}.activations.zip", self.arrays)
        (folder / f"{self.model}.activations.json").write_text(json.dumps(self.doc, indent=1) + "\n")
        size = (folder / f"{self.model}.activations.zip").stat().st_size
        print(f"{self.family}/{self.model}: {len(self.doc['outputs'])} outputs, {size / 1024:.0f} KiB of arrays", flush=True)


def _seeded_input(shape: list[Optional[int]], dtype: str, rng: np.random.Generator, vocabulary: int = 20) -> np.ndarray:
    concrete = [2] + [9 if d is None else int(d) for d in shape[1:]]
    if "int" in dtype:
        return rng.integers(0, vocabulary, concrete).astype(dtype)
    return rng.standard_normal(concrete).astype(dtype)


def keras_models(api: str) -> None:
    """Every layer call's outputs (nested models' inner calls too, each fed what the
    outer call received), through ``Model(inputs, [call outputs])`` per graph."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if api == "keras3":
        import keras as K
    else:
        import tf_keras as K
    family = "keras3" if api == "keras3" else "tfkeras"

    def graph_of(model: Any) -> Any:
        return getattr(model, "_functional", None) or model

    def op_of(node: Any) -> Any:
        return node.operation if api == "keras3" else node.layer

    def outs_of(node: Any) -> list[Any]:
        return list(tf.nest.flatten(node.output_tensors if api == "keras3" else node.outputs))

    def ins_of(node: Any) -> list[Any]:
        return list(tf.nest.flatten(node.input_tensors))

    def walk(model: Any, values: list[np.ndarray], prefix: str, record: Activations) -> None:
        graph = graph_of(model)
        nodes = [n for d in sorted(graph._nodes_by_depth, reverse=True) for n in graph._nodes_by_depth[d]]
        nodes = [n for n in nodes if not isinstance(op_of(n), K.layers.InputLayer)]
        tensors: list[Any] = []
        for node in nodes:
            tensors += ins_of(node) + outs_of(node)
        probe = K.Model(graph.inputs, tensors)
        computed = probe(list(values), training=False)
        value_of = {id(t): np.asarray(v) for t, v in zip(tensors, tf.nest.flatten(computed))}
        for node in nodes:
            op = op_of(node)
            path = f"{prefix}/{op.name}" if prefix else op.name
            for i, t in enumerate(outs_of(node)):
                record.output(value_of[id(t)], path, type(op).__name__, i, node_index=op._inbound_nodes.index(node))
            if isinstance(op, K.Model):
                walk(op, [value_of[id(t)] for t in ins_of(node)], path, record)

    def load(path: Path) -> Any:
        if api == "keras3":
            return K.models.load_model(path, compile=False, safe_mode=False)
        return K.models.load_model(path, compile=False)

    versions = {"keras": K.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}
    for path in sorted((FIXTURES / family).glob("*.h5")):
        if path.name.endswith((".weights.h5", ".weights_only.h5")):
            continue
        source = path
        try:
            model = load(path)
        except ValueError:  # Keras 3 writes ops (GetItem) into an .h5 it cannot read back
            source = path.with_suffix(".keras")
            model = load(source)
        record = Activations(family, path.stem, f"tests/fixtures/{family}/{source.name}", versions)
        rng = np.random.default_rng(2026)
        values = []
        for t in model.inputs:
            dtype = str(getattr(t.dtype, "name", t.dtype))
            values.append(_seeded_input(list(t.shape), dtype, rng))
            record.input(values[-1], t.name, "numpy default_rng(2026): standard normal floats, integers 0..19; unknown dims 9; batch 2")
        walk(model, values, "", record)
        final = model(values if len(values) > 1 else values[0], training=False)
        record.doc["model_outputs"] = [list(np.shape(v)) for v in tf.nest.flatten(final)]
        record.save()


def _torch_hook(record: Activations, path: str) -> Callable[..., None]:
    def hook(module: Any, args: Any, output: Any) -> None:
        record.output(output.detach().numpy(), path, type(module).__name__)

    return hook


def torch_models() -> None:
    """Forward hooks on every submodule of the pickled whole modules; the TorchScript
    twins are run on the same input and must agree."""
    import torch

    sys.path.insert(0, str(REPO / "scripts"))
    import make_torch_fixtures as built  # the classes the pickles name as __main__.*

    main_module = sys.modules["__main__"]
    for name in ("SmallCNN",):
        setattr(main_module, name, getattr(built, name))
    models = {"small_cnn": ("small_cnn_module.pt", "small_cnn_script.pt"), "mixed": ("mixed_module.pt", "mixed_script.pt"), "grouped_transpose": ("grouped_transpose_module.pt", None)}
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    for stem, (module_file, script_file) in models.items():
        truth = json.loads((FIXTURES / "torch" / f"{stem}.truth.json").read_text())
        model = torch.load(FIXTURES / "torch" / module_file, weights_only=False).eval()
        record = Activations("torch", stem, f"tests/fixtures/torch/{module_file}", versions)
        x = _seeded_input([None, *truth["input_shape"]], "float32", np.random.default_rng(2026))
        record.input(x, "input", "numpy default_rng(2026) standard normal, batch 2")
        handles = [m.register_forward_hook(_torch_hook(record, n.replace(".", "/"))) for n, m in model.named_modules() if n]
        with torch.no_grad():
            final = model(torch.from_numpy(x)).numpy()
        for h in handles:
            h.remove()
        if script_file:
            with torch.no_grad():
                scripted = torch.jit.load(FIXTURES / "torch" / script_file)(torch.from_numpy(x)).numpy()
            record.doc["script_max_abs_difference"] = float(np.abs(scripted - final).max())
        record.output(final, "", type(model).__name__)
        record.save()


def onnx_models() -> None:
    """onnxruntime with every node output made a graph output."""
    import onnx
    import onnxruntime as ort

    versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}
    for path in sorted((FIXTURES / "onnx").glob("*.onnx")):
        truth = json.loads(path.with_suffix(".truth.json").read_text())
        model = onnx.load(str(path))
        existing = {o.name for o in model.graph.output}
        for node in model.graph.node:
            for name in node.output:
                if name and name not in existing:
                    model.graph.output.append(onnx.ValueInfoProto(name=name))
                    existing.add(name)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        record = Activations("onnx", path.stem, f"tests/fixtures/onnx/{path.name}", versions)
        rng = np.random.default_rng(2026)
        feed = {}
        for name, shape in truth["feed"].items():
            feed[name] = rng.standard_normal(shape).astype(np.float32)
            record.input(feed[name], name, "numpy default_rng(2026) standard normal, the truth file's feed shape")
        results = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
        for node in model.graph.node:
            for i, name in enumerate(node.output):
                if name:
                    record.output(results[name], node.name or name, node.op_type, i, tensor=name)
        record.save()


def tflite_models() -> None:
    """The interpreter with ``experimental_preserve_all_tensors``: every operator's
    outputs (quantized ones as stored, with their scale and zero point)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__, "numpy": np.__version__}
    for path in sorted((FIXTURES / "tflite").glob("*.tflite")):
        interpreter = tf.lite.Interpreter(
            model_path=str(path),
            experimental_preserve_all_tensors=True,
            # XNNPACK would fuse operators and drop their intermediate outputs
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        interpreter.allocate_tensors()
        record = Activations("tflite", path.stem, f"tests/fixtures/tflite/{path.name}", versions)
        rng = np.random.default_rng(2026)
        for detail in interpreter.get_input_details():
            x = rng.standard_normal(detail["shape"]).astype(np.float32)
            scale, zero = detail["quantization"]
            how = "numpy default_rng(2026) standard normal"
            if detail["dtype"] != np.float32:
                info = np.iinfo(detail["dtype"])
                x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])
                how += f", quantized with scale {scale} and zero point {zero}"
            interpreter.set_tensor(detail["index"], x)
            record.input(x, detail["name"], how)
        interpreter.invoke()
        details = {d["index"]: d for d in interpreter.get_tensor_details()}
        for op in interpreter._get_ops_details():
            for i, index in enumerate(op["outputs"]):
                d = details[index]
                scale, zero = d["quantization"]
                record.output(interpreter.get_tensor(index), d["name"], op["op_name"], i, tensor=int(index), quantization={"scale": float(scale), "zero_point": int(zero)})
        record.save()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=sorted(PARTS), action="append", help="default: every part, each in its own process")
    args = p.parse_args(argv)
    if not args.part:
        for part, python in PARTS.items():
            print("+", part, flush=True)
            subprocess.run([python, str(Path(__file__).resolve()), "--part", part], check=True)
        return 0
    for part in args.part:
        family, what = part.rsplit("-", 1)
        if what == "kernels":
            if family == "torch":
                torch_kernels()
            elif family == "onnx":
                onnx_kernels()
            else:
                keras_kernels("keras3" if family == "keras3" else "tf_keras")
        else:
            MODEL_PARTS[family]()
    return 0


MODEL_PARTS: dict[str, Callable[[], None]] = {
    "keras3": lambda: keras_models("keras3"),
    "tfkeras": lambda: keras_models("tf_keras"),
    "torch": torch_models,
    "onnx": onnx_models,
    "tflite": tflite_models,
}

if __name__ == "__main__":
    sys.exit(main())
