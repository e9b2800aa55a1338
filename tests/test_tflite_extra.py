"""What a TFLite file records about its writing, and which stored tensors are parameters
(issue 12), against TensorFlow's own readers and Keras.

``scripts/make_tflite_extra_fixtures.py`` converted a Keras model (Conv2D, slicing, a
stack, Reshape, Dense) with TF's converter and stored Keras' ``count_params()``, the
operators' stored inputs as the interpreter lists them, and the ``min_runtime_version``
and ``CONVERSION_METADATA`` entries as TF's generated schema reads them.
"""

from __future__ import annotations

from conftest import FIXTURES, cli_json, load_truth
from cnninspect.loaders import open_model

DIR = FIXTURES / "tflite_extra"
TRUTH = load_truth(DIR / "operands.truth.json")
LAYER_ROLES = {"kernel", "bias", "alpha"}


def test_min_runtime_version_is_labelled_and_the_converter_named() -> None:
    records = TRUTH["file"]
    with open_model(DIR / "operands.tflite") as model:
        source = model.source
        assert source.library_version == records["CONVERSION_METADATA"]["tensorflow_version"]
        assert source.format_version == f"schema {records['schema_version']}, min runtime {records['min_runtime_version']}"
        assert any(f"TensorFlow {records['CONVERSION_METADATA']['tensorflow_version']}" in n for n in model.notes)
        assert any(records["description"] in n for n in model.notes)
        assert any("oldest TFLite runtime" in n for n in model.notes)
    doc = cli_json("shapes", "--json", DIR / "operands.tflite")
    assert doc["source"]["format_version"].endswith(f"min runtime {records['min_runtime_version']}")


def test_a_file_without_conversion_metadata_names_no_writer_version() -> None:
    with open_model(FIXTURES / "tflite" / "buffer_offsets.tflite") as model:
        assert model.source.library_version is None  # it stores min_runtime_version only
        assert "min runtime" in model.source.format_version


def test_only_layer_weights_are_parameters() -> None:
    with open_model(DIR / "operands.tflite") as model:
        weights = [(row.layer, w) for row in model.rows() for w in row.layer.weights]
        layer_weights = [w for _, w in weights if w.role in LAYER_ROLES]
        assert sum(w.size for w in layer_weights) == TRUTH["keras_params"]
        by_type = {}
        for layer, w in weights:
            if w.role in LAYER_ROLES:
                by_type[layer.type] = by_type.get(layer.type, 0) + w.size
        assert by_type == {"CONV_2D": TRUTH["layer_params"]["conv"], "FULLY_CONNECTED": TRUTH["layer_params"]["dense"]}
        operands = {(layer.type, w.role) for layer, w in weights if w.role not in LAYER_ROLES}
        assert operands >= {("STRIDED_SLICE", "begin"), ("STRIDED_SLICE", "end"), ("STRIDED_SLICE", "strides")}
        assert all(not w.trainable for _, w in weights)


def test_every_stored_operand_is_still_listed() -> None:
    stored = {(op["op"], i["name"]) for op in TRUTH["operators"] for i in op["inputs"]}
    with open_model(DIR / "operands.tflite") as model:
        listed = {(row.layer.type, w.name) for row in model.rows() for w in row.layer.weights}
    assert listed == stored
