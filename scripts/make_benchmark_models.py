#!/usr/bin/env python3
"""Write the large Keras models that cnninspect's benchmarks read.

Everything goes to ``benchmarks/data/``, which git ignores: never commit
these files. All are Keras 3 models (the ``keras`` package TensorFlow 2.21
installs), each written three times by the libraries themselves:

* ``X.h5``: ``model.save("X.h5")``, the legacy HDF5 format;
* ``X.keras``: ``model.save("X.keras")``, the Keras 3 zip archive (``config.json``,
  ``metadata.json`` and ``model.weights.h5``, stored uncompressed);
* ``X.safetensors``: ``safetensors.numpy.save_file`` of every weight (trainable or
  not), keyed ``<layer name>.<variable name>`` as a PyTorch state dict names them
  (``block1_conv1.kernel``, ``batch_normalization.moving_mean``); values keep Keras' layouts (kernels
  ``(kh, kw, in, out)``), so cnninspect reads them with ``--layout keras``.

The models:

* ``vgg16.h5``: ``keras.applications.VGG16(weights=None)``, 138 M params,
  about 530 MiB.
* ``nasnetmobile.h5``: ``keras.applications.NASNetMobile(weights=None)``,
  a deep, branching graph.
* ``deep1000.h5``: a synthetic model of exactly 1,000 layers (InputLayer
  included): a stem Conv2D, 249 residual blocks of Conv2D, BatchNormalization,
  ReLU and Add, then GlobalAveragePooling2D and Dense. Its config is large
  while its weights are small.

Each model gets ``X.truth.json`` next to it, in the same layout as the test
fixtures (see ``make_keras_fixtures.py``). ``weights=None`` means nothing is
downloaded; the weights are the library's seeded random initial values.

Run it in a virtualenv with TensorFlow, tf-keras and safetensors:

    python3 -m venv /tmp/venv-tf
    /tmp/venv-tf/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 safetensors
    /tmp/venv-tf/bin/python scripts/make_benchmark_models.py [--only deep1000,...]

It takes a few minutes and needs about 1.7 GB of disk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_keras_fixtures as mkf  # noqa: E402

OUT = mkf.REPO / "benchmarks" / "data"
NAMES = ["vgg16", "nasnetmobile", "deep1000"]


def build_vgg16(c):
    return c.K.applications.VGG16(weights=None)


def build_nasnetmobile(c):
    return c.K.applications.NASNetMobile(weights=None)


def build_deep1000(c):
    K, L = c.K, c.L
    x_in = K.Input(shape=(16, 16, 8))
    x = L.Conv2D(8, 3, padding="same")(x_in)
    for _ in range(249):
        y = L.Conv2D(8, 3, padding="same")(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10)(x)
    model = K.Model(x_in, out, name="deep1000")
    assert len(model.layers) == 1000, len(model.layers)
    return model


def state_dict(model) -> dict:
    """Every weight of the model as ``<layer name>.<variable name>``, as NumPy arrays.
    (Not the variables' own ``path``: that follows the name scopes they were created in,
    ``normal_A_block_0/...``, rather than the layer that owns them.)"""
    arrays = {f"{layer.name}.{v.name}": v.numpy() for layer in model.layers for v in layer.weights}
    assert len(arrays) == len(model.weights), "two weights share a path"
    return arrays


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated subset of: " + ",".join(NAMES))
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else NAMES
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        p.error(f"unknown models: {unknown}")

    c = mkf.Ctx("keras3")
    from safetensors.numpy import save_file

    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        started = time.time()
        c.reset(0)
        model = globals()["build_" + name](c)
        path = OUT / f"{name}.h5"
        model.save(path)
        model.save(OUT / f"{name}.keras")
        save_file(state_dict(model), OUT / f"{name}.safetensors")
        mkf.write_json(OUT / f"{name}.truth.json", mkf.truth(c, model, path.name))
        sizes = ", ".join(f"{ext} {(OUT / (name + ext)).stat().st_size / 2**20:.1f} MiB" for ext in (".h5", ".keras", ".safetensors"))
        print(
            f"{name}: {len(model.layers)} top-level layers, {model.count_params()} params, {sizes}, "
            f"{time.time() - started:.1f}s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
