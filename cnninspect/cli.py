"""The command line: it only parses. Each command turns its arguments into a request
(``commands.py``), which ``commands.run`` carries out in the ``Environment`` the entry
point reads once from the process. Parsing imports nothing heavy, so ``--help`` and
``--version`` stay fast.

A command line the parser refuses (an unknown option, a missing ``--layer``, ``--batch 0``)
is one line ``cnninspect: ...`` and exit 2, like every other error.
"""

from __future__ import annotations

import gc
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import typer
from typer.core import TyperCommand, TyperGroup

from . import __version__, commands, watchdog
from .commands import (
    ActivationsRequest,
    DiffRequest,
    ExploreRequest,
    FiltersRequest,
    GraphRequest,
    InputShape,
    Request,
    ShapesRequest,
    CheckRequest,
    WeightsRequest,
)
from .environment import Environment
from .errors import CnnInspectError, ExitStatus, UsageError

WATCHED = ("shapes", "filters", "weights", "diff", "graph", "activations")  # the commands run under the watchdog


class _Command(TyperCommand):
    """A command whose usage line reads ``[OPTIONS] FILE``: typer writes a required
    argument as ``{FILE}``, which reads as a set or a template."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]


class _Commands(TyperGroup):
    """Parses the command line into a request, then runs it in the environment given
    as ``obj`` (read from the process when none is given), so that calling the app, as
    the tests' ``CliRunner`` does, runs the command too."""

    def main(
        self,
        args: Optional[Sequence[str]] = None,
        prog_name: Optional[str] = None,
        complete_var: Optional[str] = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        env = extra.pop("obj", None) or Environment.from_process()
        options = dict(prog_name=prog_name, complete_var=complete_var, windows_expand_args=windows_expand_args, **extra)
        status = _parse_and_run(lambda: self.parse(args, **options), env)
        if standalone_mode:
            sys.exit(int(status))
        return status

    def parse(self, args: Optional[Sequence[str]] = None, **options: Any) -> Any:
        """The request the command line asks for, or Click's exit code (``--help``)."""
        return super().main(args, standalone_mode=False, **options)


# Click's exceptions, from the Click that typer uses (typer 0.28 ships its own copy).
ClickException: "type[Exception]" = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _parse_and_run(parse: Callable[[], Any], env: Environment) -> ExitStatus:
    try:
        parsed = parse()
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # Click 8.2+ has printed the help
            return ExitStatus.USAGE
        env.error(_one_line(exc))
        return ExitStatus.USAGE
    except CnnInspectError as exc:  # a value the command's own parsing refused
        env.error(exc.message)
        return exc.status
    except (typer.Abort, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(parsed, Request):
        return commands.run(parsed, env)
    return ExitStatus(parsed or 0)  # --help, --version, completion: Click's own exit code


def _one_line(exc: Any) -> str:
    """Click's message without its usage box: ``shapes: Missing argument 'FILE'. (see ...)``."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    command = f"{ctx.info_name}: " if ctx.parent is not None else ""
    return f"{command}{message} (see '{ctx.command_path} --help')"


app = typer.Typer(
    name="cnninspect",
    cls=_Commands,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class View(str, Enum):
    auto = "auto"
    numbers = "numbers"
    blocks = "blocks"


class Preprocess(str, Enum):
    none = "none"
    unit = "unit"
    symmetric = "symmetric"
    caffe = "caffe"
    torch = "torch"


class Units(str, Enum):
    si = "si"
    binary = "binary"


class GraphFormat(str, Enum):
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"


FileArg = typer.Argument(..., metavar="FILE", help="Model file (detected by content, whatever its extension).", show_default=False)
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
BatchOpt = typer.Option(None, "--batch", min=1, help="Fill the batch dimension with N.")
PreprocessOpt = typer.Option(Preprocess.unit, "--preprocess", help="Image scaling for --input (as for activations).")
InputShapeOpt = typer.Option(
    [], "--input-shape", help="Input shape without the batch dim, e.g. 224,224,3; repeat once per model input."
)
LAYER_HELP = (
    "Layer: the index shown by 'shapes', a name, or a path outer/inner; "
    "#N is always the index, name:X always the name (for numbered PyTorch modules)."
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


def parse_input_shape(text: str) -> InputShape:
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


@app.command(cls=_Command)
def shapes(
    file: Path = FileArg,
    as_json: bool = JsonOpt,
    input_shape: List[str] = InputShapeOpt,
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Fill the batch dimension with N (counts are then for N samples)."),
    columns: Optional[str] = typer.Option(
        None,
        "--columns",
        help="Table columns: shape,params,macs,flops,memory,rf or all (default shape,params,macs); "
        "trainable,kernel,stride,padding,dilation,groups or attrs.",
    ),
    units: Units = typer.Option(Units.si, "--units", help="Bytes in si (kB, MB) or binary (KiB, MiB) units."),
    depth: Optional[int] = typer.Option(None, "--depth", help="Fold nested models deeper than N (0: top level only)."),
    types: List[str] = typer.Option([], "--type", help="Only layers of this type (case-insensitive); repeatable."),
    match: Optional[str] = typer.Option(None, "--match", help="Only layers whose path matches this regular expression."),
    explain: bool = typer.Option(
        False, "--explain", help="Under the table, how each layer's output size, params and MACs are found, with its own numbers."
    ),
    hide_shape_ops: Optional[bool] = typer.Option(
        None, "--hide-shape-ops/--show-shape-ops",
        help="Leave out (or show) the layers that only compute shapes (ONNX Shape, Gather, Constant...); by default "
        "the table leaves them out when they outnumber the other layers.",
    ),
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> ShapesRequest:
    """Every layer's output (activation) shape, params, MACs/FLOPs, activation memory and
    receptive field.

    Reads metadata only: no weight data is loaded. --depth, --type and --match select
    rows (in the JSON too); totals always describe the whole model.

    Example: cnninspect shapes sample_models/mnist_cnn.h5 --columns shape,macs,flops,rf --type conv2d
    """
    from .render.columns import parse_columns

    return ShapesRequest(
        file=file, config=config, layout=layout, debug=debug, as_json=as_json,
        input_shapes=tuple(parse_input_shape(s) for s in input_shape), batch=batch,
        columns=parse_columns(columns), units=units.value, depth=depth, types=tuple(types), match=match, explain=explain,
        hide_shape_ops=hide_shape_ops,
    )  # fmt: skip


@app.command(cls=_Command)
def check(
    file: Path = FileArg,
    as_json: bool = JsonOpt,
    input_shape: List[str] = InputShapeOpt,
    batch: Optional[int] = BatchOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> CheckRequest:
    """The architecture checked against the stored weights: one line per check that failed
    or that the weights resolved, then the counts. Exit 0 when consistent, 5 when not.

    Example: cnninspect check sample_models/mnist_cnn.h5
    """
    return CheckRequest(
        file=file, config=config, layout=layout, debug=debug, as_json=as_json,
        input_shapes=tuple(parse_input_shape(s) for s in input_shape), batch=batch,
    )  # fmt: skip


@app.command(cls=_Command)
def filters(
    file: Path = FileArg,
    layer: str = typer.Option(..., "--layer", "-l", help=LAYER_HELP),
    out: Optional[int] = typer.Option(None, "--out", "-o", help="Output map (channel) number, from 0: the filters feeding it."),
    in_map: Optional[int] = typer.Option(
        None, "--in", "-i", help="Input map number, from 0: the output maps it feeds (instead of --out)."
    ),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Draw only the N strongest filters."),
    as_correlation: bool = typer.Option(
        False, "--as-correlation", help="Show Theano-era (true convolution) kernels flipped, as cross-correlation kernels."
    ),
    dequantize: bool = DequantizeOpt,
    view: View = typer.Option(
        View.auto, "--view", help="Terminal drawing: numbers, blocks (a compact picture), or auto (numbers up to 5x5 kernels)."
    ),
    png: Optional[Path] = PngOpt,
    inputs: List[str] = typer.Option(
        [], "--input", help="With --out, compute the equation live on this input (once per model input in order): "
        "a .npy array, an image, random:SEED or zeros."
    ),
    preprocess: Preprocess = PreprocessOpt,
    save: Optional[Path] = typer.Option(None, "--save", help="With --input: write each contribution, the pre-activation and the output as .npy here."),
    input_shape: List[str] = InputShapeOpt,
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> FiltersRequest:
    """The filters that feed one output map of one layer, one per input map; with --in,
    the output maps one input map feeds, one filter each.

    Shows the bias, the activation, the equation, the slice in the file's own layout and
    the strongest connections. Reads only that slice of the weights.

    Example: cnninspect filters sample_models/mnist_cnn.h5 --layer 2 --out 5 --png filters.png

    Example: cnninspect filters sample_models/mnist_cnn.h5 --layer 2 --in 3

    Example: cnninspect filters sample_models/mnist_cnn.h5 --layer 2 --out 5 --input sample_models/digits/7.png
    """
    if (out is None) == (in_map is None):
        raise UsageError("give exactly one of --out N (what feeds output map N) and --in I (what input map I feeds)")
    if in_map is not None and inputs:
        raise UsageError("--input computes the equation of one output map: use it with --out N")
    if save is not None and not inputs:
        raise UsageError("--save writes the live equation's arrays: give --input too")
    if png is not None and out is None:
        raise UsageError("--png draws the filters feeding one output map: use it with --out N")
    return FiltersRequest(
        file=file, config=config, layout=layout, debug=debug, layer=layer, out=out, in_map=in_map, top=top,
        as_correlation=as_correlation, dequantize=dequantize, view=view.value, png=png, as_json=as_json,
        inputs=tuple(inputs), preprocess=preprocess.value, save=save, input_shapes=tuple(parse_input_shape(s) for s in input_shape),
    )  # fmt: skip


@app.command(cls=_Command)
def weights(
    file: Path = FileArg,
    stats: bool = typer.Option(False, "--stats", help="Add min, max, mean, std, zeros, NaN/Inf and dead filters (streams the data)."),
    layer: Optional[str] = typer.Option(None, "--layer", "-l", help=f"Only this layer and what it contains. {LAYER_HELP}"),
    dequantize: bool = DequantizeOpt,
    png: Optional[Path] = typer.Option(
        None, "--png", help="Draw all filters of the --layer to this PNG image: a row per output map, a column per input map."
    ),
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> WeightsRequest:
    """Every stored tensor: path, layer, role, shape, named axes, layout, dtype, bytes.

    Example: cnninspect weights sample_models/mnist_cnn.h5 --stats

    Example: cnninspect weights sample_models/mnist_cnn.h5 --layer conv2d --png conv2d.png
    """
    if png is not None and layer is None:
        raise UsageError("--png draws one layer's filters: give --layer L too")
    return WeightsRequest(
        file=file, config=config, layout=layout, debug=debug, stats=stats, layer=layer, dequantize=dequantize,
        png=png, as_json=as_json,
    )  # fmt: skip


@app.command(cls=_Command)
def explore(
    file: Path = FileArg,
    input_shape: List[str] = InputShapeOpt,
    batch: Optional[int] = BatchOpt,
    dequantize: bool = DequantizeOpt,
    inputs: List[str] = typer.Option(
        [], "--input", help="Run the network on this (once per model input in order): an activations pane for the selected layer "
        "and the live equation of its map. A .npy array, an image, random:SEED or zeros."
    ),
    preprocess: Preprocess = PreprocessOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> ExploreRequest:
    """Browse the layers, their weights and filters interactively (a terminal is needed).

    A tree of layers on the left; the selected layer, its weights and its filters on the
    right. Press ? in the app for the keys.

    Example: cnninspect explore sample_models/mnist_cnn.h5

    Example: cnninspect explore sample_models/mnist_cnn.h5 --input sample_models/digits/7.png
    """
    return ExploreRequest(
        file=file, config=config, layout=layout, debug=debug,
        input_shapes=tuple(parse_input_shape(s) for s in input_shape), batch=batch, dequantize=dequantize,
        inputs=tuple(inputs), preprocess=preprocess.value,
    )  # fmt: skip


@app.command(cls=_Command)
def diff(
    file_a: Path = typer.Argument(..., metavar="A", help="A model file.", show_default=False),
    file_b: Path = typer.Argument(..., metavar="B", help="Another checkpoint of it, or its port to another library.", show_default=False),
    tolerance: float = typer.Option(
        1e-6,
        "--tolerance",
        "-t",
        min=0.0,
        help="An element differs when |a - b| exceeds T times the largest |value| of its tensor in A or B.",
    ),
    inputs: List[str] = typer.Option(
        [], "--input", help="Also run both networks on this, once per model input in A's layout (B's is transposed): "
        "a .npy array, an image (prepared for each model), random:SEED or zeros; report the first layer whose outputs differ."
    ),
    preprocess: str = typer.Option(
        "unit", "--preprocess", help="Image scaling, as for activations: none, unit, symmetric, caffe, torch.", show_default=True
    ),
    as_json: bool = JsonOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> DiffRequest:
    """Compare two models layer by layer in the neutral layout: two checkpoints (what
    changed, and by how much), or one network in two libraries (did the port copy the
    weights right). Exit 0 when they are the same network, 8 when they differ, 9 when
    --input stopped at a layer cnninspect cannot run before a verdict.

    Example: cnninspect diff model.h5 port.pt --tolerance 1e-5

    Example: cnninspect diff model.h5 port.onnx --input random:0
    """
    return DiffRequest(file=file_a, other=file_b, layout=layout, debug=debug, tolerance=tolerance, inputs=tuple(inputs),
                       preprocess=preprocess, as_json=as_json)  # fmt: skip


@app.command(cls=_Command)
def graph(
    file: Path = FileArg,
    fmt: GraphFormat = typer.Option(
        GraphFormat.dot, "--format", "-f", help="dot (Graphviz), mermaid, or svg (needs Graphviz's dot program)."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    show_shape_ops: bool = typer.Option(
        False, "--show-shape-ops", help="Also draw the nodes that only compute shapes (ONNX Shape, Gather, Constant...)."
    ),
    input_shape: List[str] = InputShapeOpt,
    batch: Optional[int] = BatchOpt,
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> GraphRequest:
    """The network as a picture's source: one node per layer call with its type, output
    shape and params (and kernel, stride and groups for convolutions), edges along the
    tensors, nested models as clusters.

    Example: cnninspect graph sample_models/mnist_cnn.h5 --format mermaid

    Example: cnninspect graph model.onnx -o model.dot && dot -Tpng model.dot -o model.png
    """
    return GraphRequest(
        file=file, config=config, layout=layout, debug=debug, format=fmt.value, output=output,
        show_shape_ops=show_shape_ops, input_shapes=tuple(parse_input_shape(s) for s in input_shape), batch=batch,
        as_json=as_json,
    )  # fmt: skip


class MapsView(str, Enum):
    blocks = "blocks"


@app.command(cls=_Command)
def activations(
    file: Path = FileArg,
    inputs: List[str] = typer.Option(
        ..., "--input", help="What to run on, once per model input in order: a .npy array (batch dim optional), "
        "an image (PNG/JPEG/BMP, resized to the input), random:SEED or zeros."
    ),
    layer: List[str] = typer.Option([], "--layer", "-l", help=LAYER_HELP + " Repeat to report several; default: every layer call."),
    save: Optional[Path] = typer.Option(None, "--save", help="Write each reported layer call's output to this folder as .npy."),
    png: Optional[Path] = typer.Option(None, "--png", help="Draw the maps of one layer (--layer, else the last with maps) to this PNG."),
    view: Optional[MapsView] = typer.Option(None, "--view", help="blocks: also draw the strongest maps of that layer in the terminal."),
    preprocess: Preprocess = typer.Option(
        Preprocess.unit, "--preprocess", help="Image scaling: none (0-255), unit (0-1), symmetric (-1..1), "
        "caffe (BGR, ImageNet mean subtracted), torch (ImageNet mean/std)."
    ),
    float64: bool = typer.Option(False, "--float64", help="Compute in float64 (to check float32 round-off)."),
    input_shape: List[str] = InputShapeOpt,
    as_json: bool = JsonOpt,
    config: Optional[Path] = ConfigOpt,
    layout: Optional[str] = LayoutOpt,
    debug: bool = DebugOpt,
) -> ActivationsRequest:
    """Run the network on an input, with NumPy: every layer call's output shape and
    statistics, its dead maps (zero everywhere), the top-5 classes of a classifier.

    Example: cnninspect activations sample_models/mnist_cnn.h5 --input sample_models/digits/7.png

    Example: cnninspect activations sample_models/mnist_cnn.h5 --input sample_models/digits/7.png --layer conv2d_1 --view blocks --png maps.png
    """
    return ActivationsRequest(
        file=file, config=config, layout=layout, debug=debug, inputs=tuple(inputs), layers=tuple(layer), save=save,
        png=png, view=None if view is None else view.value, preprocess=preprocess.value, float64=float64,
        input_shapes=tuple(parse_input_shape(s) for s in input_shape), as_json=as_json,
    )  # fmt: skip


def parse(argv: Sequence[str]) -> Any:
    """The request ``argv`` asks for (``--help`` and ``--version`` print and give 0);
    a command line the parser refuses raises."""
    command = typer.main.get_command(app)
    assert isinstance(command, _Commands)
    return command.parse(list(argv))


def entry(argv: Sequence[str], env: Environment) -> ExitStatus:
    """The whole program: a command that reads a file runs under the watchdog."""
    argv = list(argv)
    if argv[:1] and argv[0] in WATCHED and watchdog.available():
        try:
            timeout = watchdog.timeout_from(env.environ)
        except UsageError as exc:
            env.error(exc.message)
            return exc.status
        if timeout:
            return watchdog.watch(lambda: app(argv, obj=env, standalone_mode=False), timeout, env, watchdog.subject_of(argv))
    try:
        return ExitStatus(app(argv, obj=env, standalone_mode=False))
    except SystemExit as exc:  # --help into a closed pipe: rich exits on the broken pipe
        if isinstance(exc.__context__, BrokenPipeError):
            return ExitStatus.CLOSED_PIPE
        raise


def run() -> None:
    """The console script."""
    # A short-lived process: collecting the many small objects of a big config costs
    # more than the memory it would return.
    gc.disable()
    try:
        status = entry(sys.argv[1:], Environment.from_process())
    except KeyboardInterrupt:  # Ctrl-C outside a command's own handling (while importing)
        status = ExitStatus.INTERRUPTED
    watchdog.leave(int(status))
