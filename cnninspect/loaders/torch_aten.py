"""A PyTorch forward graph (aten calls, from :mod:`torch_graph`) as neutral layers.

Each aten call becomes one layer call. A call made inside a leaf module (``Conv2d``,
``ReLU``) takes that module's dotted ``named_modules()`` name and class; a call a custom
``forward`` makes itself (``F.relu``, ``x + y``, ``torch.flatten``) is named after the
module that made it and the op (``layer1.0.relu``, ``layer1.0.add``). Hyperparameters come
from the call's arguments, kernel sizes from the stored weights' shapes, so a traced file
(whose module classes keep no hyperparameters) reads like a scripted one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Optional

from ..core.model import Call, Constant, Graph, Layer, TensorRef, Weight
from .torch_graph import UNKNOWN, AtenGraph, Dim, Node, Param, Value

Translation = tuple[str, dict[str, Any], Optional[str]]  # op, attrs, why shapes are unknown

ACTIVATIONS = {
    "relu": "relu", "relu_": "relu", "relu6": "relu6", "hardtanh": "hardtanh", "hardtanh_": "hardtanh",
    "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu", "silu": "silu", "silu_": "silu", "elu": "elu",
    "leaky_relu": "leaky_relu", "leaky_relu_": "leaky_relu", "hardswish": "hard_swish", "hardsigmoid": "hard_sigmoid",
    "mish": "mish", "softplus": "softplus", "softmax": "softmax", "_softmax": "softmax", "log_softmax": "log_softmax",
}  # fmt: skip
ELEMENTWISE = frozenset({"add", "add_", "sub", "mul", "div", "maximum", "minimum", "pow"})
DROPOUT = frozenset({"dropout", "dropout_", "feature_dropout", "alpha_dropout", "native_dropout"})
# Ops that only compute shapes or move nothing: folded away when the reading followed them.
SKIPPED = frozenset({"contiguous", "clone", "detach", "to", "alias", "lift_fresh_copy"})


def _arg(node: Node, i: int, default: Any = None) -> Any:
    return node.args[i] if i < len(node.args) else default


def _ints(value: Any, rank: int) -> list[int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * rank
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return list(value) * rank if len(value) == 1 else list(value)
    return None


def _conv(node: Node, shape: tuple[int, ...], transposed: bool, stride: Any, padding: Any, dilation: Any,
          groups: Any, output_padding: Any = 0) -> Translation:  # fmt: skip
    rank = len(shape) - 2
    groups = groups if isinstance(groups, int) else None
    if isinstance(padding, str):
        pads: Any = padding
    else:
        each = _ints(padding, rank)
        pads = None if each is None else [(p, p) for p in each]
    attrs: dict[str, Any] = {
        "rank": rank, "kernel_size": list(shape[2:]), "strides": _ints(stride, rank), "dilation": _ints(dilation, rank),
        "padding": pads, "groups": groups, "channels_last": False,
        "filters": (shape[1] * (groups or 1)) if transposed else shape[0],
    }  # fmt: skip
    if None in (attrs["strides"], attrs["dilation"], pads, groups):
        return "unknown", {}, f"{node.op}'s stride, padding, dilation or groups are computed at run time"
    if transposed:
        attrs["output_padding"] = _ints(output_padding, rank)
        return "conv_transpose", attrs, None
    if groups and groups > 1 and shape[1] == 1:
        attrs["depthwise"] = True  # one input map per group
    return "conv", attrs, None


def _pool(node: Node, avg: bool) -> Translation:
    rank = int(node.op[-2]) if node.op[-2].isdigit() else 2
    kernel = _ints(_arg(node, 1), rank)
    stride = _ints(_arg(node, 2), rank) if _arg(node, 2) not in (None, [], ()) else kernel
    pads = _ints(_arg(node, 3, 0), rank)
    dilation = [1] * rank if avg else _ints(_arg(node, 4, 1), rank)
    ceil = bool(_arg(node, 4 if avg else 5, False))
    if None in (kernel, stride, pads, dilation):
        return "unknown", {}, f"{node.op}'s kernel, stride or padding are computed at run time"
    attrs = {"rank": rank, "kernel_size": kernel, "strides": stride, "dilation": dilation,
             "padding": [(p, p) for p in pads or []], "channels_last": False, "ceil_mode": ceil}  # fmt: skip
    return "pool", attrs, None


def _reshape_target(node: Node) -> list[int] | None:
    """``x.view(x.size(0), -1)``: a dim of the input kept in place is 0 ("copy"), as in
    the neutral reshape; the rest must be literal."""
    target = _arg(node, 1)
    if not isinstance(target, (list, tuple)):
        return None
    out: list[int] = []
    for position, t in enumerate(target):
        if isinstance(t, Dim) and t.tensor == node.args[0] and t.axis == position:
            out.append(0)
        elif isinstance(t, int) and not isinstance(t, bool):
            out.append(t)
        else:
            return None
    return out


def translate(node: Node, shape_of: Callable[[Any], Optional[tuple[int, ...]]]) -> Translation:
    """An aten call → (neutral op, attrs, why its shape cannot be known)."""
    op = node.op
    if op in ("conv1d", "conv2d", "conv3d") or op == "_convolution" or op.startswith("conv_transpose"):
        shape = shape_of(_arg(node, 1))
        if shape is None:
            return "unknown", {}, f"{op} with a weight that is not stored in the file"
        if op == "_convolution":
            return _conv(node, shape, bool(_arg(node, 6)), _arg(node, 3), _arg(node, 4), _arg(node, 5), _arg(node, 8), _arg(node, 7))
        if op.startswith("conv_transpose"):
            return _conv(node, shape, True, _arg(node, 3, 1), _arg(node, 4, 0), _arg(node, 7, 1), _arg(node, 6, 1), _arg(node, 5, 0))
        return _conv(node, shape, False, _arg(node, 3, 1), _arg(node, 4, 0), _arg(node, 5, 1), _arg(node, 6, 1))
    if op == "linear":
        shape = shape_of(_arg(node, 1))
        return ("dense", {"units": shape[0]}, None) if shape else ("unknown", {}, "linear with a weight not in the file")
    if op in ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"):
        return _pool(node, op.startswith("avg"))
    if op in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        size = _ints(_arg(node, 1), 2)
        if size is None:
            return "unknown", {}, f"{op} to a size computed at run time"
        return "resize", {"sizes": [None, None, *size], "channels_last": False}, None
    if op == "batch_norm":
        return "batch_norm", {}, None
    if op in ("layer_norm", "group_norm", "instance_norm"):
        return "normalization", {}, None
    if op in ACTIVATIONS:
        return "activation", dict.fromkeys(("activation", "function"), ACTIVATIONS[op]), None
    if op in DROPOUT:
        return "dropout", {}, None
    if op in SKIPPED:
        return "identity", {}, None
    if op in ELEMENTWISE:
        return "elementwise", {"kind": op.rstrip("_")}, None
    if op == "cat":
        dim = _arg(node, 1, 0)
        return ("concat", {"axis": dim}, None) if isinstance(dim, int) else ("unknown", {}, "cat along a run-time axis")
    if op == "flatten":
        start, end = _arg(node, 1, 0), _arg(node, 2, -1)
        if start == 1 and end == -1:
            return "flatten", {}, None
        return "unknown", {}, f"flatten(start_dim={start}, end_dim={end}) is not modelled"
    if op in ("view", "reshape", "_unsafe_view"):
        target = _reshape_target(node)
        if target is None:
            return "unknown", {}, f"{op} to a shape computed at run time"
        return "reshape", {"target_shape": target, "batch_included": True}, None
    if op == "permute":
        dims = _arg(node, 1)
        return ("transpose", {"perm": list(dims)}, None) if _ints(dims, 1) else ("unknown", {}, "permute by run-time dims")
    return "unknown", {}, f"no shape rule for aten::{op}"


def _names(graph: AtenGraph) -> list[tuple[str, str]]:
    """(layer name, type) per node: a leaf module's only call takes the module's name."""
    per_module = Counter(n.module for n in graph.nodes)
    parents = {m.rsplit(".", 1)[0] for m in graph.modules if "." in m}
    used: Counter[str] = Counter()
    out = []
    for node in graph.nodes:
        leaf = node.module and node.module not in parents and per_module[node.module] == 1
        if leaf:
            out.append((node.module, node.module_type))
            continue
        base = f"{node.module}.{node.op}" if node.module else node.op
        used[base] += 1
        out.append((base if used[base] == 1 else f"{base}_{used[base] - 1}", node.op))
    return out


def build_graph(graph: AtenGraph, weights: dict[str, Weight]) -> Graph:
    """The neutral graph of an aten graph whose parameters are ``weights`` (by state-dict name)."""
    producers: dict[Value, TensorRef] = {}
    layers: list[Layer] = []
    for i, (value, name) in enumerate(zip(graph.inputs, graph.input_names)):
        shape = graph.input_shapes[i] if i < len(graph.input_shapes) else None
        layers.append(Layer(name=name, type="Input", op="input", attrs={"shape": shape}, calls=[Call()]))
        producers[value] = TensorRef(name)

    def shape_of(arg: Any) -> Optional[tuple[int, ...]]:
        weight = weights.get(arg.name) if isinstance(arg, Param) else None
        return tuple(weight.shape) if weight is not None else None

    for node, (name, kind) in zip(graph.nodes, _names(graph)):
        op, attrs, why = translate(node, shape_of)
        if why is not None:
            op, attrs = "unknown", {"reason": why}
        inputs: list[TensorRef | Constant] = []
        for arg in node.args[:1] if op not in ("elementwise", "concat") else node.args:
            items = arg if isinstance(arg, list) else [arg]
            for item in items:
                if isinstance(item, Value) and item in producers:
                    inputs.append(producers[item])
                elif op == "elementwise" and isinstance(item, (int, float)) and not isinstance(item, bool):
                    inputs.append(Constant(item))
        layer = Layer(name=name, type=kind, op=op, attrs=attrs, calls=[Call(inputs=inputs)])
        params = [a.name for a in [*node.args, *node.kwargs.values()] if isinstance(a, Param)]
        layer.weights = [weights[p] for p in params if p in weights]
        layers.append(layer)
        for k, out in enumerate(node.outputs):
            producers[out] = TensorRef(name, 0, k)
    outputs = [producers[v] for v in graph.outputs if isinstance(v, Value) and v in producers]
    return Graph(layers, [TensorRef(n) for n in graph.input_names], outputs)


__all__ = ["UNKNOWN", "build_graph", "translate"]
