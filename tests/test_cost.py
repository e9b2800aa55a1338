"""MACs and FLOPs: tiny layers against a loop that performs the multiply-accumulates one by
one, and real fixtures against the formula evaluated from the writing library's own shapes
(``*.truth.json``), never from cnninspect's output.

Convention checked here (README, "Counting conventions"): every kernel tap of every output
position is one multiply-accumulate, padded zeros included (what a dense kernel computes);
a transposed convolution scatters every input value through every tap.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Sequence

import pytest

from cnninspect.core.cost import graph_costs
from cnninspect.core.infer import infer_shapes
from cnninspect.core.layouts import Layout
from cnninspect.core.model import Call, Graph, Layer, TensorRef, Weight

from conftest import FIXTURES, SAMPLES, cli_json, load_truth


def run_layer(op: str, attrs: dict[str, Any], in_shape: Sequence[int], weights: Sequence[Weight] = ()) -> tuple[Any, Layer]:
    """One layer after one input, through shape inference and the cost rules."""
    inp = Layer("in", "InputLayer", "input", {"shape": (None, *in_shape)}, calls=[Call()])
    layer = Layer("x", op, op, attrs, calls=[Call([TensorRef("in")])])
    layer.weights = list(weights)
    graph = Graph([inp, layer], [TensorRef("in")], [TensorRef("x")])
    return graph_costs(graph, infer_shapes(graph))[id(layer)], layer


def window_positions(n: int, k: int, s: int, d: int, padding: str) -> list[list[int]]:
    """For each output position along one axis, the input coordinates its window reads
    (negative or >= n: a padded zero), found by sliding the window until it leaves the
    padded input."""
    eff = d * (k - 1) + 1
    if padding == "valid":
        before = after = 0
    else:  # TensorFlow 'same': the odd pixel after
        total = max((math.ceil(n / s) - 1) * s + eff - n, 0)
        before, after = total // 2, total - total // 2
    out, o = [], 0
    while o * s - before + eff - 1 <= n - 1 + after:
        out.append([o * s - before + t * d for t in range(k)])
        o += 1
    return out


def loop_conv_macs(lengths, k, s, d, padding, cin, cout, groups) -> int:  # type: ignore[no-untyped-def]
    axes = [window_positions(n, kk, ss, dd, padding) for n, kk, ss, dd in zip(lengths, k, s, d)]
    macs = 0
    for position in itertools.product(*axes):  # every output position
        for _tap in itertools.product(*position):  # every kernel tap it reads
            for o in range(cout):
                group = o // (cout // groups)
                for _i in range(group * (cin // groups), (group + 1) * (cin // groups)):
                    macs += 1
    return macs


def conv_attrs(rank: int, filters: int, k, s, d, padding: str, groups: int = 1, last: bool = True) -> dict:  # type: ignore[no-untyped-def]
    return {"rank": rank, "filters": filters, "kernel_size": tuple(k), "strides": tuple(s), "dilation": tuple(d),
            "padding": padding, "groups": groups, "channels_last": last}  # fmt: skip


def with_channels(lengths: Sequence[int], c: int, last: bool) -> tuple[int, ...]:
    return (*lengths, c) if last else (c, *lengths)


CONV_CASES = [
    # lengths, kernel, strides, dilation, padding, cin, cout, groups, channels_last
    ((11,), (3,), (2,), (1,), "valid", 2, 3, 1, True),
    ((9,), (3,), (1,), (2,), "same", 4, 2, 2, True),
    ((7, 6), (3, 2), (1, 1), (1, 1), "same", 3, 4, 1, True),
    ((8, 7), (3, 3), (2, 2), (1, 1), "same", 2, 2, 1, True),
    ((10, 9), (3, 3), (1, 2), (2, 1), "valid", 4, 6, 2, True),
    ((7, 7), (3, 3), (2, 1), (1, 1), "same", 6, 4, 2, False),
    ((5, 4, 6), (2, 3, 3), (1, 2, 2), (1, 1, 1), "same", 4, 4, 4, True),
    ((5, 5, 5), (3, 3, 3), (1, 1, 1), (1, 1, 1), "valid", 2, 3, 1, False),
]


@pytest.mark.parametrize("lengths,k,s,d,padding,cin,cout,groups,last", CONV_CASES)
def test_conv_macs_match_a_loop_over_output_positions(lengths, k, s, d, padding, cin, cout, groups, last) -> None:  # type: ignore[no-untyped-def]
    (macs, flops), layer = run_layer("conv", conv_attrs(len(lengths), cout, k, s, d, padding, groups, last),
                                     with_channels(lengths, cin, last))  # fmt: skip
    assert macs == loop_conv_macs(lengths, k, s, d, padding, cin, cout, groups)
    assert flops == 2 * macs  # no bias weight, no activation


def test_bias_and_fused_activation_add_one_flop_per_output_element_each() -> None:
    layout = Layout("keras", ("kw", "in", "out"))
    weights = [Weight("k", "kernel", (3, 2, 4), "float32", layout), Weight("b", "bias", (4,), "float32", Layout("keras", ("out",)))]
    attrs = {**conv_attrs(1, 4, (3,), (1,), (1,), "valid"), "activation": "relu"}
    (macs, flops), layer = run_layer("conv", attrs, (10, 2), weights)
    outputs = 8 * 4
    assert macs == loop_conv_macs((10,), (3,), (1,), (1,), "valid", 2, 4, 1)
    assert flops == 2 * macs + outputs + outputs


@pytest.mark.parametrize("lengths,k,s,padding,cin,cout,groups", [
    ((5,), (3,), (2,), "valid", 2, 3, 1),
    ((4, 5), (3, 2), (2, 2), "same", 4, 6, 2),
    ((3, 3), (2, 2), (1, 1), "valid", 2, 2, 1),
])  # fmt: skip
def test_transposed_conv_macs_match_a_scatter_loop(lengths, k, s, padding, cin, cout, groups) -> None:  # type: ignore[no-untyped-def]
    attrs = conv_attrs(len(lengths), cout, k, s, (1,) * len(lengths), padding, groups)
    (macs, _), layer = run_layer("conv_transpose", attrs, (*lengths, cin))
    expected = 0
    for _position in itertools.product(*[range(n) for n in lengths]):  # every input position
        for i in range(cin):  # every input value scatters ...
            for _tap in itertools.product(*[range(kk) for kk in k]):  # ... through every tap
                group = i // (cin // groups)
                expected += len(range(group * (cout // groups), (group + 1) * (cout // groups)))
    assert macs == expected


@pytest.mark.parametrize("lengths,k,s,padding,cin,mult", [((9, 8), (3, 3), (2, 1), "same", 3, 2), ((7,), (3,), (1,), "valid", 4, 1)])
def test_depthwise_and_separable_macs_match_loops(lengths, k, s, padding, cin, mult) -> None:  # type: ignore[no-untyped-def]
    rank, ones = len(lengths), (1,) * len(lengths)
    attrs = {**conv_attrs(rank, None, k, s, ones, padding), "depth_multiplier": mult}
    (macs, _), _ = run_layer("depthwise_conv", attrs, (*lengths, cin))
    axes = [window_positions(n, kk, ss, 1, padding) for n, kk, ss in zip(lengths, k, s)]
    positions = list(itertools.product(*axes))
    depthwise = sum(1 for p in positions for _ in itertools.product(*p) for _c in range(cin * mult))
    assert macs == depthwise
    cout = 5
    (macs, _), _ = run_layer("separable_conv", {**attrs, "filters": cout}, (*lengths, cin))
    pointwise = sum(1 for _p in positions for _o in range(cout) for _m in range(cin * mult))
    assert macs == depthwise + pointwise


def test_dense_on_nd_input_reads_the_last_axis_per_position() -> None:
    (macs, flops), _ = run_layer("dense", {"units": 3}, (4, 5, 7))
    assert macs == sum(1 for _t in range(4) for _u in range(5) for _o in range(3) for _i in range(7))
    assert flops == 2 * macs


def test_pooling_and_merges_count_flops_without_macs() -> None:
    attrs = {"rank": 2, "kernel_size": (2, 2), "strides": (2, 2), "padding": "valid", "channels_last": True}
    (macs, flops), _ = run_layer("pool", attrs, (6, 4, 3))
    assert (macs, flops) == (0, 3 * 2 * 3 * 4)  # 18 outputs, a 4-element window each
    (macs, flops), _ = run_layer("global_pool", {"rank": 2, "channels_last": True}, (6, 4, 3))
    assert (macs, flops) == (0, 6 * 4 * 3)


def test_batch_multiplies_the_counts() -> None:
    one = cli_json("shapes", str(SAMPLES / "mnist_cnn.h5"))["totals"]
    eight = cli_json("shapes", str(SAMPLES / "mnist_cnn.h5"), "--batch", "8")["totals"]
    assert (eight["macs"], eight["flops"]) == (8 * one["macs"], 8 * one["flops"])


# --- real files: the formula over the library's own shapes --------------------------------


def elements(shape: Sequence[int | None]) -> int:
    return math.prod(1 if d is None else d for d in shape)


def truth_macs(layer: dict[str, Any]) -> int | None:
    """MACs of one Keras layer from the shapes Keras reported and its kernels' shapes."""
    out = layer["nodes"][0]["output_shapes"][0]
    w = {x["name"].rsplit("/", 1)[-1]: x["shape"] for x in layer["weights"]}
    cls = layer["class_name"]
    if cls in ("Conv1D", "Conv2D", "Conv3D"):  # kernel (..., in/groups, out)
        return elements(out) * math.prod(w["kernel"][:-1])
    if cls.startswith("DepthwiseConv"):  # kernel (..., in, mult)
        return elements(out) * math.prod(w["kernel"][:-2])
    if cls.startswith("SeparableConv"):  # depthwise (..., in, mult), pointwise (1.., in*mult, out)
        middle = w["pointwise_kernel"][-2]
        return elements(out[:-1]) * middle * math.prod(w["depthwise_kernel"][:-2]) + elements(out) * middle
    if cls == "Dense":
        return elements(out) * w["kernel"][0]
    return None


TRUTHS = [FIXTURES / "keras3" / f"{n}.truth.json" for n in ("convs", "depthwise_separable", "dense_only", "mnist_cnn")]


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name)
def test_keras_fixture_macs_match_the_formula_on_keras_shapes(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    report = cli_json("shapes", str(truth_path.parent / truth["file"]))
    ours = {layer["path"]: layer for layer in report["layers"]}
    checked = 0
    for layer in truth["layers"]:
        expected = truth_macs(layer)
        if expected is not None:
            assert ours[layer["path"]]["macs"] == expected, layer["path"]
            checked += 1
    assert checked >= 2
    assert report["totals"]["uncounted_layers"] == []


def test_torch_grouped_transpose_and_small_cnn_match_the_formula_on_torch_shapes() -> None:
    truth = load_truth(FIXTURES / "torch" / "grouped_transpose.truth.json")
    shape = ",".join(map(str, truth["input_shape"]))
    report = cli_json("shapes", str(FIXTURES / "torch" / "grouped_transpose_module.pt"), "--input-shape", shape)
    weight = truth["state_dict"]["0.weight"]["shape"]  # (in, out/groups, kh, kw)
    assert report["layers"][1]["macs"] == elements(truth["input_shape"]) * math.prod(weight[1:])

    truth = load_truth(FIXTURES / "torch" / "small_cnn.truth.json")
    shape = ",".join(map(str, truth["input_shape"]))
    report = cli_json("shapes", str(FIXTURES / "torch" / "small_cnn_module.pt"), "--input-shape", shape)
    ours = {layer["path"]: layer["macs"] for layer in report["layers"]}
    outs, sd = truth["output_shapes"], truth["state_dict"]
    conv = {k: elements(outs[k]) * math.prod(sd[k.replace("/", ".") + ".weight"]["shape"][1:]) for k in ("features/0", "features/2")}
    dense = elements(outs["classifier/1"]) * sd["classifier.1.weight"]["shape"][1]
    assert {k: ours[k] for k in conv} == conv and ours["classifier/1"] == dense
    assert ours["features"] == sum(conv.values())  # a container sums its children
    assert report["totals"]["macs"] == sum(conv.values()) + dense  # counted once


def test_lambda_without_shape_is_listed_as_uncounted() -> None:
    report = cli_json("shapes", str(FIXTURES / "legacy" / "keras1_lambda.h5"))
    lam = next(layer for layer in report["layers"] if layer["name"] == "lambda_1")
    assert lam["macs"] is None and lam["flops"] is None
    assert "lambda_1" in report["totals"]["uncounted_layers"]
