"""Terminal manners (issue 14 §3, §4 help; issue 10 item 5): one-line usage errors with
exit 2, quiet closed pipes, a full disk, CNNINSPECT_TIMEOUT checked, ambiguous layer
selectors, unknown --type, the watchdog's word on slow reading, Ctrl-C, help that shows
choices, and the terminal and pipe paths through an injected ``Environment``."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnninspect.cli import app
from cnninspect.environment import Environment
from cnninspect.errors import ExitStatus
from cnninspect.watchdog import watch

from conftest import FIXTURES, ROOT, SAMPLES, cli, run

MNIST = SAMPLES / "mnist_cnn.h5"
SEQUENTIAL_STATE = FIXTURES / "torch" / "mixed_state.pt"  # an nn.Sequential state dict: modules 0, 1, 3, 4, 9
COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8;")


def _one_line(stderr: str, *words: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnninspect: ") and "Traceback" not in stderr, stderr
    assert all(w in lines[0] for w in words), stderr
    return lines[0]


# --- usage errors ------------------------------------------------------------------------


@pytest.mark.parametrize("args,words", [
    (["filters", MNIST, "--out", "1"], ["--layer"]),
    (["shapes", MNIST, "--batch", "0"], ["--batch", "x>=1"]),
    (["filters", MNIST, "--layer", "2", "--out", "1", "--top", "0"], ["--top"]),
    (["shapes", MNIST, "--no-such-option"], ["--no-such-option"]),
    (["shapes"], ["FILE"]),
    (["shapes", MNIST, "--units", "metric"], ["--units", "si", "binary"]),
])  # fmt: skip
def test_usage_errors_are_one_line_and_exit_2(args: list, words: list[str]) -> None:
    result = run(*args)
    assert result.returncode == ExitStatus.USAGE and result.stdout == ""
    line = _one_line(result.stderr, *words)
    assert "--help" in line and "╭" not in result.stderr


def test_an_input_shape_of_the_wrong_rank_is_a_usage_error() -> None:
    result = run("shapes", MNIST, "--input-shape", "28,28")
    assert result.returncode == ExitStatus.USAGE and result.stdout == ""
    _one_line(result.stderr, "--input-shape 28,28", "28,28,1")


def test_an_input_shape_that_no_input_records_is_still_a_usage_error() -> None:
    """A module file records no input shape: the shape rules refuse a 2-D image, and that
    is the user's mistake too, not an internal error."""
    result = cli("shapes", FIXTURES / "torch" / "mixed_module.pt", "--input-shape", "28,28")
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    _one_line(result.stderr, "--input-shape 28,28")


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "abc"])
def test_a_bad_timeout_is_a_usage_error(value: str) -> None:
    result = run("shapes", MNIST, env={"CNNINSPECT_TIMEOUT": value})
    assert result.returncode == ExitStatus.USAGE and result.stdout == ""
    _one_line(result.stderr, "CNNINSPECT_TIMEOUT", value)


def test_an_unknown_type_lists_the_types_there_are() -> None:
    result = cli("shapes", MNIST, "--type", "Nope")
    assert result.exit_code == ExitStatus.SELECTION and result.stdout == ""
    _one_line(result.stderr, "Nope", "Conv2D", "Dense", "MaxPooling2D")
    assert cli("shapes", MNIST, "--type", "conv2d").exit_code == 0


# --- layer selectors ---------------------------------------------------------------------


def _layer(*selector: str) -> dict:
    result = cli("filters", SEQUENTIAL_STATE, *selector, "--out", "0", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["layer"]


def test_a_selector_that_is_an_index_and_another_layers_name_is_ambiguous() -> None:
    """Index 3 is module '4'; module '3' is index 2."""
    result = cli("filters", SEQUENTIAL_STATE, "--layer", "3", "--out", "0")
    assert result.exit_code == ExitStatus.SELECTION and result.stdout == ""
    _one_line(result.stderr, "ambiguous", "index 3 is '4'", "layer 2 is named '3'", "#3", "name:3")
    assert (_layer("--layer", "#3")["index"], _layer("--layer", "#3")["path"]) == (3, "4")
    assert (_layer("--layer", "name:3")["index"], _layer("--layer", "name:3")["path"]) == (2, "3")


def test_a_selector_whose_index_and_name_agree_is_not_ambiguous() -> None:
    assert _layer("--layer", "0")["path"] == "0"
    weights = cli("weights", SEQUENTIAL_STATE, "--layer", "name:9", "--json")
    assert weights.exit_code == 0 and {t["layer"] for t in json.loads(weights.stdout)["tensors"]} == {"9"}


@pytest.mark.parametrize("selector,words", [("#9", ["no layer '#9'"]), ("name:2", ["no layer 'name:2'"])])
def test_prefixed_selectors_that_name_nothing_list_what_is_valid(selector: str, words: list[str]) -> None:
    result = cli("filters", SEQUENTIAL_STATE, "--layer", selector, "--out", "0")
    assert result.exit_code == ExitStatus.SELECTION
    _one_line(result.stderr, *words, "layers with filters")


# --- output that cannot be written -------------------------------------------------------


def test_a_closed_pipe_exits_quietly() -> None:
    """As ``cnninspect weights FILE | head -1``: the reader leaves after one line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cnninspect", "weights", str(MNIST)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120"},
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) == ExitStatus.CLOSED_PIPE
    assert process.stderr.read() == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_disk_is_cannot_write() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "cnninspect", "shapes", str(MNIST)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert result.returncode == ExitStatus.NOT_FOUND
    _one_line(result.stderr, "cannot write", "No space left on device")


# --- the watchdog and Ctrl-C -------------------------------------------------------------


def _environment(stdout_isatty: bool = False, colour: bool = False, width: int = 120) -> Environment:
    return Environment(
        stdout=io.StringIO(), stderr=io.StringIO(), stdout_isatty=stdout_isatty, width=width,
        styled=colour, colour=colour, environ={"TERM": "xterm-256color"},
    )  # fmt: skip


def _loop_forever() -> int:
    while True:
        pass


def test_the_watchdog_says_once_that_reading_is_slow_then_stops_it() -> None:
    env = _environment()
    status = watch(_loop_forever, 1.5, env, "model.h5", slow_after=0.2)
    assert status == ExitStatus.TIMEOUT
    lines = env.stderr.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2
    assert lines[0] == "cnninspect: model.h5: reading is slow; the watchdog stops it at 1.5 s (CNNINSPECT_TIMEOUT sets the limit)"
    assert lines[1].startswith("cnninspect: model.h5: gave up after 1.5 s")


def test_the_watchdog_passes_the_childs_status_on() -> None:
    env = _environment()
    assert watch(lambda: int(ExitStatus.SELECTION), 30, env, "model.h5") == ExitStatus.SELECTION
    assert env.stderr.getvalue() == ""  # type: ignore[attr-defined]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_ctrl_c_exits_130_quietly(tmp_path: Path) -> None:
    """The child waits opening a FIFO nobody writes; Ctrl-C (SIGINT to the process group)
    stops it. Sent once the parent ignores SIGINT, as the watchdog does while it waits."""
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "cnninspect", "shapes", str(fifo)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
        preexec_fn=_interruptible,
    )  # fmt: skip
    try:
        while not _ignores_sigint(process.pid) or not _children(process.pid):
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == ExitStatus.INTERRUPTED and stdout == "" and stderr == ""


def _interruptible() -> None:
    """Python installs its Ctrl-C handler only where SIGINT is not ignored, and a test
    run in the background inherits it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(re.search(r"SigIgn:\s*([0-9a-f]+)", status).group(1), 16)  # type: ignore[union-attr]
    return bool(ignored & (1 << (signal.SIGINT - 1)))


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


# --- a terminal and a pipe, through the environment --------------------------------------


def _invoke(env: Environment, *args: object) -> ExitStatus:
    return app([str(a) for a in args], obj=env, standalone_mode=False)


def test_json_is_indented_on_a_terminal_and_compact_in_a_pipe() -> None:
    tty, pipe = _environment(stdout_isatty=True), _environment()
    assert _invoke(tty, "shapes", MNIST, "--json") == ExitStatus.OK == _invoke(pipe, "shapes", MNIST, "--json")
    on_tty, in_pipe = tty.stdout.getvalue(), pipe.stdout.getvalue()  # type: ignore[attr-defined]
    assert json.loads(on_tty) == json.loads(in_pipe)
    assert on_tty.startswith('{\n  "schema"') and in_pipe.count("\n") == 1


def test_colour_only_when_the_environment_says_so() -> None:
    coloured, plain = _environment(stdout_isatty=True, colour=True), _environment(stdout_isatty=True)
    for env in (coloured, plain):
        assert _invoke(env, "filters", MNIST, "--layer", "1", "--out", "0") == ExitStatus.OK
    assert COLOUR.search(coloured.stdout.getvalue())  # type: ignore[attr-defined]
    assert "\x1b[" not in plain.stdout.getvalue()  # type: ignore[attr-defined]


def test_the_width_comes_from_the_environment() -> None:
    narrow, wide = _environment(width=70), _environment(width=200)
    for env in (narrow, wide):
        assert _invoke(env, "shapes", MNIST, "--columns", "all") == ExitStatus.OK
    widths = [max(len(line) for line in env.stdout.getvalue().splitlines()) for env in (narrow, wide)]  # type: ignore[attr-defined]
    assert widths[0] <= 70 < widths[1]


def test_the_environment_is_read_from_the_process_once() -> None:
    env = Environment.from_process()
    assert env.stdout is sys.stdout and env.width > 0 and env.environ == dict(os.environ)
    assert "COLUMNS" not in os.environ or os.environ["COLUMNS"] == env.environ["COLUMNS"]


def test_explore_refuses_a_pipe() -> None:
    env = _environment()
    assert _invoke(env, "explore", MNIST) == ExitStatus.USAGE
    _one_line(env.stderr.getvalue(), "explore needs a terminal")  # type: ignore[attr-defined]


def test_a_pipe_gets_120_columns_and_colour_only_when_forced() -> None:
    result = run("shapes", MNIST, "--columns", "all", env={"COLUMNS": ""})
    assert result.returncode == 0 and max(len(line) for line in result.stdout.splitlines()) > 80
    assert "\x1b[" not in result.stdout


# --- help --------------------------------------------------------------------------------


def test_help_shows_file_the_choices_and_an_example() -> None:
    for command in ("shapes", "filters", "weights", "explore"):
        text = cli(command, "--help", env={"COLUMNS": "200"}).stdout
        assert "[OPTIONS] FILE" in text and "{file}" not in text, text
        assert "Example: cnninspect" in text
    shapes, filters = cli("shapes", "--help", env={"COLUMNS": "200"}).stdout, cli("filters", "--help", env={"COLUMNS": "200"}).stdout
    assert "si|binary" in shapes and "all ." not in shapes and "all (default shape,params,macs)" in shapes
    assert "auto|numbers|blocks" in filters and "#N" in filters and "name:X" in filters


def test_shell_completion_is_offered() -> None:
    text = cli("--help", env={"COLUMNS": "200"}).stdout
    assert "--install-completion" in text and "--show-completion" in text


# --- the command line only parses --------------------------------------------------------


def test_the_command_line_becomes_a_typed_request() -> None:
    from cnninspect.cli import parse
    from cnninspect.commands import FiltersRequest, ShapesRequest

    assert parse(["shapes", "m.h5", "--input-shape", "32,32,1", "--type", "Conv2D", "--units", "binary"]) == ShapesRequest(
        file=Path("m.h5"), input_shapes=((None, 32, 32, 1),), types=("Conv2D",), units="binary"
    )
    assert parse(["filters", "m.h5", "-l", "#2", "--in", "3", "--view", "blocks"]) == FiltersRequest(
        file=Path("m.h5"), layer="#2", in_map=3, view="blocks"
    )


def test_the_choices_help_shows_are_the_ones_the_renderers_take() -> None:
    from cnninspect.cli import Units, View
    from cnninspect.render.columns import UNITS
    from cnninspect.render.heatmap import VIEWS

    assert tuple(v.value for v in View) == VIEWS and tuple(u.value for u in Units) == UNITS
