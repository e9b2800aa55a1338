"""Write the image inputs of ``--input`` tests and what Keras makes of them.

Run with TensorFlow's Keras (CI does not need it):

    /work/venv-tf/bin/python scripts/make_input_fixtures.py

Writes ``tests/fixtures/inputs/``: ``rgb.png`` (40x30, RGB) and ``gray.png`` (20x20, L),
small images of seeded noise, and ``inputs.truth.npz``: for each image, target size and
colour mode, ``keras.utils.load_img(..., target_size, interpolation="bilinear")`` through
``img_to_array`` (the pixels, 0-255), and that array through
``keras.applications.imagenet_utils.preprocess_input`` in each of its modes: ``tf``
(cnninspect's ``symmetric``), ``caffe`` and ``torch``, channels last and channels first.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras.applications import imagenet_utils
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "inputs"
CASES = [("rgb.png", "rgb", (40, 30)), ("rgb.png", "rgb", (24, 32)), ("gray.png", "grayscale", (20, 20)),
         ("gray.png", "grayscale", (28, 28)), ("rgb.png", "grayscale", (30, 40))]  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(OUT / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(OUT / "gray.png")
    truth: dict[str, np.ndarray] = {}
    for name, mode, size in CASES:
        key = f"{name}:{mode}:{size[0]}x{size[1]}"
        image = keras.utils.load_img(OUT / name, color_mode=mode, target_size=size, interpolation="bilinear")
        pixels = keras.utils.img_to_array(image, data_format="channels_last")
        truth[f"{key}:pixels"] = pixels
        for keras_mode in ("tf", "caffe", "torch"):
            if pixels.shape[-1] != 3 and keras_mode != "tf":
                continue
            for data_format in ("channels_last", "channels_first"):
                x = pixels if data_format == "channels_last" else np.moveaxis(pixels, -1, 0)
                out = imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=keras_mode)
                truth[f"{key}:{keras_mode}:{data_format}"] = out
    np.savez(OUT / "inputs.truth.npz", **truth)
    print(f"wrote {len(truth)} arrays with keras {keras.__version__}")


if __name__ == "__main__":
    main()
