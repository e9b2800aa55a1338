"""``--input`` data: images read, resized and scaled as Keras does it (truth from
``keras.utils.load_img`` and ``imagenet_utils.preprocess_input``, written by
``scripts/make_input_fixtures.py``), arrays checked against the model's input shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES

from cnninspect.errors import CnnInspectError, ExitStatus
from cnninspect.loaders.inputs import prepare

INPUTS = FIXTURES / "inputs"
TRUTH = dict(np.load(INPUTS / "inputs.truth.npz"))
KERAS_MODE = {"symmetric": "tf", "caffe": "caffe", "torch": "torch"}
CASES = sorted({k.rsplit(":", 1)[0] for k in TRUTH if k.endswith(":pixels")})


def _case(key: str) -> tuple[str, int, int, int]:
    name, mode, size = key.split(":")
    height, width = (int(v) for v in size.split("x"))  # Keras target_size: (height, width)
    return name, 1 if mode == "grayscale" else 3, height, width


@pytest.mark.parametrize("key", CASES)
def test_pixels_are_keras_load_img_bilinear(key: str) -> None:
    name, channels, height, width = _case(key)
    got = prepare(str(INPUTS / name), (None, height, width, channels), True, "none")
    np.testing.assert_array_equal(got.array[0], TRUTH[f"{key}:pixels"])
    assert got.array.shape == (1, height, width, channels) and got.preprocess == "none"


PREPROCESSED = [(key, ours, fmt) for key in CASES for ours, keras in KERAS_MODE.items()
                for fmt in ("channels_last", "channels_first") if f"{key}:{keras}:{fmt}" in TRUTH]  # fmt: skip


@pytest.mark.parametrize("key, preprocess, data_format", PREPROCESSED)
def test_preprocessing_is_keras_preprocess_input(key: str, preprocess: str, data_format: str) -> None:
    expected = TRUTH[f"{key}:{KERAS_MODE[preprocess]}:{data_format}"]
    name, channels, height, width = _case(key)
    last = data_format == "channels_last"
    shape = (None, height, width, channels) if last else (None, channels, height, width)
    got = prepare(str(INPUTS / name), shape, last, preprocess)
    np.testing.assert_allclose(got.array[0], expected, rtol=1e-6, atol=1e-5)


def test_unit_is_pixels_over_255() -> None:
    key = CASES[0]
    name, channels, height, width = _case(key)
    got = prepare(str(INPUTS / name), (None, height, width, channels), True)
    np.testing.assert_allclose(got.array[0], TRUTH[f"{key}:pixels"] / 255, rtol=1e-6)
    assert got.preprocess == "unit" and got.array.dtype == np.float32


def test_resizing_is_said() -> None:
    got = prepare(str(INPUTS / "rgb.png"), (None, 32, 24, 3), True)
    assert got.notes == ["image resized from 40x30 to 24x32 (bilinear)"]


def test_arrays_with_or_without_batch(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    np.save(tmp_path / "x.npy", data)
    got = prepare(str(tmp_path / "x.npy"), (None, 2, 3, 4), True)
    np.testing.assert_array_equal(got.array[0], data)
    assert got.array.dtype == np.float32


@pytest.mark.parametrize(
    "spec, shape, words",
    [
        ("x.npy", (None, 3, 2, 4), "has shape (2, 3, 4); the model takes (None, 3, 2, 4)"),
        ("random:x", (None, 2), "random:SEED"),
        ("zeros", (None, None, 3), "leaves dims open"),
        ("rgb.png", (None, 10), "an image feeds a 4-D input"),
        ("notes.txt", (None, 10), "not a .npy array or an image"),
    ],
)
def test_inputs_that_do_not_fit_are_usage_errors(tmp_path: Path, spec: str, shape: tuple, words: str) -> None:
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 4)))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "rgb.png").write_bytes((INPUTS / "rgb.png").read_bytes())
    given = str(tmp_path / spec) if "." in spec else spec
    with pytest.raises(CnnInspectError, match=None) as raised:
        prepare(given, shape, True)
    assert raised.value.status == ExitStatus.USAGE and words in raised.value.message


def test_random_is_seeded() -> None:
    a, b = prepare("random:3", (None, 4, 4, 1), True), prepare("random:3", (None, 4, 4, 1), True)
    np.testing.assert_array_equal(a.array, b.array)
    assert a.array.shape == (1, 4, 4, 1) and not np.array_equal(a.array, prepare("random:4", (None, 4, 4, 1), True).array)
