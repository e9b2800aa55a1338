"""The ``diff`` report: two models compared layer by layer, in the neutral layout.

Two questions: what changed between two checkpoints of one network, and did a port to
another library copy the weights right. Layers carrying weights are paired (by name where
the names match, else in order, checked by kind and shape; the rest are listed, never
guessed). Each pair's tensors are transposed to one canonical axis order (out, in, ...,
spatial) by their named axes, so a layout change is no difference, and compared chunk by
chunk along ``out``: one pair, and at most ``CHUNK_BYTES`` of a tensor, in memory at once.

A conversion the two files' declared layouts call for is applied before comparing: a
Theano kernel (declared flipped) against a cross-correlation one is flipped, and the first
Dense/Linear after a Flatten gets its input rows reordered from (h, w, c) to (c, h, w) when
one model flattens channels-last and the other channels-first (the permutation from the
shape entering the Flatten, as shape inference finds it). The numbers always measure the
networks as declared; a difference that a conversion the files do not declare would
explain (a kernel reshaped instead of transposed, a flatten not reordered, a flip not
undone) is named in a hint.

Facts that change what a layer computes are compared too, each library's spelling
normalised: strides, padding, dilation, groups, activation, use_bias, and BatchNorm's
epsilon and momentum (Keras' convention: PyTorch's momentum ``m`` is Keras' ``1 - m``).

The dict returned is the JSON document (schema ``cnninspect.diff/1``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from ..core.connections import in_maps
from ..core.infer import infer_shapes
from ..core.layouts import SPATIAL_AXES
from ..core.model import Graph, Layer, Model, Row, Weight
from ..errors import CnnInspectError, ExitStatus, UsageError
from .shapes import source_json

if TYPE_CHECKING:
    import numpy as np

    from ..loaders.inputs import Prepared

    Inputs = tuple[list[Prepared], list[Prepared]]  # A's inputs, B's, each in its model's layout

SCHEMA = "cnninspect.diff/1"
# The exit code for "the two files are not the same network".
EXIT_DIFFERENT = ExitStatus.DIFFERENT
# An element differs when |a - b| > tolerance * (the largest |value| of the tensor in A or B):
# scale-free across layers (a BatchNorm variance of 1e3 and a kernel of 1e-2 alike), and
# 1e-6 is about 8 float32 steps of the largest value: exact copies, transposes and float32
# round-off pass, any real edit does not.
DEFAULT_TOLERANCE = 1e-6
CHUNK_BYTES = 4 * 1024 * 1024  # the most of one tensor read at once (compared as float64, with temporaries)
HINT_ELEMENTS = 1 << 22  # hints (what else would make a tensor equal) are looked for up to this size

# Canonical axis order: what every tensor is transposed to before comparing.
CANONICAL = ("out", "in", "mult", "channels", "units", "gates", "part", "token", "dim", "kd", "kh", "kw")
# The same parameter under each library's name; roles not listed compare under their own.
ROLE_ALIASES = {
    "weight": "kernel",
    "depthwise_kernel": "kernel",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
    "mean": "moving_mean",
    "var": "moving_variance",
}
BATCHNORM_ALIASES = {"weight": "gamma", "bias": "beta"}
# Stored tensors that are not parameters: a step counter, and ONNX operands such as shapes.
NOT_PARAMETERS = frozenset({"num_batches_tracked", "shape", "pads", "constant_value", "axes", "roi", "scales",
                            "sizes", "starts", "ends", "steps", "indices", "min", "max", "repeats"})  # fmt: skip
SPATIAL_OPS = frozenset({"conv", "conv_transpose", "depthwise_conv", "separable_conv"})
# ONNX nodes that are an activation, by operator (other formats put the name in attrs).
ONNX_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leaky_relu", "Elu": "elu",
                    "Selu": "selu", "Softmax": "softmax", "HardSwish": "hard_swish", "Gelu": "gelu"}  # fmt: skip
# Flatten order by weight convention, for files without an architecture.
CHANNELS_LAST = {"keras": True, "tflite": True, "keras-th": False, "torch": False}


def diff_report(a: Model, b: Model, tolerance: float = DEFAULT_TOLERANCE, inputs: Inputs | None = None) -> dict[str, Any]:
    """Compare ``a`` and ``b``; ``same_network`` decides the exit code (0 or EXIT_DIFFERENT).
    With ``inputs`` (``prepare_both``), both networks are also run on them."""
    if not 0 <= tolerance < float("inf"):  # NaN fails this too
        raise UsageError(f"--tolerance {tolerance}: give a number from 0 (bit for bit), e.g. 1e-6")
    side_a, side_b = _Side(a, "A"), _Side(b, "B")
    paired, unpaired_a, unpaired_b = pair_layers(side_a.rows, side_b.rows)
    pairs = [_Pair(side_a, side_b, ra, rb, how, tolerance).json() for ra, rb, how in paired]
    same = [p for p in pairs if p["same"]]
    ranking = sorted(range(len(pairs)), key=lambda i: -(pairs[i]["rel_l2"] if pairs[i]["rel_l2"] is not None else float("inf")))
    notes = [f"A: {n}" for n in a.notes if "no architecture" in n] + [f"B: {n}" for n in b.notes if "no architecture" in n]
    same_network: bool | None = len(same) == len(pairs) and not unpaired_a and not unpaired_b
    run: dict[str, Any] = {}
    if inputs is not None:
        run = compare_activations(side_a, side_b, [(ra, rb) for ra, rb, _ in paired], inputs, tolerance)
        notes += run.pop("notes")
        if run["first_divergent_activation"] is not None:
            same_network = False
        elif "activations_stopped" in run and same_network:
            same_network = None  # the weights agree, but the run could not check the whole network
    return {
        "schema": SCHEMA,
        "a": source_json(a),
        "b": source_json(b),
        "tolerance": tolerance,
        "same_format": a.source.format == b.source.format,
        "pairs": pairs,
        "unpaired_a": [_unpaired(r) for r in unpaired_a],
        "unpaired_b": [_unpaired(r) for r in unpaired_b],
        "counts": {
            "pairs": len(pairs),
            "identical": len(same),
            "changed": len(pairs) - len(same),
            "only_in_a": len(unpaired_a),
            "only_in_b": len(unpaired_b),
        },
        "ranking": [i for i in ranking if not pairs[i]["same"]],
        **run,
        "same_network": same_network,
        "notes": notes,
    }


def exit_code(report: dict[str, Any]) -> int:
    """0 the same network, EXIT_DIFFERENT not, UNSUPPORTED undecided (a layer could not be run)."""
    same = report["same_network"]
    return 0 if same else ExitStatus.UNSUPPORTED if same is None else EXIT_DIFFERENT


# ---------------------------------------------------------------------------------------
# The layers of one model that carry weights, and what is known around them


def parameters(layer: Layer) -> list[Weight]:
    """The layer's stored parameters (not a step counter, not an ONNX shape operand)."""
    return [w for w in layer.weights if w.role not in NOT_PARAMETERS and not w.role.startswith("input_")]


def is_batchnorm(layer: Layer) -> bool:
    return any(w.role in ("moving_mean", "running_mean") for w in layer.weights)


def role_of(layer: Layer, w: Weight) -> str:
    """The parameter's name in one vocabulary: Keras' (kernel, gamma, moving_mean, ...)."""
    if is_batchnorm(layer) and w.role in BATCHNORM_ALIASES:
        return BATCHNORM_ALIASES[w.role]
    return ROLE_ALIASES.get(w.role, w.role)


def kind_of(layer: Layer) -> str:
    """A depthwise convolution is a grouped one (PyTorch and ONNX store it so)."""
    return "batchnorm" if is_batchnorm(layer) else "conv" if layer.op == "depthwise_conv" else layer.op


def canonical_order(axes: tuple[str, ...]) -> list[int]:
    """The permutation that puts named axes in CANONICAL order (unnamed ones last, as stored)."""
    return sorted(range(len(axes)), key=lambda i: (CANONICAL.index(axes[i]), 0) if axes[i] in CANONICAL else (len(CANONICAL), i))


@dataclass(frozen=True)
class Neutral:
    """A stored tensor in the neutral layout: transposed by ``order``, then (a depthwise
    kernel only) reshaped to ``shape``, whose axes are ``axes``."""

    order: tuple[int, ...]
    axes: tuple[str, ...]
    shape: tuple[int, ...]
    reshaped: bool = False


def neutral(w: Weight) -> Neutral:
    axes = w.axes
    if len(axes) == 4 and axes[0] == "d0" and axes[-1] == "out":  # TFLite depthwise (1, kh, kw, out)
        axes = ("in",) + axes[1:]
    order = tuple(canonical_order(axes))
    named, shape = tuple(axes[i] for i in order), tuple(w.shape[i] for i in order)
    if "in" in named and "mult" in named and "out" not in named:
        # Keras depthwise (in, mult, ...) is a grouped convolution (in * mult, 1, ...): out = i * mult + m.
        return Neutral(order, ("out", "in") + named[2:], (shape[0] * shape[1], 1) + shape[2:], True)
    return Neutral(order, named, shape)


def canonical_shape(w: Weight) -> tuple[int, ...]:
    return neutral(w).shape


def main_weight(layer: Layer) -> Weight | None:
    """The tensor that says what a layer is: its kernel (gamma for a BatchNorm), else its first."""
    params = parameters(layer)
    return next((w for w in params if role_of(layer, w) in ("kernel", "gamma")), params[0] if params else None)


def signature(layer: Layer) -> tuple:
    """Kind and main tensor's shape in the neutral layout: what order-pairing checks (a bias
    present on one side only still pairs, and shows as a difference)."""
    main = main_weight(layer)
    return kind_of(layer), None if main is None else (role_of(layer, main), canonical_shape(main))


class _Side:
    """One model: its weight-carrying rows, its graphs, its inferred shapes."""

    def __init__(self, model: Model, label: str) -> None:
        self.model, self.label = model, label
        if model.architecture:
            infer_shapes(model.graph)
        self.rows = [r for r in model.rows() if r.layer.graph is None and parameters(r.layer)]
        self.graph_of: dict[int, Graph] = {}
        self._index(model.graph)

    def _index(self, graph: Graph) -> None:
        for layer in graph.layers:
            self.graph_of[id(layer)] = graph
            if layer.graph is not None:
                self._index(layer.graph)

    @property
    def style(self) -> str:
        fmt = self.model.source.format
        return "onnx" if fmt == "onnx" else "keras" if fmt.startswith("keras") else "torch" if fmt.startswith(("pytorch", "torchscript")) else ""

    def convention(self, layer: Layer) -> str:
        return next((w.layout.convention for w in parameters(layer)), "")

    def producer(self, layer: Layer) -> Layer | None:
        graph = self.graph_of.get(id(layer))
        refs = layer.calls[0].tensor_inputs if layer.calls else []
        if graph is None or not refs:
            return None
        try:
            return graph.layer(refs[0].layer)
        except KeyError:
            return None

    def spatial_input(self, layer: Layer) -> list[int] | None:
        """The spatial sizes of the layer's input, where shape inference knows them."""
        source = self.producer(layer)
        shape = source.output_shapes[0][0] if source is not None and source.output_shapes and source.output_shapes[0] else None
        if shape is None or len(shape) < 3:
            return None
        dims = shape[1:-1] if layer.attrs.get("channels_last") else shape[2:]
        known = [d for d in dims if isinstance(d, int)]
        return known if len(known) == len(dims) else None

    def consumers(self, layer: Layer) -> list[Layer]:
        graph = self.graph_of.get(id(layer))
        if graph is None:
            return []
        return [x for x in graph.layers if any(r.layer == layer.name for c in x.calls for r in c.tensor_inputs)]

    def activation(self, layer: Layer) -> str | None:
        """What the layer's outputs go through: its own activation, or an activation layer
        that alone consumes them (PyTorch's nn.ReLU, ONNX's Relu after a Conv). None when
        the file has no architecture."""
        own = layer.attrs.get("activation")
        if own not in (None, "linear"):
            return str(own)
        if not self.model.architecture:
            return None
        after = self._activation_after(layer)
        return "linear" if after is None else str(after.attrs.get("activation") or ONNX_ACTIVATIONS[after.type])

    def _activation_after(self, layer: Layer) -> Layer | None:
        """The activation layer (not linear) that alone consumes the layer's outputs."""
        after = self.consumers(layer)
        if len(after) == 1 and not parameters(after[0]):
            name = after[0].attrs.get("activation") or ONNX_ACTIVATIONS.get(after[0].type)
            if name and name != "linear":
                return after[0]
        return None

    def output_of(self, row: Row) -> str:
        """The path of the layer call whose output is the row's result after its activation:
        its own, or that of the activation layer that alone consumes it."""
        layer = row.layer
        after = self._activation_after(layer) if layer.attrs.get("activation") in (None, "linear") else None
        return row.path if after is None else row.path[: len(row.path) - len(layer.name)] + after.name

    def flatten(self, layer: Layer) -> Flatten | None:
        """How the input of a Dense/Linear was flattened, if the architecture says it comes
        from a Flatten."""
        if layer.op != "dense" or not self.model.architecture:
            return None
        flat = self.producer(layer)
        if flat is None or not (flat.op == "flatten" and flat.attrs.get("axis", 1) == 1):
            return None
        source = self.producer(flat)
        shape = None
        if source is not None and source.output_shapes and source.output_shapes[0]:
            shape = source.output_shapes[0][0]
        if "data_format" in flat.config:  # Keras 2+: Flatten moves channels last whatever the data_format
            last = True
        else:
            last = self._channels_last(source, layer)
        cells = None
        if shape is not None and len(shape) >= 3 and all(isinstance(d, int) for d in shape[1:]):
            dims = [int(d) for d in shape[1:]]  # type: ignore[arg-type]
            channels = dims[-1] if last else dims[0]
            cells = (channels, _product(dims) // channels)
        return Flatten(last, cells, f"{self.label} flattens {'(h, w, c)' if last else '(c, h, w)'} at '{flat.name}'")

    def _channels_last(self, layer: Layer | None, dense: Layer) -> bool:
        seen = 0
        while layer is not None and seen < 10_000:
            if "channels_last" in layer.attrs:
                return bool(layer.attrs["channels_last"])
            layer, seen = self.producer(layer), seen + 1
        return CHANNELS_LAST.get(self.convention(dense), False)


@dataclass(frozen=True)
class Flatten:
    channels_last: bool
    cells: tuple[int, int] | None  # (channels, spatial positions) of the flattened map, when known
    evidence: str


def _product(dims: list[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _unpaired(row: Row) -> dict[str, Any]:
    layer = row.layer
    return {"layer": row.path, "type": layer.type, "params": sum(w.size for w in parameters(layer)),
            "shapes": {role_of(layer, w): list(w.shape) for w in parameters(layer)}}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Pairing


def pair_layers(rows_a: list[Row], rows_b: list[Row]) -> tuple[list[tuple[Row, Row, str]], list[Row], list[Row]]:
    """Pairs by path where both have it with the same kind; the rest in order, where kind
    and neutral shapes agree (the longest such order-keeping matching). What remains is
    returned unpaired."""
    by_path = {r.path: r for r in rows_b}
    named = {id(ra): by_path[ra.path] for ra in rows_a if ra.path in by_path and kind_of(ra.layer) == kind_of(by_path[ra.path].layer)}
    taken = {id(rb) for rb in named.values()}
    rest_a = [r for r in rows_a if id(r) not in named]
    rest_b = [r for r in rows_b if id(r) not in taken]
    ordered = _align(rest_a, rest_b)
    by_order = {id(ra): rb for ra, rb in ordered}
    pairs = []
    for ra in rows_a:
        if id(ra) in named:
            pairs.append((ra, named[id(ra)], "name"))
        elif id(ra) in by_order:
            pairs.append((ra, by_order[id(ra)], "order"))
    paired_b = taken | {id(rb) for _, rb in ordered}
    return pairs, [r for r in rest_a if id(r) not in by_order], [r for r in rows_b if id(r) not in paired_b]


def _align(rows_a: list[Row], rows_b: list[Row]) -> list[tuple[Row, Row]]:
    """The longest order-keeping matching of compatible rows (dynamic programming)."""
    sig_a = [signature(r.layer) for r in rows_a]
    sig_b = [signature(r.layer) for r in rows_b]
    if sig_a == sig_b:  # the usual case (a port, a checkpoint): one to one, without the table
        return list(zip(rows_a, rows_b))
    n, m = len(rows_a), len(rows_b)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + 1 if sig_a[i] == sig_b[j] else 0)
    out, i, j = [], 0, 0
    while i < n and j < m:
        if sig_a[i] == sig_b[j] and best[i][j] == best[i + 1][j + 1] + 1:
            out.append((rows_a[i], rows_b[j]))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


# ---------------------------------------------------------------------------------------
# One pair of layers


# A pair's verdict is its most telling tensor's: any difference, else the largest conversion.
VERDICT_RANK = {"equal": 0, "equal_within_tolerance": 1, "equal_after_layout_change": 2, "equal_after_theano_flip": 3,
                "equal_after_flatten_reorder": 4}  # fmt: skip


@dataclass
class Transform:
    """What is done to one side's canonical tensor before comparing."""

    flip: bool = False  # flip the spatial axes (a Theano kernel to cross-correlation)
    reorder: Any = None  # an index array: take() along the 'in' axis ((h, w, c) rows to (c, h, w))


class _Pair:
    def __init__(self, a: _Side, b: _Side, ra: Row, rb: Row, how: str, tolerance: float) -> None:
        self.a, self.b, self.ra, self.rb, self.how, self.tolerance = a, b, ra, rb, how, tolerance
        self.notes: list[str] = []

    def json(self) -> dict[str, Any]:
        la, lb = self.ra.layer, self.rb.layer
        wa = {role_of(la, w): w for w in parameters(la)}
        wb = {role_of(lb, w): w for w in parameters(lb)}
        reorder = self._reorder()
        tensors = [self._tensor(role, wa[role], wb[role], reorder) for role in wa if role in wb]
        for role in wa:
            if role not in wb:
                tensors.append({"role": role, "a": wa[role].name, "b": None, "verdict": "only_in_a"})
        for role in wb:
            if role not in wa:
                tensors.append({"role": role, "a": None, "b": wb[role].name, "verdict": "only_in_b"})
        facts_differ, facts_unknown = self._facts()
        verdict, layout_change, hints = self._verdict(tensors)
        measured = [t for t in tensors if t.get("changed") is not None]
        sq_a, sq_d = sum(t.pop("_sq_a") for t in measured), sum(t.pop("_sq_diff") for t in measured)
        size, changed = sum(t["size"] for t in measured), sum(t["changed"] for t in measured)
        if len(measured) < len(tensors):
            why = {"only_in_a": "only in A", "only_in_b": "only in B", "different": "shapes differ", "not_compared": "unreadable"}
            left = [f"{t['role']} ({why[t['verdict']]})" for t in tensors if t not in measured]
            self.notes.append(f"max_abs_diff, rel_l2 and changed_fraction are over {', '.join(t['role'] for t in measured) or 'no tensor'}; "
                              f"not compared: {', '.join(left)}")  # fmt: skip
        return {
            "a": self.ra.path,
            "b": self.rb.path,
            "a_type": la.type,
            "b_type": lb.type,
            "kind": kind_of(la),
            **self._layouts(tensors),
            "paired_by": self.how,
            "verdict": verdict,
            **({"layout_change": layout_change} if layout_change else {}),
            **({"hint": "; ".join(hints)} if hints else {}),
            "max_abs_diff": max((t["max_abs_diff"] for t in measured), default=None),
            "rel_l2": _rel(sq_d, sq_a) if measured else None,
            "changed_fraction": (changed / size if size else 0.0) if measured else None,
            "changed": changed if measured else None,
            "size": size,
            "facts_differ": facts_differ,
            "facts_unknown": facts_unknown,
            "same": verdict.startswith("equal") and not facts_differ,
            "tensors": tensors,
            "notes": self.notes,
        }

    # -- weights --------------------------------------------------------------------

    def _reorder(self) -> tuple[Transform, Transform, Any]:
        """The transforms each side needs for the pair to be compared as the networks
        compute; and the permutation for the hint when the files do not call for one."""
        la, lb = self.ra.layer, self.rb.layer
        fa, fb = self.a.flatten(la), self.b.flatten(lb)
        if fa is None and fb is None:
            return Transform(), Transform(), None
        if fa is None or fb is None:
            # Only one side is known to follow a Flatten: the other file has no architecture,
            # or the layer is not a Dense after a Flatten in both.
            known = fa or fb
            assert known is not None
            other = self.b if fa is not None else self.a
            other_layer = lb if fa is not None else la
            if other.model.architecture:
                return Transform(), Transform(), None
            last = CHANNELS_LAST.get(other.convention(other_layer))
            if last is None:
                return Transform(), Transform(), None
            assumed = Flatten(last, None, f"assumed from {other.label}'s {other.convention(other_layer)} layout (no architecture in the file)")
            fa, fb = (known, assumed) if fa is not None else (assumed, known)
        assert fa is not None and fb is not None
        cells = fa.cells or fb.cells
        main = main_weight(la)
        rows = dict(zip(neutral(main).axes, neutral(main).shape)).get("in") if main is not None else None
        perm = _flatten_permutation(cells) if cells is not None and cells[0] * cells[1] == rows else None
        if fa.channels_last == fb.channels_last:
            return Transform(), Transform(), perm
        self.notes.append(f"{fa.evidence}; {fb.evidence}")
        if perm is None:
            self.notes.append("the flatten orders differ, but the shape entering the Flatten is unknown: rows compared unreordered")
            return Transform(), Transform(), None
        return (Transform(reorder=perm), Transform(), perm) if fa.channels_last else (Transform(), Transform(reorder=perm), perm)

    def _tensor(self, role: str, wa: Weight, wb: Weight, reorder: tuple[Transform, Transform, Any]) -> dict[str, Any]:
        ta, tb, perm = reorder
        ta, tb = Transform(reorder=ta.reorder), Transform(reorder=tb.reorder)  # fresh: the flip is per tensor
        spatial = bool(SPATIAL_AXES & set(wa.axes)) and bool(SPATIAL_AXES & set(wb.axes))
        if spatial and wa.layout.flipped != wb.layout.flipped:
            if wa.layout.flipped:
                ta.flip = True
            else:
                tb.flip = True
        entry: dict[str, Any] = {
            "role": role, "a": wa.name, "b": wb.name, "a_layout": wa.layout.code, "b_layout": wb.layout.code,
            "a_shape": list(wa.shape), "b_shape": list(wb.shape),
        }  # fmt: skip
        shape_a, shape_b = canonical_shape(wa), canonical_shape(wb)
        if neutral(wa).axes != neutral(wb).axes or shape_a != shape_b:
            entry.update(verdict="different", hint=f"shapes differ in the neutral layout: {_axes_shape(wa)} vs {_axes_shape(wb)}",
                         changed=None, max_abs_diff=None, rel_l2=None)  # fmt: skip
            return entry
        unread = {"verdict": "not_compared", "changed": None, "max_abs_diff": None, "rel_l2": None}
        empty = [side for side, w in (("A", wa), ("B", wb)) if w.reader is None]
        if empty:  # declared, with no data in the file (an ONNX graph input without an initializer)
            entry.update(unread, hint=f"no data in {' and '.join(empty)}'s file")
            return entry
        try:
            stats = compare(wa, wb, ta, tb, self.tolerance)
        except CnnInspectError as exc:  # data a loader refuses (damaged, sparse, ...)
            entry.update(unread, hint=f"cannot be read: {exc.message}")
            return entry
        entry.update(size=stats.size, changed=stats.changed, max_abs_diff=stats.max_abs, rel_l2=_rel(stats.sq_diff, stats.sq_a),
                     _sq_a=stats.sq_a, _sq_diff=stats.sq_diff)  # fmt: skip
        if stats.changed == 0:
            entry["verdict"] = (
                "equal_after_flatten_reorder" if (ta.reorder is not None or tb.reorder is not None)
                else "equal_after_theano_flip" if (ta.flip or tb.flip)
                else "equal_after_layout_change" if wa.axes != wb.axes
                else "equal_within_tolerance" if stats.max_abs > 0
                else "equal"
            )  # fmt: skip
            return entry
        entry["verdict"] = "different"
        if wa.size <= HINT_ELEMENTS:
            hint = _explain(wa, wb, ta, tb, perm, role, stats.scale * self.tolerance)
            if hint:
                entry["hint"] = hint
        return entry

    @staticmethod
    def _layouts(tensors: list[dict[str, Any]]) -> dict[str, str | None]:
        """The stored layouts of the pair's main tensor (its kernel, else its first)."""
        both = [t for t in tensors if t.get("a_layout") is not None]
        main = next((t for t in both if t["role"] == "kernel"), both[0] if both else {})
        return {"a_layout": main.get("a_layout"), "b_layout": main.get("b_layout")}

    def _verdict(self, tensors: list[dict[str, Any]]) -> tuple[str, str | None, list[str]]:
        hints = [f"{t['role']}: {t['hint']}" for t in tensors if t.get("hint")]
        changed = [t for t in tensors if not t["verdict"].startswith("equal") and t["verdict"] != "not_compared"]
        moved = [t for t in tensors if t.get("a_layout") and t["a_layout"] != t["b_layout"]]
        layout_change = None
        if moved:
            t = moved[0]
            layout_change = f"A stores {t['a_layout']}, B {t['b_layout']}; equal after transpose" if not changed else f"A stores {t['a_layout']}, B {t['b_layout']}"
        if changed:
            return "different", layout_change, hints
        if any(t["verdict"] == "not_compared" for t in tensors):  # nothing differs, but not all was seen
            return "not_compared", layout_change, hints
        verdict = max((t["verdict"] for t in tensors), key=VERDICT_RANK.__getitem__, default="equal")
        return verdict, layout_change, hints

    # -- facts ----------------------------------------------------------------------

    def _facts(self) -> tuple[list[dict[str, Any]], list[str]]:
        fa, fb = facts(self.a, self.ra.layer), facts(self.b, self.rb.layer)
        differ, unknown = [], []
        for name in FACTS:
            if name not in fa and name not in fb:
                continue
            if name not in fa or name not in fb:
                unknown.append(name)
            elif not _same_fact(fa[name], fb[name]):
                differ.append({"fact": name, "a": fa[name], "b": fb[name]})
        return differ, unknown


def _rel(sq_diff: float, sq_a: float) -> float | None:
    if sq_a > 0:
        return (sq_diff / sq_a) ** 0.5
    return 0.0 if sq_diff == 0 else None


def _axes_shape(w: Weight) -> str:
    n = neutral(w)
    return "(" + ", ".join(f"{a}={d}" for a, d in zip(n.axes, n.shape)) + ")"


def _flatten_permutation(cells: tuple[int, int]) -> Any:
    """For each input row in (c, h, w) order, the row of the (h, w, c) order that holds it."""
    import numpy as np

    channels, positions = cells
    return np.arange(channels * positions).reshape(positions, channels).T.reshape(-1)


# ---------------------------------------------------------------------------------------
# Comparing two tensors in bounded memory


@dataclass
class Stats:
    size: int = 0
    changed: int = 0
    max_abs: float = 0.0
    sq_diff: float = 0.0
    sq_a: float = 0.0
    scale: float = 0.0  # the largest |value| in A or B: the tolerance is relative to it


def _windows(wa: Weight, wb: Weight) -> list[slice]:
    """Ranges of the ``out`` axis (the first canonical one, of equal length in A and B) that
    keep each read within CHUNK_BYTES; one range when both tensors fit at once."""
    length = canonical_shape(wa)[0] if wa.shape else 0
    biggest = max(wa.nbytes, wb.nbytes)
    if not length or biggest <= CHUNK_BYTES or neutral(wa).reshaped or neutral(wb).reshaped:
        return [slice(None)]
    step = max(CHUNK_BYTES // max(biggest // length, 1), 1)
    return [slice(i, min(i + step, length)) for i in range(0, length, step)]


def _canonical(w: Weight, window: slice, t: Transform) -> np.ndarray:
    """``w[window on its out axis]`` read from the file, in canonical axis order, as float64,
    with ``t`` applied."""
    import numpy as np

    n = neutral(w)
    index = tuple(window if k == n.order[0] else slice(None) for k in range(len(w.shape))) if w.shape else ()
    x = np.asarray(w.read(index)).transpose(n.order).astype(np.float64)
    if n.reshaped:  # read whole: windows are only made for tensors that are not reshaped
        x = x.reshape(n.shape)
    axes = list(n.axes)
    if t.flip:
        x = np.flip(x, axis=tuple(k for k, a in enumerate(axes) if a in SPATIAL_AXES))
    if t.reorder is not None and "in" in axes:
        x = np.take(x, t.reorder, axis=axes.index("in"))
    return x


def compare(wa: Weight, wb: Weight, ta: Transform, tb: Transform, tolerance: float) -> Stats:
    """max |a - b|, sums of squares, and the elements beyond ``tolerance`` (relative to the
    largest finite |value|), over matching chunks of A and B; tensors read in several chunks
    are read twice (the scale first), a tensor read at once is kept for the second pass."""
    import numpy as np

    def pieces() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for window in windows:
            yield _canonical(wa, window, ta), _canonical(wb, window, tb)

    def largest(x: np.ndarray) -> float:
        return float(np.abs(x[np.isfinite(x)]).max(initial=0.0))

    s = Stats()
    windows = _windows(wa, wb)
    cached = list(pieces()) if len(windows) == 1 else None
    for x, y in cached if cached is not None else pieces():
        s.scale = max(s.scale, largest(x), largest(y))
    limit = tolerance * s.scale
    for x, y in cached if cached is not None else pieces():
        with np.errstate(invalid="ignore"):
            d = np.abs(x - y)
        d[(x == y) | (np.isnan(x) & np.isnan(y))] = 0.0  # an infinity or a NaN in the same place is no change
        s.size += x.size
        s.changed += int(np.count_nonzero(~(d <= limit)))  # a NaN against a number is a change
        finite = d[np.isfinite(d)]
        s.max_abs = max(s.max_abs, float(finite.max(initial=0.0)))
        s.sq_diff += float(np.square(finite).sum())
        s.sq_a += float(np.square(x[np.isfinite(x)]).sum())
    return s


def _explain(wa: Weight, wb: Weight, ta: Transform, tb: Transform, perm: Any, role: str, limit: float) -> str | None:
    """What would have made the two tensors equal, that the files' layouts do not declare."""
    import numpy as np

    def equal(x: np.ndarray, y: np.ndarray) -> bool:
        return x.shape == y.shape and bool(np.all(np.abs(x - y) <= limit))

    plain_a, plain_b = _canonical(wa, slice(None), Transform()), _canonical(wb, slice(None), Transform())
    if ta.reorder is not None or tb.reorder is not None:
        if equal(plain_a, plain_b):
            return "equal only without the flatten reorder: the input rows were copied as they are, though the two models flatten in different orders (the port did not reorder them)"
    elif perm is not None and role == "kernel":
        for x, y in ((np.take(plain_a, perm, axis=1), plain_b), (plain_a, np.take(plain_b, perm, axis=1))):
            if equal(x, y):
                return "equal after a flatten reorder ((h, w, c) rows to (c, h, w)) that the two models' flatten orders do not call for"
    if ta.flip or tb.flip:
        if equal(plain_a, plain_b):
            return "equal without the Theano flip: one file declares a flipped (true-convolution) kernel, but the values were not flipped back"
    elif bool(SPATIAL_AXES & set(wa.axes)):
        spatial = tuple(k for k, a in enumerate(neutral(wa).axes) if a in SPATIAL_AXES)
        if equal(np.flip(plain_a, axis=spatial), plain_b):
            return "equal after a spatial flip that neither file declares (a Theano kernel?)"
    raw_a, raw_b = np.asarray(wa.read(())), np.asarray(wb.read(()))
    if wa.axes != wb.axes and equal(raw_a.reshape(-1).astype(np.float64), raw_b.reshape(-1).astype(np.float64)):
        return (f"B holds A's values in A's stored order ({wa.layout.code}) reshaped to {tuple(wb.shape)}: "
                f"a reshape where a transpose to {wb.layout.code} was due (wrong axes)")  # fmt: skip
    if wa.axes != wb.axes and equal(raw_b.reshape(-1).astype(np.float64), raw_a.reshape(-1).astype(np.float64)):
        return "A and B hold the same values in the same stored order under different declared layouts (wrong axes)"
    ndim = plain_a.ndim
    if ndim <= 5:
        names = neutral(wb).axes
        for p in itertools.permutations(range(ndim)):
            if p != tuple(range(ndim)) and plain_b.transpose(p).shape == plain_a.shape and equal(plain_a, plain_b.transpose(p)):
                moved = ", ".join(names[i] for i in p)
                return f"equal only after reading B's axes as ({moved}): a transpose that neither file's layout declares (wrong axes)"
    return None


# ---------------------------------------------------------------------------------------
# Facts


FACTS = ("strides", "padding", "dilation", "groups", "activation", "use_bias", "epsilon", "momentum")


def facts(side: _Side, layer: Layer) -> dict[str, Any]:
    """The facts the file states about the layer, each library's spelling normalised;
    what the file does not state is absent."""
    out: dict[str, Any] = {}
    a = layer.attrs
    known_arch = side.model.architecture and not a.get("guessed")
    kind = kind_of(layer)
    if layer.op in SPATIAL_OPS and known_arch:
        for name in ("strides", "dilation", "groups"):
            if a.get(name) is not None:
                out[name] = list(a[name]) if isinstance(a[name], (list, tuple)) else a[name]
        if layer.op == "depthwise_conv":  # one group per input map, as PyTorch and ONNX state it
            out["groups"] = in_maps(layer)
        padding = _padding(a, side.spatial_input(layer))
        if padding is not None:
            out["padding"] = padding
    if layer.op in SPATIAL_OPS or layer.op == "dense":
        out["use_bias"] = any(w.role == "bias" for w in parameters(layer))
        activation = side.activation(layer)
        if activation is not None:
            out["activation"] = activation
    if kind == "batchnorm" and known_arch:
        out.update(_batchnorm(side.style, layer))
    return out


def _padding(attrs: dict[str, Any], sizes: list[int] | None) -> Any:
    """Padding as [before, after] per spatial axis: explicit pads, 'valid', and 'same' by
    TensorFlow's rule (which with a stride above 1 depends on the input's ``sizes``: an even
    size pads one more after than before, where PyTorch's padding=1 pads both sides);
    else as the file says it ('same' with the input size unknown)."""
    pad, kernel = attrs.get("padding"), attrs.get("kernel_size")
    if isinstance(pad, (list, tuple)):
        return [list(p) if isinstance(p, (list, tuple)) else [p, p] for p in pad]
    if not kernel:
        return pad
    if pad == "valid":
        return [[0, 0] for _ in kernel]
    dilation = attrs.get("dilation") or [1] * len(kernel)
    strides = attrs.get("strides") or [1] * len(kernel)
    if pad != "same" or (any(s != 1 for s in strides) and (sizes is None or len(sizes) != len(kernel))):
        return pad
    out = []
    for i, (k, d, s) in enumerate(zip(kernel, dilation, strides)):
        span = d * (k - 1) + 1
        total = span - 1 if s == 1 else max((-(-sizes[i] // s) - 1) * s + span - sizes[i], 0)  # type: ignore[index]
        out.append([total // 2, total - total // 2])
    return out


def _batchnorm(style: str, layer: Layer) -> dict[str, Any]:
    """epsilon, and momentum in Keras' convention (running = momentum * running + (1 - momentum) * batch)."""
    c = layer.config
    if style == "keras":
        return {k: c[k] for k in ("epsilon", "momentum") if isinstance(c.get(k), (int, float))}
    if style == "torch":
        out: dict[str, Any] = {}
        if isinstance(c.get("eps"), (int, float)):
            out["epsilon"] = c["eps"]
        if "momentum" in c:
            m = c["momentum"]
            out["momentum"] = 1 - m if isinstance(m, (int, float)) else "cumulative average"
        return out
    if style == "onnx":  # the operator's defaults when the node omits them
        return {"epsilon": c.get("epsilon", 1e-5), "momentum": c.get("momentum", 0.9)}
    return {}


def _same_fact(x: Any, y: Any) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            return abs(x - y) <= 1e-6 * max(abs(x), abs(y))  # float32 attributes (ONNX) against float64 ones
    return bool(x == y)


# ---------------------------------------------------------------------------------------
# --input: both networks run on one input, their paired layers' outputs compared


def prepare_both(a: Model, b: Model, specs: list[str], preprocess: str) -> Inputs:
    """The inputs for A (as ``activations`` prepares them), and the same for B in B's
    layout: an image is prepared for B in its own layout at A's size, an array (``.npy``,
    ``random:SEED``, ``zeros``), given in A's layout, is transposed to B's. Both in
    float64, so that float32 round-off is no divergence."""
    from ..loaders.inputs import IMAGE_SUFFIXES, Prepared, prepare
    from .activations import input_layout, prepare_inputs

    for label, model in (("A", a), ("B", b)):
        if not model.architecture:
            raise UsageError(f"--input runs both networks, and {label} ({model.source.path}) holds weights only, no graph to run")
    if len(b.graph.inputs) != len(a.graph.inputs):
        raise UsageError(f"--input: A takes {len(a.graph.inputs)} input(s), B {len(b.graph.inputs)}: the networks cannot be run side by side")
    shapes = []  # A's input shapes, taken from B's file where only it records them
    for position in range(len(specs)):
        own, other = _recorded(a, position), _recorded(b, position)
        if own is None and other is not None:
            own = [other[i] for i in _moved(len(other), input_layout(b, position), input_layout(a, position))]
        shapes.append(own)
    for_a = prepare_inputs(a, specs, shapes, preprocess, "float64")
    for_b = []
    for position, (spec, p) in enumerate(zip(specs, for_a)):
        last_a, last_b = input_layout(a, position), input_layout(b, position)
        shape = _relayout(p.array, last_a, last_b).shape
        if spec.lower().endswith(IMAGE_SUFFIXES):
            for_b.append(prepare(spec, list(shape), last_b, preprocess, "float64"))
        else:
            moved = [f"transposed from A's layout to B's {_order(last_b, p.array.ndim)}"] if last_a != last_b and p.array.ndim >= 3 else []
            for_b.append(Prepared(_relayout(p.array, last_a, last_b), p.origin, p.preprocess, moved))
    return for_a, for_b


def _recorded(model: Model, position: int) -> list[int | None] | None:
    """The shape the file records for model input ``position``, batch first."""
    name = model.graph.inputs[position].layer if position < len(model.graph.inputs) else None
    return next((la.attrs.get("shape") for la in model.graph.layers if la.name == name), None)


def _relayout(x: np.ndarray, last: bool, to_last: bool) -> np.ndarray:
    """``x`` (batch first) with its channel axis moved from last to second, or back."""
    return x.transpose(_moved(x.ndim, last, to_last))


def _moved(ndim: int, last: bool, to_last: bool) -> list[int]:
    """The axes of a batch-first tensor of ``ndim`` axes in the other layout's order."""
    axes = list(range(ndim))
    if last == to_last or ndim < 3:
        return axes
    return [0, ndim - 1, *axes[1:-1]] if last else [0, *axes[2:], 1]


def _order(last: bool, ndim: int) -> str:
    spatial = "".join("DHW"[3 - (ndim - 2):])
    return f"N{spatial}C" if last else f"NC{spatial}"


def compare_activations(side_a: _Side, side_b: _Side, pairs: list[tuple[Row, Row]], inputs: Inputs, tolerance: float) -> dict[str, Any]:
    """Run both networks and compare each pair's first call's output, in A's order, in A's
    layout, until one differs beyond ``tolerance`` (as for weights: relative to the largest
    |value| of the two outputs). A pair's output is taken after its activation (Keras'
    own ``activation`` or the ReLU layer PyTorch and ONNX put after it)."""
    from ..forward.layers import NotComputable
    from ..forward.run import Execution
    from .activations import Layouts

    wanted = {side_a.output_of(ra): side_b.output_of(rb) for ra, rb in pairs}
    run_a = Execution(side_a.model, [p.array for p in inputs[0]], "float64")
    run_b = Execution(side_b.model, [p.array for p in inputs[1]], "float64")
    layouts_a, layouts_b = Layouts(side_a.model, run_a), Layouts(side_b.model, run_b)
    seen_b: dict[str, tuple[np.ndarray, bool]] = {}  # B's wanted outputs computed before A asked for them
    stream_b = iter(run_b)
    compared, first, stopped = 0, None, None
    missed: list[str] = []  # pairs whose B output B's run never computed
    side = "A"
    try:
        for out in run_a:
            last_a = layouts_a.of(out.path, out.call, out.layer, out.arrays)
            if out.call != 0 or out.path not in wanted:
                continue
            target = wanted[out.path]
            side = "B"
            while target not in seen_b:
                o = next(stream_b, None)
                if o is None:
                    break
                last_b = layouts_b.of(o.path, o.call, o.layer, o.arrays)
                if o.call == 0 and o.path in wanted.values():
                    seen_b[o.path] = (o.arrays[0].copy(), last_b)
            side = "A"
            if target not in seen_b:
                missed.append(f"{out.path} ↔ {target}")
                continue
            y, last_b = seen_b.pop(target)
            x = out.arrays[0]
            found = _diverges(x, _relayout(y, last_b, last_a), tolerance)
            compared += 1
            if found is not None:
                first = {"a": out.path, "b": target, **found}
                break
    except NotComputable as exc:
        stopped = {"side": side, "reason": str(exc), "compared": compared}
    result: dict[str, Any] = {
        "inputs": {"a": [_input(p) for p in inputs[0]], "b": [_input(p) for p in inputs[1]]},
        "first_divergent_activation": first,
        "activations_compared": compared,
        "notes": [f"{label}: {n}" for label, ps in (("A", inputs[0]), ("B", inputs[1])) for p in ps for n in p.notes]
        + [f"A: {n}" for n in run_a.notes] + [f"B: {n}" for n in run_b.notes],
    }
    if missed:
        result["notes"].append(f"not compared, as B's run did not compute their output: {', '.join(missed)}")
    if stopped is not None:
        result["activations_stopped"] = stopped
    return result


def _input(p: Prepared) -> dict[str, Any]:
    return {"shape": list(p.array.shape), "from": p.origin, "preprocess": p.preprocess}


def _diverges(x: np.ndarray, y: np.ndarray, tolerance: float) -> dict[str, Any] | None:
    """max |x - y| and the relative L2 change, when an element differs by more than
    ``tolerance`` times the largest |value| (a shape mismatch diverges, with no numbers)."""
    import numpy as np

    if x.shape != y.shape:
        return {"max_abs_diff": None, "rel_l2": None, "shapes": [list(x.shape), list(y.shape)]}
    d = np.abs(x - y)
    scale = max(float(np.abs(x).max(initial=0.0)), float(np.abs(y).max(initial=0.0)))
    if not np.any(~(d <= tolerance * scale)):  # a NaN in one is a divergence
        return None
    return {"max_abs_diff": float(d[np.isfinite(d)].max(initial=0.0)), "rel_l2": _rel(float(np.square(d).sum()), float(np.square(x).sum()))}
