"""What each command does, given its parsed request and the process's environment.

``cli.py`` turns the command line into one of the requests below; ``run(request, env)``
opens the model, asks the reports for their numbers, hands them to a renderer and turns
every failure into one line on stderr and a member of ``ExitStatus``. Heavy modules
(numpy, h5py, rich) are imported by the handlers that need them.

A command is a request type, a handler taking ``(request, env)``, and a line in
``HANDLERS``; the typer function in ``cli.py`` builds the request.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TextIO, Tuple, cast

from .environment import Environment
from .errors import ClosedPipe, CnnInspectError, ExitStatus, NotWritable, SelectionError, UsageError, damaged_file

InputShape = Tuple[Optional[int], ...]  # with the batch dim, None where open


@dataclass(frozen=True)
class Request:
    """What every command takes: the model file and how to open it."""

    file: Path
    config: Optional[Path] = None
    layout: Optional[str] = None
    debug: bool = False


@dataclass(frozen=True)
class ShapesRequest(Request):
    as_json: bool = False
    input_shapes: Tuple[InputShape, ...] = ()
    batch: Optional[int] = None
    columns: Optional[Tuple[str, ...]] = None  # None: the default for the file
    units: str = "si"
    depth: Optional[int] = None
    types: Tuple[str, ...] = ()
    match: Optional[str] = None
    explain: bool = False
    hide_shape_ops: Optional[bool] = None  # None: hidden from the table when they outnumber the other layers


@dataclass(frozen=True)
class FiltersRequest(Request):
    layer: str = ""
    out: Optional[int] = None  # exactly one of out and in_map (checked by cli)
    in_map: Optional[int] = None
    top: Optional[int] = None
    as_correlation: bool = False
    dequantize: bool = False
    view: str = "auto"
    png: Optional[Path] = None
    as_json: bool = False
    inputs: Tuple[str, ...] = ()  # with --out: the equation computed on these (one per model input)
    preprocess: str = "unit"
    save: Optional[Path] = None
    input_shapes: Tuple[InputShape, ...] = ()


@dataclass(frozen=True)
class WeightsRequest(Request):
    stats: bool = False
    layer: Optional[str] = None
    dequantize: bool = False
    png: Optional[Path] = None  # requires layer (checked by cli)
    as_json: bool = False


@dataclass(frozen=True)
class ExploreRequest(Request):
    input_shapes: Tuple[InputShape, ...] = ()
    batch: Optional[int] = None
    dequantize: bool = False
    inputs: Tuple[str, ...] = ()  # --input: an activations pane and the live equation
    preprocess: str = "unit"


@dataclass(frozen=True)
class DiffRequest(Request):
    """``file`` is A; ``other`` is B."""

    other: Path = Path()
    tolerance: float = 1e-6
    inputs: Tuple[str, ...] = ()  # --input: run both networks on it (given in A's layout)
    preprocess: str = "unit"
    as_json: bool = False


@dataclass(frozen=True)
class GraphRequest(Request):
    format: str = "dot"  # dot, mermaid, svg
    input_shapes: Tuple[InputShape, ...] = ()
    batch: Optional[int] = None
    show_shape_ops: bool = False
    output: Optional[Path] = None
    as_json: bool = False


@dataclass(frozen=True)
class ActivationsRequest(Request):
    inputs: Tuple[str, ...] = ()  # one per model input: .npy, image, random:SEED, zeros
    layers: Tuple[str, ...] = ()
    save: Optional[Path] = None
    png: Optional[Path] = None
    view: Optional[str] = None  # "blocks": the strongest maps in the terminal
    preprocess: str = "unit"
    float64: bool = False
    input_shapes: Tuple[InputShape, ...] = ()
    as_json: bool = False


def run(request: Request, env: Environment) -> ExitStatus:
    """Do what ``request`` asks; every failure is one line on stderr (the traceback
    with ``--debug``) and its code."""
    env = replace(env, stdout=cast(TextIO, _Output(env.stdout)))
    try:
        HANDLERS[type(request)](request, env)
        env.stdout.flush()
        return ExitStatus.OK
    except ClosedPipe:
        return ExitStatus.CLOSED_PIPE
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except CnnInspectError as exc:
        if request.debug:
            raise
        if exc.message:  # diff's verdict has been said by its report
            env.error(f"{exc.path or request.file}: {exc.message}")
        return exc.status
    except Exception as exc:
        if request.debug:
            raise
        damaged = damaged_file(exc)
        if damaged is not None:  # a reading library choked on the file's bytes
            env.error(f"{request.file}: {damaged.message}")
            return damaged.status
        # A bug of cnninspect's own: still one line, unless asked for the traceback.
        env.error(f"{request.file}: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return ExitStatus.INTERNAL


class _Output:
    """stdout whose write failures are what they mean to the user: a reader that went
    away (``| head``) or an output that cannot take more (a full disk)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.encoding = getattr(stream, "encoding", "utf-8")

    def write(self, text: str) -> int:
        with self._failures():
            return self._stream.write(text)

    def flush(self) -> None:
        with self._failures():
            self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            _discard(self._stream)
            raise ClosedPipe("stdout closed") from None
        except OSError as exc:
            _discard(self._stream)
            raise NotWritable(f"cannot write the output: {exc.strerror or exc}") from None


def _discard(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null: what it still buffers must not fail
    again when the interpreter flushes it on the way out."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):  # a stream without a descriptor (a test's StringIO)
        pass


@dataclass(frozen=True)
class CheckRequest(Request):
    as_json: bool = False
    input_shapes: Tuple[InputShape, ...] = ()
    batch: Optional[int] = None


class Inconsistent(CnnInspectError):
    """The architecture contradicts the stored weights: said by the report (check's lines,
    shapes' flagged rows), so nothing more to say; exit 5 so that scripts notice."""

    status = ExitStatus.BROKEN

    def __init__(self) -> None:
        super().__init__("")


def check(request: CheckRequest, env: Environment) -> None:
    from .reports.check import check_report, exit_code

    with _open(request) as model:
        _check_input_ranks(model, request.input_shapes)
        report = check_report(model, list(request.input_shapes) or None, request.batch)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.check import check_view

        _print(env.console(), check_view(report))
    if exit_code(report):
        raise Inconsistent()


# --- the commands ---------------------------------------------------------------------------


def shapes(request: ShapesRequest, env: Environment) -> None:
    from .reports.shapes import RowFilter

    select = RowFilter(request.depth, request.types, request.match)
    with _open(request) as model:
        _check_types(model, request.types)
        report = _shapes_report(model, request.input_shapes, request.batch, select, request.explain)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.explain import explain_view
        from .render.tables import shapes_view

        console = env.console()
        _print(console, shapes_view(report, console, request.columns, request.units, request.hide_shape_ops))
        _print(console, explain_view(report, console.width))
    from .reports.check import exit_code

    if exit_code(report):
        raise Inconsistent()


def filters(request: FiltersRequest, env: Environment) -> None:
    from .reports.filters import feeds_report, filters_report, strongest
    from .reports.selection import select_layer

    _check_png(request.png)
    live = None
    with _open(request) as model:
        row = select_layer(model, request.layer)
        if request.inputs:
            from .forward.layers import NotComputable
            from .reports.activations import prepare_inputs
            from .reports.filters import live_filters_report

            _check_input_ranks(model, request.input_shapes)
            prepared = prepare_inputs(model, request.inputs, request.input_shapes, request.preprocess, "float32")
            try:
                report, live = live_filters_report(
                    model, row, cast(int, request.out), prepared, "float32", request.save, request.as_correlation, request.dequantize
                )
            except NotComputable as exc:
                raise NotComputed(str(exc)) from None
        elif request.in_map is None:
            report = filters_report(model, row, cast(int, request.out), request.as_correlation, request.dequantize)
        else:
            report = feeds_report(model, row, request.in_map, request.as_correlation, request.dequantize)
    if request.png is not None and live is not None:
        from .render.picture import live_picture

        _write_png(live_picture(report, live, request.top), request.png, env)
    elif request.png is not None:
        from .render.picture import filters_picture

        shown = strongest(report, request.top) if request.top is not None else report["inputs"]
        _write_png(filters_picture(report, shown), request.png, env)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.tables import connections_view

        _print(env.console(), connections_view(report, request.top, request.view))
        if live is not None:
            from .render.live import live_view

            _print(env.console(), live_view(report, request.top))


def weights(request: WeightsRequest, env: Environment) -> None:
    from .reports.selection import find_row
    from .reports.weights import weights_report

    _check_png(request.png)
    with _open(request) as model:
        rows = model.rows()
        if request.layer is not None:
            chosen = find_row(model, request.layer)
            rows = [r for r in rows if r.path == chosen.path or r.path.startswith(chosen.path + "/")]
            if request.png is not None:
                _write_png(_layer_picture(model, request.layer, request.dequantize), request.png, env)
        with _progress(sum(w.nbytes for r in rows for w in r.layer.weights) if request.stats else 0, env) as advance:
            report = weights_report(model, rows, request.stats, advance, request.dequantize)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.tables import weights_view

        console = env.console()
        _print(console, weights_view(report, console))


def explore(request: ExploreRequest, env: Environment) -> None:
    with _open(request) as model:
        report = _shapes_report(model, request.input_shapes, request.batch)
        prepared = []
        if request.inputs:
            from .reports.activations import prepare_inputs

            _check_input_ranks(model, request.input_shapes)
            prepared = prepare_inputs(model, request.inputs, request.input_shapes, request.preprocess, "float32")
        if not env.stdout_isatty:
            raise UsageError(
                "explore needs a terminal (stdout is not one); in a pipe use "
                "'cnninspect shapes', 'cnninspect filters' or 'cnninspect weights' (with --json)"
            )
        from .explore.app import ExploreApp

        ExploreApp(model, report, dequantize=request.dequantize, inputs=prepared).run()


def diff(request: DiffRequest, env: Environment) -> None:
    from contextlib import ExitStack

    from .reports.diff import EXIT_DIFFERENT, diff_report, exit_code, prepare_both

    with ExitStack() as stack:
        a = stack.enter_context(_open(request))
        try:
            b = stack.enter_context(_open(replace(request, file=request.other)))
        except CnnInspectError as exc:
            exc.path = request.other
            raise
        if request.preprocess != "unit" and not request.inputs:
            raise UsageError("--preprocess scales the images given with --input: give --input too")
        inputs = prepare_both(a, b, list(request.inputs), request.preprocess) if request.inputs else None
        report = diff_report(a, b, request.tolerance, inputs)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.diff import diff_view

        _print(env.console(), diff_view(report))
    code = exit_code(report)
    if code == EXIT_DIFFERENT:
        raise Different()
    if code:
        raise NotComputed(report["activations_stopped"]["reason"])


class Different(CnnInspectError):
    """diff's verdict: not the same network (said by the report, so nothing more to say)."""

    status = ExitStatus.DIFFERENT

    def __init__(self) -> None:
        super().__init__("")


def graph(request: GraphRequest, env: Environment) -> None:
    from .reports.graph import graph_report

    with _open(request) as model:
        _check_input_ranks(model, request.input_shapes)
        report = graph_report(model, list(request.input_shapes) or None, request.batch, request.show_shape_ops)
    if request.as_json:
        _emit_json(report, env)
        return
    from .render.graph import dot, mermaid

    text = mermaid(report) if request.format == "mermaid" else dot(report)
    if request.format == "svg":
        text = _svg(text)
    if request.output is None:
        env.stdout.write(text)
        return
    try:
        request.output.write_text(text)
    except OSError as exc:
        raise NotWritable(f"cannot write {request.output} ({exc.strerror or exc})") from None
    env.error(f"wrote {request.output}")


def _svg(dot_text: str) -> str:
    """DOT laid out by Graphviz's ``dot`` program, when it is installed."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        raise UsageError("--format svg needs Graphviz's 'dot' program, which is not installed; use --format dot")
    done = subprocess.run([program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise UsageError(f"Graphviz 'dot' failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return done.stdout


def activations(request: ActivationsRequest, env: Environment) -> None:
    from .reports.activations import activations_report, prepare_inputs
    from .reports.selection import find_row

    _check_png(request.png)
    dtype = "float64" if request.float64 else "float32"
    with _open(request) as model:
        _check_input_ranks(model, request.input_shapes)
        chosen = {find_row(model, spec).path for spec in request.layers} or None
        drawn = request.png is not None or request.view == "blocks"
        if drawn and len(request.layers) > 1:
            raise UsageError("--png and --view blocks draw the maps of one layer: give one --layer (or none: the last with maps)")
        maps_of = (next(iter(chosen)) if chosen else "") if drawn else None
        prepared = prepare_inputs(model, request.inputs, request.input_shapes, request.preprocess, dtype)
        report, maps = activations_report(model, prepared, dtype, chosen, request.save, maps_of)
    if request.png is not None and maps is not None:
        from .render.activations import maps_picture

        _write_png(maps_picture(maps), request.png, env)
    if request.as_json:
        _emit_json(report, env)
    else:
        from .render.activations import activations_view

        console = env.console()
        _print(console, activations_view(report, console, maps, request.view))
    if drawn and maps is None and "stopped" not in report:
        raise UsageError("no reported layer has maps to draw (a tensor with spatial axes): choose one with --layer")
    if "stopped" in report:
        raise NotComputed(report["stopped"]["reason"])


class NotComputed(CnnInspectError):
    """A layer cnninspect has no forward computation for: what ran before it is reported.
    The file is not damaged: a code of its own."""

    status = ExitStatus.UNSUPPORTED


HANDLERS: dict[type, Callable[[Any, Environment], None]] = {
    ActivationsRequest: activations,
    ShapesRequest: shapes,
    FiltersRequest: filters,
    WeightsRequest: weights,
    ExploreRequest: explore,
    DiffRequest: diff,
    GraphRequest: graph,
    CheckRequest: check,
}


# --- what the commands share ----------------------------------------------------------------


def _open(request: Request) -> Any:
    from .core.layouts import USER_LAYOUTS
    from .loaders import OpenOptions, open_model

    if request.layout is not None and request.layout not in USER_LAYOUTS:
        raise UsageError(f"--layout {request.layout!r} is not one of: {', '.join(USER_LAYOUTS)}")
    return open_model(request.file, OpenOptions(config=request.config, layout=request.layout))


def _shapes_report(
    model: Any, input_shapes: Tuple[InputShape, ...], batch: Optional[int], select: Any = None, explain: bool = False
) -> dict[str, Any]:
    """The shapes report; an ``--input-shape`` the model cannot take is the user's mistake."""
    from .core.arithmetic import ShapeError
    from .reports.shapes import shapes_report

    _check_input_ranks(model, input_shapes)
    try:
        return shapes_report(model, list(input_shapes) or None, batch, select, explain)
    except ShapeError as exc:
        if not input_shapes:
            raise
        given = " ".join(f"--input-shape {_dims(s)}" for s in input_shapes)
        raise UsageError(f"{given}: the model cannot take this input ({exc})") from None


def _check_input_ranks(model: Any, input_shapes: Tuple[InputShape, ...]) -> None:
    """Each ``--input-shape`` has as many dims as the input it replaces, where the file records one."""
    for ref, given in zip(model.graph.inputs, input_shapes):
        layer = next((la for la in model.graph.layers if la.name == ref.layer), None)
        recorded = layer.attrs.get("shape") if layer is not None and layer.op == "input" else None
        if recorded is not None and len(recorded) != len(given):
            raise UsageError(
                f"--input-shape {_dims(given)} has {len(given) - 1} dims, but input '{ref.layer}' has "
                f"{len(recorded) - 1}: give them all but the batch dim, e.g. --input-shape {_dims(tuple(recorded))}"
            )


def _dims(shape: InputShape) -> str:
    """A shape as ``--input-shape`` takes it: without the batch dim, ``?`` where open."""
    return ",".join("?" if d is None else str(d) for d in shape[1:])


def _check_types(model: Any, types: Tuple[str, ...]) -> None:
    """A ``--type`` that no layer has is a mistake: an empty table would hide it."""
    if not types:
        return
    present = sorted({row.layer.type for row in model.rows()}, key=str.lower)
    missing = [t for t in types if t.lower() not in {p.lower() for p in present}]
    if missing:
        raise SelectionError(f"--type {missing[0]}: no layer has this type; the types in this model: {', '.join(present)}")


def _emit_json(document: dict[str, Any], env: Environment) -> None:
    from .render.jsondoc import dumps

    # Indented for a person at a terminal; compact (and several times faster) in a pipe.
    env.stdout.write(dumps(document, 2 if env.stdout_isatty else None) + "\n")


def _print(console: Any, renderables: Any) -> None:
    for r in renderables:
        console.print(r)


def _check_png(png: Optional[Path]) -> None:
    if png is not None:
        from .render.picture import check_output

        check_output(png)


def _write_png(image: Any, png: Path, env: Environment) -> None:
    from .render.picture import save

    save(image, png)
    env.error(f"wrote {png} ({image.width}x{image.height} px)")


def _layer_picture(model: Any, spec: str, dequantize: bool) -> Any:
    """All filters of one layer as an image; a layer too big to draw is refused unread."""
    from .core.quantize import dequantize_layer
    from .render.picture import check_drawable, weights_picture
    from .reports.filters import layer_filters_report, layer_summary
    from .reports.selection import select_layer

    row = select_layer(model, spec)
    check_drawable(layer_summary(row))
    if dequantize:
        dequantize_layer(row.layer)
    return weights_picture(layer_filters_report(row))


PROGRESS_FROM_BYTES = 50 * 1024 * 1024


@contextmanager
def _progress(total: int, env: Environment) -> Iterator[Any]:
    """A progress bar on a terminal's stderr while streaming more than ~50 MB."""
    if total < PROGRESS_FROM_BYTES or not env.stderr_isatty:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=env.console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=total)
        yield lambda n: bar.advance(task, n)
