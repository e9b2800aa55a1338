"""The command line as a user meets it: help, version, JSON on stdout only, terminal
manners, input-shape overrides, and one-line errors with documented exit codes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from cnninspect.errors import ExitStatus

from conftest import FIXTURES, ROOT, SAMPLES, cli, cli_json, load_truth, run

MNIST = SAMPLES / "mnist_cnn.h5"
GOLDEN = Path(__file__).parent / "golden"
COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8;")  # a foreground or background colour code


def test_version_and_help_on_every_command() -> None:
    result = run("--version")
    assert result.returncode == 0 and re.fullmatch(r"cnninspect \d+\.\d+\.\d+\n", result.stdout)
    for command in ([], ["shapes"], ["filters"], ["weights"]):
        result = cli(*command, "--help")
        assert result.exit_code == 0
        assert "Example: cnninspect" in result.stdout


def test_json_goes_to_stdout_alone() -> None:
    result = run("shapes", MNIST, "--json")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["schema"] == "cnninspect.shapes/1"
    result = run("filters", MNIST, "--layer", "2", "--out", "5", "--json")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["schema"] == "cnninspect.filters/1"


def test_shapes_json_contract() -> None:
    """The fields the README promises (issue 2), present and typed."""
    report = cli_json("shapes", MNIST)
    assert set(report["source"]) >= {"path", "format", "library", "library_version", "backend"}
    assert all(set(i) >= {"name", "shape"} for i in report["inputs"] + report["outputs"])
    for layer in report["layers"]:
        assert set(layer) >= {
            "index", "name", "path", "depth", "type", "inbound", "output_shapes", "params", "weights", "unknown_reason",
        }  # fmt: skip
        for w in layer["weights"]:
            assert set(w) >= {"name", "shape", "axes", "layout"} and len(w["axes"]) == len(w["shape"])
    assert set(report["totals"]) >= {"params", "trainable_params", "non_trainable_params"}


def test_filters_json_contract() -> None:
    report = cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", "5")
    assert set(report) >= {"schema", "layer", "out", "weight", "native_slice", "bias", "activation", "inputs"}
    assert set(report["layer"]) >= {"index", "name", "path", "type"}
    assert set(report["weight"]) >= {"name", "shape", "axes", "layout"}
    assert all(set(e) >= {"in", "filter", "l1", "l2"} for e in report["inputs"])
    assert report["equation"] == "out[5] = relu(b[5] + Σ_{i=0..31} in[i] ⋆ F[i,5])"


def test_layer_by_index_name_and_path_agree() -> None:
    by_index = cli_json("filters", MNIST, "--layer", "2", "--out", "3")
    by_name = cli_json("filters", MNIST, "--layer", "conv2d_1", "--out", "3")
    assert by_index == by_name
    nested = FIXTURES / "keras3" / "nested.h5"
    deep = cli_json("filters", nested, "--layer", "block_fn/sequential/dense", "--out", "1")
    assert deep["layer"]["path"] == "block_fn/sequential/dense"


def test_input_shape_override_and_batch() -> None:
    """--batch fills the batch dim through the mnist network; a 32x32 input would flatten
    to 16*16*32 = 8192 features where dense's kernel takes 6272 (issue 11): refused."""
    report = cli_json("shapes", MNIST, "--input-shape", "28,28,1", "--batch", "8")
    shapes = {layer["name"]: layer["output_shapes"][0] for layer in report["layers"]}
    assert shapes["conv2d_1"] == [8, 28, 28, 32]
    assert shapes["max_pooling2d"] == [8, 14, 14, 32]
    assert shapes["flatten"] == [8, 14 * 14 * 32]
    assert report["outputs"][0]["shape"] == [8, 10]
    refused = cli("shapes", MNIST, "--input-shape", "32,32,1")
    assert refused.exit_code == 2 and "takes 6272 input features; --input-shape 32,32,1 gives 8192" in refused.stderr


def test_dynamic_spatial_dims_resolved_by_input_shape() -> None:
    path = FIXTURES / "keras3" / "dynamic.h5"
    truth = load_truth(path.with_name("dynamic.truth.json"))
    assert truth["inputs"][0][1:3] == [None, None]
    table = cli("shapes", path)
    assert "?" in table.stdout and "--input-shape" in table.stdout
    report = cli_json("shapes", path, "--input-shape", "64,64,3")
    assert all(None not in s[1:] for layer in report["layers"] for s in layer["output_shapes"])


def test_bad_input_shape_is_a_usage_error() -> None:
    result = cli("shapes", MNIST, "--input-shape", "a,b")
    assert result.exit_code == ExitStatus.USAGE and "--input-shape" in result.stderr
    result = cli("shapes", MNIST, "--input-shape", "28,28,1", "--input-shape", "28,28,1")
    assert result.exit_code == ExitStatus.USAGE and "1 input" in result.stderr


def test_no_colour_in_a_pipe_or_with_no_color() -> None:
    plain = run("filters", MNIST, "--layer", "1", "--out", "0")
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout
    forced = run("filters", MNIST, "--layer", "1", "--out", "0", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert COLOUR.search(forced.stdout)
    no_color = run(
        "filters", MNIST, "--layer", "1", "--out", "0", env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"}
    )
    assert not COLOUR.search(no_color.stdout)


# --- errors: one line on stderr, an exit code from the table, no traceback -------------


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _hdf5_not_keras(tmp_path: Path) -> Path:
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 2))
        f.attrs["creator"] = "someone"
    return path


def _broken_config(tmp_path: Path) -> Path:
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {'
        f.attrs["keras_version"] = "2.4.0"
    return path


def _config_not_a_model(tmp_path: Path) -> Path:
    path = tmp_path / "weird.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"optimizer": "adam", "lr": 0.1})
    return path


ERRORS = {
    "missing": (lambda t: t / "nope.h5", ExitStatus.NOT_FOUND, "no such file"),
    "directory": (lambda t: t, ExitStatus.NOT_FOUND, "directory"),
    "empty": (lambda t: _write(t, "empty.h5", b""), ExitStatus.UNRECOGNISED, "empty"),
    "text": (lambda t: _write(t, "model.h5", b"hello world\n"), ExitStatus.UNRECOGNISED, "text file"),
    "html": (lambda t: _write(t, "model.h5", b"<!DOCTYPE html><html>"), ExitStatus.UNRECOGNISED, "HTML"),
    "lfs": (
        lambda t: _write(t, "model.h5", b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n"),
        ExitStatus.UNRECOGNISED,
        "Git LFS pointer",
    ),
    "json": (lambda t: _write(t, "model.h5", b'{"a": 1, "b": 2}'), ExitStatus.UNRECOGNISED, "JSON with keys a, b"),
    "random": (
        lambda t: _write(t, "model.h5", np.random.default_rng(0).bytes(3000)),
        ExitStatus.UNRECOGNISED,
        "binary data",
    ),
    "truncated": (
        lambda t: _write(t, "model.h5", MNIST.read_bytes()[:3000]),
        ExitStatus.BROKEN,
        "truncated or damaged",
    ),
    "hdf5 not keras": (_hdf5_not_keras, ExitStatus.UNRECOGNISED, "HDF5 with groups images"),
    "broken config json": (_broken_config, ExitStatus.BROKEN, "not valid JSON"),
    "config not a model": (_config_not_a_model, ExitStatus.BROKEN, "keys optimizer, lr"),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_errors_are_one_line_with_documented_codes(case: str, tmp_path: Path) -> None:
    make, status, words = ERRORS[case]
    path = make(tmp_path)
    for command in (["shapes", path], ["shapes", path, "--json"], ["filters", path, "--layer", "1", "--out", "0"]):
        result = run(*command)
        assert result.returncode == status, result.stderr
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cnninspect: ") and words in lines[0], result.stderr
        assert str(path) in lines[0]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("shapes", _broken_config(tmp_path), "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_exit_codes_are_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for status in ExitStatus:
        assert re.search(rf"\|\s*{int(status)}\s*\|", readme), status


# --- golden output: the rendered tables at a fixed width, colour off -------------------


GOLDEN_CASES = {
    "shapes_mnist_cnn": ["shapes", "sample_models/mnist_cnn.h5"],
    "shapes_nested": ["shapes", "tests/fixtures/keras3/nested.h5"],
    "shapes_lambda": ["shapes", "tests/fixtures/legacy/keras1_lambda.h5"],
    "filters_mnist_cnn": ["filters", "tests/fixtures/keras3/mnist_cnn.h5", "--layer", "2", "--out", "5", "--top", "4"],
    "filters_separable": ["filters", "tests/fixtures/keras3/depthwise_separable.h5", "--layer", "separable_conv2d", "--out", "1"],
    "filters_dense": ["filters", "tests/fixtures/keras3/mnist_cnn.h5", "--layer", "dense_1", "--out", "3"],
}


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_output(name: str) -> None:
    """Regenerate on purpose only: CNNINSPECT_REGEN_GOLDEN=1 pytest tests/test_cli.py"""
    result = run(*GOLDEN_CASES[name], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("CNNINSPECT_REGEN_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


def test_ci_runs_the_readme_test_command() -> None:
    """The README never lies: CI runs its test command, character for character."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Install the test extra.*?```\n(.+?)\n```", readme, re.S).group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in [line.strip() for line in ci]


@pytest.mark.parametrize("name", ["model.weights", "model.model", "model", "model.hdf5"])
def test_detected_by_content_whatever_the_extension(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(MNIST.read_bytes())
    assert cli_json("shapes", path)["layers"] == cli_json("shapes", MNIST)["layers"]


def test_theano_tensors_are_marked_flipped() -> None:
    result = cli("weights", FIXTURES / "legacy" / "keras2_theano.h5")
    assert result.exit_code == 0 and "HWIO flipped" in result.stdout and "true convolution" in result.stdout


def test_a_file_that_makes_libhdf5_loop_times_out() -> None:
    path = FIXTURES / "hostile" / "hdf5_attribute_loop.h5"
    result = run("shapes", path, env={"CNNINSPECT_TIMEOUT": "2"}, timeout=30)
    assert result.returncode == ExitStatus.TIMEOUT
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert str(path) in result.stderr and "gave up after 2 s" in result.stderr


def test_a_crash_in_a_reading_library_becomes_one_line() -> None:
    """The supervisor reports a child killed by a signal (as a segfault in a C library
    would) as a damaged file, with exit code 5."""
    import subprocess
    import sys

    code = (
        "import os, signal, sys; import cnninspect.cli as cli; "
        "cli.app = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGSEGV); "
        f"sys.argv = ['cnninspect', 'shapes', {str(MNIST)!r}]; cli.run()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == ExitStatus.BROKEN
    assert result.stderr.strip() == f"cnninspect: {MNIST}: a file-reading library crashed on this file (SIGSEGV): damaged or hostile"


def _imported(args: list[str]) -> set[str]:
    """The modules ``cnninspect ARGS`` imports (``python -X importtime``)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnninspect", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-500:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["shapes", "--help"], ["explore", "--help"]])
def test_help_and_version_import_neither_numpy_nor_h5py(args: list[str]) -> None:
    assert not _imported(args) & {"numpy", "h5py", "textual"}


@pytest.mark.parametrize("command", [["shapes"], ["filters", "--layer", "2", "--out", "1"], ["weights", "--stats"]])
def test_commands_that_do_not_explore_never_import_textual(command: list[str]) -> None:
    imported = _imported([command[0], str(MNIST), *command[1:]])
    assert "numpy" in imported  # the check sees imports at all
    assert "textual" not in imported


def test_an_hdf5_file_imports_no_other_format_loader() -> None:
    """The registry imports a format's module only when the formats before it did not
    claim the file: an .h5 needs none of the zip, pickle, protobuf or flatbuffer readers."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from cnninspect.loaders import open_model; "
        f"open_model(Path({str(SAMPLES / 'mnist_cnn.h5')!r})); "
        "print(' '.join(m for m in sys.modules if m.startswith('cnninspect.loaders.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    loaded = set(result.stdout.split())
    others = {f"cnninspect.loaders.{m}" for m in ("keras_archive", "numpy_files", "pytorch", "_unpickle", "onnx_files", "tflite_files")}
    assert "cnninspect.loaders.keras_h5" in loaded
    assert not loaded & others, loaded & others
