"""The architecture checked against the stored weights.

A file describes one network twice: its architecture (config, module tree or graph) and
its stored tensors. Every stored weight pins sizes: a Conv kernel ``(3,3,1,32)`` takes 1
input channel and makes 32 maps, a Dense kernel ``(6272,64)`` takes 6272 features. Each
op kind says what its weights pin per named weight axis (``OpSpec.pins``); kinds that do
not say use ``derived_pins``, read off the role axes every spec declares:

- ``in``: the input's channels (its last axis for dense and recurrent kinds), divided by
  the groups of a grouped convolution;
- ``channels``: the input's channels (normalisation vectors);
- ``out``, spatial axes, ``mult``, ``units``, ``token``, ``dim``: the layer's own config
  (filters or units, kernel_size, depth_multiplier, input_dim, output_dim).

Every pin gives a ``Fact`` with a verdict: ``agree``, ``mismatch``, or ``resolved`` when
the architecture leaves the size unknown and the weight tells it. A per-layer ``params``
fact sums the shapes the architecture implies against the stored tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from .arithmetic import product
from .infer import Inference, infer_shapes
from .model import Graph, Layer, Shape, Weight
from .ops import SPECS
from .ops.base import SPATIAL_AXES

AGREE, MISMATCH, RESOLVED = "agree", "mismatch", "resolved"
# Where the size the architecture implies comes from: the inferred input, or the layer's config.
INPUT, CONFIG = "input", "config"


@dataclass(frozen=True)
class Pin:
    """The size the architecture implies for one weight axis (None: it does not say)."""

    value: Optional[int]
    what: str  # "input channels", "filters", "kernel size", ...
    source: str  # INPUT or CONFIG
    scale: int = 1  # the axis holds value / scale (a grouped conv's in axis: per group)


@dataclass(frozen=True)
class Fact:
    """One check: what the architecture implies (``expected``) against what the stored
    weight holds (``stored``), with the evidence and the verdict."""

    layer: str  # the layer's path
    what: str
    expected: Optional[int]
    stored: Any  # a size; a shape for a resolved output shape
    evidence: str
    source: str
    call: int = 0
    weight: str = ""  # the stored weight, as "kernel (3,3,1,32)"; "" for a layer's params
    inferred_from: str = "weights"  # of a resolved fact: the weights, or a library's own rule
    axis: str = ""  # the weight's named axis the fact is about

    @property
    def verdict(self) -> str:
        if self.expected is None:
            return RESOLVED
        return AGREE if self.expected == self.stored else MISMATCH

    def json(self) -> dict[str, Any]:
        out = {"layer": self.layer, "what": self.what, "expected": self.expected, "stored": self.stored,
               "evidence": self.evidence, "source": self.source, "verdict": self.verdict, "axis": self.axis}  # fmt: skip
        if self.call:
            out["call"] = self.call
        if self.verdict == RESOLVED:
            out.update(value=self.stored, inferred_from=self.inferred_from)
        return out


@dataclass
class Consistency:
    facts: list[Fact] = field(default_factory=list)
    # Layers left unknown although an assumption was tried: {"layer", "reason"}
    unresolved: list[dict[str, str]] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Fact]:
        return [f for f in self.facts if f.verdict == MISMATCH]

    @property
    def resolved(self) -> list[Fact]:
        return [f for f in self.facts if f.verdict == RESOLVED]

    @property
    def consistent(self) -> bool:
        return not self.mismatches

    def by_layer(self) -> dict[str, list[dict[str, Any]]]:
        """The failed and resolved facts of each layer, by path (what a table flags)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for f in self.facts:
            if f.verdict != AGREE:
                out.setdefault(f.layer, []).append(f.json())
        return out

    def misfit(self) -> str | None:
        """What an architecture given for these weights (``--config``) gets wrong, as the
        one line a usage error says; None when it fits."""
        lines = [describe(f.json()) for f in self.mismatches if f.weight]
        if not lines:
            return None
        more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
        return "--config does not fit the weights of this file: " + "; ".join(lines[:3]) + more

    def json(self) -> dict[str, Any]:
        return {
            "checked": len(self.facts),
            "agree": sum(f.verdict == AGREE for f in self.facts),
            "consistent": self.consistent,
            "mismatches": [f.json() for f in self.mismatches],
            "resolved": [f.json() for f in self.resolved],
            "unresolved": list(self.unresolved),
        }


def describe(fact: dict[str, Any]) -> str:
    """A failed check (as ``Fact.json`` gives it) in one line."""
    which = f"the {'inferred input' if fact['source'] == INPUT else 'config'} gives {fact['expected']}"
    return f"{fact['layer']}: {fact['what']}: {which}, the weights hold {fact['stored']} ({fact['evidence']})"


def config_misfit(graph: Graph) -> str | None:
    """For a loader given ``--config``: what that architecture gets wrong about the
    weights it was given for, or None when it fits."""
    return check_graph(graph, infer_shapes(graph)).misfit()


def check_graph(graph: Graph, inferred: Inference) -> Consistency:
    """Every pin of every stored weight of every layer call, nested graphs included."""
    return Consistency(list(_graph_facts(graph, inferred, "")))


def _graph_facts(graph: Graph, inferred: Inference, prefix: str) -> Iterator[Fact]:
    by_name = {layer.name: layer for layer in graph.layers}
    for layer in graph.layers:
        path = prefix + layer.name
        for what, found in {**(layer.attrs.get("resolved") or {}), **inferred.resolved.get(id(layer), {})}.items():
            yield Fact(path, what, None, found["value"], found["evidence"], INPUT, inferred_from=found["inferred_from"])
        for found in layer.attrs.get("checked") or []:  # what a loader compared
            yield Fact(path, found["what"], found["expected"], found["stored"], found["evidence"], INPUT)
        if layer.graph is not None:
            yield from _graph_facts(layer.graph, inferred, path + "/")
            continue
        weights = layer.weights
        if not weights or layer.op not in SPECS or not SPECS[layer.op].roles:
            continue  # a kind that declares no stored roles (unknown, opaque) pins nothing
        shapes = [(inferred.call_inputs(layer, i, by_name) or [None])[0] for i in range(len(layer.calls))]
        yield from layer_facts(layer, path, shapes or [None])


def layer_facts(layer: Layer, path: str, input_shapes: list[Optional[Shape]]) -> Iterator[Fact]:
    """Facts for one layer, one set per call's input shape (None: unknown); the config's
    pins and the params once."""
    rule = SPECS[layer.op].pins or derived_pins
    # A layer rebuilt from its weights alone (no architecture) has a config read off those
    # weights: nothing to check it against.
    own_config = not layer.attrs.get("guessed")
    for call, shape in enumerate(input_shapes):
        expected_params, stored_params, known = 0, 0, False
        for weight in layer.weights:
            pins = {axis: pin for axis, pin in rule(layer, shape, weight).items() if own_config or pin.source != CONFIG}
            dims = []
            for axis, size in zip(weight.axes, weight.shape):
                pin = pins.get(axis)
                dims.append(size if pin is None or pin.value is None else pin.value // pin.scale)
                if pin is None or (pin.source == CONFIG and call > 0):
                    continue
                if pin.value is None and (pin.source == CONFIG or shape is None):
                    continue  # nothing to compare, nothing unknown that the weight resolves
                known = known or pin.value is not None
                named = _named(weight)
                evidence = f"{named}: its '{axis}' axis" + (f" x {pin.scale} groups" if pin.scale > 1 else "")
                yield Fact(path, pin.what, pin.value, size * pin.scale, evidence, pin.source, call, named, axis=axis)
            expected_params += product(dims) or 0
            stored_params += weight.size
        if known and (call == 0 or shape is not None):
            roles = ", ".join(_named(w) for w in layer.weights)
            yield Fact(path, "params", expected_params, stored_params, roles, INPUT if shape is not None else CONFIG, call)


def _named(weight: Weight) -> str:
    return f"{weight.role} ({','.join(map(str, weight.shape))})"


# ---------------------------------------------------------------------------------------
# What weights pin, derived from the role axes


def input_channels(layer: Layer, shape: Optional[Shape], weight: Weight) -> Optional[int]:
    """The size of the input axis a weight's ``in`` or ``channels`` axis stands for, or
    None when the shape or that axis is unknown."""
    if not shape:
        return None
    axis = channel_axis(layer, shape, weight)
    return None if axis is None or not -len(shape) <= axis < len(shape) else shape[axis]


def channel_axis(layer: Layer, shape: Shape, weight: Weight) -> Optional[int]:
    attrs = layer.attrs
    if "rank" in attrs and "channels_last" in attrs:
        if isinstance(attrs["rank"], int) and len(shape) != attrs["rank"] + 2:
            return None  # not an input it can take at all: the shape rule says why
        return -1 if attrs["channels_last"] else 1
    if layer.op in ("batch_norm", "normalization"):
        if weight.layout.convention == "torch":
            return -1 if "LayerNorm" in layer.type else 1
        axis = layer.config.get("axis", -1)
        return axis if isinstance(axis, int) else axis[0] if isinstance(axis, list) and len(axis) == 1 else None
    return -1


def derived_pins(layer: Layer, shape: Optional[Shape], weight: Weight) -> dict[str, Pin]:
    attrs = layer.attrs
    op = layer.op
    groups = int(attrs.get("groups") or 1)
    channels = input_channels(layer, shape, weight)
    mult = attrs.get("depth_multiplier") or 1
    torch = weight.layout.convention == "torch"
    pins: dict[str, Pin] = {}

    if "in" in weight.axes:
        what = "input features" if op in ("dense", "rnn") else "input channels"
        if op == "conv":
            pins["in"] = Pin(channels, what, INPUT, groups)
        elif op == "depthwise_conv" and torch:
            pass  # (out, 1, ...): one input map per group, whatever the channels
        elif weight.role == "pointwise_kernel":
            pins["in"] = Pin(None if channels is None else channels * mult, "depthwise maps", INPUT)
        else:
            pins["in"] = Pin(channels, what, INPUT)
    if "channels" in weight.axes and op in ("batch_norm", "normalization"):
        pins["channels"] = Pin(channels, "channels", INPUT)
    if "out" in weight.axes:
        if op == "depthwise_conv":
            pins["out"] = Pin(None if channels is None else channels * mult, "output maps", INPUT)
        elif attrs.get("filters") is not None:
            per_group = op == "conv_transpose" and torch and weight.role != "bias"
            pins["out"] = Pin(int(attrs["filters"]), "filters", CONFIG, groups if per_group else 1)
        elif attrs.get("units") is not None and op == "dense":
            pins["out"] = Pin(int(attrs["units"]), "units", CONFIG)
    spatial = [a for a in weight.axes if a in SPATIAL_AXES]
    sizes = attrs.get("kernel_size")
    if spatial and isinstance(sizes, (list, tuple)) and len(sizes) == len(spatial):
        pointwise = weight.role == "pointwise_kernel"  # 1x1 whatever the kernel_size
        for axis, size in zip(("kd", "kh", "kw")[3 - len(spatial) :], sizes):
            if isinstance(size, int):
                pins[axis] = Pin(1 if pointwise else size, "kernel size", CONFIG)
    if "mult" in weight.axes and attrs.get("depth_multiplier"):
        pins["mult"] = Pin(int(attrs["depth_multiplier"]), "depth multiplier", CONFIG)
    if "units" in weight.axes and isinstance(attrs.get("units"), int):
        pins["units"] = Pin(attrs["units"], "units", CONFIG)
    if op == "embedding":
        for axis, key in (("token", "input_dim"), ("dim", "output_dim")):
            if isinstance(attrs.get(key), int):
                pins[axis] = Pin(attrs[key], key.replace("_", " "), CONFIG)
    return pins
