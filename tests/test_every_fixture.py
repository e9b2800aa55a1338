"""Every command on every fixture, and both filter views on every layer with filters, at
the last output and input map (where an off-by-one in a layout or a group reads past the
end): each exits 0 with a consistent document. The fuzz harness covers damaged files;
this covers every layer of the sound ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, SAMPLES, cli, cli_json

SUFFIXES = {".h5", ".keras", ".npz", ".npy", ".pt", ".pth", ".safetensors", ".onnx", ".tflite"}
# Refused by design: a sparse tensor on read (test_tflite), the empty zips np.savez
# writes for a model without weights (test_numpy), and weights fed at run time, which have
# no values (test_onnx_extra)
SKIP = {"sparse_dense.tflite", "merges.weights.npz", "pooling.weights.npz", "weights_as_inputs.onnx"}
# The deliberately inconsistent twins of tests/fixtures/consistency (issue 11)
INCONSISTENT = {"cnn_wrong_input.h5", "grouped_bad_state.pt", "keras1_lambda_th_bad.h5"}
FILES = sorted(
    p for p in [*FIXTURES.rglob("*"), *SAMPLES.iterdir()]
    if p.suffix in SUFFIXES and "hostile" not in p.parts and p.name not in SKIP
)  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_command_and_filter_layer(path: Path) -> None:
    if path.parent.name == "consistency" and path.name in INCONSISTENT:  # shown whole, exit 5 (test_check)
        result = cli("shapes", path, "--json")
        assert result.exit_code == 5
        report = json.loads(result.stdout)
        assert report["consistency"]["mismatches"]
    else:
        report = cli_json("shapes", path)
        assert cli("shapes", path, "--columns", "all").exit_code == 0
    tensors = cli_json("weights", path, "--stats")["tensors"]
    assert all("stats" in t for t in tensors)
    for layer in report["layers"]:
        if not layer["channels"]:
            continue
        n_out, n_in = layer["channels"]["out"], layer["channels"]["in"]
        if n_out == 0:  # an empty tensor ('empty' in numpy_arrays.safetensors): no map to show
            continue
        forward = cli_json("filters", path, "--layer", f"#{layer['index']}", "--out", str(n_out - 1))
        assert forward["out_maps"] == n_out and forward["inputs"]
        assert len(forward["ranking"]) == len(forward["inputs"])
        if n_in is None:
            continue
        reverse = cli_json("filters", path, "--layer", f"#{layer['index']}", "--in", str(n_in - 1))
        assert reverse["outputs"] and all(0 <= e["out"] < n_out for e in reverse["outputs"])
