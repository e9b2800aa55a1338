#!/usr/bin/env python3
"""Generate the Keras test fixtures for cnninspect, using the real libraries.

cnninspect reads Keras model files without TensorFlow. Its tests compare what
it reads against ground truth taken from the libraries themselves. This script
builds a fixed set of small models with each Keras API, saves them, and writes
that ground truth next to them.

What it writes (paths relative to the repository root):

* ``tests/fixtures/keras3/``: models built with Keras 3 (the ``keras``
  package that TensorFlow 2.21 installs, TensorFlow backend).
* ``tests/fixtures/tfkeras/``: the same models built with Keras 2
  (``tf_keras``).

``mnist_cnn`` here has random weights; the bundled ``sample_models/mnist_cnn.h5``
is the same network trained by ``train_sample_mnist.py``, which builds it with
``build_mnist_cnn`` and describes it with ``truth``.

Files written for each model ``M``:

* ``M.h5``: ``model.save("M.h5")``, the legacy HDF5 full-model format.
* ``M.truth.json``: the ground truth: the writer's versions, the model's
  input and output shapes, and every layer (depth first, with nested models'
  layers listed after the model that holds them). For each layer it gives the
  output shapes of every inbound node, the parameter counts and the weights'
  names and shapes.
* ``M.weights.npz``: ``layer.get_weights()[i]`` under the key
  ``"<layer path>::<i>"`` for every leaf layer that has weights.
* Keras 3 only: ``M.keras`` (``model.save``) and ``M.weights.h5``
  (``model.save_weights``).
* tf_keras only: ``M.keras`` (``model.save``, the zip format of tf.keras 2.13+),
  ``M.weights_only.h5`` (``model.save_weights``, HDF5) and
  ``M.json`` (``model.to_json()``).
* ``mnist_cnn.npz``: ``np.savez(*model.get_weights())``.
* Keras 3 only, for mnist_cnn and convs: ``M.named.npz``, the model's
  variables saved under their paths,
  ``np.savez(path, **{v.path: v.numpy() for v in model.weights})``
  (``sequential/conv2d/kernel``, ...): what the NumPy loader reads as a named
  npz.
* Keras 3 only: ``M.operations.json`` when the functional graph records
  operations that are not layers (``ops``). ``model.layers`` leaves these
  operations out, so the truth file does not list them. This file gives their
  class and node output shapes.
* ``MANIFEST.json``: the versions, the models, the layers skipped per API, and
  the results of the self-checks (a forward pass, and reloading each ``.h5``).

mnist_cnn's weights are about 1.6 MB (a 6272x64 Dense kernel). To keep the
fixture tree small, its optional extra formats (``.keras``, ``.weights.h5``,
``.weights_only.h5``) are written only with ``--big-extras``.

Versions these fixtures were generated with: tensorflow-cpu 2.21.0,
keras 3.15.1 (pulled in by TensorFlow), tf-keras 2.21.0, h5py 3.14.0,
numpy 2.4.6, Python 3.11.

How to run it (from anywhere; paths are resolved from this file):

    python3 -m venv /work/venv-tf
    /work/venv-tf/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 h5py numpy
    /work/venv-tf/bin/python scripts/make_keras_fixtures.py

With no ``--api`` it runs itself twice, once per API, each in its own process
(Keras 3 and tf_keras must not share a process). ``--api keras3`` or
``--api tf_keras`` generates one API in the current process. ``--models a,b``
limits the run to some models. Building and weights are seeded, so the
truth and ``.npz`` files are the same on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
API_DIRS = {"keras3": "keras3", "tf_keras": "tfkeras"}
MODEL_NAMES = [
    "mnist_cnn",
    "convs",
    "transposed",
    "depthwise_separable",
    "pooling",
    "reshaping",
    "merges",
    "norm_act",
    "rnn",
    "nested",
    "ops",
    "lambda",
    "dynamic",
    "dense_only",
]
# Extra formats cost as much as the .h5 itself; skip them for the big models.
BIG_MODELS = {"mnist_cnn"}
# Keras 3 models also saved as a named npz (variable path -> array).
NAMED_NPZ_MODELS = {"mnist_cnn", "convs"}

ENV_DEFAULTS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "-1",
    "PYTHONHASHSEED": "0",
    "TF_DETERMINISTIC_OPS": "1",
}


def _set_env() -> None:
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


# --------------------------------------------------------------------------
# Helpers shared by both APIs (imported by make_benchmark_models.py too).
# --------------------------------------------------------------------------


class Ctx:
    """The API being used: its keras module, tensorflow, and notes."""

    def __init__(self, api: str):
        _set_env()
        import numpy as np
        import tensorflow as tf

        if api == "keras3":
            import keras as K
        elif api == "tf_keras":
            import tf_keras as K
        else:
            raise ValueError(api)
        self.api = api
        self.np = np
        self.tf = tf
        self.K = K
        self.L = K.layers
        self.skips: list[str] = []

    def has(self, name: str) -> bool:
        return hasattr(self.L, name)

    def skip(self, model: str, what: str, why: str) -> None:
        self.skips.append(f"{model}: {what}: {why}")

    def writer(self) -> dict:
        return {
            "api": self.api,
            "keras": self.K.__version__,
            "tensorflow": self.tf.__version__,
            "backend": self.K.backend.backend(),
        }

    def reset(self, seed: int = 0) -> None:
        self.K.backend.clear_session()
        self.K.utils.set_random_seed(seed)


def shape_list(shape):
    """A shape as a JSON list (None for unknown dims), or None if unknown."""
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        try:
            shape = shape.as_list()
        except ValueError:  # unknown rank
            return None
    return [None if d is None else int(d) for d in shape]


def flatten(ctx: Ctx, x):
    if x is None:
        return []
    return list(ctx.tf.nest.flatten(x))


def node_outputs(ctx: Ctx, node):
    if ctx.api == "keras3":
        return flatten(ctx, node.output_tensors)
    return flatten(ctx, node.outputs)


def node_inputs(ctx: Ctx, node):
    if ctx.api == "keras3":
        return flatten(ctx, node.input_tensors)
    return flatten(ctx, node.input_tensors)


def weight_name(ctx: Ctx, w) -> str:
    # Keras 3 variables have .name == "kernel" and .path == "dense/kernel";
    # the legacy .h5 writer stores .path. tf_keras names are "dense/kernel:0".
    return str(w.path) if ctx.api == "keras3" else str(w.name)


def n_elems(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def unique(ws):
    seen, out = set(), []
    for w in ws:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


def count(ws) -> int:
    return sum(n_elems(shape_list(w.shape)) for w in unique(ws))


def is_container(ctx: Ctx, layer) -> bool:
    return isinstance(layer, ctx.K.Model)


def internal_first_node(ctx: Ctx, layer) -> bool:
    """True if node 0 of a container links its own inputs to its outputs.

    That is what a model's internal creation node would be, as opposed to a
    call of the container in the parent graph (whose inputs are the parent's
    tensors).
    """
    if not is_container(ctx, layer):
        return False
    nodes = list(layer._inbound_nodes)
    if not nodes:
        return False
    try:
        own = {id(t) for t in flatten(ctx, layer.inputs)}
    except Exception:
        return False
    ins = node_inputs(ctx, nodes[0])
    return bool(ins) and all(id(t) in own for t in ins)


def node_entries(ctx: Ctx, layer):
    out = []
    for i, node in enumerate(list(layer._inbound_nodes)):
        try:
            shapes = [shape_list(t.shape) for t in node_outputs(ctx, node)]
        except Exception:
            shapes = None
        out.append({"node_index": i, "output_shapes": shapes})
    return out


def layer_entry(ctx: Ctx, layer, path: str, depth: int) -> dict:
    trainable_ids = {id(w) for w in layer.trainable_weights}
    return {
        "name": layer.name,
        "path": path,
        "depth": depth,
        "class_name": layer.__class__.__name__,
        "nodes": node_entries(ctx, layer),
        "internal_first_node": internal_first_node(ctx, layer),
        "params": int(layer.count_params()),
        "trainable_params": count(layer.trainable_weights),
        "non_trainable_params": count(layer.non_trainable_weights),
        "weights": [
            {
                "name": weight_name(ctx, w),
                "shape": shape_list(w.shape),
                "trainable": id(w) in trainable_ids,
            }
            for w in layer.weights
        ],
    }


def walk_layers(ctx: Ctx, layers, prefix: str = "", depth: int = 0):
    """Yield (path, depth, layer) depth first, nested models expanded."""
    for layer in layers:
        path = f"{prefix}/{layer.name}" if prefix else layer.name
        yield path, depth, layer
        if is_container(ctx, layer):
            yield from walk_layers(ctx, layer.layers, path, depth + 1)


def truth(ctx: Ctx, model, file_name: str) -> dict:
    return {
        "writer": ctx.writer(),
        "model": model.name,
        "file": file_name,
        "inputs": [shape_list(t.shape) for t in flatten(ctx, model.inputs)],
        "outputs": [shape_list(t.shape) for t in flatten(ctx, model.outputs)],
        "layers": [
            layer_entry(ctx, layer, path, depth)
            for path, depth, layer in walk_layers(ctx, model.layers)
        ],
        "totals": {
            "params": int(model.count_params()),
            "trainable_params": count(model.trainable_weights),
            "non_trainable_params": count(model.non_trainable_weights),
        },
    }


def leaf_weights(ctx: Ctx, model) -> dict:
    arrays = {}
    for path, _, layer in walk_layers(ctx, model.layers):
        if is_container(ctx, layer):
            continue
        for i, arr in enumerate(layer.get_weights()):
            arrays[f"{path}::{i}"] = arr
    return arrays


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


# --------------------------------------------------------------------------
# The models. Each builder takes a Ctx and returns a built model.
# Layer names are the library's own automatic names unless the brief asked
# for explicit ones (block_seq, block_fn).
# --------------------------------------------------------------------------


def build_mnist_cnn(c: Ctx):
    K, L = c.K, c.L
    return K.Sequential(
        [
            K.Input(shape=(28, 28, 1)),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def build_convs(c: Ctx):
    K, L = c.K, c.L
    outs = []
    x1 = K.Input(shape=(16, 4))
    outs.append(L.Conv1D(4, 3, strides=2, padding="valid")(x1))
    outs.append(L.Conv1D(4, 3, padding="same", dilation_rate=2)(x1))
    outs.append(L.Conv1D(4, 3, padding="causal", dilation_rate=2)(x1))
    outs.append(L.Conv1D(3, 5, strides=2, padding="causal", use_bias=False)(x1))
    x2 = K.Input(shape=(12, 12, 4))
    outs.append(L.Conv2D(4, 3, strides=2, padding="valid")(x2))
    outs.append(L.Conv2D(4, 3, dilation_rate=2, padding="valid")(x2))
    outs.append(L.Conv2D(6, 3, groups=2, padding="same")(x2))
    outs.append(L.Conv2D(4, (3, 2), strides=(2, 1), padding="same")(x2))
    x3 = K.Input(shape=(6, 6, 6, 2))
    outs.append(L.Conv3D(3, 3, strides=(1, 2, 2), padding="same")(x3))
    outs.append(L.Conv3D(2, 2, padding="valid")(x3))
    x4 = K.Input(shape=(3, 10, 10))  # channels first
    outs.append(L.Conv2D(4, 3, data_format="channels_first")(x4))
    return K.Model([x1, x2, x3, x4], outs)


def build_transposed(c: Ctx):
    K, L = c.K, c.L
    outs = []
    x1 = K.Input(shape=(8, 3))
    outs.append(L.Conv1DTranspose(4, 3, strides=2, padding="same")(x1))
    outs.append(
        L.Conv1DTranspose(2, 3, strides=2, padding="valid", output_padding=1)(x1)
    )
    x2 = K.Input(shape=(5, 5, 3))
    outs.append(L.Conv2DTranspose(4, 3, strides=2, padding="same")(x2))
    outs.append(L.Conv2DTranspose(4, 3, strides=2, padding="valid")(x2))
    outs.append(
        L.Conv2DTranspose(3, 3, strides=2, padding="valid", output_padding=1)(x2)
    )
    outs.append(L.Conv2DTranspose(2, 3, dilation_rate=2, padding="valid")(x2))
    outs.append(
        L.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="same", use_bias=False)(
            x2
        )
    )
    x3 = K.Input(shape=(3, 4, 4, 2))
    outs.append(L.Conv3DTranspose(2, 3, strides=(1, 2, 2), padding="same")(x3))
    outs.append(L.Conv3DTranspose(2, 2, strides=2, padding="valid")(x3))
    return K.Model([x1, x2, x3], outs)


def build_depthwise_separable(c: Ctx):
    K, L = c.K, c.L
    outs = []
    x2 = K.Input(shape=(8, 8, 3))
    outs.append(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x2))
    outs.append(L.DepthwiseConv2D(3, strides=2, use_bias=False)(x2))
    outs.append(L.SeparableConv2D(5, 3, depth_multiplier=2)(x2))
    x1 = K.Input(shape=(10, 3))
    if c.has("DepthwiseConv1D"):
        outs.append(L.DepthwiseConv1D(3, depth_multiplier=2)(x1))
    else:
        c.skip("depthwise_separable", "DepthwiseConv1D", "not in this API")
    outs.append(L.SeparableConv1D(4, 3, strides=2, padding="same")(x1))
    outs.append(L.SeparableConv1D(2, 3, depth_multiplier=2)(x1))
    return K.Model([x2, x1], outs)


def build_pooling(c: Ctx):
    K, L = c.K, c.L
    outs = []
    x1 = K.Input(shape=(10, 3))
    outs.append(L.MaxPooling1D(2)(x1))
    outs.append(L.AveragePooling1D(3, strides=2, padding="same")(x1))
    outs.append(L.MaxPooling1D(3, strides=1, padding="same")(x1))
    x2 = K.Input(shape=(9, 9, 3))
    outs.append(L.MaxPooling2D(2)(x2))
    outs.append(L.MaxPooling2D(3, strides=2, padding="same")(x2))
    outs.append(L.AveragePooling2D((2, 3), strides=(1, 2))(x2))
    outs.append(L.AveragePooling2D(2, padding="same")(x2))
    x3 = K.Input(shape=(6, 5, 6, 2))
    outs.append(L.MaxPooling3D(2)(x3))
    outs.append(L.AveragePooling3D(3, strides=2, padding="same")(x3))
    outs.append(L.MaxPooling3D((1, 2, 3), strides=(1, 1, 2), padding="valid")(x3))
    for x, dim in ((x1, "1D"), (x2, "2D"), (x3, "3D")):
        for kind in ("GlobalMaxPooling", "GlobalAveragePooling"):
            for keep in (False, True):
                outs.append(getattr(L, kind + dim)(keepdims=keep)(x))
    return K.Model([x1, x2, x3], outs)


def build_reshaping(c: Ctx):
    K, L = c.K, c.L
    outs = []
    x = K.Input(shape=(4, 6, 2))
    f = L.Flatten()(x)
    outs.append(L.RepeatVector(3)(L.Dense(5)(f)))
    r = L.Reshape((-1, 4))(x)
    outs.append(L.Dense(3)(r))  # Dense on a 3-D input
    outs.append(L.Permute((2, 1, 3))(x))
    p = L.ZeroPadding2D(((1, 2), (0, 3)))(x)  # asymmetric
    outs.append(L.Cropping2D(((1, 0), (2, 1)))(p))
    outs.append(L.UpSampling2D((2, 3))(x))
    outs.append(L.UpSampling2D(2, interpolation="bilinear")(x))
    x1 = K.Input(shape=(5, 3))
    outs.append(L.UpSampling1D(2)(L.Cropping1D((1, 2))(L.ZeroPadding1D((2, 1))(x1))))
    x3 = K.Input(shape=(3, 4, 4, 2))
    p3 = L.ZeroPadding3D(1)(x3)
    outs.append(L.Cropping3D(((0, 1), (1, 0), (1, 1)))(p3))
    outs.append(L.UpSampling3D((1, 2, 2))(x3))
    return K.Model([x, x1, x3], outs)


def build_merges(c: Ctx):
    K, L = c.K, c.L
    a = K.Input(shape=(4, 6))
    b = K.Input(shape=(4, 6))
    add = L.Add()([a, b])
    sub = L.Subtract()([a, b])
    mul = L.Multiply()([a, b])
    avg = L.Average()([a, b])
    mx = L.Maximum()([add, sub])
    mn = L.Minimum()([mul, avg, a])
    c1 = L.Concatenate()([mx, mn])  # (4, 12)
    c2 = L.Concatenate(axis=1)([a, b])  # (8, 6)
    d1 = L.Dot(axes=1)([a, b])  # (6, 6)
    d2 = L.Dot(axes=2, normalize=True)([a, b])  # (4, 4)
    out1 = L.Concatenate(axis=-1)([c1, d2])  # (4, 16)
    out2 = L.Concatenate(axis=1)([c2, d1])  # (14, 6)
    return K.Model([a, b], [out1, out2])


def build_norm_act(c: Ctx):
    K, L, np = c.K, c.L, c.np
    img = K.Input(shape=(8, 8, 3))
    x = L.Rescaling(0.5, offset=0.1)(img)
    x = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 4.0])(x)
    adapted = L.Normalization(axis=-1)
    data = np.random.default_rng(7).normal(1.0, 2.0, (16, 8, 8, 3)).astype("float32")
    adapted.adapt(data)
    x = adapted(x)
    x = L.Resizing(6, 6)(x)
    x = L.CenterCrop(4, 4)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.BatchNormalization(center=False)(x)
    x = L.LeakyReLU()(x)
    x = L.BatchNormalization(scale=False)(x)
    x = L.PReLU()(x)
    x = L.ELU()(x)
    x = L.SpatialDropout2D(0.2)(x)
    x = L.GaussianNoise(0.1)(x)
    x = L.Flatten()(x)
    x = L.Dense(8)(x)
    x = L.LayerNormalization()(x)
    x = L.Softmax()(x)
    x = L.Activation("tanh")(x)
    x = L.Dropout(0.3)(x)
    x = L.GaussianDropout(0.2)(x)
    x = L.AlphaDropout(0.1)(x)
    return K.Model(img, x)


def build_rnn(c: Ctx):
    K, L = c.K, c.L
    tokens = K.Input(shape=(6,), dtype="int32")
    e = L.Embedding(20, 4)(tokens)
    s = L.SimpleRNN(5, return_sequences=True)(e)
    s = L.LSTM(4, return_sequences=True)(s)
    s = L.GRU(3, return_sequences=True)(s)
    bi = L.Bidirectional(L.LSTM(3, return_sequences=True))(s)  # concat
    bi_sum = L.Bidirectional(L.LSTM(2), merge_mode="sum")(bi)
    seq_out, h, cell = L.LSTM(3, return_state=True)(bi)
    last = L.LSTM(4)(s)  # return_sequences=False
    td = L.TimeDistributed(L.Dense(3))(bi)
    video = K.Input(shape=(3, 6, 6, 2))
    tdc = L.TimeDistributed(L.Conv2D(4, 3))(video)
    return K.Model([tokens, video], [bi_sum, seq_out, h, cell, last, td, tdc])


def build_nested(c: Ctx):
    K, L = c.K, c.L
    # (a) Sequential sub-model with its own Input and two layers.
    block_seq = K.Sequential(
        [K.Input(shape=(8, 8, 4)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization()],
        name="block_seq",
    )
    # Its Conv2D is frozen: its weights come before BatchNormalization's in
    # layer.weights, but after them in trainable_weights + non_trainable_weights.
    block_seq.layers[0].trainable = False
    # (b) functional sub-model; it holds a Sequential itself (a second level),
    # whose Dense is frozen (non-trainable weights inside a nested model).
    fi = K.Input(shape=(8, 8, 4))
    h = L.Conv2D(4, 1)(fi)
    inner = K.Sequential([K.Input(shape=(8, 8, 4)), L.Dense(4)])
    inner.layers[0].trainable = False
    h = inner(h)
    h = L.ReLU()(h)
    fo = L.Add()([fi, h])
    block_fn = K.Model(fi, fo, name="block_fn")
    # Outer model.
    in_a = K.Input(shape=(8, 8, 3))
    in_b = K.Input(shape=(8, 8, 3))
    shared = L.Conv2D(4, 3, padding="same")  # (c) called on two tensors
    a = shared(in_a)
    b = shared(in_b)
    y = block_seq(a)
    z1 = block_fn(y)  # (d) block_fn called twice
    z2 = block_fn(b)
    m = L.Add()([z1, z2])
    out = L.Dense(3)(L.GlobalAveragePooling2D()(m))
    return K.Model([in_a, in_b], [out, z2])


def build_ops(c: Ctx):
    K, L, tf = c.K, c.L, c.tf
    x_in = K.Input(shape=(6, 4))
    y_in = K.Input(shape=(6, 4))
    x = L.Dense(4)(x_in)
    x = x + 3.0
    x = x * y_in
    x = x[:, 1:]
    if c.api == "keras3":
        x = K.ops.reshape(x, (-1, 20))
    else:
        x = tf.reshape(x, (-1, 20))
    out = L.Dense(2)(x)
    return K.Model([x_in, y_in], out)


def _fixture_lambda(source: str):
    # Both APIs store a Lambda as marshalled bytecode, which records the
    # source file name. Compiling the lambda under a fixed name keeps the
    # fixture the same whatever directory the repository is checked out in.
    return eval(compile(source, "<cnninspect-fixture>", "eval"))  # noqa: S307


def build_lambda(c: Ctx):
    K, L = c.K, c.L
    x_in = K.Input(shape=(5,))
    x = L.Lambda(_fixture_lambda("lambda t: t * 2.0"))(x_in)  # no output_shape
    x = L.Dense(3)(x)
    y = L.Lambda(_fixture_lambda("lambda t: t[:, :3]"), output_shape=(3,))(x_in)
    return K.Model(x_in, [x, y])


def build_dynamic(c: Ctx):
    K, L = c.K, c.L
    x_in = K.Input(shape=(None, None, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(x_in)
    x = L.Conv2D(8, 3, strides=2)(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(2)(x)
    return K.Model(x_in, out)


def build_dense_only(c: Ctx):
    K, L = c.K, c.L
    x_in = K.Input(shape=(20,))
    x = L.Dense(8, activation="relu")(x_in)
    out = L.Dense(3)(x)
    return K.Model(x_in, out)


BUILDERS = {name: globals()["build_" + name] for name in MODEL_NAMES}


# --------------------------------------------------------------------------
# Weights, checks, saving.
# --------------------------------------------------------------------------


def randomize_weights(c: Ctx, model, seed: int) -> None:
    """Give every float weight of every leaf layer a seeded random value.

    Biases, BatchNormalization betas/gammas/moving statistics, PReLU alphas,
    etc. are all non-zero and distinct, so a reader that mixes two weights up
    is caught. Anything named *variance* gets a positive value. Normalization
    layers keep their own values (given in the config, or computed by adapt).
    """
    np = c.np
    rng = np.random.default_rng(seed)
    for _, _, layer in walk_layers(c, model.layers):
        if is_container(c, layer) or not layer.weights:
            continue
        if layer.__class__.__name__ == "Normalization":
            continue
        new = []
        for w, arr in zip(layer.weights, layer.get_weights()):
            if not np.issubdtype(arr.dtype, np.floating):
                new.append(arr)
            elif "variance" in weight_name(c, w).lower():
                new.append(rng.uniform(0.5, 1.5, arr.shape).astype(arr.dtype))
            else:
                new.append((rng.standard_normal(arr.shape) * 0.3).astype(arr.dtype))
        layer.set_weights(new)


def operations_sidecar(c: Ctx, model):
    """Keras 3: operations in the graph that are not layers (None if none)."""
    if c.api != "keras3":
        return None
    operations = getattr(model, "operations", None) or []
    ops = [op for op in operations if not isinstance(op, c.L.Layer)]
    if not ops:
        return None
    return {
        "note": (
            "Keras 3 records these non-layer operations in the functional "
            "config, but model.layers (and so the truth file) leaves them out."
        ),
        "operations_in_order": [
            {
                "name": op.name,
                "class_name": op.__class__.__name__,
                "python_module": op.__class__.__module__,
                "is_layer": isinstance(op, c.L.Layer),
                "nodes": node_entries(c, op),
            }
            for op in operations
        ],
    }


def forward_check(c: Ctx, model, t: dict) -> str:
    """Run the model on random data; compare output shapes with the truth."""
    np = c.np
    rng = np.random.default_rng(1)
    xs = []
    for tensor, shape in zip(flatten(c, model.inputs), t["inputs"]):
        concrete = [2] + [7 if d is None else d for d in shape[1:]]
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        if "int" in dtype:
            xs.append(rng.integers(0, 20, concrete).astype(dtype))
        else:
            xs.append(rng.standard_normal(concrete).astype("float32"))
    try:
        ys = model(xs if len(xs) > 1 else xs[0], training=False)
    except Exception as e:  # noqa: BLE001 - report it, keep going
        return f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    ys = flatten(c, ys)
    for y, want in zip(ys, t["outputs"]):
        got = list(y.shape)
        if len(got) != len(want) or any(
            w is not None and g != w for g, w in zip(got, want)
        ):
            return f"MISMATCH: got {got}, truth {want}"
    return "ok"


def reload_check(c: Ctx, path: Path, t: dict, arrays: dict) -> str:
    """Load the saved .h5 with the library; compare layers and weights."""
    np, K = c.np, c.K
    try:
        if c.api == "keras3":
            m = K.models.load_model(path, compile=False, safe_mode=False)
        else:
            m = K.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        return f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    t2 = truth(c, m, path.name)
    if [(x["path"], x["class_name"]) for x in t2["layers"]] != [
        (x["path"], x["class_name"]) for x in t["layers"]
    ]:
        return "MISMATCH: layer list differs after reload"
    if t2["totals"] != t["totals"]:
        return f"MISMATCH: totals {t2['totals']} != {t['totals']}"
    if not _same(np, leaf_weights(c, m), arrays):
        return "MISMATCH: weights differ after reload"
    if [x["nodes"] for x in t2["layers"]] != [x["nodes"] for x in t["layers"]]:
        # Keras 3 rebuilds a Sequential once per add() when it loads one, so
        # the reloaded inner layers carry extra inbound nodes. The file is fine.
        changed = [
            x["path"]
            for x, y in zip(t["layers"], t2["layers"])
            if x["nodes"] != y["nodes"]
        ]
        return "ok (layers, totals, weights equal; the reloaded model has extra inbound nodes on: " + ", ".join(changed) + ")"
    return "ok"


def _same(np, a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def generate(api: str, models: list[str], big_extras: bool) -> None:
    c = Ctx(api)
    np = c.np
    out_dir = REPO / "tests" / "fixtures" / API_DIRS[api]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "MANIFEST.json"
    manifest = {
        "generated_by": "scripts/make_keras_fixtures.py",
        "writer": c.writer(),
        "h5py": __import__("h5py").__version__,
        "numpy": np.__version__,
        "models": {},
        "skipped": [],
    }
    if manifest_path.exists() and set(models) != set(MODEL_NAMES):
        old = json.loads(manifest_path.read_text())
        manifest["models"] = old.get("models", {})
        manifest["skipped"] = [
            s for s in old.get("skipped", []) if s.split(":")[0] not in models
        ]

    for name in models:
        started = time.time()
        c.reset(0)
        skips_before = len(c.skips)
        model = BUILDERS[name](c)
        randomize_weights(c, model, zlib.crc32(f"{api}/{name}".encode()))

        h5 = out_dir / f"{name}.h5"
        model.save(h5)
        t = truth(c, model, h5.name)
        write_json(out_dir / f"{name}.truth.json", t)
        arrays = leaf_weights(c, model)
        np.savez(out_dir / f"{name}.weights.npz", **arrays)

        files = [h5.name, f"{name}.truth.json", f"{name}.weights.npz"]
        side = operations_sidecar(c, model)
        if side is not None:
            write_json(out_dir / f"{name}.operations.json", side)
            files.append(f"{name}.operations.json")
        if name == "mnist_cnn":
            np.savez(out_dir / f"{name}.npz", *model.get_weights())
            files.append(f"{name}.npz")
        if api == "keras3" and name in NAMED_NPZ_MODELS:
            np.savez(out_dir / f"{name}.named.npz", **{str(v.path): v.numpy() for v in model.weights})
            files.append(f"{name}.named.npz")
        extras = big_extras or name not in BIG_MODELS
        if api == "keras3":
            if extras:
                model.save(out_dir / f"{name}.keras")
                model.save_weights(out_dir / f"{name}.weights.h5")
                files += [f"{name}.keras", f"{name}.weights.h5"]
        else:
            (out_dir / f"{name}.json").write_text(model.to_json() + "\n")
            files.append(f"{name}.json")
            if extras:
                model.save_weights(str(out_dir / f"{name}.weights_only.h5"))
                model.save(out_dir / f"{name}.keras")  # the tf.keras 2.13+ zip format
                files += [f"{name}.weights_only.h5", f"{name}.keras"]

        fwd = forward_check(c, model, t)
        rel = reload_check(c, h5, t, arrays)
        manifest["models"][name] = {
            "files": files,
            "layers": len(t["layers"]),
            "params": t["totals"]["params"],
            "forward_pass": fwd,
            "reload_h5": rel,
        }
        manifest["skipped"] += c.skips[skips_before:]
        print(
            f"[{api}] {name:20s} layers={len(t['layers']):3d} "
            f"params={t['totals']['params']:7d} forward={fwd} reload={rel} "
            f"({time.time() - started:.1f}s)",
            flush=True,
        )

    manifest["models"] = {k: manifest["models"][k] for k in MODEL_NAMES if k in manifest["models"]}
    write_json(manifest_path, manifest)
    for s in c.skips:
        print(f"[{api}] skipped {s}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", choices=["keras3", "tf_keras"], help="default: both, in two subprocesses")
    p.add_argument("--models", help="comma-separated subset of: " + ",".join(MODEL_NAMES))
    p.add_argument(
        "--big-extras",
        action="store_true",
        help="also write .keras/.weights.h5/.weights_only.h5 for " + ",".join(sorted(BIG_MODELS)),
    )
    args = p.parse_args(argv)
    models = args.models.split(",") if args.models else list(MODEL_NAMES)
    unknown = [m for m in models if m not in BUILDERS]
    if unknown:
        p.error(f"unknown models: {unknown}")

    if args.api:
        generate(args.api, models, args.big_extras)
        return 0

    env = dict(os.environ)
    for key, value in ENV_DEFAULTS.items():
        env.setdefault(key, value)
    for api in ("keras3", "tf_keras"):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--api", api]
        if args.models:
            cmd += ["--models", args.models]
        if args.big_extras:
            cmd.append("--big-extras")
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
