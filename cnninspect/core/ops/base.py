"""What one operation kind declares (``OpSpec``), the registry it goes into, and the small
helpers its rules share.

A spec holds every fact the program knows about an op kind, so that a reader finds all of
Conv in one module and a new kind is registered in one place:

- ``shape``: the shape rule, ``(attrs, input shapes, context) -> output shapes``; it raises
  ``ShapeError`` with a reason when the shape cannot be known (``RuleContext``: the call,
  its operands and their known values; folded output values go back through it);
- ``cost``: the cost rule, ``(layer, input shapes, output shapes, call) -> (macs, flops)``;
  it raises ``Uncountable`` when the cost cannot be counted;
- ``receptive``: the receptive-field step, ``(layer, input fields, input shapes) -> field``
  (``core/fields.py`` holds the field algebra and the usual steps);
- ``roles``: the weights it stores, by role, with the named axes each has in each layout
  convention (``axes`` templates, see ``layout_axes``); ``aliases`` maps the libraries'
  words for them (PyTorch's ``weight``, ``running_var``) onto the neutral roles (``kernel``,
  ``moving_variance``), which is what consumers ask for;
- ``filters``: which weight connects input maps to output maps and how one output map's
  filters (forward) and one input map's (reverse) are sliced from it;
- ``forward``: its computation, ``forward(step, inputs) -> outputs`` on NumPy arrays
  (``step``: the layer, its call and its weights in the kernels' layouts, see
  ``cnninspect/forward/layers.py``); None for a kind nothing computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from ..arithmetic import ShapeError, conv_length, product, spatial_join, spatial_split
from ..model import Call, Layer, Operand, Shape

if TYPE_CHECKING:
    import numpy as np

    from ...forward.layers import Step
    from ..model import Weight

Attrs = dict[str, Any]
ShapeRule = Callable[[Attrs, Sequence[Shape], "RuleContext"], list[Shape]]
Count = tuple[int, int]  # (macs, flops)
CostRule = Callable[[Layer, Sequence[Shape], Sequence[Shape], Call], Count]
# (layer, the fields of its tensor inputs, their shapes) -> the field of its outputs
ReceptiveStep = Callable[[Layer, Sequence[Any], Sequence[Optional[Shape]]], Any]
# (layer, weight, map) -> (entries, fixed axes of the native slice, equation, notes)
FilterBuilder = Callable[[Layer, "Weight", int], tuple[list, dict, str, list[str]]]
# forward(step, inputs) -> outputs (cnninspect.forward.layers; named by forward.lazy)
Forward = Callable[["Step", "list[np.ndarray]"], "list[np.ndarray]"]
# An axes template: axis names, where SPATIAL stands for the kernel's spatial axes
# (kw; kh, kw; kd, kh, kw), as many as the stored array's rank leaves for them.
Axes = tuple[str, ...]
# role (or "*" for any role) -> convention ("keras", "keras-th", "torch", "tflite", or "*"
# for every one) ->
# the templates that role can have, the first whose rank fits is taken
Roles = Mapping[str, Mapping[str, tuple[Axes, ...]]]
SPATIAL = "*spatial"


class Uncountable(ValueError):
    """The layer's cost cannot be counted (unknown shape, op or configuration)."""


@dataclass(frozen=True)
class Filters:
    """How the filters of a layer are read: ``roles`` are the weights, in order of
    preference, whose ``out`` axis (or ``in`` x ``mult``) numbers the output maps;
    ``forward`` slices what feeds one output map, ``reverse`` what one input map feeds."""

    roles: tuple[str, ...]
    forward: FilterBuilder
    reverse: FilterBuilder


@dataclass(frozen=True)
class OpSpec:
    """Everything known about one neutral operation kind (see the module docstring)."""

    op: str
    shape: ShapeRule
    cost: CostRule
    receptive: ReceptiveStep
    roles: Roles = field(default_factory=dict)
    # The libraries' words for its neutral roles: {"weight": "kernel"}, {"running_var": ...}.
    aliases: Mapping[str, str] = field(default_factory=dict)
    filters: Optional[Filters] = None
    # Its kernels slide over space, so a true-convolution writer (Theano) stores them flipped.
    spatial_kernels: bool = False
    # The shape rule runs even when an input's shape is unknown (passed as None).
    accepts_unknown: bool = False
    forward: Optional[Forward] = None
    doc: str = ""


SPECS: dict[str, OpSpec] = {}


def register(*specs: OpSpec) -> None:
    for s in specs:
        if s.op in SPECS:
            raise ValueError(f"op kind '{s.op}' is registered twice")
        SPECS[s.op] = s


def layout_axes(roles: Roles, convention: str, role: str, ndim: int) -> Axes | None:
    """The named axes of a stored ``role`` weight of ``ndim`` dims under ``convention``
    (``keras-th`` falls back to ``keras``, every convention to ``*``), or None."""
    fallbacks = (convention, "keras") if convention == "keras-th" else (convention,)
    for by_convention in (roles.get(role), roles.get("*")):  # "*": a role of any name
        for key in (*fallbacks, "*"):
            for template in (by_convention or {}).get(key, ()):
                axes = _fit(template, ndim)
                if axes is not None:
                    return axes
    return None


SPATIAL_NAMES = {1: ("kw",), 2: ("kh", "kw"), 3: ("kd", "kh", "kw")}
# Spatial axes of a kernel: the ones a filter is drawn over.
SPATIAL_AXES = frozenset({"kd", "kh", "kw"})


def _fit(template: Axes, ndim: int) -> Axes | None:
    if SPATIAL not in template:
        return template if len(template) == ndim else None
    names = SPATIAL_NAMES.get(ndim - len(template) + 1)
    if names is None:
        return None
    at = template.index(SPATIAL)
    return template[:at] + names + template[at + 1 :]


# ---------------------------------------------------------------------------------------
# Helpers the shape rules share


def one_input(inputs: Sequence[Shape]) -> Shape:
    if len(inputs) != 1:
        raise ShapeError(f"expects one input tensor, got {len(inputs)}")
    return inputs[0]


def sliding(attrs: Attrs, shape: Shape, out_channels: Any) -> Shape:
    """Conv-like output: every spatial axis through ``conv_length``."""
    rank = attrs["rank"]
    spatial, channels = spatial_split(shape, rank, attrs["channels_last"])
    sizes = attrs["kernel_size"]
    strides = attrs.get("strides") or sizes
    dilation = attrs.get("dilation") or (1,) * rank
    padding = attrs.get("padding", "valid")
    pads = padding if isinstance(padding, list) else [padding] * rank
    out = tuple(
        conv_length(n, k, s, d, p) for n, k, s, d, p in zip(spatial, sizes, strides, dilation, pads)
    )
    return spatial_join(shape[0], out, channels if out_channels is None else out_channels, attrs["channels_last"])


@dataclass
class RuleContext:
    """What a shape rule reads besides its attrs and input shapes, and what it gives back.

    ``call`` is the call (its constant arguments and keyword arguments); ``operands``, in
    graphs of tensor operations, every operand by position (``Operand``; None: the tensor
    inputs are the operands); ``values`` the operand values known, by position, from the
    file or folded upstream. A rule that computes the values of its outputs (shape
    arithmetic) gives them with ``fold``; inference returns them in its result.
    """

    call: Call = field(default_factory=Call)
    operands: Optional[list[Operand]] = None
    values: dict[int, Any] = field(default_factory=dict)
    folded: Optional[list[Any]] = None

    @classmethod
    def of(cls, call: Call, upstream: Mapping[int, Any] | None = None) -> "RuleContext":
        """The context of ``call``: the values the file holds, and those folded upstream
        for its tensor operands (``upstream``: tensor input index -> value)."""
        values: dict[int, Any] = {}
        for position, operand in enumerate(call.operands or []):
            if operand.value is not None:
                values[position] = operand.value
            elif operand.kind == "tensor" and upstream and upstream.get(operand.index) is not None:
                values[position] = upstream[operand.index]
        return cls(call, call.operands, values)

    def operand_shapes(self, inputs: Sequence[Shape]) -> list[Shape | None]:
        """The shape of every operand, by position (None for an omitted one)."""
        if self.operands is None:
            return list(inputs)
        return [inputs[o.index] if o.kind == "tensor" else o.shape if o.kind == "const" else None for o in self.operands]

    def data_operand(self, inputs: Sequence[Shape], position: int = 0) -> Shape:
        """The shape of the operand at ``position`` (the data, by default), which must be given."""
        found = self.operand_shapes(inputs)
        if position >= len(found) or found[position] is None:
            raise ShapeError(f"its operand {position} is omitted")
        return found[position]  # type: ignore[return-value]

    def is_tensor(self, position: int) -> bool:
        """The operand at ``position`` is computed by the graph (not stored, not omitted)."""
        return self.operands is not None and position < len(self.operands) and self.operands[position].kind == "tensor"

    def value(self, position: int) -> Any:
        """The operand's value as a (nested) list, or None when it is not known."""
        known: Any = self.values.get(position)
        return known.tolist() if hasattr(known, "tolist") else known

    def fold(self, values: list[Any]) -> None:
        self.folded = values

    def fold_operands(self) -> None:
        """Fold the call's output from its operands' values, when every given one is known."""
        evaluate = self.call.evaluate
        given = [p for p, o in enumerate(self.operands or []) if o.kind != "none"]
        if evaluate is None or not given or any(p not in self.values for p in given):
            return
        out = evaluate([self.values.get(p) for p in range(len(self.operands or []))])
        if out is not None:
            self.folded = [out]


# ---------------------------------------------------------------------------------------
# Helpers the cost rules share. Conventions (README, "Counting conventions"): one
# multiply-accumulate is 2 FLOPs; a bias add is 1 FLOP per output element; a fused
# non-linear activation 1 FLOP per output element. An unknown batch dim counts as 1.

LINEAR = (None, "linear", "identity")


def elements(shape: Shape | None) -> int:
    """Elements of a tensor; an unknown batch dim (the first) counts as one sample."""
    if shape is None:
        raise Uncountable("unknown shape")
    dims = (1 if shape and shape[0] is None else shape[0], *shape[1:]) if shape else ()
    n = product(dims)
    if n is None:
        raise Uncountable("a dimension is unknown")
    return n


def one_known(shapes: Sequence[Shape]) -> Shape:
    if len(shapes) != 1 or shapes[0] is None:
        raise Uncountable("expects one input of known shape")
    return shapes[0]


def channels(layer: Layer, shape: Shape) -> int:
    _, n = spatial_split(shape, layer.attrs["rank"], layer.attrs["channels_last"])
    if n is None:
        raise Uncountable("unknown channels")
    return n


def finish(layer: Layer, macs: int, out: Sequence[Shape]) -> Count:
    """2 FLOPs per MAC, plus a bias add and a fused activation per output element."""
    n = sum(elements(s) for s in out)
    extra = (1 if layer.weight("bias") is not None else 0) + (0 if layer.activation in LINEAR else 1)
    return macs, 2 * macs + extra * n


def window(layer: Layer) -> int:
    return product(layer.attrs["kernel_size"]) or 0


def free(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
    """Data movement only: no arithmetic."""
    return 0, 0


def uncountable(reason: str) -> CostRule:
    """The cost rule of an op whose cost cannot be known, saying why."""

    def rule(layer: Layer, ins: Sequence[Shape], outs: Sequence[Shape], call: Call) -> Count:
        raise Uncountable(reason)

    return rule
