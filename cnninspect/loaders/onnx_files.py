"""ONNX models: a protobuf ``ModelProto`` whose graph lists nodes, initializers (stored
tensors) and typed inputs and outputs.

Parsing is cnninspect's own protobuf reader (``onnx_proto``: no ``onnx`` package, weights
left in the file until read); sniffing reads the protobuf's first fields. Each node becomes a layer
whose call refers to the nodes producing its inputs; graph inputs that are not
initializers become ``input`` layers (a symbolic dim such as ``batch`` is None, its name
kept in the layer's ``dim_params`` attr and a note); initializers become weights of the
node that consumes them, with roles by operator and position, read only when asked.
A weight with no initializer whose shape the file fixes all the same is a weight too (a
``_StandIn``): a graph input declared with a full shape and used only at weight positions
(conformance graphs, older exporters; fed at run time, no values), or a tensor the graph
makes from stored values (``ConstantOfShape`` of a stored shape vector, as "light" models
ship, or a large ``Constant``), whose values are made when read.

Shapes are inferred by cnninspect's own rules, not ``onnx.shape_inference``. Small
tensors (shapes, axes, pads) carry values: stored and constant ones, and what
``Constant``, ``ConstantOfShape``, ``Shape`` of a fixed shape, ``Gather``, ``Slice``,
``Concat``, ``Cast``, ``Range`` ... make of them, are folded when the file is opened;
values computed from the inputs' shapes (``Shape``, ``Gather``, ``Concat`` ... before a
``Reshape``, as PyTorch exports ``x.view(x.size(0), -1)``) are folded while shapes are
inferred, through the call's operands and ``evaluate``. Nothing larger than ``MAX_FOLD``
elements is ever made. The shapes the file declares (``value_info``, graph outputs) are a
last resort: an operator with no rule takes them, labelled as recorded by the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..core.dtypes import from_onnx
from ..core.layouts import Layout, layout_for
from ..core.model import Call, Graph, Layer, Model, Operand, Source, TensorRef, Weight
from ..errors import BrokenFile, SelectionError, UnrecognisedFile
from . import onnx_proto

# ModelProto fields that may follow ir_version (field 1): their tag bytes.
MODEL_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA}
MAX_FOLD = 4096  # elements: larger constants are never folded
# Shape-keeping operators, by neutral kind (an activation's function is the operator's
# name in lower case).
SAME_SHAPE_OPS = {
    **dict.fromkeys("Relu LeakyRelu PRelu Sigmoid Tanh Softmax LogSoftmax Clip Elu Selu HardSigmoid HardSwish Erf Sqrt "
                    "Exp Log Neg Abs Floor Ceil Not Softplus Softsign Gelu Mish Reciprocal ThresholdedRelu Celu Round "
                    "Sign Sin Cos".split(), "activation"),
    "BatchNormalization": "batch_norm",
    **dict.fromkeys("InstanceNormalization LayerNormalization LRN".split(), "normalization"),
    "Dropout": "dropout",
    "Identity": "identity",
}  # fmt: skip
BROADCAST_OPS = frozenset("Add Sub Mul Div Pow Max Min Sum Mean Equal Less Greater Where And Or Xor Mod".split())
BN_ROLES = ("gamma", "beta", "moving_mean", "moving_variance")
# Stored operands that are not parameters, by the name the operator schema gives them.
OPERAND_ROLES = {
    "Reshape": {1: "shape"},
    "Pad": {1: "pads", 2: "constant_value", 3: "axes"},
    "Resize": {1: "roi", 2: "scales", 3: "sizes"},
    "Upsample": {1: "scales"},
    "Slice": {1: "starts", 2: "ends", 3: "axes", 4: "steps"},
    "Squeeze": {1: "axes"},
    "Unsqueeze": {1: "axes"},
    "Gather": {1: "indices"},
    "Clip": {1: "min", 2: "max"},
    "Expand": {1: "shape"},
    "Tile": {1: "repeats"},
    "ConstantOfShape": {0: "shape"},
    "Range": {0: "start", 1: "limit", 2: "delta"},
    "TopK": {1: "k"},
    "CumSum": {1: "axis"},
}
# Operand positions that hold a layer's weights. A graph input declared with a full shape
# and used only at such positions (conformance graphs, older exporters) is a weight fed at
# run time; a tensor the graph makes from stored values (a ConstantOfShape of a stored
# shape, a large Constant) at one of them is a weight made at run time.
WEIGHT_POSITIONS = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "BatchNormalization": (1, 2, 3, 4),
    "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2), "PRelu": (1,), "MatMul": (1,), "Einsum": (1,),
}  # fmt: skip
# Where a graph input may be data as well (the conformance MatMul feeds both operands).
DATA_POSITIONS = frozenset({"MatMul", "Einsum"})
NORM_ROLES = ("gamma", "beta")
# Operators that only rearrange, by neutral kind.
REARRANGE_OPS = {"DepthToSpace": "depth_to_space", "SpaceToDepth": "space_to_depth", "Tile": "tile", "Expand": "expand"}


def sniff(head: bytes, path: Path) -> bool:
    """ONNX has no magic: field 1 (ir_version, a small varint) then a ModelProto field."""
    if len(head) < 4 or head[0] != 0x08:
        return False
    try:
        version, pos = onnx_proto.read_varint(head, 1, len(head))
    except onnx_proto.Malformed:
        return False
    return 1 <= version <= 64 and pos < len(head) and head[pos] in MODEL_TAGS


@dataclass
class _StandIn:
    """A weight the file holds no initializer for but whose shape it fixes: a graph input
    with a declared shape (fed at run time, no values), or a tensor the graph makes from
    stored values (``values`` computes them)."""

    name: str
    dims: tuple[int, ...]
    dtype: str
    how: str
    values: Callable[[], Any] | None = None


def open_model(path: Path, options: Any = None) -> Model:
    proto = onnx_proto.load(path)  # damage, and invalid UTF-8 in names, raise BrokenFile
    if not proto.HasField("graph"):  # another protobuf that starts like one (a TF saved_model.pb)
        raise UnrecognisedFile("a protobuf that starts like ONNX, but holds no ONNX graph")
    return _Builder(proto, path).model()


class _Builder:
    def __init__(self, proto: Any, path: Path) -> None:
        self.proto, self.path, self.graph = proto, path, proto.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self.values: dict[str, Any] = {}  # name -> numpy value of small folded tensors
        self.producer: dict[str, tuple[str, int]] = {}
        self.op_of: dict[str, str] = {}  # tensor name -> op_type of the node producing it
        self.notes: list[str] = []
        self.opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=1)
        # Shapes the file declares: value_info, graph outputs and inputs (a last resort).
        self.declared = {v.name: _declared_shape(v)[0] for v in (*self.graph.value_info, *self.graph.output, *self.graph.input)}
        self.stand_ins: dict[str, _StandIn] = self._fed()  # weights with no initializer, by tensor name

    def model(self) -> Model:
        layers = self._inputs()
        names = {x.name for x in layers}
        for i, node in enumerate(self.graph.node):
            name = node.name or f"{node.op_type}_{i}"
            while name in names:
                name += "_"
            names.add(name)
            layers.append(self._node(node, name))
        outputs = [TensorRef(*self._ref(o.name)) for o in self.graph.output if o.name in self.producer]
        listed = sum(1 for i in self.graph.input if i.name in self.inits)
        if listed:
            self.notes.append(f"{listed} initializer(s) are also listed as graph inputs (older exporters did): read as weights")
        fed = [i.name for i in self.graph.input if i.name in self.stand_ins]
        if fed:
            self.notes.append(f"{len(fed)} graph input(s) are weights with declared shapes and no stored values (fed at "
                              f"run time, as conformance graphs and older exporters declare them): {', '.join(fed[:8])}"
                              + (" ..." if len(fed) > 8 else ""))
        opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in self.proto.opset_import) or "none recorded"
        self.notes.insert(0, f"ONNX IR version {self.proto.ir_version}, opsets: {opsets}")
        proto = self.proto
        return Model(
            name=self.graph.name or self.path.stem,
            graph=Graph(layers, [TensorRef(x.name) for x in layers if x.op == "input"], outputs),
            source=Source(str(self.path), "onnx", proto.producer_name or None, proto.producer_version or None),
            notes=self.notes,
        )

    def _ref(self, name: str) -> tuple[str, int, int]:
        layer, index = self.producer[name]
        return layer, 0, index

    # -- inputs -------------------------------------------------------------------------

    def _inputs(self) -> list[Layer]:
        layers = []
        for value in self.graph.input:
            if value.name in self.inits or value.name in self.stand_ins:
                continue
            shape, symbols = _declared_shape(value)
            layer = Layer(value.name, "Input", "input", attrs={"shape": shape}, calls=[Call()])
            if symbols:
                layer.attrs["dim_params"] = symbols
                layer.notes.append("symbolic dims: " + ", ".join(f"dim {i} is '{s}'" for i, s in symbols.items()))
            self.producer[value.name] = (value.name, 0)
            layers.append(layer)
        return layers

    def _fed(self) -> dict[str, _StandIn]:
        """The graph inputs that are weights: a full declared shape, no initializer, and used
        only at weight positions (never where data may go)."""
        uses: dict[str, list[tuple[str, int]]] = {}
        for node in self.graph.node:
            for pos, name in enumerate(node.input):
                uses.setdefault(name, []).append((node.op_type, pos))
        out = {}
        for value in self.graph.input:
            shape, found = self.declared.get(value.name), uses.get(value.name)
            if value.name in self.inits or shape is None or None in shape or not found:
                continue
            if all(op not in DATA_POSITIONS and pos in WEIGHT_POSITIONS.get(op, ()) for op, pos in found):
                elem = value.type.tensor_type.elem_type
                dtype = from_onnx(elem).name if elem else "float32"
                how = f"is the graph input '{value.name}' with the declared shape {tuple(shape)}: fed at run time, no values in the file"
                out[value.name] = _StandIn(value.name, tuple(shape), dtype, how)
        return out

    # -- nodes --------------------------------------------------------------------------

    def _node(self, node: Any, name: str) -> Layer:
        attrs = {a.name: onnx_proto.get_attribute_value(a) for a in node.attribute}
        refs: list[TensorRef] = []
        operands: list[Operand] = []
        consts: dict[int, Any] = {}
        recorded: list[Any] = []  # the declared shapes of the tensor inputs
        known = self._known if node.op_type in VALUE_OPERANDS or node.op_type.startswith("Reduce") else lambda name: None
        for pos, tensor in enumerate(node.input):
            stand_in = self.stand_ins.get(tensor) if pos in WEIGHT_POSITIONS.get(node.op_type, ()) else None
            if not tensor:
                operands.append(Operand("none"))
            elif stand_in is not None:
                consts[pos] = stand_in
                operands.append(Operand("const", shape=stand_in.dims))
            elif tensor in self.producer:
                operands.append(Operand("tensor", len(refs), value=known(tensor)))
                refs.append(TensorRef(*self._ref(tensor)))
                recorded.append(self.declared.get(tensor))
            elif tensor in self.inits:
                consts[pos] = self.inits[tensor]
                operands.append(Operand("const", shape=tuple(self.inits[tensor].dims), value=known(tensor)))
            else:  # a name nothing produces: the engine reports it as missing
                operands.append(Operand("tensor", len(refs)))
                refs.append(TensorRef(tensor))
                recorded.append(None)
        for index, out in enumerate(node.output):
            if out:
                self.producer[out] = (name, index)
                self.op_of[out] = node.op_type
        layer = Layer(name, node.op_type, "unknown", config={k: _plain(v) for k, v in attrs.items()})
        layer.calls = [Call(list(refs), recorded_shapes=[None if s is None else tuple(s) for s in recorded],
                            operands=operands, evaluate=self._evaluator(node, attrs))]
        folded = self._fold_now(node, attrs, name)
        try:
            self._describe(layer, node, attrs, consts, folded)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # damaged or foreign attributes
            layer.op, layer.attrs = "unknown", {"reason": f"its attributes cannot be used ({type(exc).__name__}: {exc})"}
        layer.weights = [self._weight(layer, node, pos, t) for pos, t in consts.items()]
        return layer

    def _describe(self, layer: Layer, node: Any, attrs: dict, consts: dict[int, Any], folded: bool) -> None:
        """The neutral op and attrs of one node."""
        op = node.op_type
        a = layer.attrs
        made = self.stand_ins.get(node.output[0]) if node.output else None
        if folded:
            value = self.values[node.output[0]]
            layer.op, a["shape"] = "constant", list(value.shape)
            if op != "Constant":
                layer.notes.append(f"a constant: folded to {value.reshape(-1)[:8].tolist()}" + (" ..." if value.size > 8 else ""))
        elif made is not None:  # too large to fold, its shape fixed by the file
            layer.op, a["shape"] = "constant", list(made.dims)
            layer.notes.append(f"a constant of shape {made.dims}, too large to fold")
        elif op in ("Conv", "ConvTranspose"):
            self._conv(layer, attrs, consts)
        elif op in ("MaxPool", "AveragePool", "LpPool"):
            rank = len(attrs["kernel_shape"])
            a.update(rank=rank, kernel_size=list(attrs["kernel_shape"]), strides=list(attrs.get("strides") or [1] * rank),
                     dilation=list(attrs.get("dilations") or [1] * rank), channels_last=False)
            a["padding"] = _padding(attrs, rank)
            layer.op, a["ceil_mode"] = "pool", bool(attrs.get("ceil_mode")) and isinstance(a["padding"], list)
        elif op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"):
            layer.op = "global_pool"
            a.update(keepdims=True, channels_last=False)
        elif op == "Gemm":
            w = consts.get(1)
            if w is None or attrs.get("transA"):
                layer.op, a["reason"] = "unknown", "a Gemm whose B is computed (or with transA) has no shape rule"
            else:
                a["units"] = w.dims[0] if attrs.get("transB") else w.dims[1]
                layer.op = "dense"
        elif op == "MatMul":
            w = consts.get(1)
            if w is not None and len(w.dims) == 2:
                layer.op, a["units"] = "dense", w.dims[1]
            else:
                layer.op = "matmul"
        elif op in SAME_SHAPE_OPS:
            layer.op = SAME_SHAPE_OPS[op]
            if layer.op == "activation":
                a["function"] = op.lower()
        elif op in BROADCAST_OPS:
            layer.op = "elementwise"
        elif op == "Concat":
            layer.op, a["axis"] = "concat", attrs.get("axis", 1 if self.opset < 4 else 0)
        elif op == "Reshape":
            layer.op = "reshape"
            a.update(target_shape=attrs.get("shape"), batch_included=True, allowzero=attrs.get("allowzero", 0))
        elif op == "Flatten":
            layer.op, a["axis"] = "flatten", attrs.get("axis", 1)
        elif op == "Transpose":
            layer.op, a["perm"] = "transpose", attrs.get("perm")
        elif op in ("Squeeze", "Unsqueeze"):
            layer.op, a["axes"] = op.lower(), attrs.get("axes")
        elif op == "Shape":
            layer.op = "shape_of"
            a.update(start=attrs.get("start", 0), end=attrs.get("end"))
        elif op == "Gather":
            layer.op, a["axis"] = "gather", attrs.get("axis", 0)
        elif op.startswith("Reduce"):
            layer.op = "reduce"
            a.update(axes=attrs.get("axes"), keepdims=attrs.get("keepdims", 1), noop_with_empty_axes=attrs.get("noop_with_empty_axes", 0))
        elif op == "Split":
            layer.op = "split"
            a.update(axis=attrs.get("axis", 0), split=attrs.get("split"), outputs=attrs.get("num_outputs") or len(node.output))
        elif op == "Slice":
            layer.op = "slice_by"
            a.update({k: attrs[k] for k in ("starts", "ends", "axes") if k in attrs})
        elif op == "Pad":
            layer.op, a["mode"] = "pad", _text(attrs.get("mode", b"constant"))  # every mode pads alike
            flat = attrs.get("pads") or attrs.get("paddings")  # before opset 11: [begins..., ends...]
            a["pads"] = None if flat is None else [(flat[i], flat[i + len(flat) // 2]) for i in range(len(flat) // 2)]
        elif op in ("Resize", "Upsample"):
            layer.op, a["interpolates"] = "resize", True
            if "scales" in attrs:
                a["scales"] = list(attrs["scales"])
            elif "height_scale" in attrs:  # Upsample-1
                a["scales"] = [1.0, 1.0, attrs["height_scale"], attrs["width_scale"]]
            elif op == "Upsample" or self.opset < 11:
                a["scales_at"] = 1
            else:
                a.update(scales_at=2, sizes_at=3)
        elif op in REARRANGE_OPS:
            layer.op = REARRANGE_OPS[op]
            if "blocksize" in attrs:
                a["blocksize"], a["mode"] = attrs["blocksize"], _text(attrs.get("mode", b"DCR"))
            if "repeats" in attrs:  # Tile-1 took tiles and axis: not read
                a["repeats"] = list(attrs["repeats"])
        elif op == "Range":
            layer.op = "range"
        elif op == "ConstantOfShape":
            fill = onnx_proto.to_array(attrs["value"]).reshape(-1) if "value" in attrs else None
            layer.op = "constant_of_shape"
            if fill is not None and fill.size:
                a.update(value=fill[0].item(), dtype=str(fill.dtype))
        elif op == "Cast":
            layer.op, a["to"] = "cast", from_onnx(attrs["to"]).name
        elif op == "Einsum":
            self._einsum(layer, attrs, consts)
        else:
            self._recorded(layer, node)

    def _recorded(self, layer: Layer, node: Any) -> None:
        """An operator with no rule: the output shapes the file declares (value_info, graph
        outputs) when it declares every one, else unknown."""
        declared = [self.declared.get(o) for o in node.output if o]
        if declared and all(d is not None for d in declared):
            layer.op, layer.attrs["output_shapes"] = "recorded", declared
            layer.notes.append(f"no shape rule for ONNX {node.op_type}: output shapes as recorded by the file (value_info)")
        else:
            layer.attrs["reason"] = f"no shape rule for ONNX {node.op_type}"

    def _einsum(self, layer: Layer, attrs: dict, consts: dict[int, Any]) -> None:
        """An Einsum that is a matrix product: against a stored 2-D weight a dense layer,
        of two tensors a matmul."""
        equation = _text(attrs["equation"])
        form, w = _matmul_form(equation), consts.get(1)
        if form is not None and w is not None and len(w.dims) == 2 and 0 not in consts:
            layer.op, layer.attrs["units"] = "dense", w.dims[0] if form == "bt" else w.dims[1]
        elif form == "ab" and not consts:
            layer.op = "matmul"
        else:
            layer.attrs["reason"] = f"an Einsum whose equation '{equation}' is not a matrix product has no shape rule"

    def _conv(self, layer: Layer, attrs: dict, consts: dict[int, Any]) -> None:
        a, w = layer.attrs, consts.get(1)
        kernel = list(attrs.get("kernel_shape") or (w.dims[2:] if w is not None else []))
        if w is None or not kernel:
            layer.op, a["reason"] = "unknown", f"a {layer.type} whose weight is computed at run time has no shape rule"
            return
        rank, group = len(kernel), attrs.get("group", 1)
        a.update(rank=rank, kernel_size=kernel, strides=list(attrs.get("strides") or [1] * rank), groups=group,
                 dilation=list(attrs.get("dilations") or [1] * rank), channels_last=False, padding=_padding(attrs, rank))
        if layer.type == "Conv":
            layer.op, a["filters"] = "conv", w.dims[0]
            return
        layer.op, a["filters"] = "conv_transpose", w.dims[1] * group
        same = a["padding"] == "same"
        a["output_padding"] = None if same else list(attrs.get("output_padding") or [0] * rank)
        if attrs.get("output_shape"):
            a["output_shape"] = [None, a["filters"], *attrs["output_shape"][-rank:]]

    def _weight(self, layer: Layer, node: Any, pos: int, tensor: Any) -> Weight:
        """A stored tensor (or a stand-in for one) as a weight of ``layer``, its role from
        the operator's schema and its position."""
        op, ndim = layer.op, len(tensor.dims)
        roles = OPERAND_ROLES["Upsample"] if node.op_type == "Resize" and self.opset < 11 else OPERAND_ROLES.get(node.op_type, {})
        role = roles.get(pos, f"input_{pos}")
        layout: Layout | None = None
        if node.op_type in ("Conv", "ConvTranspose", "Gemm") and pos in (1, 2):
            role = "weight" if pos == 1 else "bias"
            if node.op_type == "Gemm" and pos == 1 and ndim == 2:
                trans = any(a.name == "transB" and a.i for a in node.attribute)
                layout = Layout("torch", ("out", "in")) if trans else Layout("keras", ("in", "out"))
        elif node.op_type in ("MatMul", "Einsum") and pos == 1 and op == "dense":
            transposed = node.op_type == "Einsum" and _matmul_form(_text(layer.config["equation"])) == "bt"
            role, layout = "weight", Layout("torch", ("out", "in")) if transposed else Layout("keras", ("in", "out"))
        elif node.op_type == "BatchNormalization" and 1 <= pos <= 4:
            role = BN_ROLES[pos - 1]
        elif node.op_type in ("InstanceNormalization", "LayerNormalization") and pos in (1, 2):
            role = NORM_ROLES[pos - 1]
        elif node.op_type == "Add" and ndim == 1 and self._after_matmul(node):
            role = "bias"
        elif node.op_type == "PRelu" and pos == 1:
            role = "alpha"
        if layout is None:
            layout = layout_for("torch", op, role, ndim)
        if any(d < 0 for d in tensor.dims):
            raise BrokenFile(f"ONNX tensor '{tensor.name}' has a negative dimension in {list(tensor.dims)}")
        operand = role.startswith("input_") or role in roles.values()
        trainable = role not in ("moving_mean", "moving_variance") and not operand
        if isinstance(tensor, _StandIn):
            layer.notes.append(f"{role} '{tensor.name}' {tensor.how}")
            return Weight(tensor.name, role, tensor.dims, tensor.dtype, layout, trainable, _made_reader(tensor))
        try:
            dtype = from_onnx(tensor.data_type).name
        except KeyError:
            raise BrokenFile(f"ONNX tensor '{tensor.name}' has unknown data type {tensor.data_type}") from None
        return Weight(tensor.name, role, tuple(tensor.dims), dtype, layout, trainable, self._reader(tensor))

    def _after_matmul(self, node: Any) -> bool:
        return any(self.op_of.get(i) == "MatMul" for i in node.input)

    def _reader(self, tensor: Any) -> Callable[[tuple], Any]:
        path = self.path

        def read(index: tuple) -> Any:
            import numpy as np

            try:
                array = onnx_proto.to_array(tensor, path.parent)  # big raw and external data memory-mapped
            except BrokenFile as exc:
                raise BrokenFile(f"'{tensor.name}' cannot be read ({exc.message[:160]})") from None
            return np.array(array[index]) if index else array

        return read

    # -- values -------------------------------------------------------------------------

    def _known(self, name: str) -> Any:
        """The value of a small stored tensor, a Constant or a folded node, else None."""
        if name in self.values:
            return self.values[name]
        tensor = self.inits.get(name)
        if tensor is None or _numel(tensor.dims) > MAX_FOLD or tensor.data_location == 1:
            return None
        try:
            self.values[name] = onnx_proto.to_array(tensor)
        except BrokenFile:
            return None
        return self.values[name]

    def _fold_now(self, node: Any, attrs: dict, name: str) -> bool:
        """Fold a node whose inputs are all known values when the file is opened. What it
        makes may stand in for a weight: so may a ConstantOfShape or a Constant too large
        to fold, whose shape the file fixes all the same."""
        op, out = node.op_type, node.output[0] if node.output else ""
        if op not in FOLDABLE or not out:
            return False
        args = [self._known(i) if i else None for i in node.input]
        if op == "Shape":
            shape = self._fixed_shape(node.input[0]) if node.input else None
            args = [None if shape is None else _int_vector(shape)]
        if any(v is None for v, i in zip(args, node.input) if i):
            return False
        value = _evaluate(op, attrs, args, self.opset)
        if value is None:
            self._made_large(node, attrs, args, name)
            return False
        self.values[out] = value
        how = f"is made at run time by {op} '{name}' from values stored in the file (folded when the file was read)"
        if op == "ConstantOfShape":
            how = f"is made at run time by ConstantOfShape '{name}' from the stored shape {list(value.shape)}: every element {value.reshape(-1)[:1].tolist()[0] if value.size else '-'}"
        self.stand_ins[out] = _StandIn(out, tuple(value.shape), str(value.dtype), how, lambda: value)
        return True

    def _made_large(self, node: Any, attrs: dict, args: list, name: str) -> None:
        """A stand-in for a ConstantOfShape or Constant too large to fold."""
        op, out = node.op_type, node.output[0]
        if op == "ConstantOfShape" and args and args[0] is not None and args[0].dtype.kind in "iu":
            dims = tuple(int(d) for d in args[0].reshape(-1))
            fill = attrs.get("value")
            dtype = from_onnx(fill.data_type).name if fill is not None else "float32"
            first = onnx_proto.to_array(fill).reshape(-1)[:1].tolist() if fill is not None else [0.0]

            def values() -> Any:
                import numpy as np

                return np.full(dims, first[0] if first else 0, dtype=from_onnx(fill.data_type).name if fill is not None else np.float32)

            how = f"is made at run time by ConstantOfShape '{name}' from the stored shape {list(dims)}: every element {first[0] if first else 0}"
            self.stand_ins[out] = _StandIn(out, dims, dtype, how, values)
        elif op == "Constant" and "value" in attrs:
            tensor, folder = attrs["value"], self.path.parent
            how = f"is the value of the Constant '{name}', stored in the node"
            self.stand_ins[out] = _StandIn(out, tuple(tensor.dims), from_onnx(tensor.data_type).name, how,
                                           lambda: onnx_proto.to_array(tensor, folder))

    def _fixed_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of a tensor the file fixes when it is read: stored, folded or made."""
        if name in self.inits:
            return tuple(self.inits[name].dims)
        made = self.stand_ins.get(name)
        return made.dims if made is not None else None

    def _evaluator(self, node: Any, attrs: dict) -> Callable[[list[Any]], Any] | None:
        """How inference folds the node from its operands' values (lists, or arrays), when
        NumPy can compute it; None for the rest."""
        if node.op_type not in FOLDABLE or node.op_type == "Shape":
            return None
        op, opset = node.op_type, self.opset

        def evaluate(values: list[Any]) -> Any:
            import numpy as np

            args = [v if v is None or isinstance(v, np.ndarray) else _int_vector(v) if isinstance(v, list) else np.asarray(v)
                    for v in values]
            return _evaluate(op, attrs, args, opset)

        return evaluate


def _made_reader(stand_in: _StandIn) -> Callable[[tuple], Any]:
    """Reads a stand-in's values where the file determines them; a weight fed at run time
    has none to read, which is said."""
    values = stand_in.values

    def read(index: tuple) -> Any:
        import numpy as np

        if values is None:
            raise SelectionError(f"weight '{stand_in.name}' {stand_in.how}")
        array = values()
        return np.array(array[index]) if index else array

    return read


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _matmul_form(equation: str) -> str | None:
    """``ab`` when an Einsum equation is a matrix product A @ B (``bij,bjk->bik``, batch
    axes of B a suffix of A's, ``...`` allowed in front), ``bt`` when it is A @ B.T
    (``ij,kj->ik``), else None."""
    terms = equation.replace(" ", "").replace("...", "E").split("->")
    if len(terms) != 2 or terms[0].count(",") != 1:
        return None
    (a, b), out = terms[0].split(","), terms[1]
    if len(a) < 2 or len(b) < 2 or len(set(a)) != len(a) or len(set(b)) != len(b):
        return None
    batch_ok = a[:-2].endswith(b[:-2])
    if batch_ok and a[-1] == b[-2] and out == a[:-1] + b[-1] and a[-1] not in out:
        return "ab"
    if batch_ok and a[-1] == b[-1] and out == a[:-1] + b[-2] and a[-1] not in out:
        return "bt"
    return None


def _int_vector(values: Sequence[Any]) -> Any:
    """A shape-like list as an int64 array (object when a dim is unknown)."""
    import numpy as np

    return np.array(values, dtype=object if None in values else np.int64)


def _numel(dims: Any) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _plain(value: Any) -> Any:
    """An attribute as JSON-friendly data (tensors and graphs by description only)."""
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return type(value).__name__


def _declared_shape(value: Any) -> tuple[list | None, dict[int, str]]:
    t = value.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None, {}
    shape: list = []
    symbols: dict[int, str] = {}
    for i, d in enumerate(t.tensor_type.shape.dim):
        if d.HasField("dim_value"):
            shape.append(d.dim_value)
        else:
            shape.append(None)
            if d.dim_param:
                symbols[i] = d.dim_param
    return shape, symbols


def _padding(attrs: dict, rank: int) -> Any:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return "same"
    if auto == "VALID":
        return "valid"
    pads = list(attrs.get("pads") or [0] * (2 * rank))
    return [(pads[i], pads[i + rank]) for i in range(rank)]


# ---------------------------------------------------------------------------------------
# Folding small constant tensors with NumPy

FOLDABLE = frozenset(
    "Constant ConstantOfShape Concat Reshape Slice Transpose Cast Gather Unsqueeze Squeeze Identity Shape "
    "Add Sub Mul Div Range Tile Expand".split()
)
# Operators whose shape or folded value depends on their operands' values (shapes, axes,
# pads, scales): the small stored ones are read when the file is opened; a convolution's
# weights are not.
VALUE_OPERANDS = FOLDABLE | BROADCAST_OPS | {"Pad", "Resize", "Upsample", "Split"}


def _evaluate(op: str, attrs: dict, args: list, opset: int) -> Any:
    """The value of one node over known values, or None when it cannot be computed or
    would hold more than ``MAX_FOLD`` elements (its size is checked before it is made)."""
    import numpy as np

    try:
        if _output_size(op, attrs, args, np) > MAX_FOLD:
            return None
        out = _compute(op, attrs, args, opset, np)
    except Exception:  # noqa: BLE001 - a value we cannot fold is just unknown
        return None
    return None if out is None or out.size > MAX_FOLD else out


def _output_size(op: str, attrs: dict, args: list, np: Any) -> int:
    """The elements of the value a node would make, for the ops that can make many from few."""
    if op == "ConstantOfShape":
        return _numel(int(d) for d in args[0].reshape(-1))
    if op == "Range":
        start, limit, delta = (float(a) for a in args[:3])
        return max(int(np.ceil((limit - start) / delta)), 0)
    if op == "Tile":
        return args[0].size * _numel(int(r) for r in args[1].reshape(-1))
    if op == "Expand":
        return _numel(np.broadcast_shapes(args[0].shape, tuple(int(d) for d in args[1].reshape(-1))))
    return 0


def _compute(op: str, attrs: dict, args: list, opset: int, np: Any) -> Any:
    x: Any = args[0] if args else None
    if op == "Constant":
        if "value" in attrs:
            return onnx_proto.to_array(attrs["value"])
        for key in ("value_int", "value_ints", "value_float", "value_floats"):
            if key in attrs:
                return np.array(attrs[key], dtype=np.int64 if "int" in key else np.float32)
        return None
    if op == "ConstantOfShape":
        fill = onnx_proto.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
        return np.full([int(d) for d in x], fill.reshape(-1)[0], dtype=fill.dtype)
    if op == "Concat":
        return np.concatenate([np.atleast_1d(a) for a in args if a is not None], axis=attrs.get("axis", 0))
    if op == "Reshape":
        target = [int(t) for t in (attrs["shape"] if "shape" in attrs else args[1])]
        target = [x.shape[i] if t == 0 else t for i, t in enumerate(target)]
        return x.reshape(target)
    if op == "Slice":
        if opset < 10:
            starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
        else:
            starts, ends = args[1], args[2]
            axes = args[3] if len(args) > 3 and args[3] is not None else None
            steps = args[4] if len(args) > 4 and args[4] is not None else None
        index = [slice(None)] * x.ndim
        for j, start in enumerate(starts):
            axis = int(axes[j]) if axes is not None else j
            index[axis] = slice(int(start), int(ends[j]), int(steps[j]) if steps is not None else 1)
        return x[tuple(index)]
    if op == "Transpose":
        return np.transpose(x, attrs.get("perm"))
    if op == "Cast":
        return x.astype(onnx_proto.np_dtype(attrs["to"]))
    if op == "Gather":
        return np.asarray(np.take(x, args[1].astype(np.int64), axis=attrs.get("axis", 0)), dtype=x.dtype)
    if op in ("Unsqueeze", "Squeeze"):
        axes = attrs.get("axes") if "axes" in attrs else (args[1].tolist() if len(args) > 1 and args[1] is not None else None)
        if op == "Squeeze":
            return np.squeeze(x, axis=tuple(axes) if axes is not None else None)
        if axes is None:
            raise ValueError("Unsqueeze without axes")
        out = x
        for a in sorted(int(a) % (x.ndim + len(axes)) for a in axes):
            out = np.expand_dims(out, a)
        return out
    if op == "Identity":
        return x
    if op == "Range":
        return np.arange(args[0], args[1], args[2]).astype(np.result_type(args[0], args[1], args[2]))
    if op == "Tile":
        return np.tile(x, [int(r) for r in args[1]])
    if op == "Expand":
        return np.array(np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(int(d) for d in args[1]))))
    if op == "Shape":
        start, end = attrs.get("start", 0), attrs.get("end")
        return x[start:end]
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = args[0], args[1]
        if a.dtype == object or b.dtype == object:
            return None
        if op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return (a / b).astype(a.dtype)  # ONNX integer division truncates
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    return None
