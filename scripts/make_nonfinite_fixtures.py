#!/usr/bin/env python3
"""Generate the NaN/Inf fixture: a real Keras 3 model whose weights hold NaN, +Inf and -Inf.

A diverged training run leaves such weights in a file; cnninspect must show them as what
they are (their own marks and colours), not as blanks, zeros or white. The model is built
and saved by Keras 3 itself; only its weight values are chosen, with ``set_weights``.

What it writes (paths relative to the repository root):

* ``tests/fixtures/keras3/nonfinite.h5``: ``model.save`` (HDF5) of
  Input(6, 6, 2) -> Conv2D(4, 3, name="conv") -> Flatten -> Dense(3, name="dense").
* ``tests/fixtures/keras3/nonfinite.weights.npz``: ``layer.get_weights()[i]`` of the
  model as reloaded by Keras, under ``"<layer>::<i>"`` (NaN and Inf kept).
* ``tests/fixtures/keras3/nonfinite.expect.json``: where the non-finite values are, as
  Keras reports them after reloading: per weight, the indexes of NaN, +Inf and -Inf.

The non-finite values sit where ``filters --out`` of a middle map and ``--in 0`` show
them (conv output map 1 from input map 0, dense output unit 0, conv bias 1), so the
last maps stay finite.

Run with the TensorFlow venv (Keras 3 alone in the process):

    /work/venv-tf/bin/python scripts/make_nonfinite_fixtures.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keras3"


def build(keras):  # type: ignore[no-untyped-def]
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(6, 6, 2)),
            layers.Conv2D(4, 3, activation="relu", name="conv"),
            layers.Flatten(name="flatten"),
            layers.Dense(3, name="dense"),
        ],
        name="nonfinite",
    )


def poisoned(model, np):  # type: ignore[no-untyped-def]
    """Deterministic weights with NaN, +Inf and -Inf in chosen places."""
    rng = np.random.default_rng(14)
    kernel, bias = (w.astype(np.float32) for w in model.get_layer("conv").get_weights())
    kernel[:] = rng.normal(0, 0.5, kernel.shape)
    kernel[0, 0, 0, 1] = np.nan  # (kh, kw, in, out): output map 1, input map 0
    kernel[1, 1, 0, 1] = np.inf
    kernel[2, 2, 0, 1] = -np.inf
    kernel[0, 2, 0, 1] = 1e-7  # a tiny finite weight beside them
    bias[:] = rng.normal(0, 0.1, bias.shape)
    bias[1] = np.nan
    dense_kernel, dense_bias = (w.astype(np.float32) for w in model.get_layer("dense").get_weights())
    dense_kernel[:] = rng.normal(0, 0.1, dense_kernel.shape)
    dense_kernel[5, 0] = np.nan  # (in, out): output unit 0
    dense_kernel[17, 0] = np.inf
    dense_kernel[40, 0] = -np.inf
    dense_bias[:] = rng.normal(0, 0.1, dense_bias.shape)
    return {"conv": [kernel, bias], "dense": [dense_kernel, dense_bias]}


def where(array, np) -> dict:  # type: ignore[no-untyped-def]
    return {
        name: [list(map(int, i)) for i in np.argwhere(mask)]
        for name, mask in (("nan", np.isnan(array)), ("posinf", np.isposinf(array)), ("neginf", np.isneginf(array)))
    }


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    import keras
    import numpy as np

    model = build(keras)
    for name, arrays in poisoned(model, np).items():
        model.get_layer(name).set_weights(arrays)
    path = OUT / "nonfinite.h5"
    model.save(path)
    reloaded = keras.models.load_model(path, compile=False)  # the truth is what Keras reads back
    arrays, expect = {}, {}
    for layer in reloaded.layers:
        for i, (w, variable) in enumerate(zip(layer.get_weights(), layer.weights)):
            arrays[f"{layer.name}::{i}"] = w
            expect[f"{layer.name}/{variable.name}"] = {"shape": list(w.shape), **where(w, np)}
    np.savez(OUT / "nonfinite.weights.npz", **arrays)
    document = {
        "generated_by": "scripts/make_nonfinite_fixtures.py",
        "keras": keras.__version__,
        "numpy": np.__version__,
        "flatten_input": list(reloaded.get_layer("flatten").input.shape[1:]),
        "weights": expect,
    }
    (OUT / "nonfinite.expect.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path} and its expectations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
