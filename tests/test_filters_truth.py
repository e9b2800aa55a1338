"""``filters`` against the weight arrays Keras itself returned (``get_weights()``,
stored in ``M.weights.npz`` by the fixture script), sliced here by Keras' documented
kernel layouts, independently of cnninspect's layout code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TRUTH_FILES, cli, cli_json, load_truth, truth_id

FILTER_CLASSES = {
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Dense",
}  # fmt: skip


def _cases() -> list:
    cases = []
    for path in TRUTH_FILES:
        truth = load_truth(path)
        for layer in truth["layers"]:
            if layer["class_name"] in FILTER_CLASSES and layer["weights"]:
                cases.append(pytest.param(path, layer, id=f"{truth_id(path)}:{layer['path']}"))
    return cases


def _arrays(path: Path, layer: dict) -> dict[str, np.ndarray]:
    """The layer's arrays from get_weights(), keyed by the role Keras names them by."""
    stored = np.load(path.with_name(path.name.replace(".truth.json", ".weights.npz")))
    roles = {}
    for i, weight in enumerate(layer["weights"]):
        role = weight["name"].split("/")[-1].split(":")[0]
        roles[role] = stored[f"{layer['path']}::{i}"]
    if layer["class_name"].startswith("Depthwise") and "depthwise_kernel" in roles:
        roles["kernel"] = roles.pop("depthwise_kernel")  # tf-keras' name; Keras 3 says kernel
    return roles


def _expected(cls: str, arrays: dict[str, np.ndarray], config_groups: int, n: int) -> list[tuple[int, np.ndarray]]:
    """(input map, filter) pairs feeding output map ``n``, by Keras' layouts:
    conv (*k, in/groups, out); transposed (*k, out, in); depthwise (*k, in, mult);
    separable: depthwise (*k, in, mult) then pointwise (1.., in*mult, out); dense (in, out)."""
    if cls.startswith("Separable"):
        dw = arrays["depthwise_kernel"]
        m = dw.shape[-1]
        return [(j // m, dw[..., j // m, j % m]) for j in range(dw.shape[-2] * m)]
    kernel = arrays["kernel"]
    if cls.startswith("Depthwise"):
        m = kernel.shape[-1]
        return [(n // m, kernel[..., n // m, n % m])]
    if cls.endswith("Transpose"):
        return [(i, kernel[..., n, i]) for i in range(kernel.shape[-1])]
    per_group_in, out = kernel.shape[-2], kernel.shape[-1]
    group = n // (out // config_groups)
    return [(group * per_group_in + k, kernel[..., k, n]) for k in range(per_group_in)]


def _out_maps(cls: str, arrays: dict[str, np.ndarray]) -> int:
    if cls.startswith("Depthwise"):
        return arrays["kernel"].shape[-2] * arrays["kernel"].shape[-1]
    if cls.endswith("Transpose"):
        return arrays["kernel"].shape[-2]
    return (arrays.get("pointwise_kernel") if cls.startswith("Separable") else arrays["kernel"]).shape[-1]


@pytest.mark.parametrize("path,layer", _cases())
def test_filters_match_keras_arrays(path: Path, layer: dict) -> None:
    truth = load_truth(path)
    arrays = _arrays(path, layer)
    cls = layer["class_name"]
    n_out = _out_maps(cls, arrays)
    groups = _groups(path, layer)
    for n in sorted({0, n_out // 2, n_out - 1}):
        report = cli_json("filters", path.with_name(truth["file"]), "--layer", layer["path"], "--out", str(n))
        assert report["schema"] == "cnninspect.filters/1"
        assert report["out_maps"] == n_out
        expected = _expected(cls, arrays, groups, n)
        assert [e["in"] for e in report["inputs"]] == [i for i, _ in expected]
        for entry, (_, values) in zip(report["inputs"], expected):
            np.testing.assert_array_equal(np.asarray(entry["filter"], dtype=values.dtype), values)
            assert entry["l1"] == pytest.approx(float(np.abs(values.astype(np.float64) * entry.get("pointwise", 1)).sum()))
        if cls.startswith("Separable"):
            pointwise = arrays["pointwise_kernel"].reshape(-1, n_out)[:, n]
            assert [e["pointwise"] for e in report["inputs"]] == pytest.approx(pointwise.tolist())
        if "bias" in arrays:
            assert report["bias"] == pytest.approx(float(arrays["bias"][n]))
        else:
            assert report["bias"] is None


def _groups(path: Path, layer: dict) -> int:
    """``groups`` as Keras wrote it in the layer's config."""
    return int(_keras_layer_config(path, layer["name"]).get("groups", 1))


def _keras_layer_config(path: Path, name: str) -> dict:
    import json

    import h5py

    with h5py.File(path.with_name(load_truth(path)["file"]), "r") as f:
        config = json.loads(f.attrs["model_config"])

    def walk(item: dict) -> dict | None:
        cfg = item.get("config")
        if isinstance(cfg, dict) and cfg.get("name") == name and "layers" not in cfg:
            return cfg
        for inner in (cfg.get("layers", []) if isinstance(cfg, dict) else []):
            found = walk(inner)
            if found is not None:
                return found
        return None

    found = walk(config)
    assert found is not None, name
    return found


def test_native_slices_in_keras_layout() -> None:
    """The expression a Keras user would type to get the same numbers."""
    path = TRUTH_FILES[0].parent / "convs.h5"
    truth = load_truth(path.with_name("convs.truth.json"))
    by_class = {layer["class_name"]: layer["path"] for layer in truth["layers"]}
    report = cli_json("filters", path, "--layer", by_class["Conv2D"], "--out", "1")
    assert report["native_slice"] == "kernel[:, :, :, 1]"
    transposed = path.with_name("transposed.h5")
    t = load_truth(transposed.with_name("transposed.truth.json"))
    layer = next(x["path"] for x in t["layers"] if x["class_name"] == "Conv2DTranspose")
    assert cli_json("filters", transposed, "--layer", layer, "--out", "2")["native_slice"] == "kernel[:, :, 2, :]"


def test_grouped_conv_feeds_only_its_group() -> None:
    path = TRUTH_FILES[0].parent / "convs.truth.json"
    grouped = [x for x in load_truth(path)["layers"] if x["class_name"] == "Conv2D" and _groups(path, x) == 2]
    assert grouped, "the convs fixture has a Conv2D with groups=2"
    layer = grouped[0]
    kernel = _arrays(path, layer)["kernel"]
    last = kernel.shape[-1] - 1
    report = cli_json("filters", path.with_name("convs.h5"), "--layer", layer["path"], "--out", str(last))
    per_group = kernel.shape[-2]
    assert [e["in"] for e in report["inputs"]] == list(range(per_group, 2 * per_group))
    assert any("group 1" in note for note in report["notes"])


def test_bad_selection_lists_what_is_valid() -> None:
    path = TRUTH_FILES[0].parent / "mnist_cnn.h5"
    result = cli("filters", path, "--layer", "nope", "--out", "0")
    assert result.exit_code == 6
    assert "conv2d" in result.stderr and "layers with filters" in result.stderr
    result = cli("filters", path, "--layer", "3", "--out", "0")  # max pooling
    assert result.exit_code == 6 and "has no filters" in result.stderr
    result = cli("filters", path, "--layer", "1", "--out", "32")
    assert result.exit_code == 6 and "32 output maps (0-31)" in result.stderr
    assert "Traceback" not in result.stderr
