"""The diff and graph commands through the command line: exit codes, JSON, files written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLES, cli

from cnninspect.errors import ExitStatus


def test_diff_same_network_is_exit_0_and_a_changed_one_exit_8() -> None:
    same = cli("diff", str(SAMPLES / "mnist_cnn.h5"), str(SAMPLES / "mnist_cnn_tfkeras.h5"), "--json")
    assert same.exit_code == ExitStatus.OK, same.stderr
    doc = json.loads(same.stdout)
    assert doc["schema"] == "cnninspect.diff/1" and doc["same_network"] is True
    trained, random = SAMPLES / "mnist_cnn.h5", FIXTURES / "keras3" / "mnist_cnn.h5"
    changed = cli("diff", str(trained), str(random))
    assert changed.exit_code == ExitStatus.DIFFERENT == 8
    assert changed.stderr == "" and changed.stdout.rstrip().endswith("different networks")


def test_diff_names_the_file_that_failed() -> None:
    result = cli("diff", str(SAMPLES / "mnist_cnn.h5"), "missing.h5")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr.startswith("cnninspect: missing.h5: ")


def test_graph_writes_dot_to_stdout_or_a_file(tmp_path: Path) -> None:
    pydot = pytest.importorskip("pydot")
    result = cli("graph", str(SAMPLES / "mnist_cnn.h5"))
    assert result.exit_code == 0 and pydot.graph_from_dot_data(result.stdout)
    out = tmp_path / "g.mmd"
    written = cli("graph", str(SAMPLES / "mnist_cnn.h5"), "--format", "mermaid", "-o", str(out))
    assert written.exit_code == 0 and out.read_text().startswith("flowchart TB") and str(out) in written.stderr
    doc = json.loads(cli("graph", str(SAMPLES / "mnist_cnn.h5"), "--json").stdout)
    assert doc["schema"] == "cnninspect.graph/1" and len(doc["nodes"]) == 7


def test_graph_svg_needs_graphviz() -> None:
    result = cli("graph", str(SAMPLES / "mnist_cnn.h5"), "--format", "svg")
    if shutil.which("dot") is None:
        assert result.exit_code == ExitStatus.USAGE and "Graphviz" in result.stderr
    else:
        assert result.exit_code == 0 and "<svg" in result.stdout
