"""The neutral model: layers, their calls, and lazily read weights.

Loaders translate a file into these types; everything else (shape inference, reports,
rendering) works on them alone and never learns which library wrote the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union

from . import dtypes

if TYPE_CHECKING:
    import numpy as np

    from .infer import Inference
    from .layouts import Layout

Dim = Union[int, None]
Shape = tuple[Dim, ...]
# Roles of stored operands that are not parameters (a shape, pads, slice bounds, indices,
# axes), by the names ONNX's and TFLite's operator schemas give them.
OPERAND_ROLES = frozenset(
    "shape pads constant_value axes roi scales sizes starts ends steps indices min max repeats start limit delta k "
    "begin end strides size paddings constant_values perm axis multiples block_shape crops size_splits dims values".split()
)

@dataclass(frozen=True)
class TensorRef:
    """One output tensor of one call of a layer in the same graph."""

    layer: str
    call: int = 0
    index: int = 0


@dataclass(frozen=True)
class Constant:
    """A non-tensor argument of a call, such as the 3.0 in ``x + 3.0``."""

    value: Any


@dataclass(frozen=True)
class Operand:
    """One operand of a call in a graph of tensor operations (ONNX), by position: a
    ``tensor`` (the call's ``index``-th tensor input), a stored ``const`` of ``shape``, or
    ``none`` (omitted). ``value`` is its value when the file holds it (a small stored
    tensor, or a node folded when the file was read)."""

    kind: str
    index: int = 0
    shape: Union[Shape, None] = None
    value: Any = None


@dataclass
class Call:
    """One application of a layer to its inputs (a shared layer has several)."""

    inputs: list[Union[TensorRef, Constant]] = field(default_factory=list)
    # Non-tensor keyword arguments (``slice_spec``, ``shape`` of a reshape, ...).
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Shapes of the tensor inputs as the writing library recorded them, where it did.
    recorded_shapes: list[Union[Shape, None]] = field(default_factory=list)
    # Graphs of tensor operations: every operand by position (None: the tensor inputs are
    # the operands), and how the format computes the call's output from its operands'
    # values, which inference folds when every one is known (shape arithmetic).
    operands: Union[list[Operand], None] = None
    evaluate: Union[Callable[[list[Any]], Any], None] = field(default=None, repr=False, compare=False)

    @property
    def tensor_inputs(self) -> list[TensorRef]:
        return [x for x in self.inputs if isinstance(x, TensorRef)]


@dataclass
class Weight:
    """A stored tensor, described from metadata; its values are read on demand."""

    name: str  # full name or path inside the file
    # The library's word for its role, as stored and shown (kernel, weight, gamma,
    # running_var, ...); ``Layer.weight`` finds it by its neutral role too.
    role: str
    shape: tuple[int, ...]
    dtype: str  # a core.dtypes name: dtypes.lookup(dtype) gives its size, kind and how reads widen it
    layout: Layout
    trainable: bool = True
    reader: Callable[[tuple], np.ndarray] | None = field(default=None, repr=False)
    # Quantized integers: {"scale", "zero_point", ...}; real value = scale * (q - zero_point).
    quantization: dict[str, Any] | None = None
    # A PyTorch buffer (running_mean, running_var, num_batches_tracked): stored state, not
    # a parameter, so not counted in params (``parameters()``, torchinfo); Keras counts its
    # non-trainable weights (moving_mean) as params, so its loaders leave this False.
    buffer: bool = False

    @property
    def axes(self) -> tuple[str, ...]:
        return self.layout.axes

    @property
    def parameter(self) -> bool:
        """A parameter of its layer, not a stored operand (a shape, pads, indices ...)."""
        return self.role not in OPERAND_ROLES

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return dtypes.nbytes(self.dtype, self.size)

    def read(self, index: tuple = ()) -> np.ndarray:
        """Read ``self[index]`` from the file: only the requested slice is loaded."""
        if self.reader is None:
            raise ValueError(f"weight {self.name} has no data in this file")
        return self.reader(index)

    def axis(self, name: str) -> int:
        return self.axes.index(name)


@dataclass
class Layer:
    """A layer (or a nested container) with a neutral operation kind.

    ``type`` is the class name as the file records it; ``op`` is the neutral kind the
    shape rules and reports work with; ``attrs`` holds the normalised attributes
    (kernel_size, strides, padding, dilation, groups, channels_last, ...).
    """

    name: str
    type: str
    op: str
    attrs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    graph: Graph | None = None  # set for nested containers
    synthetic: bool = False  # not a layer of the file (an implicit model input)
    notes: list[str] = field(default_factory=list)  # the loader's
    # The last shape inference of its graph (``infer_shapes``), which it only reads.
    inferred: Inference | None = field(default=None, repr=False, compare=False)
    _weights: list[Weight] = field(default_factory=list, repr=False)
    # Loaders may defer reading a layer's weight metadata until it is first asked for:
    # ``filters`` then touches one layer's part of the file, not every layer's.
    weights_loader: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def weights(self) -> list[Weight]:
        if self.weights_loader is not None:
            load, self.weights_loader = self.weights_loader, None
            load()
        return self._weights

    @weights.setter
    def weights(self, value: list[Weight]) -> None:
        self._weights = list(value)

    @property
    def output_shapes(self) -> list[list[Union[Shape, None]]]:
        """Per call, the shape of each output tensor, as the last inference found them."""
        return self.inferred.output_shapes(self) if self.inferred is not None else []

    @property
    def unknown_reason(self) -> str | None:
        """Why the last inference could not find its shape, if it could not."""
        return self.inferred.reason(self) if self.inferred is not None else None

    @property
    def activation(self) -> str | None:
        return self.attrs.get("activation")

    def weight(self, role: str) -> Weight | None:
        """The weight of a neutral ``role`` (``kernel``, ``bias``, ``gamma``,
        ``moving_variance``, ...): stored under that name, or under the library's word for
        it, which the op's spec maps (PyTorch's ``weight`` of a conv is its ``kernel``);
        failing that, a weight stored under the word ``role`` itself."""
        from .ops import SPECS

        spec = SPECS.get(self.op)
        weights = self.weights
        if spec is not None and spec.aliases:
            aliases = spec.aliases
            found = next((w for w in weights if aliases.get(w.role, w.role) == role), None)
            if found is not None:
                return found
        return next((w for w in weights if w.role == role), None)

    @property
    def params(self) -> int:
        own = sum(w.size for w in self.weights if w.parameter and not w.buffer)
        return own + (self.graph.params if self.graph else 0)


@dataclass
class Graph:
    """Layers in file order, with the tensors that enter and leave."""

    layers: list[Layer]
    inputs: list[TensorRef]
    outputs: list[TensorRef]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)


@dataclass(frozen=True)
class Row:
    """A layer in the flattened, depth-first listing that commands index into."""

    index: int
    layer: Layer
    path: str
    depth: int


@dataclass
class Source:
    path: str
    format: str  # e.g. "keras-h5"
    library: str | None = None  # e.g. "keras"
    library_version: str | None = None  # the writing library's version, where the file records it
    backend: str | None = None
    # The file format's own version, labelled ("archive format 3"): not the library's version.
    format_version: str | None = None


@dataclass
class Model:
    name: str
    graph: Graph
    source: Source
    notes: list[str] = field(default_factory=list)
    # False for weights-only files: layers are known from their weights, not their calls.
    architecture: bool = True
    # False for an architecture file alone (to_json): no weight is in it, so params are unknown.
    weights_stored: bool = True
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def rows(self) -> list[Row]:
        out: list[Row] = []

        def walk(graph: Graph, prefix: str, depth: int) -> None:
            for layer in graph.layers:
                path = f"{prefix}{layer.name}"
                out.append(Row(len(out), layer, path, depth))
                if layer.graph is not None:
                    walk(layer.graph, path + "/", depth + 1)

        walk(self.graph, "", 0)
        return out

    def weights(self) -> Iterator[Weight]:
        for row in self.rows():
            yield from row.layer.weights

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
