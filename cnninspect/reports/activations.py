"""The activations report (``cnninspect.activations/1``): the network run on given inputs,
and for every layer call (or the chosen ones) its output's shape, statistics and dead
maps, the top-5 of a classifier's probabilities, and the outputs saved as ``.npy``.

Inputs are prepared by ``loaders/inputs.py`` (arrays, images, ``random:SEED``,
``zeros``); the network runs in ``forward/run.py``, which stops at the first layer call it
cannot compute: the report then holds what ran and ``stopped`` says where and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..core.model import Layer, Model
from ..errors import NotWritable, UsageError
from ..forward.layers import NotComputable
from ..forward.run import Execution
from ..loaders.inputs import Prepared, prepare
from .shapes import source_json

SCHEMA = "cnninspect.activations/1"
TOP = 5
CHANNELS_LAST_FORMATS = ("keras", "tflite")  # formats whose tensors are (N, *S, C) unless a layer says otherwise


@dataclass
class Maps:
    """The output maps of one layer call for the first sample, channels first ``(C, *S)``,
    for the renderers (the heatmap and the picture)."""

    path: str
    call: int
    shape: list[int]
    maps: np.ndarray


def input_layout(model: Model, position: int) -> bool:
    """True when model input ``position`` is channels-last: as its first consumer with a
    layout says, else as the format's libraries store images."""
    name = model.graph.inputs[position].layer
    for layer in model.graph.layers:
        for call in layer.calls:
            if any(ref.layer == name for ref in call.tensor_inputs) and "channels_last" in layer.attrs:
                return bool(layer.attrs["channels_last"])
    return model.source.format.startswith(CHANNELS_LAST_FORMATS)


def prepare_inputs(model: Model, specs: Sequence[str], shapes: Sequence[Any], preprocess: str, dtype: str) -> list[Prepared]:
    """One prepared array per model input, in order (``--input`` given once per input)."""
    refs = model.graph.inputs
    if not model.architecture:
        raise UsageError("the file holds weights only, no graph to run: give its architecture with --config")
    if len(specs) != len(refs):
        names = ", ".join(f"'{r.layer}'" for r in refs)
        raise UsageError(f"the model takes {len(refs)} input(s) ({names}): give --input once per input, in order; {len(specs)} given")
    out = []
    for position, (ref, spec) in enumerate(zip(refs, specs)):
        layer = next(la for la in model.graph.layers if la.name == ref.layer)
        shape = shapes[position] if position < len(shapes) and shapes[position] is not None else layer.attrs.get("shape")
        if shape is None:
            raise UsageError(f"the file does not record the shape of input '{ref.layer}': give it with --input-shape")
        out.append(prepare(spec, list(shape), input_layout(model, position), preprocess, dtype))
    return out


def activations_report(
    model: Model,
    inputs: Sequence[Prepared],
    dtype: Any = np.float32,
    chosen: Optional[set[str]] = None,
    save: Optional[Path] = None,
    maps_of: Optional[str] = None,
) -> tuple[dict[str, Any], Optional[Maps]]:
    """Run ``model`` and describe each layer call whose path is in ``chosen`` (every one
    when None); ``save`` writes their outputs; ``maps_of`` (a path) keeps one layer's
    first call's maps for drawing (the last one with spatial maps when ``""``)."""
    execution = Execution(model, [p.array for p in inputs], dtype)
    layers: list[dict[str, Any]] = []
    maps: Optional[Maps] = None
    stopped = None
    final = execution.plan.outputs[0] if len(execution.plan.outputs) == 1 else None
    last_layer: Optional[Layer] = None  # the producer of the model's one output, once it ran
    last_arrays: list[np.ndarray] = []
    if save is not None:
        make_dir(save)
    layouts = Layouts(model, execution)
    try:
        for out in execution:
            last = layouts.of(out.path, out.call, out.layer, out.arrays)
            if final is not None and (out.path, out.call) == final[:2] and last_layer is None:
                last_layer, last_arrays = out.layer, [out.arrays[final[2]]]
            if chosen is not None and out.path not in chosen:
                continue
            for k, array in enumerate(out.arrays):
                entry = _entry(out.index, out.path, out.layer, out.call, k, len(out.arrays), array, last)
                if save is not None:
                    entry["saved"] = save_array(save, entry, array)
                layers.append(entry)
                if maps_of is not None and k == 0 and array.ndim >= 3 and (maps_of == "" or maps_of == out.path and maps is None):
                    maps = Maps(out.path, out.call, list(array.shape), _first_maps(array, last))
    except NotComputable as exc:
        stopped = {"reason": str(exc), "ran": len(execution.ran)}
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "source": source_json(model),
        "model": model.name,
        "dtype": np.dtype(dtype).name,
        "inputs": [input_json(model, i, p) for i, p in enumerate(inputs)],
        "layers": layers,
        "notes": [n for p in inputs for n in p.notes] + execution.notes,
        "peak_activation_bytes": execution.peak_bytes,
    }
    top = _top(last_layer, last_arrays) if stopped is None else None
    if top is not None:
        report["top"] = top
    if stopped is not None:
        report["stopped"] = stopped
    return report, maps


class Layouts:
    """Whether each layer call's output is channels-last: as the layer says (convolutions,
    pooling), else as the tensor it computes from (activations, merges keep their input's
    layout; a transpose moves the channel axis), the model inputs as ``input_layout``."""

    def __init__(self, model: Model, execution: Execution) -> None:
        self.model = model
        self.nodes = {(n.path, n.call): n for n in execution.plan.nodes}
        self.entries = {(e.path, e.call): e for e in execution.plan.entries}
        self.fed = {key[:2]: i for i, key in enumerate(execution.plan.fed)}
        self.known: dict[tuple[str, int], bool] = {}

    def of(self, path: str, call: int, layer: Layer, arrays: list[np.ndarray]) -> bool:
        key = (path, call)
        if "channels_last" in layer.attrs:
            last = bool(layer.attrs["channels_last"])
        elif key in self.fed:
            last = input_layout(self.model, self.fed[key])
        elif layer.graph is not None:
            last = self.known.get(self.entries[key].outputs[0][:2], self._default())
        else:
            node = self.nodes.get(key)
            source = node.inputs[0][:2] if node is not None and node.inputs else None
            last = self.known.get(source, self._default()) if source is not None else self._default()
            perm = layer.attrs.get("perm") if layer.op == "transpose" else None
            if perm is not None and arrays and arrays[0].ndim == len(perm) >= 3:
                channel = len(perm) - 1 if last else 1
                moved = list(perm).index(channel)
                last = moved == len(perm) - 1 if moved in (1, len(perm) - 1) else last
        self.known[key] = last
        return last

    def _default(self) -> bool:
        return self.model.source.format.startswith(CHANNELS_LAST_FORMATS)


def input_json(model: Model, position: int, p: Prepared) -> dict[str, Any]:
    return {
        "name": model.graph.inputs[position].layer,
        "shape": list(p.array.shape),
        "dtype": p.array.dtype.name,
        "from": p.origin,
        "preprocess": p.preprocess,
    }


def _entry(index: int, path: str, layer: Layer, call: int, output: int, outputs: int, a: np.ndarray, last: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index,
        "name": layer.name,
        "path": path,
        "type": layer.type,
        "call": call,
    }
    if outputs > 1:
        entry["output"] = output
    entry.update(shape=list(a.shape), dtype=a.dtype.name, stats=stats(a), dead_maps=dead_maps(a, last))
    return entry


def stats(a: np.ndarray) -> dict[str, Optional[float]]:
    """min, max, mean, std (accumulated in float64) and the fraction of exact zeros."""
    if a.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "zeros": None}
    return {
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean(dtype=np.float64)),
        "std": float(a.std(dtype=np.float64)),
        "zeros": float(np.count_nonzero(a == 0) / a.size),
    }


def channel_axis(a: np.ndarray, last: bool) -> int:
    """The maps' axis: channels for (N, C, *S) / (N, *S, C); units for (N, units)."""
    return a.ndim - 1 if last or a.ndim <= 2 else 1


def dead_maps(a: np.ndarray, last: bool) -> list[int]:
    """The maps (channels, or units) that are zero everywhere, for every sample."""
    if a.ndim < 2 or a.size == 0:
        return []
    axis = channel_axis(a, last)
    alive = np.any(a != 0, axis=tuple(i for i in range(a.ndim) if i != axis))
    return [int(i) for i in np.flatnonzero(~alive)]


def _first_maps(a: np.ndarray, last: bool) -> np.ndarray:
    return np.array(np.moveaxis(a[0], channel_axis(a, last) - 1, 0))


def _top(layer: Optional[Layer], arrays: list[np.ndarray]) -> Optional[dict[str, Any]]:
    """The top-5 classes of the model's one output when it is a probability vector
    (non-negative, summing to 1)."""
    if layer is None or len(arrays) != 1 or arrays[0].ndim != 2 or arrays[0].shape[1] < 2:
        return None
    p = arrays[0].astype(np.float64)
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        return None
    order = np.argsort(-p, axis=1, kind="stable")[:, :TOP]
    return {
        "layer": layer.name,
        "samples": [[{"class": int(c), "probability": float(p[n, c])} for c in row] for n, row in enumerate(order)],
    }


def make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotWritable(f"--save {folder}: cannot create the folder ({exc.strerror or exc})") from None


def save_array(folder: Path, entry: dict[str, Any], a: np.ndarray) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", entry["path"]).strip("_") or "output"
    suffix = f"_out{entry['output']}" if "output" in entry else ""
    target = folder / f"{entry['index']:03d}_{name}_call{entry['call']}{suffix}.npy"
    try:
        np.save(target, a)
    except OSError as exc:
        raise NotWritable(f"--save: cannot write {target} ({exc.strerror or exc})") from None
    return str(target)
