"""The ``check`` report: the architecture checked against the stored weights
(``core/consistency.py``), as plain data (schema ``cnninspect.check/1``); ``shapes --json``
carries the same block under ``consistency``.

A contradiction the user brought is a usage error, raised here so that every command
that infers shapes says the same: an ``--input-shape`` the weights refute, and a
``--config`` architecture that does not fit the weights it was given for. A file that
contradicts itself is reported, not refused: the caller exits 5 after showing it.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..core.consistency import INPUT, RESOLVED, Consistency, Fact, check_graph, describe
from ..core.infer import Inference, infer_shapes
from ..core.model import Model, Shape
from ..errors import UsageError

SCHEMA = "cnninspect.check/1"
# The format of a Keras weights file whose architecture came from --config.
CONFIGURED = "keras-h5-weights"


def checked_inference(model: Model, input_shapes: Sequence[Shape] | None = None, batch: int | None = None) -> tuple[Inference, Consistency]:
    """Shapes inferred and checked against the weights. Raises ``UsageError`` when the
    user's ``--input-shape`` or ``--config`` is what contradicts the weights."""
    inferred, found = _with_lambdas(model, input_shapes, batch)
    if found.consistent:
        return inferred, found
    if input_shapes:
        alone = infer_shapes(model.graph, None, batch)
        own = {_key(f) for f in check_graph(model.graph, alone).mismatches}
        # Blamed on --input-shape: what the file alone does not contradict, where the file
        # records its input's shape (else only at the layers that read the input itself).
        recorded = all(shape is not None for shape in (alone.shape_of(model.graph.layer(r.layer), r) for r in model.graph.inputs))
        brought = [f for f in found.mismatches if f.source == INPUT and f.weight and _key(f) not in own
                   and (recorded or _is_first(model, f))]  # fmt: skip
        if brought:
            raise UsageError(_input_message(brought[0], input_shapes, model))
    misfit = found.misfit() if model.architecture and model.source.format == CONFIGURED else None
    if misfit is not None:
        raise UsageError(misfit)
    return inferred, found


def _with_lambdas(model: Model, input_shapes: Sequence[Shape] | None, batch: int | None) -> tuple[Inference, Consistency]:
    """Shapes and checks, with the Lambdas that state no output_shape resolved where a
    rule allows: Keras 1 on Theano gave them their input's shape (the library's rule);
    otherwise they are taken as shape-preserving only when every weight check that the
    assumption makes possible agrees, and stay unknown with the reason when not."""
    inferred = infer_shapes(model.graph, input_shapes, batch)
    found = check_graph(model.graph, inferred)
    open_ = [r.layer for r in model.rows() if r.layer.op == "lambda" and r.layer.attrs.get("output_shape") is None
             and any(s is None for call in inferred.output_shapes(r.layer) for s in call)]  # fmt: skip
    if not open_:
        return inferred, found
    if _keras1_theano(model):
        rule = ("library", "Keras 1 on Theano gives a Lambda without output_shape its input's shape")
        preserving = dict.fromkeys(map(id, open_), rule)
        trial = infer_shapes(model.graph, input_shapes, batch, preserving)
        return trial, check_graph(model.graph, trial)
    assumed = ("weights", "assumed shape-preserving, as every weight check downstream agrees")
    accepted: dict[int, tuple[str, str]] = {}
    for layer in open_:  # one at a time: each must be confirmed by checks it alone makes possible
        trial = infer_shapes(model.graph, input_shapes, batch, {**accepted, id(layer): assumed})
        tried = check_graph(model.graph, trial)
        known = {_key(f) for f in found.facts if f.verdict != RESOLVED}
        if tried.consistent and any(f.verdict != RESOLVED and _key(f) not in known for f in tried.facts):
            accepted[id(layer)] = assumed
            inferred, found = trial, tried
            continue
        why = (f"assuming it shape-preserving contradicts the weights downstream ({describe(tried.mismatches[0].json())})"
               if not tried.consistent else "no stored weight downstream can confirm that it preserves the shape")  # fmt: skip
        found.unresolved.append({"layer": layer.name, "reason": f"output shape unknown: {why}"})
        reason = inferred.reason(layer)
        if reason is not None and not tried.consistent:  # the weights' word against the assumption
            inferred.reasons[id(layer)] = f"{reason}; {why}"
    return inferred, found


def _keras1_theano(model: Model) -> bool:
    """A Keras 1 file (or standalone Keras 2.0-2.3) trained on Theano: its Lambda rule."""
    version = model.source.library_version or ""
    old = model.source.library == "keras" and (version.startswith("1.") or version[:4] in ("2.0.", "2.1.", "2.2.", "2.3."))
    return old and (model.source.backend == "theano" or any(w.layout.flipped for w in model.weights()))


def check_report(model: Model, input_shapes: Sequence[Shape] | None = None, batch: int | None = None) -> dict[str, Any]:
    from .shapes import source_json  # shapes carries this report's block: it imports this module

    _, found = checked_inference(model, input_shapes, batch)
    return {"schema": SCHEMA, "source": source_json(model), "model": model.name,
            "architecture": model.architecture, **found.json()}  # fmt: skip


def exit_code(report: dict[str, Any]) -> int:
    """5 (inconsistent) when a check failed, else 0; for ``check`` and for ``shapes``,
    whose report holds the block under ``consistency``."""
    block = report.get("consistency", report)
    return 5 if block["mismatches"] else 0


def _input_message(fact: Fact, input_shapes: Sequence[Shape], model: Model) -> str:
    what = fact.what[:-1] if fact.stored == 1 and fact.what.endswith("s") else fact.what
    given = ";".join(",".join("?" if d is None else str(d) for d in s[1:]) for s in input_shapes)
    where = "" if _is_first(model, fact) else " at its input"
    return f"{fact.layer}'s {fact.weight} takes {fact.stored} {what}; --input-shape {given} gives {fact.expected}{where}"


def _is_first(model: Model, fact: Fact) -> bool:
    """Whether the layer reads a model input directly."""
    inputs = {ref.layer for ref in model.graph.inputs}
    try:
        layer = model.graph.layer(fact.layer)
    except KeyError:
        return False
    return any(ref.layer in inputs for call in layer.calls for ref in call.tensor_inputs)


def _key(fact: Fact) -> tuple[str, str, int, str]:
    return fact.layer, fact.what, fact.call, fact.weight
