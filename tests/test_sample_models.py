"""The bundled sample: the trained network, its digit PNGs and Keras' stored answers agree
with each other, with what cnninspect reads, and with what the README says of them."""

from __future__ import annotations

import re

from PIL import Image

from conftest import ROOT, SAMPLES, cli_json, load_truth

TRAINING = load_truth(SAMPLES / "mnist_cnn.training.json")
SEVEN = load_truth(SAMPLES / "digits" / "7.activations.json")


def test_keras_layer_outputs_have_the_shapes_cnninspect_infers() -> None:
    rows = {row["index"]: row for row in cli_json("shapes", str(SAMPLES / "mnist_cnn.h5"))["layers"]}
    assert rows[0]["output_shapes"] == [[None, *SEVEN["input"]["shape"][1:]]]
    for layer in SEVEN["layers"]:
        row = rows[layer["index"]]
        assert row["name"] == layer["name"] and row["type"] == layer["class_name"]
        assert row["output_shapes"] == [[None, *layer["shape"][1:]]]
    assert len(SEVEN["softmax"]) == SEVEN["layers"][-1]["shape"][-1]
    assert max(range(10), key=lambda k: SEVEN["softmax"][k]) == 7


def test_the_digit_pngs_are_the_ones_the_training_json_describes() -> None:
    listed = {d["png"]: d for d in TRAINING["digits"]}
    assert set(listed) == {f"digits/{p.name}" for p in (SAMPLES / "digits").glob("*.png")}
    assert {f"digits/{n}.png" for n in range(10)} <= set(listed)
    for name, digit in listed.items():
        with Image.open(SAMPLES / name) as image:
            assert image.mode == "L" and image.size == (28, 28)
        match = re.fullmatch(r"digits/(\d)(?:_as_(\d))?\.png", name)
        assert match, name
        right, wrong = match.groups()
        assert digit["label"] == int(right)
        assert digit["predicted"] == int(wrong if wrong else right)
        assert digit["probability"] == max(digit["softmax"])


def test_the_readme_states_the_training_json() -> None:
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    assert f"for {TRAINING['training']['epochs']} epochs" in readme
    accuracy = TRAINING["accuracy"]["held_out"]
    assert f"{100 * accuracy:.1f}% of the {TRAINING['data']['held_out']} held-out images" in readme
