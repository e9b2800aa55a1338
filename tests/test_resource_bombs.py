"""Resource bombs that the format-specific tests do not already cover: configs nested a
million levels deep, cyclic layer graphs, self-referencing and deeply nested pickles.
Each must end quickly in one line (or, for a cycle, unknown shapes with a reason): no
RecursionError, no MemoryError, no hang."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import h5py
import pytest

from conftest import cli, cli_json

from cnninspect.errors import ExitStatus

DEPTH = 1_000_000


def _one_line(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnninspect: "), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    for word in words:
        assert word in lines[0]


def _keras_h5(path: Path, config: str) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = config
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["backend"] = "tensorflow"
    return path


@pytest.mark.parametrize("command", ["shapes", "weights"])
def test_model_config_nested_a_million_levels_is_refused(tmp_path: Path, command: str) -> None:
    path = _keras_h5(tmp_path / "deep.h5", "[" * DEPTH + "]" * DEPTH)
    _one_line(cli(command, path), ExitStatus.BROKEN, "nested too deeply")


def test_keras_archive_config_nested_a_million_levels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        zf.writestr("config.json", '{"a": ' * DEPTH + "1" + "}" * DEPTH)
    _one_line(cli("shapes", path), ExitStatus.BROKEN, "nested too deeply")


def test_cyclic_layer_graph_gives_unknown_shapes_with_a_reason(tmp_path: Path) -> None:
    """Dense a takes b's output and b takes a's: no order exists to infer them in."""

    def dense(name: str, source: str) -> dict:
        return {"class_name": "Dense", "name": name, "config": {"name": name, "units": 4},
                "inbound_nodes": [[[source, 0, 0, {}]]]}  # fmt: skip

    config = {"class_name": "Functional", "config": {"name": "loop", "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, 4], "name": "x"},
         "inbound_nodes": []},
        dense("a", "b"), dense("b", "a")],
        "input_layers": [["x", 0, 0]], "output_layers": [["b", 0, 0]]}}  # fmt: skip
    path = _keras_h5(tmp_path / "cyclic.h5", json.dumps(config))
    report = cli_json("shapes", path)
    by_name = {layer["name"]: layer for layer in report["layers"]}
    assert by_name["x"]["output_shapes"] == [[None, 4]]
    for name in ("a", "b"):
        assert by_name[name]["output_shapes"] == [None]
        assert "cycle" in by_name[name]["unknown_reason"]
    # one-letter inbound names still leave the Inbound header whole
    assert "Inbound" in cli("shapes", path).stdout


def _torch_zip(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
    return path


def test_self_referencing_pickle_ends_in_one_line(tmp_path: Path) -> None:
    loop: list = []
    loop.append(loop)
    path = _torch_zip(tmp_path / "loop.pt", pickle.dumps({"model": loop, "epoch": 1}, protocol=2))
    _one_line(cli("shapes", path), ExitStatus.UNRECOGNISED, "no weights")


@pytest.mark.parametrize(
    "payload",
    [b"\x80\x02" + b"]" * 200_000 + b".",  # 200,000 empty lists on the stack
     b"\x80\x02" + b"(" * 100_000 + b")" + b"t" * 99_999 + b"."],  # tuples nested 100,000 deep
    ids=["many-lists", "deep-tuples"],
)  # fmt: skip
def test_deeply_nested_pickle_ends_in_one_line(tmp_path: Path, payload: bytes) -> None:
    _one_line(cli("weights", _torch_zip(tmp_path / "deep.pt", payload)), ExitStatus.UNRECOGNISED)
