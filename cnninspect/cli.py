"""The command line: argument definitions only; the work lives in loaders and reports,
the layout in ``render``. Heavy modules (numpy, h5py, rich) are imported by the commands
that need them, so ``--help`` and ``--version`` stay fast."""

from __future__ import annotations

import gc
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

import typer

from . import __version__
from .errors import CnnInspectError, ExitStatus, UsageError, damaged_file

app = typer.Typer(
    name="cnninspect",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileArg = typer.Argument(..., help="Model file (detected by content, whatever its extension).", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print one JSON document to stdout (schema in README).")
DebugOpt = typer.Option(False, "--debug", help="On failure, show the Python traceback.")
ConfigOpt = typer.Option(
    None, "--config", help="Architecture file (model.to_json() JSON or to_yaml() YAML) for a weights-only file."
)
PngOpt = typer.Option(None, "--png", help="Also draw the filters to this PNG image (the path written goes to stderr).")
LayoutOpt = typer.Option(
    None, "--layout", help="Layout of files that do not record one: keras, torch, theano (also tensorflow, pytorch, onnx, lasagne)."
)

DequantizeOpt = typer.Option(
    False, "--dequantize", help="Show quantized (int8/uint8) weights as real values, scale * (q - zero_point)."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnninspect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Inspect the activation shapes and filters of convolutional networks, from the file alone.

    Example: cnninspect shapes sample_models/mnist_cnn.h5
    """


def _stderr(message: str) -> None:
    # Flushed: a block-buffered stderr (a wrapper, a test runner) would keep the line.
    sys.stderr.write(f"cnninspect: {message}\n")
    sys.stderr.flush()


@contextmanager
def _failures(path: Path | None, debug: bool) -> Iterator[None]:
    """Every failure becomes one line on stderr and an exit code from ``ExitStatus``."""
    where = f"{path}: " if path is not None else ""
    try:
        yield
    except CnnInspectError as exc:
        if debug:
            raise
        _stderr(f"{where}{exc.message}")
        raise typer.Exit(int(exc.status)) from None
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        damaged = damaged_file(exc)
        if damaged is not None:  # a reading library choked on the file's bytes
            _stderr(f"{where}{damaged.message}")
            raise typer.Exit(int(damaged.status)) from None
        # A bug of cnninspect's own: still one line, unless asked for the traceback.
        _stderr(f"{where}internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        raise typer.Exit(int(ExitStatus.INTERNAL)) from None


def _emit_json(document: dict[str, Any]) -> None:
    # Indented for a person at a terminal; compact (and several times faster) in a pipe.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def _print(console: Any, renderables: Any) -> None:
    for r in renderables:
        console.print(r)


def parse_input_shape(text: str) -> tuple[Optional[int], ...]:
    """``224,224,3`` (without the batch dim); ``?`` or ``None`` leaves a dim open."""
    dims: list[Optional[int]] = []
    for part in text.replace("(", "").replace(")", "").replace("x", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if part in ("?", "None", "none"):
            dims.append(None)
        elif part.isdigit() and int(part) > 0:
            dims.append(int(part))
        else:
            raise UsageError(f"--input-shape {text!r}: dims are positive integers or '?', e.g. 224,224,3")
    if not dims:
        raise UsageError(f"--input-shape {text!r} names no dimension")
    return (None, *dims)


def _open(path: Path, config: Optional[Path], layout: Optional[str]) -> Any:
    from .core.layouts import USER_LAYOUTS
    from .loaders import OpenOptions, open_model

    if layout is not None and layout not in USER_LAYOUTS:
        raise UsageError(f"--layout {layout!r} is not one of: {', '.join(USER_LAYOUTS)}")
    return open_model(path, OpenOptions(config=config, layout=layout))


@app.command()
def shapes(
    file: Path = FileArg,
    as_json: bool = JsonOpt,
    input_shape: List[str] = typer.Option(
        [], "--input-shape", help="Input shape without the batch dim, e.g. 224,224,3; repeat once per model input."
    ),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Fill the batch dimension with N (counts are then for N samples)."),
    columns: Optional[str] = typer.Option(
        None, "--columns", help="Table columns: shape,params,macs,flops,memory,rf or all [default: shape,params,macs]."
    ),
    units: str = typer.Option("si", "--units", help="Bytes in si (kB, MB) or binary (KiB, MiB) units."),
    depth: Optional[int] = typer.Option(None, "--depth", help="Fold nested models deeper than N (0: top level only)."),
    types: List[str] = typer.Option([], "--type", help="Only layers of this type (case-insensitive); repeatable."),
    match: Optional[str] = typer.Option(None, "--match", help="Only layers whose path matches this regular expression."),
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> None:
    """Every layer's output (activation) shape, params, MACs/FLOPs, activation memory and
    receptive field.

    Reads metadata only: no weight data is loaded. --depth, --type and --match select
    rows (in the JSON too); totals always describe the whole model.

    Example: cnninspect shapes sample_models/mnist_cnn.h5 --columns shape,macs,flops,rf --type conv2d
    """
    with _failures(file, debug):
        overrides = [parse_input_shape(s) for s in input_shape] or None
        from .render.columns import check_units, parse_columns
        from .reports.shapes import RowFilter, shapes_report

        chosen, select = parse_columns(columns), RowFilter(depth, types, match)
        check_units(units)
        with _open(file, config, layout) as model:
            report = shapes_report(model, overrides, batch, select)
        if as_json:
            _emit_json(report)
        else:
            from .render.tables import shapes_view

            console = _console()
            _print(console, shapes_view(report, console, chosen, units))


@app.command()
def filters(
    file: Path = FileArg,
    layer: str = typer.Option(..., "--layer", "-l", help="Layer index (as shown by 'shapes'), name, or path outer/inner."),
    out: Optional[int] = typer.Option(None, "--out", "-o", help="Output map (channel) number, from 0: the filters feeding it."),
    in_map: Optional[int] = typer.Option(
        None, "--in", "-i", help="Input map number, from 0: the output maps it feeds (instead of --out)."
    ),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Draw only the N strongest filters."),
    as_correlation: bool = typer.Option(
        False, "--as-correlation", help="Show Theano-era (true convolution) kernels flipped, as cross-correlation kernels."
    ),
    dequantize: bool = DequantizeOpt,
    view: str = typer.Option(
        "auto", "--view", help="Terminal drawing: numbers, blocks (a compact picture), or auto (numbers up to 5x5 kernels)."
    ),
    png: Optional[Path] = PngOpt,
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> None:
    """The filters that feed one output map of one layer, one per input map; with --in,
    the output maps one input map feeds, one filter each.

    Shows the bias, the activation, the equation, the slice in the file's own layout and
    the strongest connections. Reads only that slice of the weights.

    Example: cnninspect filters sample_models/mnist_cnn.h5 --layer 2 --out 5 --png filters.png   (or --in 3)
    """
    with _failures(file, debug):
        if (out is None) == (in_map is None):
            raise UsageError("give exactly one of --out N (what feeds output map N) and --in I (what input map I feeds)")
        if png is not None and out is None:
            raise UsageError("--png draws the filters feeding one output map: use it with --out N")
        from .render.heatmap import VIEWS
        from .reports.filters import feeds_report, filters_report, select_layer, strongest

        if view not in VIEWS:
            raise UsageError(f"--view {view!r} is not one of: {', '.join(VIEWS)}")
        _check_png(png)
        with _open(file, config, layout) as model:
            row = select_layer(model, layer)
            if out is not None:
                report = filters_report(model, row, out, as_correlation, dequantize)
            else:
                report = feeds_report(model, row, in_map, as_correlation, dequantize)
        if png is not None:
            from .render.picture import filters_picture

            shown = strongest(report, top) if top is not None else report["inputs"]
            _write_png(filters_picture(report, shown), png)
        if as_json:
            _emit_json(report)
        else:
            from .render.tables import connections_view

            _print(_console(), connections_view(report, top, view))


@app.command()
def weights(
    file: Path = FileArg,
    stats: bool = typer.Option(False, "--stats", help="Add min, max, mean, std, zeros, NaN/Inf and dead filters (streams the data)."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help="Only this layer (index, name or path) and what it contains."),
    dequantize: bool = DequantizeOpt,
    png: Optional[Path] = typer.Option(
        None, "--png", help="Draw all filters of the --layer to this PNG image: a row per output map, a column per input map."
    ),
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> None:
    """Every stored tensor: path, layer, role, shape, named axes, layout, dtype, bytes.

    Example: cnninspect weights sample_models/mnist_cnn.h5 --stats

    Example: cnninspect weights sample_models/mnist_cnn.h5 --layer conv2d --png conv2d.png
    """
    with _failures(file, debug):
        from .reports.filters import find_row
        from .reports.weights import weights_report

        if png is not None and layer is None:
            raise UsageError("--png draws one layer's filters: give --layer L too")
        _check_png(png)
        with _open(file, config, layout) as model:
            rows = model.rows()
            if layer is not None:
                chosen = find_row(model, layer)
                rows = [r for r in rows if r.path == chosen.path or r.path.startswith(chosen.path + "/")]
            if png is not None:
                _write_png(_layer_picture(model, layer, dequantize), png)
            with _progress(sum(w.nbytes for r in rows for w in r.layer.weights) if stats else 0) as advance:
                report = weights_report(model, rows, stats, advance, dequantize)
        if as_json:
            _emit_json(report)
        else:
            from .render.tables import weights_view

            console = _console()
            _print(console, weights_view(report, console))


def _check_png(png: Optional[Path]) -> None:
    if png is not None:
        from .render.picture import check_output

        check_output(png)


def _write_png(image: Any, png: Path) -> None:
    from .render.picture import save

    save(image, png)
    _stderr(f"wrote {png} ({image.width}x{image.height} px)")


def _layer_picture(model: Any, spec: str, dequantize: bool) -> Any:
    """All filters of one layer as an image; a layer too big to draw is refused unread."""
    from .core.quantize import dequantize_layer
    from .render.picture import check_drawable, weights_picture
    from .reports.filters import layer_filters_report, layer_summary, select_layer

    row = select_layer(model, spec)
    check_drawable(layer_summary(row))
    if dequantize:
        dequantize_layer(row.layer)
    return weights_picture(layer_filters_report(row))


@app.command()
def explore(
    file: Path = FileArg,
    input_shape: List[str] = typer.Option(
        [], "--input-shape", help="Input shape without the batch dim, e.g. 224,224,3; repeat once per model input."
    ),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Fill the batch dimension with N."),
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> None:
    """Browse the layers, their weights and filters interactively (a terminal is needed).

    A tree of layers on the left; the selected layer, its weights and its filters on the
    right. Press ? in the app for the keys.

    Example: cnninspect explore sample_models/mnist_cnn.h5
    """
    with _failures(file, debug):
        overrides = [parse_input_shape(s) for s in input_shape] or None
        from .reports.shapes import shapes_report

        with _open(file, config, layout) as model:
            report = shapes_report(model, overrides, batch)
            if not sys.stdout.isatty():
                raise UsageError(
                    "explore needs a terminal (stdout is not one); in a pipe use "
                    "'cnninspect shapes', 'cnninspect filters' or 'cnninspect weights' (with --json)"
                )
            from .explore.app import ExploreApp

            ExploreApp(model, report).run()


PROGRESS_FROM_BYTES = 50 * 1024 * 1024


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on a terminal's stderr while streaming more than ~50 MB."""
    if total < PROGRESS_FROM_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=total)
        yield lambda n: bar.advance(task, n)


DEFAULT_TIMEOUT = 300.0  # seconds; CNNINSPECT_TIMEOUT overrides, 0 disables


def run() -> None:
    """The console script: the command runs in a child process watched by this one.

    Damaged files can make a C library (libhdf5) loop forever holding the GIL, or crash
    the process; no Python-level timer can stop the former. The parent turns both into a
    one-line error with an exit code from the table.
    """
    # A short-lived process: collecting the many small objects of a big config costs
    # more than the memory it would return.
    gc.disable()
    # Rich reads the terminal width from COLUMNS; in a pipe it would fall back to 80.
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        os.environ["COLUMNS"] = "120"
    timeout = _timeout()
    if not timeout or not hasattr(os, "fork") or not set(sys.argv[1:2]) & {"shapes", "filters", "weights"}:
        app()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child()
    _supervise(pid, timeout)


def _timeout() -> float:
    try:
        return float(os.environ.get("CNNINSPECT_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def _child() -> None:
    code = 1
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # only --debug lets an exception through: show it as Python would
        import traceback

        traceback.print_exc()
    finally:
        _leave(code)


def _leave(code: int) -> None:
    """Exit now, with the output flushed but no interpreter teardown: neither process of
    the watchdog pair holds anything to clean up, and unloading the modules the parent
    imported (typer and its click) costs several milliseconds, a sizeable part of a
    small model's whole ``shapes``."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _supervise(pid: int, timeout: float) -> None:
    import signal

    def expire(*_: object) -> None:
        raise TimeoutError

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the child, which exits 130
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status = os.waitpid(pid, 0)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _stderr(f"{_file_arg()}: gave up after {timeout:g} s: reading this file does not finish (damaged?); "
                "CNNINSPECT_TIMEOUT sets the limit")  # fmt: skip
        _leave(int(ExitStatus.TIMEOUT))
    signal.setitimer(signal.ITIMER_REAL, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: a C library crashed on this file
        name = signal.Signals(-code).name
        _stderr(f"{_file_arg()}: a file-reading library crashed on this file ({name}): damaged or hostile")
        _leave(int(ExitStatus.BROKEN))
    _leave(code)


def _file_arg() -> str:
    return next((a for a in sys.argv[2:] if not a.startswith("-") and os.path.exists(a)), "cnninspect")
