"""Keras architecture configs (Keras 1, Keras 2, tf.keras, Keras 3) into the neutral graph.

The config is plain JSON: nothing in it is ever executed. A Lambda's marshalled bytecode
stays an opaque string; its shape is unknown unless the config states ``output_shape``.
Weights are attached by the file loaders, not here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from ..core.arithmetic import spatial_axes
from ..core.model import Call, Constant, Graph, Layer, TensorRef
from ..errors import BrokenFile

CONTAINERS = frozenset({"Sequential", "Model", "Functional"})

# Keras 1 class names, as their Keras 2 equivalents.
KERAS1_CLASSES = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "AtrousConvolution1D": "Conv1D",
    "AtrousConvolution2D": "Conv2D",
    "Deconvolution2D": "Conv2DTranspose",
    "Deconvolution3D": "Conv3DTranspose",
    "SeparableConvolution2D": "SeparableConv2D",
    "TimeDistributedDense": "Dense",
}

ACTIVATION_LAYERS = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "ELU": "elu",
    "Softmax": "softmax",
    "ThresholdedReLU": "thresholded_relu",
    "ParametricSoftplus": "parametric_softplus",  # Keras 1, with learned alphas and betas
    "SReLU": "srelu",  # Keras 1, with learned thresholds and slopes
}

# Shape-preserving layers, by neutral kind.
SAME_SHAPE_LAYERS = {
    "BatchNormalization": "batch_norm",
    **dict.fromkeys(("LayerNormalization", "GroupNormalization", "UnitNormalization", "Normalization"), "normalization"),
    **dict.fromkeys(("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                     "GaussianDropout", "AlphaDropout"), "dropout"),
    **dict.fromkeys(("ActivityRegularization", "Masking", "Identity", "InputSpec", "RandomFlip", "RandomRotation",
                     "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness"), "identity"),
    "TorchModuleWrapper": "wrapped_code",
}  # fmt: skip

ELEMENTWISE_LAYERS = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})

# Keras 3 records tensor operations that are not layers (``x + 3.0``) with the module
# of the op; tf.keras records them as TFOpLambda with the TensorFlow function's name.
ELEMENTWISE_OPS = frozenset(
    {
        "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "FloorDivide", "Power", "Mod",
        "Maximum", "Minimum", "Negative", "Abs", "Absolute", "Exp", "Log", "Sqrt", "Square",
        "Sign", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "Cast", "Clip", "Where", "Equal",
        "Greater", "Less", "LogicalAnd", "LogicalOr", "Round", "Floor", "Ceil", "Reciprocal",
    }
)  # fmt: skip
KERAS3_OPERATIONS = ELEMENTWISE_OPS | {"Reshape", "GetItem"}
TF_ELEMENTWISE = re.compile(
    r"^(__operators__\.(add|sub|mul|truediv|floordiv|pow|neg|abs|radd|rsub|rmul)|"
    r"math\.(add|subtract|multiply|divide|truediv|maximum|minimum|pow|exp|log|sqrt|square|"
    r"abs|negative|sigmoid|tanh|sign)|nn\.(relu|relu6|sigmoid|softmax|elu|selu|gelu|silu|swish)|"
    r"cast|clip_by_value|identity|stop_gradient)$"
)


def parse_config(raw: str | bytes) -> Any:
    """A config's JSON, with Keras 3's ``{"class_name": "__tuple__", "items": [...]}``
    as plain lists (decoded on the fly, and only when the text holds any)."""
    marked = b"__tuple__" in raw if isinstance(raw, bytes) else "__tuple__" in raw
    if not marked:
        return json.loads(raw)
    return json.loads(raw, object_hook=_untuple)


def _untuple(obj: dict) -> Any:
    if obj.get("class_name") == "__tuple__" and "items" in obj:
        return obj["items"]
    return obj


def build_graph(model_config: Any) -> tuple[str, Graph]:
    """Translate a whole ``model_config`` into ``(model name, graph)``."""
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise BrokenFile(f"model_config is not a Keras model config ({_describe_json(model_config)})")
    cfg = model_config
    if cfg["class_name"] not in CONTAINERS:
        raise BrokenFile(f"model_config describes a {cfg['class_name']}, not a Sequential or functional model")
    layer = _container(cfg)
    assert layer.graph is not None
    return layer.name, layer.graph


def _describe_json(obj: Any) -> str:
    if isinstance(obj, dict):
        return "a JSON object with keys " + ", ".join(list(obj)[:8])
    return f"a JSON {type(obj).__name__}"


def _name(item: dict) -> str:
    name = item.get("name") or (item.get("config") or {}).get("name")
    if not isinstance(name, str):
        raise BrokenFile(f"a {item.get('class_name', 'layer')} in model_config has no name")
    return name


def _container(item: dict) -> Layer:
    cfg = item.get("config")
    cls = item["class_name"]
    if isinstance(cfg, list) or (cls == "Sequential" and isinstance(cfg, dict)):
        name = (cfg.get("name") if isinstance(cfg, dict) else None) or item.get("name") or "sequential"
        graph = _sequential(cfg if isinstance(cfg, list) else cfg.get("layers", []), cfg if isinstance(cfg, dict) else {})
    elif isinstance(cfg, dict) and "layers" in cfg:
        name = cfg.get("name") or item.get("name") or "model"
        graph = _functional(cfg)
    else:
        raise BrokenFile(f"the {cls} config has no layers")
    config = {k: v for k, v in cfg.items() if k != "layers"} if isinstance(cfg, dict) else {}
    return Layer(name=name, type=cls, op="model", config=config, graph=graph)


def _layer(item: dict, ordering: tuple[str, str] | None = None) -> Layer:
    """One layer entry; ``ordering`` is the Keras 1 dim_ordering it inherits (and the
    layer that records it) when its class saved none (see ``_inherited_orderings``)."""
    if not isinstance(item, dict) or "class_name" not in item:
        raise BrokenFile(f"a layer entry in model_config is {_describe_json(item)}, not a layer config")
    if item["class_name"] in CONTAINERS:
        layer = _container(item)
        layer.name = item.get("name") or layer.name
        return layer
    cfg = item.get("config") or {}
    if not isinstance(cfg, dict):
        raise BrokenFile(f"the config of a {item['class_name']} is {_describe_json(cfg)}")
    cls = item["class_name"]
    stated = {**cfg, "dim_ordering": ordering[0]} if ordering else cfg
    op, attrs = translate(cls, stated, module=item.get("module") or "")
    layer = Layer(name=_name(item), type=cls, op=op, attrs=attrs, config=cfg)
    if ordering:
        layer.notes.append(
            f"Keras 1 saved no dim_ordering for {cls}: it took the model's, '{ordering[0]}' (as '{ordering[1]}' records)"
        )
    return layer


# Keras 1 (1.0 to 1.2.2) saved no dim_ordering for these: each took the image ordering of
# the session that built the model, which the model's convolutions and pooling record.
UNRECORDED_ORDERING = frozenset(f"{kind}{r}D" for kind in ("ZeroPadding", "Cropping", "UpSampling") for r in (2, 3))


def _inherited_orderings(items: list, producers: Callable[[int], list[int]]) -> dict[int, tuple[str, str]]:
    """For each layer whose class saved no ordering: the ordering of the nearest layer
    upstream that records one (``producers(i)``: the entries feeding entry ``i``), else of
    the first layer of the model that does; with the name of that layer."""
    stated: dict[int, tuple[str, str]] = {}
    for i, item in enumerate(items):
        cfg = item.get("config") if isinstance(item, dict) else None
        if isinstance(cfg, dict) and cfg.get("dim_ordering") in ("th", "tf"):
            stated[i] = (cfg["dim_ordering"], str(cfg.get("name") or item.get("name")))
    if not stated:
        return {}
    out: dict[int, tuple[str, str]] = {}
    for i, item in enumerate(items):
        cfg = item.get("config") if isinstance(item, dict) else None
        if item.get("class_name") not in UNRECORDED_ORDERING or not isinstance(cfg, dict):
            continue
        if "dim_ordering" in cfg or "data_format" in cfg:
            continue
        found, frontier, seen = None, producers(i), set()
        while frontier and found is None:
            j = frontier.pop(0)
            if j in seen:
                continue
            seen.add(j)
            found = stated.get(j) or out.get(j)
            frontier.extend(producers(j))
        out[i] = found or next(iter(stated.values()))
    return out


def _sequential(items: list, cfg: dict) -> Graph:
    first = items[0] if items else {}
    if first.get("class_name") == "Merge" and isinstance((first.get("config") or {}).get("layers"), list):
        return _merged_branches(first, items[1:])
    orderings = _inherited_orderings(items, lambda i: [i - 1] if i > 0 else [])
    layers = [_layer(x, orderings.get(i)) for i, x in enumerate(items)]
    if not layers or layers[0].op != "input":
        shape = _input_shape(first.get("config") or {}, first.get("class_name", "")) or _input_shape(
            {"batch_input_shape": cfg.get("build_input_shape")}
        )
        name = f"{layers[0].name}_input" if layers else "input"
        layers.insert(0, Layer(name=name, type="InputLayer", op="input", attrs={"shape": shape}, synthetic=True))
    layers[0].calls = [Call()]
    _chain(layers)
    return Graph(layers, [TensorRef(layers[0].name)], [TensorRef(layers[-1].name)])


def _merged_branches(merge_item: dict, rest_items: list) -> Graph:
    """Keras 1: a Sequential whose first layer merges Sequential branches. Keras 1
    listed the branches' layers in line (its ``flattened_layers``), and so do we."""
    branches = [g for b in merge_item["config"]["layers"] if (g := _container(b).graph) is not None]
    merge = _layer(merge_item)
    merge.calls = [Call(list(ref for g in branches for ref in g.outputs))]
    tail = [merge, *(_layer(x) for x in rest_items)]
    _chain(tail)
    layers = [layer for g in branches for layer in g.layers] + tail
    return Graph(layers, [ref for g in branches for ref in g.inputs], [TensorRef(tail[-1].name)])


def _chain(layers: list[Layer]) -> None:
    for prev, layer in zip(layers, layers[1:]):
        layer.calls = [Call([TensorRef(prev.name)])]


def _functional(cfg: dict) -> Graph:
    items = cfg.get("layers") or []
    index = {item.get("name") or (item.get("config") or {}).get("name"): i for i, item in enumerate(items) if isinstance(item, dict)}
    orderings = _inherited_orderings(items, lambda i: [index[n] for n in _names_in(items[i].get("inbound_nodes")) if n in index])
    layers = [_layer(x, orderings.get(i)) for i, x in enumerate(items)]
    names = {layer.name for layer in layers}

    def ref(value: Any) -> TensorRef | None:
        # [name, node, tensor(, kwargs)] in Keras 1/2, keras_history in Keras 3.
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            value = (value.get("config") or {}).get("keras_history")
        if (
            isinstance(value, list)
            and len(value) >= 3
            and isinstance(value[0], str)
            and value[0] in names
            and isinstance(value[1], int)
            and isinstance(value[2], int)
        ):
            return TensorRef(value[0], value[1], value[2])
        return None

    def has_tensor(value: Any) -> bool:
        if ref(value) is not None:
            return True
        if isinstance(value, list):
            return any(has_tensor(v) for v in value)
        return isinstance(value, dict) and any(has_tensor(v) for v in value.values())

    def add(call: Call, value: Any) -> None:
        tensor = ref(value)
        if tensor is not None:
            call.inputs.append(tensor)
            shape = (value.get("config") or {}).get("shape") if isinstance(value, dict) else None
            call.recorded_shapes.append(tuple(shape) if isinstance(shape, list) else None)
            if isinstance(value, list) and len(value) > 3 and isinstance(value[3], dict):
                add_kwargs(call, value[3])  # Keras 2: [name, node, tensor, kwargs]
        elif isinstance(value, list) and has_tensor(value):
            for v in value:
                add(call, v)
        else:
            call.inputs.append(Constant(constant(value)))

    def add_kwargs(call: Call, kwargs: dict) -> None:
        for key, value in kwargs.items():
            if key in ("name", "training", "mask"):
                continue
            if has_tensor(value):
                add(call, value)
            else:
                call.kwargs[key] = constant(value)

    def node_call(node: Any) -> Call:
        call = Call()
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            for arg in node.get("args") or []:
                add(call, arg)
            add_kwargs(call, node.get("kwargs") or {})
        elif isinstance(node, list):  # Keras 1/2: one [name, node, tensor(, kwargs)] per input
            for entry in [node] if ref(node) else node:  # tf.keras op layers: a bare entry
                add(call, entry)
        return call

    for item, layer in zip(items, layers):
        layer.calls = [node_call(n) for n in item.get("inbound_nodes") or []]
        if layer.op == "input" and not layer.calls:
            layer.calls = [Call()]

    inputs = [r for r in (ref(x) for x in _ref_list(cfg.get("input_layers"))) if r]
    outputs = [r for r in (ref(x) for x in _ref_list(cfg.get("output_layers"))) if r]
    keras3 = any(isinstance(node, dict) for item in items for node in item.get("inbound_nodes") or [])
    outputs = _renumber_nodes(layers, outputs, keras3)
    return Graph(layers, inputs, outputs)


def _names_in(value: Any) -> list[str]:
    """Every string in a Keras 1/2 ``inbound_nodes`` entry: the names of the layers it reads."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in _names_in(v)]
    return []


def constant(value: Any) -> Any:
    """A non-tensor call argument as plain Python: slices (``x[:, 1:]``) become ``slice``."""
    if isinstance(value, dict):
        if value.get("class_name") == "__slice__":
            value = value.get("config") or {}
        if set(value) <= {"start", "stop", "step"} and value:
            return slice(value.get("start"), value.get("stop"), value.get("step"))
        return {k: constant(v) for k, v in value.items()}
    if isinstance(value, list):
        return [constant(v) for v in value]
    return value


def _ref_list(value: Any) -> list:
    """``input_layers`` may be one ``[name, 0, 0]`` or a list of them."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    return value if isinstance(value, list) else []


def _renumber_nodes(layers: list[Layer], outputs: list[TensorRef], keras3: bool) -> list[TensorRef]:
    """Turn node indices into call indices, in the calls and in ``outputs`` (returned).

    A nested model has a node 0 of its own when its graph starts with an InputLayer, and
    writers disagree on whether to count it: tf.keras numbers such a container's calls
    from 1 everywhere; Keras 2.2 from 0 everywhere; Keras 3 from 0 in ``inbound_nodes``
    but from 1 in ``output_layers`` for a functional container (not a Sequential). The
    references tell which: a call numbered as high as the number of calls means the
    numbering skipped the first.
    """
    containers = {layer.name: layer for layer in layers if layer.graph is not None}

    def offsets(refs: list[TensorRef]) -> dict[str, int]:
        highest: dict[str, int] = {}
        for r in refs:
            if r.layer in containers:
                highest[r.layer] = max(highest.get(r.layer, 0), r.call)
        return {name: 1 for name, top in highest.items() if top >= max(len(containers[name].calls), 1)}

    inbound = offsets([x for layer in layers for call in layer.calls for x in call.tensor_inputs])
    if keras3:
        outbound = {name: 1 for name, layer in containers.items() if layer.type != "Sequential"}
    else:
        outbound = {**offsets(outputs), **inbound}

    def shift(ref: TensorRef, table: dict[str, int]) -> TensorRef:
        offset = table.get(ref.layer, 0)
        return TensorRef(ref.layer, max(ref.call - offset, 0), ref.index) if offset else ref

    for layer in layers:
        for call in layer.calls:
            call.inputs = [shift(x, inbound) if isinstance(x, TensorRef) else x for x in call.inputs]
    return [shift(r, outbound) for r in outputs]


# ---------------------------------------------------------------------------------------
# One layer's config into (op, attrs)


def _get(cfg: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in cfg and cfg[key] is not None:
            return cfg[key]
    return default


def _ints(value: Any, rank: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    return tuple(int(v) for v in value)


def _channels_last(cfg: dict) -> bool:
    return not (cfg.get("data_format") == "channels_first" or cfg.get("dim_ordering") == "th")


def _rank(cls: str) -> int:
    m = re.search(r"([123])D", cls)
    return int(m.group(1)) if m else 2


def _activation(value: Any) -> str | None:
    if isinstance(value, dict):  # a serialized activation
        inner = value.get("config")
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
        return value.get("class_name")
    return value if isinstance(value, str) else None


def _input_shape(cfg: dict, cls: str = "InputLayer") -> list | None:
    """The input shape a layer config states (with the batch dim), if any."""
    shape = _get(cfg, "batch_shape", "batch_input_shape")
    if isinstance(shape, list):
        return shape
    if isinstance(cfg.get("input_shape"), list):
        return [None, *cfg["input_shape"]]
    if cls == "Embedding":  # Keras 1: input_dim is the vocabulary, input_length the time axis
        return [None, cfg.get("input_length")]
    if isinstance(cfg.get("input_dim"), int):
        return [None, cfg["input_dim"]]
    return None


def _pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    """Padding/cropping amounts as one ``(before, after)`` pair per spatial axis."""
    if isinstance(value, dict):  # Keras 1: {"top_pad": .., "bottom_pad": .., ...}
        keys = [("top_pad", "bottom_pad"), ("left_pad", "right_pad")]
        return [(int(value.get(a, 0)), int(value.get(b, 0))) for a, b in keys[:rank]]
    if isinstance(value, int):
        return [(value, value)] * rank
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(value[0], value[1])]
    if len(value) == 2 * rank and all(isinstance(v, int) for v in value):  # Keras 1 4-tuple
        return [(value[2 * i], value[2 * i + 1]) for i in range(rank)]
    return [(v, v) if isinstance(v, int) else (int(v[0]), int(v[1])) for v in value]


def _padding(cfg: dict) -> str:
    return str(_get(cfg, "padding", "border_mode", default="valid")).lower()


def _conv(cls: str, cfg: dict) -> dict:
    rank = _rank(cls)
    if "kernel_size" in cfg:
        kernel = _ints(cfg["kernel_size"], rank)
    elif rank == 1:
        kernel = (int(cfg["filter_length"]),)
    elif rank == 2:
        kernel = (int(cfg["nb_row"]), int(cfg["nb_col"]))
    else:
        kernel = (int(cfg["kernel_dim1"]), int(cfg["kernel_dim2"]), int(cfg["kernel_dim3"]))
    strides = _get(cfg, "strides", "subsample", "subsample_length", default=1)
    dilation = _get(cfg, "dilation_rate", "atrous_rate", default=1)
    filters = _get(cfg, "filters", "nb_filter")
    attrs = {
        "rank": rank,
        "filters": int(filters) if filters is not None else None,
        "kernel_size": kernel,
        "strides": _ints(strides, rank),
        "dilation": _ints(dilation, rank),
        "padding": _padding(cfg),
        "groups": int(cfg.get("groups") or 1),
        "channels_last": _channels_last(cfg),
        "use_bias": bool(_get(cfg, "use_bias", "bias", default=True)),
        "activation": _activation(cfg.get("activation")),
    }
    if "depth_multiplier" in cfg:
        attrs["depth_multiplier"] = int(cfg["depth_multiplier"])
    if cfg.get("output_padding") is not None:
        attrs["output_padding"] = _ints(cfg["output_padding"], rank)
    if isinstance(cfg.get("output_shape"), list):  # Keras 1 Deconvolution2D
        attrs["output_shape"] = cfg["output_shape"]
    return attrs


def _pool(cls: str, cfg: dict) -> dict:
    rank = _rank(cls)
    size = _ints(_get(cfg, "pool_size", "pool_length", default=2), rank)
    strides = _get(cfg, "strides", "stride")
    return {
        "rank": rank,
        "kernel_size": size,
        "strides": _ints(strides, rank) if strides is not None else size,
        "padding": _padding(cfg),
        "channels_last": _channels_last(cfg),
        "kind": "max" if "Max" in cls else "average",
    }


def _global_pool(cls: str, cfg: dict) -> dict:
    return {"rank": _rank(cls), "keepdims": bool(cfg.get("keepdims")), "channels_last": _channels_last(cfg)}


def _dense(cls: str, cfg: dict) -> dict:
    return {
        "units": int(_get(cfg, "units", "output_dim")),
        "activation": _activation(cfg.get("activation")),
        "use_bias": bool(_get(cfg, "use_bias", "bias", default=True)),
    }


def _spatial(cls: str, cfg: dict, **amounts: Any) -> dict:
    """Padding, cropping and upsampling: an amount per spatial axis."""
    return {"rank": _rank(cls), "channels_last": _channels_last(cfg), **amounts}


def _zero_padding(cls: str, cfg: dict) -> dict:
    rank, last = _rank(cls), _channels_last(cfg)
    return {"rank": rank, "channels_last": last, "pads": _pairs(cfg.get("padding", 1), rank), "axes": spatial_axes(rank, last)}


def _resizing(cls: str, cfg: dict) -> dict:
    """Resizing and CenterCrop: to a stated height and width (the field ends there)."""
    size = [int(cfg["height"]), int(cfg["width"])]
    return {"sizes": [None, *size, None] if _channels_last(cfg) else [None, None, *size], "channels_last": _channels_last(cfg)}


def _rnn_attrs(cls: str, cfg: dict) -> dict:
    return {
        "units": int(_get(cfg, "units", "output_dim")),
        "return_sequences": bool(cfg.get("return_sequences")),
        "return_state": bool(cfg.get("return_state")),
        "states": 2 if "LSTM" in cls else 1,
        "activation": _activation(cfg.get("activation")),
    }


def _inner(cfg: dict) -> dict:
    item = cfg.get("layer") or {}
    cls = KERAS1_CLASSES.get(item.get("class_name", ""), item.get("class_name", "?"))
    op, attrs = translate(cls, item.get("config") or {}, module=item.get("module") or "")
    return {"type": item.get("class_name", "?"), "op": op, "attrs": attrs}


# Keras 1 Merge modes as the Keras 2 layers that replaced them name their kind.
MERGE_MODES = {"sum": "add", "mul": "multiply", "ave": "average", "max": "maximum"}


def _merge(cfg: dict) -> tuple[str, dict]:
    """Keras 1 ``Merge(mode=...)``."""
    mode = cfg.get("mode", "sum")
    if mode == "concat":
        return "concat", {"axis": int(cfg.get("concat_axis", -1))}
    if mode in ("dot", "cos"):  # cos: the dot product of the L2-normalised inputs
        return "dot", {"axes": cfg.get("dot_axes", -1), "normalize": mode == "cos"}
    if mode in MERGE_MODES:
        return "elementwise", {"kind": MERGE_MODES[mode]}
    return "unknown", {"reason": f"Merge mode {mode!r} is a Python function, never run"}


def _lambda(cfg: dict) -> dict:
    shape = cfg.get("output_shape")
    raw = cfg.get("output_shape_type", "raw") == "raw"
    if raw and isinstance(shape, list) and all(isinstance(d, int) or d is None for d in shape):
        return {"output_shape": shape}
    return {}


def is_operation(cfg: dict) -> bool:
    """Keras 3 records tensor operations (``x + 3.0``) like layers, but their config
    lacks what every layer's has."""
    return "trainable" not in cfg and "dtype" not in cfg


def _op_layer(cls: str, cfg: dict) -> tuple[str, dict]:
    """Keras 3 tensor operations recorded in a functional config."""
    if cls in ELEMENTWISE_OPS:
        return "elementwise", {"kind": cls.lower()}
    if cls == "Reshape" and isinstance(cfg.get("newshape"), list):
        return "reshape", {"target_shape": cfg["newshape"], "batch_included": True, "allowzero": 1}
    if cls == "GetItem":
        return "getitem", {}
    return "unknown", {"reason": f"no shape rule for the operation {cls}"}


def _tf_op(cfg: dict) -> tuple[str, dict]:
    """tf.keras TFOpLambda: a TensorFlow function applied to Keras tensors."""
    fn = str(cfg.get("function", "?"))
    if TF_ELEMENTWISE.match(fn):
        return "elementwise", {"kind": fn}
    if fn == "reshape":
        return "reshape", {"batch_included": True, "allowzero": 1}
    return "unknown", {"reason": f"no shape rule for the TensorFlow function {fn}"}


Translator = Callable[[str, dict], Any]

# Class name -> (op, attributes from the config). An op of None means the translator
# returns (op, attrs) itself, because the op depends on the config (Merge's mode, ...).
TRANSLATORS: dict[str, tuple[str | None, Translator]] = {}


def _register(names: list[str], op: str | None, fn: Translator) -> None:
    for name in names:
        TRANSLATORS[name] = (op, fn)


_register(["InputLayer"], "input", lambda c, cfg: {"shape": _input_shape(cfg)})
_register(["Conv1D", "Conv2D", "Conv3D"], "conv", _conv)
_register(["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"], "conv_transpose", _conv)
_register(["DepthwiseConv1D", "DepthwiseConv2D"], "depthwise_conv", lambda c, cfg: {**_conv(c, cfg), "filters": None})
_register(["SeparableConv1D", "SeparableConv2D"], "separable_conv", _conv)
_register([f"{k}Pooling{r}D" for k in ("Max", "Average") for r in (1, 2, 3)] + ["AvgPool2D", "MaxPool2D"], "pool", _pool)
_register([f"Global{k}Pooling{r}D" for k in ("Max", "Average") for r in (1, 2, 3)], "global_pool", _global_pool)
_register(["Dense"], "dense", _dense)
_register(["Flatten"], "flatten", lambda c, cfg: {})
_register(["Reshape"], "reshape", lambda c, cfg: {"target_shape": list(cfg["target_shape"])})
_register(["Permute"], "transpose", lambda c, cfg: {"perm": [0, *cfg["dims"]]})
_register(["RepeatVector"], "repeat", lambda c, cfg: {"n": int(cfg["n"])})
_register([f"ZeroPadding{r}D" for r in (1, 2, 3)], "pad", _zero_padding)
_register([f"Cropping{r}D" for r in (1, 2, 3)], "crop", lambda c, cfg: _spatial(c, cfg, cropping=_pairs(cfg.get("cropping", 0), _rank(c))))
_register([f"UpSampling{r}D" for r in (1, 2, 3)], "upsample", lambda c, cfg: _spatial(c, cfg, size=_ints(_get(cfg, "size", "length", default=2), _rank(c))))
_register(["Resizing", "CenterCrop"], "resize", _resizing)
_register(["Embedding"], "embedding", lambda c, cfg: {"output_dim": int(cfg["output_dim"]), "input_dim": cfg.get("input_dim")})
_register(["SimpleRNN", "LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU"], "rnn", _rnn_attrs)
_register(["Bidirectional"], "bidirectional", lambda c, cfg: {"layer": _inner(cfg)["attrs"], "merge_mode": cfg.get("merge_mode", "concat"), "wrapped": _inner(cfg)})
_register(["TimeDistributed"], "time_distributed", lambda c, cfg: {"layer": _inner(cfg)})
_register(sorted(ELEMENTWISE_LAYERS), "elementwise", lambda c, cfg: {"kind": c.lower()})
_register(["Concatenate"], "concat", lambda c, cfg: {"axis": int(cfg.get("axis", -1))})
_register(["Dot"], "dot", lambda c, cfg: {"axes": cfg.get("axes", -1), "normalize": bool(cfg.get("normalize"))})
_register(["Lambda"], "lambda", lambda c, cfg: _lambda(cfg))
_register(["SlicingOpLambda"], "getitem", lambda c, cfg: {})
for _cls, _op in sorted(SAME_SHAPE_LAYERS.items()):
    _register([_cls], _op, lambda c, cfg: {"activation": _activation(cfg.get("activation"))})
_register(["Activation"], "activation", lambda c, cfg: dict.fromkeys(("activation", "function"), _activation(cfg.get("activation"))))
_register(["Rescaling"], "activation", lambda c, cfg: {"activation": _activation(cfg.get("activation")), "function": "rescale"})
_register(sorted(ACTIVATION_LAYERS), "activation", lambda c, cfg: dict.fromkeys(("activation", "function"), ACTIVATION_LAYERS[c]))
_register(["Merge"], None, lambda c, cfg: _merge(cfg))
_register(["LocallyConnected1D", "LocallyConnected2D"], "local", lambda c, cfg: {**_conv(c, cfg), "implementation": int(cfg.get("implementation") or 1)})
_register(["RandomCrop"], "resize", _resizing)  # at inference: the central height x width

_register(["TFOpLambda"], None, lambda c, cfg: _tf_op(cfg))


def op_of_class(cls: str) -> str:
    """The neutral op of a class, without a config (for layers known only by name)."""
    return (TRANSLATORS.get(KERAS1_CLASSES.get(cls, cls)) or ("unknown", None))[0] or "unknown"


def translate(cls: str, cfg: dict, module: str = "") -> tuple[str, dict]:
    """The neutral op and attributes of one layer config; unknown classes become
    op ``unknown`` with a reason, never an error."""
    if module.startswith("keras.src.ops") or (is_operation(cfg) and cls in KERAS3_OPERATIONS):
        op, attrs = _op_layer(cls, cfg)
        return op, {**attrs, "operation": True}
    canonical = KERAS1_CLASSES.get(cls, cls)
    if canonical not in TRANSLATORS:
        return "unknown", {"reason": f"no shape rule for {cls} (a custom or unsupported layer)"}
    kind, fn = TRANSLATORS[canonical]
    try:
        op, attrs = fn(canonical, cfg) if kind is None else (kind, fn(canonical, cfg))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return "unknown", {"reason": f"its {cls} config is incomplete or malformed ({type(exc).__name__}: {exc})"}
    if cls != canonical:
        attrs["keras1"] = True
    return op, attrs
