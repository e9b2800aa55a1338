"""Keras files beyond the common layers: every tensor of a Keras 3 store listed without an
architecture, ``--config`` on a ``.keras`` archive, architecture files opened on their
own, and the Keras 1/2 layers of tests/fixtures/kerasold (written by
scripts/make_keras_extra_fixtures.py with the real libraries, each with the library's
truth) and tests/fixtures/keras1extra (hand-built with h5py, truth from Keras 1's
documented formulas: scripts/make_keras1_extra_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnninspect.errors import ExitStatus
from cnninspect.loaders import OpenOptions, open_model

# The library-truth checks of test_keras_truth, run on this module's own ``truth_path``,
# and the hand-computed checks of test_legacy, on this module's own ``legacy``.
from test_keras_truth import (  # noqa: F401
    _expected_shapes,
    test_every_truth_layer_is_listed_in_order,
    test_model_inputs_and_outputs,
    test_output_shapes_match_the_library,
    test_params_match_the_library,
    test_weights_match_the_library,
)
from test_legacy import test_params_and_weights_as_stored, test_shapes_computed_by_hand  # noqa: F401
from test_legacy import test_model_inputs_and_outputs as test_hand_built_inputs_and_outputs  # noqa: F401

from conftest import FIXTURES, cli, cli_json, load_truth

EXTRA = FIXTURES / "kerasold"
KERAS1 = FIXTURES / "keras1extra"
# (truth, file opened, --config): every container of each model that holds its weights.
CASES = [
    ("k3_subobjects", "k3_subobjects.keras", None),
    ("k3_subobjects", "k3_subobjects.weights.h5", "k3_subobjects.keras"),  # --config takes the archive
    ("k3_nested", "k3_nested.weights.h5", "k3_nested.json"),
    ("tfk_local", "tfk_local.h5", None),
    ("tfk_local", "tfk_local.weights_only.h5", "tfk_local.json"),
]
STORES = sorted([*FIXTURES.glob("keras3/*.weights.h5"), *EXTRA.glob("*.weights.h5")])


@pytest.fixture(params=CASES, ids=lambda c: c[1] + (f"+{c[2]}" if c[2] else ""))
def truth_path(request: pytest.FixtureRequest) -> tuple[Path, list[str]]:
    stem, name, config = request.param
    return EXTRA / f"{stem}.truth.json", [str(EXTRA / name), *(["--config", str(EXTRA / config)] if config else [])]


@pytest.fixture(params=sorted(KERAS1.glob("*.expected.json")), ids=lambda p: p.name.removesuffix(".expected.json"))
def legacy(request: pytest.FixtureRequest) -> tuple[dict, dict]:
    """A hand-built Keras 1 file and the truth its script computed from Keras 1's formulas."""
    expected = load_truth(request.param)
    return expected, cli_json("shapes", request.param.with_name(expected["file"]))


def _stored_arrays(path: Path, config: Path | None = None) -> list[np.ndarray]:
    with open_model(path, OpenOptions(config=config)) as model:
        return [w.read() for w in model.weights()]


def _truth_arrays(store: Path) -> list[np.ndarray]:
    """``get_weights()`` of every leaf layer, as Keras gave them when it wrote the store."""
    npz = store.with_name(store.name.replace(".weights.h5", ".weights.npz"))
    with np.load(npz) as arrays:
        return [arrays[k] for k in arrays.files]


@pytest.mark.parametrize("store", STORES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_stored_tensor_is_listed_without_an_architecture(store: Path) -> None:
    """Each array Keras holds is one listed tensor, nested containers and sub-objects
    (MultiHeadAttention's query_dense, Bidirectional's forward_layer/cell) included."""
    listed = _stored_arrays(store)
    expected = _truth_arrays(store)
    assert len(listed) == len(expected)
    unmatched = list(range(len(listed)))
    for array in expected:
        match = next(i for i in unmatched if listed[i].shape == array.shape and np.array_equal(listed[i], array))
        unmatched.remove(match)


def test_nested_containers_of_a_store_are_containers() -> None:
    report = cli_json("shapes", FIXTURES / "keras3" / "nested.weights.h5")
    rows = {layer["path"]: layer for layer in report["layers"]}
    assert rows["sequential"]["type"] == "Sequential" and rows["functional"]["type"] == "Functional"
    assert rows["functional/sequential/dense"]["params"] == 4 * 4 + 4
    assert rows["sequential"]["params"] == 148 + 16  # conv2d 3x3x4x4+4, batch_normalization 4x4


def test_an_architecture_that_does_not_match_the_store_is_refused() -> None:
    """An architecture that does not match the store is a usage error naming the first
    misfit (issue 11), not a listing with leftovers."""
    result = cli("weights", FIXTURES / "keras3" / "nested.weights.h5", "--config", EXTRA / "k3_nested.json")
    assert result.exit_code == 2
    assert "--config does not fit the weights" in result.stderr and "the weights hold" in result.stderr


@pytest.mark.parametrize("stem", ["k3_nested", "tfk_local"])
def test_an_architecture_file_is_a_model_without_weights(stem: str) -> None:
    truth = load_truth(EXTRA / f"{stem}.truth.json")
    report = cli_json("shapes", EXTRA / f"{stem}.json")
    assert report["source"]["format"] == "keras-architecture"
    assert report["architecture"] is True
    assert all(not layer["weights"] for layer in report["layers"])
    assert any("the weights are not in this file" in note for note in report["notes"])
    ours = {layer["path"]: layer for layer in report["layers"]}
    for layer in truth["layers"]:
        assert ours[layer["path"]]["output_shapes"] == _expected_shapes(layer), layer["path"]
    assert [i["shape"] for i in report["inputs"]] == truth["inputs"]


def test_tf_keras_json_and_yaml_architectures_open_alone(tmp_path: Path) -> None:
    import json

    import yaml

    truth = load_truth(FIXTURES / "tfkeras" / "mnist_cnn.truth.json")
    config = json.loads((FIXTURES / "tfkeras" / "mnist_cnn.json").read_text())
    text = yaml.safe_dump(config).replace("batch_input_shape:\n", "batch_input_shape: !!python/tuple\n", 1)
    (tmp_path / "mnist_cnn.yaml").write_text(text)
    for path in (FIXTURES / "tfkeras" / "mnist_cnn.json", tmp_path / "mnist_cnn.yaml"):
        report = cli_json("shapes", path)
        assert report["source"]["library_version"] == truth["writer"]["keras"]
        got = {layer["name"]: layer["output_shapes"] for layer in report["layers"]}
        for layer in truth["layers"]:
            assert got[layer["name"]] == _expected_shapes(layer)


def test_json_that_is_not_an_architecture_is_not_a_model() -> None:
    result = cli("shapes", EXTRA / "tfk_local.truth.json")
    assert result.exit_code == ExitStatus.UNRECOGNISED
    assert "a JSON document" in result.stderr


def test_config_must_be_a_keras_archive_when_a_zip() -> None:
    result = cli("shapes", FIXTURES / "keras3" / "convs.weights.h5", "--config", FIXTURES / "keras3" / "mnist_cnn.npz")
    assert result.exit_code == ExitStatus.BROKEN
    assert "without config.json" in result.stderr and len(result.stderr.splitlines()) == 1


def test_local_layers_agree_with_tf_keras_summary() -> None:
    """``output_shape`` and ``count_params()`` as tf-keras itself reported them, for each
    LocallyConnected layer (implementations 1 and 2, channels last and first)."""
    truth = load_truth(EXTRA / "tfk_local.truth.json")
    ours = {layer["name"]: layer for layer in cli_json("shapes", EXTRA / "tfk_local.h5")["layers"]}
    local = [layer for layer in truth["layers"] if layer["class_name"].startswith("LocallyConnected")]
    assert len(local) == 6
    for layer in local:
        assert ours[layer["name"]]["output_shapes"] == [layer["output_shape"]]
        assert ours[layer["name"]]["params"] == layer["params"]
        assert ours[layer["name"]]["op"] == "local"


def test_local_kernels_name_their_axes() -> None:
    """Implementation 1 stores (positions, kernel window * inputs, filters); implementation
    2 a kernel over every input and output position, ordered as the data_format."""
    tensors = cli_json("weights", EXTRA / "tfk_local.h5")["tensors"]
    axes = {(t["layer"], t["role"]): t["axes"] for t in tensors}
    assert axes[("locally_connected2d", "kernel")] == ["positions", "patch", "out"]
    assert axes[("locally_connected2d", "bias")] == ["oh", "ow", "out"]
    assert axes[("locally_connected2d_1", "kernel")] == ["ih", "iw", "in", "oh", "ow", "out"]
    assert axes[("locally_connected1d_1", "kernel")] == ["iw", "in", "ow", "out"]
    assert axes[("locally_connected1d", "bias")] == ["ow", "out"]


def test_local_layers_without_an_architecture_are_known_by_name() -> None:
    report = cli_json("shapes", EXTRA / "tfk_local.weights_only.h5")
    kinds = {layer["name"]: layer["type"] for layer in report["layers"]}
    assert kinds["locally_connected1d"] == "LocallyConnected1D" and kinds["locally_connected2d_2"] == "LocallyConnected2D"


def test_keras2_classes_beyond_the_common_ones() -> None:
    """RandomCrop as tf-keras reports it; the classes without a rule (attention, ConvLSTM2D,
    EinsumDense) are unknown with a reason, never guessed."""
    truth = load_truth(EXTRA / "tfk_more.truth.json")
    ours = {layer["name"]: layer for layer in cli_json("shapes", EXTRA / "tfk_more.h5")["layers"]}
    for layer in truth["layers"]:
        got = ours[layer["name"]]
        if layer["class_name"] in ("Attention", "AdditiveAttention", "ConvLSTM2D", "EinsumDense"):
            assert got["output_shapes"] == [None] and got["unknown_reason"]
        elif layer["class_name"] == "RandomCrop":
            assert got["output_shapes"] == [layer["output_shape"]]


def test_keras1_merge_modes_are_the_neutral_kinds() -> None:
    with open_model(KERAS1 / "keras1_merge_modes.h5") as model:
        layers = {row.layer.name: row.layer for row in model.rows()}
    kinds = {name: (layer.op, layer.attrs.get("kind")) for name, layer in layers.items() if name.startswith("merge")}
    assert kinds["merge_2"] == ("elementwise", "add") and kinds["merge_3"] == ("elementwise", "multiply")
    assert kinds["merge_4"] == ("elementwise", "average") and kinds["merge_5"] == ("elementwise", "maximum")
    assert kinds["merge_1"][0] == "concat" and layers["merge_8"].attrs["axis"] == 1
    assert layers["merge_6"].attrs == {"axes": [1, 1], "normalize": False}
    assert layers["merge_7"].attrs == {"axes": [1, 1], "normalize": True}  # cos: a normalised dot


def test_keras1_orderings_not_saved_are_inherited_and_said() -> None:
    """Keras 1 saved no dim_ordering for ZeroPadding, Cropping and UpSampling: they take
    the model's, and the layer says so."""
    report = cli_json("shapes", KERAS1 / "keras1_th_layers.h5")
    rows = {layer["name"]: layer for layer in report["layers"]}
    for name in ("zeropadding2d_1", "cropping2d_1", "upsampling2d_1"):
        assert any("saved no dim_ordering" in note and "'th'" in note for note in rows[name]["notes"]), name
    assert not any("dim_ordering" in note for note in rows["convolution2d_1"]["notes"])


def test_th_flatten_feeds_the_dense_in_channels_first_order() -> None:
    """Keras 1's Flatten reshapes the 'th' tensor as it is: unit i of the Dense is
    (channel, row, col) in row-major order."""
    report = cli_json("filters", KERAS1 / "keras1_th_layers.h5", "--layer", "dense_1", "--out", "0")
    assert report["unflattened"] == {"shape": [4, 4, 2], "axes": ["c", "h", "w"]}


def test_config_that_is_a_weights_file_says_so() -> None:
    result = cli("shapes", FIXTURES / "tfkeras" / "convs.weights_only.h5", "--config", FIXTURES / "keras3" / "convs.weights.h5")
    assert result.exit_code == ExitStatus.BROKEN
    assert "an HDF5 file" in result.stderr and len(result.stderr.splitlines()) == 1
