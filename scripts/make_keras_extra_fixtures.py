#!/usr/bin/env python3
"""Generate the fixtures of tests/fixtures/kerasold/ written by the real libraries.

Layers and files the older Keras fixtures (make_keras_fixtures.py) do not cover, with the
library's own truth next to each model, in the same forms as that script (its helpers
are reused: ``M.truth.json`` gives every layer's node output shapes, params and weights;
``M.weights.npz`` every leaf layer's ``get_weights()`` under ``"<path>::<i>"``).

* Keras 3 (the ``keras`` package TensorFlow 2.21 installs):
  - ``k3_subobjects``: MultiHeadAttention (variables in the sub-objects ``query_dense``,
    ``key_dense``, ... of its store key) and Bidirectional(LSTM) (``forward_layer/cell``):
    ``.weights.h5`` (``save_weights``), ``.keras``, truth, weights.
  - ``k3_nested``: a functional model holding a nested Sequential: ``.json``
    (``model.to_json()``, an architecture file on its own), ``.weights.h5``, truth, weights.
* tf-keras 2.21 (Keras 2):
  - ``tfk_local``: LocallyConnected1D and LocallyConnected2D, implementations 1 and 2,
    channels_last and channels_first, strides: ``.h5`` (``save``), ``.json``
    (``to_json``), ``.weights_only.h5`` (``save_weights``), truth (which includes each
    layer's ``output_shape`` and ``count_params()``), weights.
  - ``tfk_more``: Keras 2 classes beyond the common ones (ConvLSTM2D, Attention,
    AdditiveAttention, RandomCrop, EinsumDense; SpectralNormalization is left out:
    tf-keras 2.21 fails to build it on TensorFlow 2.21): ``.h5``, ``.json``,
    truth, weights.

Run (each API in its own process; Keras 3 and tf_keras must not share one):

    /work/venv-tf/bin/python scripts/make_keras_extra_fixtures.py

Versions: tensorflow-cpu 2.21.0, keras 3.15.1, tf-keras 2.21.0, h5py 3.14.0, numpy 2.4.6.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_keras_fixtures as mk  # noqa: E402

OUT = mk.REPO / "tests" / "fixtures" / "kerasold"


def build_k3_subobjects(c: mk.Ctx):
    K, L = c.K, c.L
    inp = K.Input(shape=(4, 8))
    x = L.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
    x = L.Bidirectional(L.LSTM(3))(x)
    return K.Model(inp, L.Dense(2)(x))


def build_k3_nested(c: mk.Ctx):
    K, L = c.K, c.L
    inner = K.Sequential([K.Input(shape=(6, 6, 4)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization()], name="inner")
    inp = K.Input(shape=(8, 8, 3))
    x = L.Conv2D(4, 3)(inp)
    x = inner(x)
    x = L.MaxPooling2D()(x)
    x = L.Flatten()(x)
    return K.Model(inp, L.Dense(3)(x))


def build_tfk_local(c: mk.Ctx):
    K, L = c.K, c.L
    seq = K.Input(shape=(10, 6))
    a = L.LocallyConnected1D(4, 3, strides=2, activation="relu")(seq)
    a = L.LocallyConnected1D(3, 2, implementation=2)(a)
    a = L.Flatten()(a)
    img = K.Input(shape=(9, 9, 3))
    b = L.LocallyConnected2D(5, (3, 3), strides=(2, 1))(img)
    b = L.LocallyConnected2D(4, (2, 2), implementation=2, use_bias=False)(b)
    b = L.Permute((3, 1, 2))(b)
    b = L.LocallyConnected2D(3, (2, 3), data_format="channels_first")(b)
    b = L.Flatten()(b)
    first = K.Input(shape=(2, 7))
    d = L.LocallyConnected1D(2, 2, data_format="channels_first")(first)
    d = L.Flatten()(d)
    out = L.Dense(2)(L.Concatenate()([a, b, d]))
    return K.Model([seq, img, first], out)


def build_tfk_more(c: mk.Ctx):
    K, L = c.K, c.L
    frames = K.Input(shape=(3, 8, 8, 2))
    x = L.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(frames)
    x = L.ConvLSTM2D(2, 3, strides=2)(x)
    x = L.Flatten()(x)
    query, value = K.Input(shape=(5, 6)), K.Input(shape=(7, 6))
    att = L.Attention()([query, value])
    add = L.AdditiveAttention()([query, value, value])
    e = L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")(L.Concatenate()([att, add]))
    e = L.Flatten()(e)
    img = K.Input(shape=(10, 12, 3))
    crop = L.Flatten()(L.RandomCrop(6, 8)(img))
    return K.Model([frames, query, value, img], L.Concatenate()([x, e, crop]))


BUILDERS = {
    "keras3": {"k3_subobjects": build_k3_subobjects, "k3_nested": build_k3_nested},
    "tf_keras": {"tfk_local": build_tfk_local, "tfk_more": build_tfk_more},
}


def generate(api: str) -> None:
    c = mk.Ctx(api)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS[api].items():
        c.reset(0)
        model = build(c)
        mk.randomize_weights(c, model, zlib.crc32(f"kerasold/{name}".encode()))
        t = mk.truth(c, model, f"{name}.h5")
        if api == "tf_keras":  # the library's own per-layer answers, as summary() prints them
            for entry, (_, _, layer) in zip(t["layers"], mk.walk_layers(c, model.layers)):
                entry["output_shape"] = _listed(layer.output_shape)
        mk.write_json(OUT / f"{name}.truth.json", t)
        c.np.savez(OUT / f"{name}.weights.npz", **mk.leaf_weights(c, model))
        if api == "keras3":
            model.save_weights(OUT / f"{name}.weights.h5")
            if name == "k3_subobjects":
                model.save(OUT / f"{name}.keras")
            else:
                (OUT / f"{name}.json").write_text(model.to_json() + "\n")
        else:
            model.save(OUT / f"{name}.h5")
            (OUT / f"{name}.json").write_text(model.to_json() + "\n")
            if name == "tfk_local":
                model.save_weights(str(OUT / f"{name}.weights_only.h5"))
        print(f"[{api}] {name}: forward {mk.forward_check(c, model, t)}", flush=True)


def _listed(shape):
    if isinstance(shape, list):
        return [_listed(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", choices=sorted(BUILDERS), help="default: each, in its own subprocess")
    args = p.parse_args(argv)
    if args.api:
        generate(args.api)
        return 0
    env = {**os.environ, **mk.ENV_DEFAULTS}
    for api in BUILDERS:
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--api", api], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
