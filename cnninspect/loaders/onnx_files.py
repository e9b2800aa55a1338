"""ONNX models: a protobuf ``ModelProto`` whose graph lists nodes, initializers (stored
tensors) and typed inputs and outputs.

Parsing is cnninspect's own protobuf reader (``onnx_proto``: no ``onnx`` package, weights
left in the file until read); sniffing reads the protobuf's first fields. Each node becomes a layer
whose call refers to the nodes producing its inputs; graph inputs that are not
initializers become ``input`` layers (a symbolic dim such as ``batch`` is None, its name
kept in the layer's ``dim_params`` attr and a note); initializers become weights of the
node that consumes them, with roles by operator and position, read only when asked.

Shapes are inferred by cnninspect's own rules, not ``onnx.shape_inference``. Small
integer tensors (shapes, axes, pads) carry values: stored and constant ones are folded
when the file is opened, and values computed from shapes (``Shape``, ``Gather``,
``Concat`` ... before a ``Reshape``, as PyTorch exports ``x.view(x.size(0), -1)``) are
folded while shapes are inferred, through the call's ``value`` and ``fold`` hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..core.dtypes import from_onnx
from ..core.layouts import Layout, layout_for
from ..core.model import Call, Graph, Layer, Model, Operand, Source, TensorRef, Weight
from ..errors import BrokenFile, UnrecognisedFile
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
    **dict.fromkeys("Identity Cast".split(), "identity"),
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
}


def sniff(head: bytes, path: Path) -> bool:
    """ONNX has no magic: field 1 (ir_version, a small varint) then a ModelProto field."""
    if len(head) < 4 or head[0] != 0x08:
        return False
    try:
        version, pos = onnx_proto.read_varint(head, 1, len(head))
    except onnx_proto.Malformed:
        return False
    return 1 <= version <= 64 and pos < len(head) and head[pos] in MODEL_TAGS


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
            if value.name in self.inits:
                continue
            shape, symbols = _declared_shape(value)
            layer = Layer(value.name, "Input", "input", attrs={"shape": shape}, calls=[Call()])
            if symbols:
                layer.attrs["dim_params"] = symbols
                layer.notes.append("symbolic dims: " + ", ".join(f"dim {i} is '{s}'" for i, s in symbols.items()))
            self.producer[value.name] = (value.name, 0)
            layers.append(layer)
        return layers

    # -- nodes --------------------------------------------------------------------------

    def _node(self, node: Any, name: str) -> Layer:
        attrs = {a.name: onnx_proto.get_attribute_value(a) for a in node.attribute}
        refs: list[TensorRef] = []
        operands: list[Operand] = []
        consts: dict[int, Any] = {}
        known = self._known if node.op_type in VALUE_OPERANDS or node.op_type.startswith("Reduce") else lambda name: None
        for pos, tensor in enumerate(node.input):
            if not tensor:
                operands.append(Operand("none"))
            elif tensor in self.producer:
                operands.append(Operand("tensor", len(refs), value=known(tensor)))
                refs.append(TensorRef(*self._ref(tensor)))
            elif tensor in self.inits:
                consts[pos] = self.inits[tensor]
                operands.append(Operand("const", shape=tuple(self.inits[tensor].dims), value=known(tensor)))
            else:  # a name nothing produces: the engine reports it as missing
                operands.append(Operand("tensor", len(refs)))
                refs.append(TensorRef(tensor))
        for index, out in enumerate(node.output):
            if out:
                self.producer[out] = (name, index)
                self.op_of[out] = node.op_type
        layer = Layer(name, node.op_type, "unknown", config={k: _plain(v) for k, v in attrs.items()})
        layer.calls = [Call(list(refs), operands=operands, evaluate=self._evaluator(node, attrs))]
        folded = self._fold_now(node, attrs)
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
        if folded:
            value = self.values[node.output[0]]
            layer.op, a["shape"] = "constant", list(value.shape)
            if op != "Constant":
                layer.notes.append(f"a constant: folded to {value.reshape(-1)[:8].tolist()}" + (" ..." if value.size > 8 else ""))
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
            layer.op = "pad"
            flat = attrs.get("pads") or attrs.get("paddings")  # before opset 11: [begins..., ends...]
            a["pads"] = None if flat is None else [(flat[i], flat[i + len(flat) // 2]) for i in range(len(flat) // 2)]
        elif op in ("Resize", "Upsample"):
            layer.op, a["interpolates"] = "resize", True
            if "scales" in attrs:
                a["scales"] = list(attrs["scales"])
            elif op == "Upsample" or self.opset < 11:
                a["scales_at"] = 1
            else:
                a.update(scales_at=2, sizes_at=3)
        else:
            a["reason"] = f"no shape rule for ONNX {op}"

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
        op, ndim = layer.op, len(tensor.dims)
        roles = OPERAND_ROLES["Upsample"] if node.op_type == "Resize" and self.opset < 11 else OPERAND_ROLES.get(node.op_type, {})
        role = roles.get(pos, f"input_{pos}")
        layout: Layout | None = None
        if node.op_type in ("Conv", "ConvTranspose", "Gemm") and pos in (1, 2):
            role = "weight" if pos == 1 else "bias"
            if node.op_type == "Gemm" and pos == 1 and ndim == 2:
                trans = any(a.name == "transB" and a.i for a in node.attribute)
                layout = Layout("torch", ("out", "in")) if trans else Layout("keras", ("in", "out"))
        elif node.op_type == "MatMul" and pos == 1 and op == "dense":
            role, layout = "weight", Layout("keras", ("in", "out"))
        elif node.op_type == "BatchNormalization" and 1 <= pos <= 4:
            role = BN_ROLES[pos - 1]
        elif node.op_type == "Add" and ndim == 1 and self._after_matmul(node):
            role = "bias"
        elif node.op_type == "PRelu" and pos == 1:
            role = "alpha"
        if layout is None:
            layout = layout_for("torch", op, role, ndim)
        try:
            dtype = from_onnx(tensor.data_type).name
        except KeyError:
            raise BrokenFile(f"ONNX tensor '{tensor.name}' has unknown data type {tensor.data_type}") from None
        if any(d < 0 for d in tensor.dims):
            raise BrokenFile(f"ONNX tensor '{tensor.name}' has a negative dimension in {list(tensor.dims)}")
        operand = role.startswith("input_") or role in roles.values()
        trainable = role not in ("moving_mean", "moving_variance") and not operand
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

    def _fold_now(self, node: Any, attrs: dict) -> bool:
        """Fold a node whose inputs are all known values when the file is opened."""
        if node.op_type not in FOLDABLE or node.op_type == "Shape":
            return False
        args = [self._known(i) if i else None for i in node.input]
        if any(v is None for v, i in zip(args, node.input) if i):
            return False
        out = _evaluate(node.op_type, attrs, args, self.opset)
        if out is None or out.size > MAX_FOLD:
            return False
        self.values[node.output[0]] = out
        return True

    def _evaluator(self, node: Any, attrs: dict) -> Callable[[list[Any]], Any] | None:
        """How inference folds the node from its operands' values (lists, or arrays), when
        NumPy can compute it; None for the rest."""
        if node.op_type not in FOLDABLE or node.op_type == "Shape":
            return None
        op, opset = node.op_type, self.opset

        def evaluate(values: list[Any]) -> Any:
            import numpy as np

            args = [v if v is None or isinstance(v, np.ndarray) else np.array(v, dtype=object if None in v else np.int64) for v in values]
            return _evaluate(op, attrs, args, opset)

        return evaluate


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
    "Add Sub Mul Div".split()
)
# Operators whose shape or folded value depends on their operands' values (shapes, axes,
# pads, scales): the small stored ones are read when the file is opened; a convolution's
# weights are not.
VALUE_OPERANDS = FOLDABLE | BROADCAST_OPS | {"Pad", "Resize", "Upsample", "Split"}


def _evaluate(op: str, attrs: dict, args: list, opset: int) -> Any:
    """The value of one node over known values, or None when it cannot be computed."""
    import numpy as np

    try:
        return _compute(op, attrs, args, opset, np)
    except Exception:  # noqa: BLE001 - a value we cannot fold is just unknown
        return None


def _compute(op: str, attrs: dict, args: list, opset: int, np: Any) -> Any:
    x = args[0] if args else None
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
        out = x
        for a in sorted(int(a) % (x.ndim + len(axes)) for a in axes):
            out = np.expand_dims(out, a)
        return out
    if op == "Identity":
        return x
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = args[0], args[1]
        if a.dtype == object or b.dtype == object:
            return None
        if op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return (a / b).astype(a.dtype)  # ONNX integer division truncates
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    return None
