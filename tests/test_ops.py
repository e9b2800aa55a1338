"""The op specs: every registered kind declares every facet, a new kind is added in one
place, and rules work on hand-built inputs, without a loader."""

from __future__ import annotations

import json
import pickletools
import zipfile
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

from cnninspect.core.arithmetic import ShapeError, spatial_join, spatial_split
from cnninspect.core.connections import filter_weight, in_maps, out_maps
from cnninspect.core.cost import graph_costs
from cnninspect.core.fields import PIXEL, Field, slide_step
from cnninspect.core.infer import infer_shapes
from cnninspect.core.layouts import Layout, layout_for
from cnninspect.core.model import Call, Graph, Layer, Model, Operand, Row, Shape, Source, TensorRef, Weight
from cnninspect.core.ops import SPECS, OpSpec, register, spec
from cnninspect.core.ops.base import Count, Filters, RuleContext, elements, one_input
from cnninspect.core.ops.conv import conv_feeds, conv_filters
from cnninspect.core.receptive import graph_fields
from cnninspect.loaders import torch_aten
from cnninspect.loaders import torch_graph as tg
from cnninspect.reports.filters import feeds_report, filters_report

from conftest import FIXTURES, cli_json


def test_every_op_kind_has_every_facet() -> None:
    """A kind cannot be half-registered: shape, cost and receptive rules, and roles (maybe
    none); filters, when declared, name their roles and both slicings; forward may wait."""
    assert len(SPECS) > 40
    for op, s in SPECS.items():
        assert s.op == op and spec(op) is s
        assert callable(s.shape) and callable(s.cost) and callable(s.receptive), op
        assert isinstance(s.roles, Mapping), op
        for role, by_convention in s.roles.items():
            assert all(isinstance(t, tuple) and all(isinstance(a, tuple) for a in t) for t in by_convention.values()), (op, role)
        if s.filters is not None:
            assert s.filters.roles and callable(s.filters.forward) and callable(s.filters.reverse), op
        assert s.forward is None or callable(s.forward), op
        assert s.doc, op


def test_a_kind_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(SPECS["conv"])


# ---------------------------------------------------------------------------------------
# A toy op, declared in one place: a 1x1 "channel mix" (a pointwise convolution) that keeps
# the spatial size. Shapes, cost, receptive fields, layouts and filters all find it.


def _mix_shape(attrs: dict[str, Any], inputs: Sequence[Shape], ctx: RuleContext) -> list[Shape]:
    shape = one_input(inputs)
    spatial, _ = spatial_split(shape, attrs["rank"], attrs["channels_last"])
    return [spatial_join(shape[0], spatial, attrs["filters"], attrs["channels_last"])]


def _mix_cost(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    macs = elements(outs[0]) * ins[0][-1]
    return macs, 2 * macs


TOY = OpSpec(
    "toy_channel_mix",
    _mix_shape,
    _mix_cost,
    slide_step,
    roles={"kernel": {"keras": (("in", "out"),)}},
    filters=Filters(("kernel",), conv_filters, conv_feeds),
    doc="a 1x1 convolution, for the test",
)


@pytest.fixture
def toy() -> Any:
    register(TOY)
    yield TOY
    del SPECS[TOY.op]


def test_a_new_op_is_added_in_one_place(toy: OpSpec) -> None:
    kernel = np.arange(12, dtype=np.float32).reshape(3, 4)  # (in, out)
    weight = Weight("mix/kernel", "kernel", kernel.shape, "float32", layout_for("keras", toy.op, "kernel", 2),
                    reader=lambda index: kernel[index])  # fmt: skip
    x = Layer("x", "InputLayer", "input", {"shape": (None, 5, 5, 3)}, calls=[Call()])
    mix = Layer("mix", "ChannelMix", toy.op, {"rank": 2, "channels_last": True, "filters": 4, "kernel_size": [1, 1]}, calls=[Call([TensorRef("x")])])
    mix.weights = [weight]
    graph = Graph([x, mix], [TensorRef("x")], [TensorRef("mix")])

    inferred = infer_shapes(graph)
    assert inferred.outputs == [(None, 5, 5, 4)]
    assert graph_costs(graph, inferred)[id(mix)] == (5 * 5 * 4 * 3, 2 * 5 * 5 * 4 * 3)
    field = graph_fields(graph, inferred)[id(mix)]
    assert field == Field((1, 1), (1, 1), (0, 0))
    assert weight.axes == ("in", "out")
    assert (filter_weight(mix), in_maps(mix), out_maps(mix)) == (weight, 3, 4)

    model = Model("toy", graph, Source("toy.h5", "test"))
    row = Row(1, mix, "mix", 0)
    forward = filters_report(model, row, 2)
    assert [e["filter"] for e in forward["inputs"]] == kernel[:, 2].tolist()
    reverse = feeds_report(model, row, 1)
    assert [e["filter"] for e in reverse["outputs"]] == kernel[1, :].tolist()


# ---------------------------------------------------------------------------------------
# Rules on hand-built inputs


def _torch_pool_length(n: int, k: int, s: int, d: int, p: int) -> int:
    """PyTorch's documented ceil_mode output length (torch.nn.MaxPool2d)."""
    length = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1
    return length - 1 if (length - 1) * s >= n + p else length


@pytest.mark.parametrize("n,k,s,d,p", [(5, 2, 2, 1, 0), (6, 3, 2, 1, 1), (7, 3, 3, 1, 1), (10, 3, 2, 2, 1), (9, 2, 4, 1, 0)])
def test_pool_ceil_agrees_with_pytorch_formula(n: int, k: int, s: int, d: int, p: int) -> None:
    attrs = {"rank": 1, "kernel_size": [k], "strides": [s], "dilation": [d], "padding": [(p, p)], "channels_last": False,
             "ceil_mode": True}  # fmt: skip
    assert spec("pool").shape(attrs, [(1, 2, n)], RuleContext()) == [(1, 2, _torch_pool_length(n, k, s, d, p))]


def test_pytorch_max_pool_ceil_mode_against_torch(tmp_path: Any) -> None:
    """A pickled module with MaxPool2d(ceil_mode=True) and AvgPool2d(ceil_mode=True): the
    shapes are the ones torch computes (they were "unknown")."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                          nn.AvgPool2d(2, ceil_mode=True))  # fmt: skip
    path = tmp_path / "ceil_module.pt"
    torch.save(model, path)
    x = torch.zeros(1, 3, 12, 11)
    expected = []
    for module in model:
        x = module(x)
        expected.append(list(x.shape))
    report = cli_json("shapes", path, "--input-shape", "3,12,11", "--batch", "1")
    shapes = [layer["output_shapes"] for layer in report["layers"] if not layer["synthetic"]][-3:]  # the three modules
    assert shapes == [[s] for s in expected]


def test_dot_cost_counts_the_contracted_axis() -> None:
    layer = Layer("dot", "Dot", "dot", {"axes": [2, 2]})
    ins: list[Shape] = [(None, 3, 8), (None, 5, 8)]
    outs = spec("dot").shape(layer.attrs, ins, RuleContext())
    assert outs == [(None, 3, 5)]
    assert spec("dot").cost(layer, ins, outs, Call()) == (3 * 5 * 8, 2 * 3 * 5 * 8)


def test_opaque_kinds_say_why_they_are_not_counted() -> None:
    for op in ("lambda", "recorded", "unknown", "rnn", "bidirectional", "time_distributed"):
        layer = Layer(op, op, op, {"units": 4})
        with pytest.raises(ValueError, match="."):
            spec(op).cost(layer, [(None, 3, 2)], [(None, 4)], Call())


def test_pad_shifts_and_resize_scales_the_receptive_field() -> None:
    field = Field((3, 3), (2, 2), (-1, -1), channels_last=False)
    pad = Layer("pad", "Pad", "pad", {"pads": [(0, 0), (0, 0), (1, 3), (2, 4)]}, calls=[Call()])
    assert spec("pad").receptive(pad, [field], [(1, 2, 5, 5)]) == Field((3, 3), (2, 2), (-3, -5), False)
    resize = Layer("up", "Resize", "resize", {"scales": [1.0, 1.0, 2.0, 4.0], "interpolates": True}, calls=[Call()])
    assert spec("resize").receptive(resize, [field], [(1, 2, 5, 5)]) == Field((3, 3), (1, Fraction(1, 2)), (-1, -1), False)
    assert spec("input").receptive(Layer("x", "Input", "input"), [], []) is PIXEL


def test_shape_rule_reasons() -> None:
    with pytest.raises(ShapeError, match="one input"):
        spec("dense").shape({"units": 3}, [(None, 2), (None, 2)], RuleContext())
    with pytest.raises(ShapeError, match="computed at run time"):
        spec("pad").shape({"pads": None}, [(1, 2, 3)], RuleContext())


def test_onnx_pad_and_resize_keep_the_receptive_field() -> None:
    """Upsample (x2, x3) then Pad: the field's jump is divided by the scales, and its
    start moves back by the leading pads the file stores, in input pixels."""
    onnx = pytest.importorskip("onnx")
    path = FIXTURES / "onnx" / "upsample_opset9.onnx"
    proto = onnx.load(str(path))
    nodes = {n.op_type: n for n in proto.graph.node}
    scales = onnx.numpy_helper.to_array(proto.graph.initializer[0]).tolist()  # Upsample's operand 1
    pads = [a for a in nodes["Pad"].attribute if a.name == "pads"][0].ints
    layers = {layer["type"]: layer["receptive_field"] for layer in cli_json("shapes", str(path))["layers"]}
    jump = [1 / s for s in scales[2:]]
    assert layers["Upsample"] == {"size": [1, 1], "jump": jump, "start": [0, 0]}
    assert layers["Pad"]["start"] == pytest.approx([-p * j for p, j in zip(pads[2:4], jump)])


def test_neutral_roles_find_each_library_word() -> None:
    """Consumers ask for neutral roles; the op's spec maps PyTorch's words onto them, and the
    stored word stays what is shown."""
    layout = layout_for("torch", "batch_norm", "running_var", 1)
    stored = [Weight(f"bn.{r}", r, (4,), "float32", layout) for r in ("weight", "bias", "running_mean", "running_var")]
    bn = Layer("bn", "BatchNorm2d", "batch_norm")
    bn.weights = stored
    assert [bn.weight(r) for r in ("gamma", "beta", "moving_mean", "moving_variance")] == stored
    assert bn.weight("running_var") is stored[3] and stored[3].role == "running_var"
    conv = Layer("conv", "Conv2d", "conv", {"rank": 2})
    conv.weights = [Weight("conv.weight", "weight", (8, 3, 3, 3), "float32", layout_for("torch", "conv", "weight", 4))]
    assert filter_weight(conv) is conv.weight("kernel") is conv.weights[0]


def test_inference_returns_its_result_and_leaves_the_layers_alone() -> None:
    """A Lambda without output_shape whose consumer recorded what it received: the shape
    comes from the record, and the note saying so is in the result, not in the layer."""
    x = Layer("x", "InputLayer", "input", {"shape": (None, 4)}, calls=[Call()])
    fn = Layer("fn", "Lambda", "lambda", {}, calls=[Call([TensorRef("x")])])
    out = Layer("out", "Dense", "dense", {"units": 2}, calls=[Call([TensorRef("fn")], recorded_shapes=[(None, 3)])])
    graph = Graph([x, fn, out], [TensorRef("x")], [TensorRef("out")])
    first = infer_shapes(graph)
    assert first.outputs == [(None, 2)] and first.output_shapes(fn) == [[(None, 3)]]
    assert first.layer_notes(fn) == ["output shape as the writing library recorded it "
                                     "(a Lambda computes its shape in code, which is never run; its config states no output_shape)"]  # fmt: skip
    assert fn.notes == [] and first.reason(fn) is None
    second = infer_shapes(graph, batch=7)
    assert second.outputs == [(7, 2)] and first.outputs == [(None, 2)]
    assert fn.output_shapes == second.output_shapes(fn)  # the layer reads the last inference


def test_every_kind_a_loader_names_is_registered() -> None:
    """Over every sound fixture: each layer's op is a registered kind (containers aside),
    so inference, cost and receptive fields have its rules."""
    from cnninspect.loaders import open_model

    from test_every_fixture import FILES

    seen: set[str] = set()
    for path in FILES:
        with open_model(path) as model:
            for row in model.rows():
                if row.layer.graph is None:
                    seen.add(row.layer.op)
    assert seen - set(SPECS) == set()
    assert {"batch_norm", "activation", "conv", "pool", "elementwise", "concat", "global_pool"} <= seen


@pytest.mark.parametrize("reader", ["script", "trace", "export"])
@pytest.mark.parametrize("model", ["branches", "lenet5", "resnet_tiny"])
def test_aten_graphs_translate_to_registered_kinds_with_torchs_shapes(model: str, reader: str) -> None:
    """The aten calls of a TorchScript or torch.export file become registered op kinds
    whose inferred shapes are the ones PyTorch's forward hooks recorded."""
    graphs = Path(__file__).parent / "fixtures" / "torch" / "graphs"
    truth = json.loads((graphs / f"{model}.graph_truth.json").read_text())
    path = graphs / (f"{model}.pt2" if reader == "export" else f"{model}_{reader}.pt")
    with zipfile.ZipFile(path) as zf:
        top = zf.namelist()[0].split("/")[0]
        if reader == "export":
            aten = tg.from_export(json.loads(zf.read(f"{top}/models/model.json")))
        else:
            sources = {n: zf.read(n).decode() for n in zf.namelist() if "/code/" in n and n.endswith(".py")}
            data = zf.read(f"{top}/data.pkl")
            root = next(arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL").replace(" ", ".")
            aten = tg.from_torchscript(sources, root)
    stored = {**truth["parameters"], **truth["buffers"]}
    weights = {n: Weight(n, n.rsplit(".", 1)[-1], tuple(s), "float32", Layout("torch", ())) for n, s in stored.items()}
    graph = torch_aten.build_graph(aten, weights)
    result = infer_shapes(graph, [tuple(truth["input_shape"])])
    assert {layer.op for layer in graph.layers} <= set(SPECS)
    assert [result.reason(layer) for layer in graph.layers] == [None] * len(graph.layers)
    assert result.outputs == [tuple(truth["output_shape"])]
    by_name = {layer.name: layer for layer in graph.layers}
    for name, shape in truth["leaf_output_shapes"].items():
        if name in by_name:
            assert result.output_shapes(by_name[name])[0] == [tuple(shape)], name


def test_rules_read_a_context_built_by_hand() -> None:
    """No loader: the operands, their known values and the folding are stated directly."""
    data, stored = Operand("tensor", 0), Operand("const", shape=(8,))
    ctx = RuleContext(Call(), [data, stored], {1: [0, 0, 1, 2, 0, 0, 3, 4]})  # ONNX Pad's flat pads
    assert spec("pad").shape({}, [(1, 2, 5, 5)], ctx) == [(1, 2, 9, 11)]
    shape_of = RuleContext(Call(), [data])
    assert spec("shape_of").shape({"start": 1}, [(None, 16, 3, 4)], shape_of) == [(3,)]
    assert shape_of.folded == [[16, 3, 4]]
    # A value folded upstream reaches the call through its tensor operand.
    target = RuleContext.of(Call(operands=[data, Operand("tensor", 1)]), {1: [0, -1]})
    assert spec("reshape").shape({"batch_included": True}, [(5, 3, 4), (2,)], target) == [(5, 12)]
    with pytest.raises(ShapeError, match="computed at run time"):
        spec("reshape").shape({"batch_included": True}, [(5, 3, 4), (2,)], RuleContext(Call(), target.operands))
    # A call the format can evaluate folds once every operand's value is known.
    add = RuleContext.of(Call(operands=[Operand("const", shape=(2,), value=[1, 2])] * 2, evaluate=lambda v: [a + b for a, b in zip(*v)]))
    assert spec("elementwise").shape({}, [], add) == [(2,)] and add.folded == [[2, 4]]


def test_inference_returns_the_shape_arithmetic_it_folded() -> None:
    """x.view(x.size(0), -1) exported to ONNX: Shape, Gather, Unsqueeze and Concat fold to
    the target of the Reshape, and the result holds each value (the layers hold none)."""
    from cnninspect.loaders import open_model

    truth = json.loads((FIXTURES / "onnx" / "cnn_opset13_dynamic.truth.json").read_text())
    batch = truth["tensors"]["output"][0]
    with open_model(FIXTURES / "onnx" / "cnn_opset13_dynamic.onnx") as model:
        layers = {layer.type: layer for layer in model.graph.layers}
        result = infer_shapes(model.graph, batch=batch)
        assert result.folded(layers["Shape"]) == [truth["tensors"]["/pool2/AveragePool_output_0"]]
        assert [np.asarray(v).tolist() for v in result.folded(layers["Concat"]) or []] == [[batch, -1]]
        assert result.folded(layers["Reshape"]) is None
        assert result.output_shapes(layers["Reshape"]) == [[tuple(truth["tensors"]["/Reshape_output_0"])]]
        unbatched = infer_shapes(model.graph)
        assert unbatched.folded(layers["Shape"]) == [[None, *truth["tensors"]["/pool2/AveragePool_output_0"][1:]]]
