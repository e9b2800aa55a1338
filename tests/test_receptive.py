"""Receptive fields against brute force: the set of input coordinates each output position
reads, composed layer by layer through the window index arithmetic (padded positions keep
their virtual coordinates, so a field may start below 0). And activation memory: the peak of
a small branching graph worked out by hand.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Any

import pytest

from cnninspect.core.arithmetic import spatial_axes
from cnninspect.core.infer import Inference, infer_shapes
from cnninspect.core.memory import Activations
from cnninspect.core.model import Call, Graph, Layer, TensorRef
from cnninspect.core.receptive import graph_fields

from conftest import FIXTURES, SAMPLES, cli_json, load_truth

# A test network: name -> (kind, params, inputs). Kinds: "input", "conv" (k, s, d, padding),
# "pool" (k, s), "merge" (element-wise add), "pad" (amount before, after), all per axis.
Net = dict[str, tuple[str, dict[str, Any], list[str]]]


def build(net: Net, lengths: tuple[int, ...]) -> tuple[Graph, dict[str, Layer], Inference]:
    rank, layers = len(lengths), {}
    for name, (kind, p, inputs) in net.items():
        calls = [Call([TensorRef(i) for i in inputs])]
        if kind == "input":
            layers[name] = Layer(name, "InputLayer", "input", {"shape": (None, *lengths, 2)}, calls=[Call()])
        elif kind in ("conv", "pool"):
            attrs = {"rank": rank, "kernel_size": (p["k"],) * rank, "strides": (p["s"],) * rank,
                     "dilation": (p.get("d", 1),) * rank, "padding": p.get("padding", "valid"), "channels_last": True,
                     "filters": 2}  # fmt: skip
            layers[name] = Layer(name, kind, kind, attrs, calls=calls)
        elif kind == "merge":
            layers[name] = Layer(name, "Add", "elementwise", {}, calls=calls)
        else:
            attrs = {"rank": rank, "channels_last": True, "pads": [(p["before"], p["after"])] * rank, "axes": spatial_axes(rank, True)}
            layers[name] = Layer(name, "ZeroPadding", "pad", attrs, calls=calls)
    names = list(net)
    graph = Graph(list(layers.values()), [TensorRef(names[0])], [TensorRef(names[-1])])
    return graph, layers, infer_shapes(graph)


def brute_force(net: Net, lengths: tuple[int, ...], name: str) -> dict[str, list[int]]:
    """Size, jump and start per axis of ``name``, from the input coordinates its output
    positions 0 and 1 (along each axis) read."""
    rank = len(lengths)

    @lru_cache(maxsize=None)
    def length(node: str) -> int:  # along every axis (the test inputs are square)
        kind, p, inputs = net[node]
        if kind == "input":
            return lengths[0]
        n = length(inputs[0])
        if kind == "merge":
            return n
        if kind == "pad":
            return n + p["before"] + p["after"]
        eff = p.get("d", 1) * (p["k"] - 1) + 1
        return math.ceil(n / p["s"]) if p.get("padding") == "same" else (n - eff) // p["s"] + 1

    def before(node: str) -> int:
        kind, p, inputs = net[node]
        if p.get("padding") != "same":
            return 0
        n, eff = length(inputs[0]), p.get("d", 1) * (p["k"] - 1) + 1
        return max((math.ceil(n / p["s"]) - 1) * p["s"] + eff - n, 0) // 2  # TensorFlow: odd pixel after

    @lru_cache(maxsize=None)
    def reads(node: str, position: tuple[int, ...]) -> frozenset:
        kind, p, inputs = net[node]
        if kind == "input":
            return frozenset([position])
        if kind == "merge":
            return frozenset().union(*(reads(i, position) for i in inputs))
        if kind == "pad":
            return reads(inputs[0], tuple(x - p["before"] for x in position))
        taps = itertools.product(range(p["k"]), repeat=rank)
        b, d, s = before(node), p.get("d", 1), p["s"]
        return frozenset().union(*(reads(inputs[0], tuple(o * s - b + t * d for o, t in zip(position, tap))) for tap in taps))

    zero = reads(name, (0,) * rank)
    out: dict[str, list[int]] = {"size": [], "jump": [], "start": []}
    for axis in range(rank):
        first = [c[axis] for c in zero]
        step = [c[axis] for c in reads(name, tuple(int(a == axis) for a in range(rank)))]
        out["size"].append(max(first) - min(first) + 1)
        out["start"].append(min(first))
        out["jump"].append(min(step) - min(first))
    return out


NETS: dict[str, Net] = {
    "stack_1d": {
        "in": ("input", {}, []),
        "c1": ("conv", {"k": 3, "s": 1, "padding": "same"}, ["in"]),
        "c2": ("conv", {"k": 3, "s": 2, "d": 2}, ["c1"]),
        "p1": ("pool", {"k": 2, "s": 2}, ["c2"]),
        "c3": ("conv", {"k": 4, "s": 2, "padding": "same"}, ["p1"]),
    },
    "padded_2d": {
        "in": ("input", {}, []),
        "z": ("pad", {"before": 2, "after": 1}, ["in"]),
        "c1": ("conv", {"k": 3, "s": 2, "padding": "same"}, ["z"]),
        "c2": ("conv", {"k": 2, "s": 1, "d": 3}, ["c1"]),
        "p": ("pool", {"k": 3, "s": 2, "padding": "same"}, ["c2"]),
    },
    "two_branches": {
        "in": ("input", {}, []),
        "a": ("conv", {"k": 3, "s": 1, "padding": "same"}, ["in"]),
        "b": ("conv", {"k": 5, "s": 1, "d": 2, "padding": "same"}, ["in"]),
        "b2": ("conv", {"k": 2, "s": 1, "padding": "same"}, ["b"]),
        "add": ("merge", {}, ["a", "b2"]),
        "out": ("conv", {"k": 3, "s": 2, "padding": "same"}, ["add"]),
    },
}


@pytest.mark.parametrize("net_name,lengths", [("stack_1d", (23,)), ("stack_1d", (24,)), ("padded_2d", (12, 12)),
                                              ("padded_2d", (13, 13)), ("two_branches", (15, 15))])  # fmt: skip
def test_receptive_fields_match_brute_force(net_name: str, lengths: tuple[int, ...]) -> None:
    net = NETS[net_name]
    graph, layers, inferred = build(net, lengths)
    fields = graph_fields(graph, inferred)
    for name in list(net)[1:]:
        assert fields[id(layers[name])].json() == brute_force(net, lengths, name), name


def test_classic_stacks_of_three_by_three_convs_and_a_pool() -> None:
    conv = ("conv", {"k": 3, "s": 1}, [])
    net: Net = {"in": ("input", {}, []), "c1": (*conv[:2], ["in"]), "c2": (*conv[:2], ["c1"]), "c3": (*conv[:2], ["c2"]),
                "p": ("pool", {"k": 2, "s": 2}, ["c3"])}  # type: ignore[dict-item]  # fmt: skip
    graph, layers, inferred = build(net, (16, 16))
    fields = graph_fields(graph, inferred)
    assert fields[id(layers["c2"])].json()["size"] == [5, 5]
    assert fields[id(layers["c3"])].json()["size"] == [7, 7]
    assert fields[id(layers["p"])].json()["jump"] == [2 * j for j in fields[id(layers["c3"])].json()["jump"]]


def test_mnist_fields_and_where_they_stop() -> None:
    layers = {layer["name"]: layer["receptive_field"] for layer in cli_json("shapes", str(SAMPLES / "mnist_cnn.h5"))["layers"]}
    assert layers["conv2d"] == {"size": [3, 3], "jump": [1, 1], "start": [-1, -1]}  # 'same': one pixel of padding
    assert layers["conv2d_1"]["size"] == [5, 5]
    assert layers["max_pooling2d"]["jump"] == [2, 2]
    assert layers["flatten"] is None and layers["dense"] is None


# --- activation memory --------------------------------------------------------------------


def test_peak_memory_of_a_branching_graph_by_hand() -> None:
    """in -> a; a -> b, a -> c; add(b, c). Float32, 8x8 maps with 2 channels: 512 B each.
    Live while each runs: in {in}, a {in, a}, b {a, b}, c {a, b, c}, add {b, c, add}."""
    net = {"in": ("input", {}, []), "a": ("conv", {"k": 3, "s": 1, "padding": "same"}, ["in"]),
           "b": ("conv", {"k": 3, "s": 1, "padding": "same"}, ["a"]),
           "c": ("conv", {"k": 1, "s": 1}, ["a"]), "add": ("merge", {}, ["b", "c"])}  # fmt: skip
    graph, layers, inferred = build(net, (8, 8))  # type: ignore[arg-type]
    memory = Activations([], inferred)
    assert [memory.layer_bytes(layers[n]) for n in net] == [512] * 5
    assert memory.peak(graph) == 3 * 512


def test_peak_memory_of_mnist_from_keras_shapes() -> None:
    """A chain: while a layer runs, its input and its output are live."""
    truth = load_truth(FIXTURES / "keras3" / "mnist_cnn.truth.json")
    shapes = truth["inputs"] + [layer["nodes"][0]["output_shapes"][0] for layer in truth["layers"]]
    sizes = [4 * math.prod(d or 1 for d in shape) for shape in shapes]  # float32, per sample
    report = cli_json("shapes", str(FIXTURES / "keras3" / "mnist_cnn.h5"))
    assert [layer["activation_bytes"] for layer in report["layers"]] == sizes
    assert report["totals"]["peak_activation_bytes"] == max(a + b for a, b in zip(sizes, sizes[1:]))
