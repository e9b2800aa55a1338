"""Files whose writers are gone (Keras 1, Keras 2 on Theano), written by hand with h5py
following FIELD_NOTES (scripts/make_legacy_fixtures.py), each with hand-computed truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, cli, cli_json, weight_facts

LEGACY = sorted(p for p in (FIXTURES / "legacy").glob("*.expected.json") if "weights_only" not in p.name)


def _expected(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(params=LEGACY, ids=lambda p: p.name.removesuffix(".expected.json"))
def legacy(request: pytest.FixtureRequest) -> tuple[dict, dict]:
    expected = _expected(request.param)
    return expected, cli_json("shapes", request.param.with_name(expected["file"]))


def test_shapes_computed_by_hand(legacy: tuple[dict, dict]) -> None:
    expected, report = legacy
    ours = {layer["name"]: layer for layer in report["layers"]}
    for layer in expected["layers"]:
        got = ours[layer["name"]]
        assert got["type"] == layer["class_name"]
        assert got["output_shapes"] == [s for s in layer["output_shapes"]], layer["how"] if "how" in layer else layer
        assert (got["unknown_reason"] is None) == all(s is not None for s in layer["output_shapes"])


def test_params_and_weights_as_stored(legacy: tuple[dict, dict]) -> None:
    expected, report = legacy
    ours = {layer["name"]: layer for layer in report["layers"]}
    for layer in expected["layers"]:
        got = ours[layer["name"]]
        assert got["params"] == layer["params"]
        assert weight_facts(got["weights"]) == weight_facts(layer["weights"]), layer["name"]


def test_model_inputs_and_outputs(legacy: tuple[dict, dict]) -> None:
    expected, report = legacy
    assert [i["shape"] for i in report["inputs"]] == [i["shape"] for i in expected["inputs"]]
    assert [o["shape"] for o in report["outputs"]] == [o["shape"] for o in expected["outputs"]]


def test_lambda_bytecode_is_never_run(tmp_path: Path) -> None:
    """keras1_lambda.h5 holds marshalled bytecode that would create this marker file."""
    marker = Path("/tmp/cnninspect_pwned")
    marker.unlink(missing_ok=True)
    path = FIXTURES / "legacy" / "keras1_lambda.h5"
    assert cli("shapes", path).exit_code == 0
    assert cli("filters", path, "--layer", "dense_2", "--out", "0").exit_code == 0
    assert not marker.exists()


def test_theano_ordering_kernel_slice() -> None:
    """Keras 1 'th' kernels are (out, in, kh, kw): output map N is ``kernel[N]``."""
    report = cli_json("filters", FIXTURES / "legacy" / "keras1_2_seq_th.h5", "--layer", "convolution2d_2", "--out", "3")
    assert report["native_slice"] == "kernel[3]"
    assert report["weight"]["axes"] == ["out", "in", "kh", "kw"]
    assert len(report["inputs"]) == 4
    import h5py

    with h5py.File(FIXTURES / "legacy" / "keras1_2_seq_th.h5", "r") as f:
        kernel = f["model_weights/convolution2d_2/convolution2d_2_W:0"][()]
        bias = f["model_weights/convolution2d_2/convolution2d_2_b:0"][()]
    for entry in report["inputs"]:
        assert entry["filter"] == kernel[3, entry["in"]].tolist()
    assert report["bias"] == pytest.approx(float(bias[3]))
    assert report["flipped"] is False  # TensorFlow wrote it (':0' names)


def test_theano_backend_kernels_are_flipped() -> None:
    report = cli_json("filters", FIXTURES / "legacy" / "keras2_theano.h5", "--layer", "conv2d_2", "--out", "1")
    assert report["flipped"] is True
    assert "∗" in report["equation"] and "⋆" not in report["equation"]
    assert any("true convolution" in n for n in report["notes"])
    assert report["native_slice"] == "kernel[:, :, :, 1]"
