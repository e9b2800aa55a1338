"""Keras files without a full architecture (weights-only), architecture companions
(JSON, YAML), and hostile archives."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from cnninspect.errors import ExitStatus

from conftest import FIXTURES, cli_json, load_truth, run, weight_facts

WEIGHTS_ONLY = sorted(FIXTURES.glob("tfkeras/*.weights_only.h5")) + sorted(FIXTURES.glob("keras3/*.weights.h5"))
KERNEL_CLASSES = ("Conv1D", "Conv2D", "Conv3D", "Dense")


@pytest.mark.parametrize("path", WEIGHTS_ONLY, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_weights_alone_give_channels_and_kernels(path: Path) -> None:
    """Without an architecture: no invented shapes, but each conv/dense layer's kind,
    channels and kernel size, as the library's own kernels say (Keras: (*k, in/groups, out))."""
    report = cli_json("shapes", path)
    assert report["architecture"] is False
    assert any("--config" in note for note in report["notes"])
    assert all(s is None for layer in report["layers"] for s in layer["output_shapes"])
    truth = load_truth(path.with_name(path.name.split(".")[0] + ".truth.json"))

    def kernel(weights: list[dict], key: str) -> tuple:
        return next((tuple(w["shape"]) for w in weights if w[key].split("/")[-1].startswith("kernel")), ())

    expected = sorted(
        (layer["class_name"], kernel(layer["weights"], "name"))
        for layer in truth["layers"]
        if layer["depth"] == 0 and layer["class_name"] in KERNEL_CLASSES and kernel(layer["weights"], "name")
    )
    rows = [r for r in report["layers"] if r["depth"] == 0 and r["type"] in KERNEL_CLASSES and r["channels"]]
    assert sorted((r["type"], kernel(r["weights"], "role")) for r in rows) == expected
    for row in rows:
        shape = kernel(row["weights"], "role")
        assert row["channels"]["out"] == shape[-1]
        assert row["kernel_size"] == (list(shape[:-2]) or None)


def test_sibling_architecture_is_pointed_out() -> None:
    path = FIXTURES / "tfkeras" / "convs.weights_only.h5"
    report = cli_json("shapes", path)
    assert any("convs.json" in note and "--config" in note for note in report["notes"])


def test_keras1_weights_only_roles_axes_and_flip() -> None:
    """Keras 1.0 save_weights: names without ':0' (Theano), kernels (out, in, kh, kw)."""
    expected = json.loads((FIXTURES / "legacy" / "keras1_0_weights_only.expected.json").read_text())
    report = cli_json("shapes", FIXTURES / "legacy" / "keras1_0_weights_only.h5")
    ours = {layer["name"]: layer for layer in report["layers"]}
    for layer in expected["layers"]:
        got = ours[layer["name"]]
        assert got["params"] == layer["params"]
        assert weight_facts(got["weights"]) == weight_facts(layer["weights"])


def _yaml_architecture(tmp_path: Path, extra: str = "") -> Path:
    """The tf-keras mnist architecture as to_yaml() wrote it: shapes as !!python/tuple."""
    import yaml

    config = json.loads((FIXTURES / "tfkeras" / "mnist_cnn.json").read_text())
    text = yaml.safe_dump(config)
    text = text.replace("batch_input_shape:\n", "batch_input_shape: !!python/tuple\n", 1)
    assert "!!python/tuple" in text
    path = tmp_path / "mnist_cnn.yaml"
    path.write_text(text + extra)
    return path


def test_yaml_architecture_with_python_tuples(tmp_path: Path) -> None:
    truth = load_truth(FIXTURES / "tfkeras" / "mnist_cnn.truth.json")
    only = tmp_path / "weights_only.h5"
    _weights_only_copy(FIXTURES / "tfkeras" / "mnist_cnn.h5", only)
    report = cli_json("shapes", only, "--config", _yaml_architecture(tmp_path))
    got = {layer["name"]: layer["output_shapes"] for layer in report["layers"]}
    for layer in truth["layers"]:
        assert got[layer["name"]] == [s for n in layer["nodes"] for s in n["output_shapes"]]


def _weights_only_copy(full: Path, target: Path) -> None:
    """What save_weights writes: the model_weights group's content at the root."""
    import h5py

    with h5py.File(full, "r") as src, h5py.File(target, "w") as dst:
        for key, value in src["model_weights"].attrs.items():
            dst.attrs[key] = value
        for name in src["model_weights"]:
            src.copy(src["model_weights"][name], dst, name)


def test_yaml_with_a_python_object_tag_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(f"class_name: Sequential\nconfig: !!python/object/apply:os.system ['touch {marker}']\n")
    result = run("shapes", FIXTURES / "keras3" / "convs.weights.h5", "--config", hostile)
    assert result.returncode == ExitStatus.BROKEN
    assert "refused" in result.stderr and "python/object/apply" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not marker.exists()


def _forge_size(path: Path, claimed: int) -> None:
    """Make the zip's directory claim ``claimed`` uncompressed bytes for its first member."""
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    while data.rfind(b"PK\x01\x02", 0, central) != -1:
        central = data.rfind(b"PK\x01\x02", 0, central)
    struct.pack_into("<I", data, central + 24, claimed)
    path.write_bytes(bytes(data))


def test_zip_bomb_claimed_size_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}" + " " * 1000)
        zf.writestr("metadata.json", "{}")
    _forge_size(bomb, 0xFFFFFFF0)
    result = run("shapes", bomb)
    assert result.returncode == ExitStatus.BROKEN and "zip bomb" in result.stderr


def test_zip_bomb_by_ratio_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", b" " * (300 * 1024 * 1024))
    assert bomb.stat().st_size < 2 * 1024 * 1024
    result = run("shapes", bomb, timeout=30)
    assert result.returncode == ExitStatus.BROKEN and "zip bomb" in result.stderr


def test_keras_3_tuple_objects_in_a_config_read_as_lists(tmp_path: Path) -> None:
    """Keras 3.0-3.2 wrote tuples as {"class_name": "__tuple__", "items": [...]}; today's
    Keras writes lists. The same model with its lists turned into such tuples must give
    the shapes Keras reported for it."""
    import h5py

    source = FIXTURES / "keras3" / "convs.h5"
    truth = load_truth(FIXTURES / "keras3" / "convs.truth.json")
    copy = tmp_path / "tuples.h5"
    copy.write_bytes(source.read_bytes())

    def tuples(node):
        if isinstance(node, dict):
            return {k: tuples(v) for k, v in node.items()}
        if isinstance(node, list) and node and all(x is None or isinstance(x, int) for x in node):
            return {"class_name": "__tuple__", "items": node}
        return [tuples(x) for x in node] if isinstance(node, list) else node

    with h5py.File(copy, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        rewritten = json.dumps(tuples(config))
        assert rewritten.count("__tuple__") > 10
        f.attrs["model_config"] = rewritten
    report = cli_json("shapes", copy)
    by_path = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        expected = [s for node in layer["nodes"] for s in node["output_shapes"]]
        assert by_path[layer["path"]]["output_shapes"] == expected, layer["path"]
