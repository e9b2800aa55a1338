"""Write the TFLite fixtures and their truth with TensorFlow's own converter and interpreter.

Run with a Python that has TensorFlow (never needed by the tests):

    /work/venv-tf/bin/python scripts/make_tflite_fixtures.py

Writes ``tests/fixtures/tflite/{small_float,small_int8,buffer_offsets,sparse_dense}.tflite`` and ``truth.json``: every
tensor as ``tf.lite.Interpreter`` describes it (name, shape, shape_signature, dtype,
quantization), every operator's input and output tensor indices, and a few kernel slices.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tflite"
SEED = 7


def build() -> keras.Model:
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv")(inp)  # 8x8x6
    d = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)  # 8x8x12
    c = keras.layers.Conv2D(12, 1, padding="valid", name="pointwise")(x)  # 8x8x12
    s = keras.layers.Add(name="add")([d, c])
    a = keras.layers.MaxPooling2D(2, name="maxpool")(s)  # 4x4x12
    b = keras.layers.AveragePooling2D(3, strides=1, padding="valid", name="avgpool")(s)  # 6x6x12
    b = keras.layers.Conv2D(12, 3, padding="valid", name="conv_valid")(b)  # 4x4x12
    m = keras.layers.Concatenate(name="concat")([a, b])  # 4x4x24
    f = keras.layers.Flatten(name="flatten")(m)
    out = keras.layers.Dense(10, activation="softmax", name="dense")(f)
    return keras.Model(inp, out, name="small")


def build_offsets() -> keras.Model:
    """A tiny model written with its buffers after the flatbuffer (``offset``/``size``),
    the layout TFLite uses for models over 2 GB."""
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8, 8, 2), name="image")
    x = keras.layers.Conv2D(6, 3, dilation_rate=2, name="conv_dilated")(inp)  # 4x4x6
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(6, name="dense")(x)
    return keras.Model(inp, out, name="offsets")


def build_sparse() -> keras.Model:
    """A dense layer whose kernel is mostly zeros: the converter stores it sparse."""
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((32,), name="features")
    dense = keras.layers.Dense(32, name="dense")
    model = keras.Model(inp, dense(inp), name="sparse")
    kernel, bias = dense.get_weights()
    kernel[:] = 0
    kernel[::8, ::4] = 1.5
    dense.set_weights([kernel, bias])
    return model


def representative():
    rng = np.random.default_rng(SEED)
    for _ in range(16):
        yield [rng.standard_normal((1, 16, 16, 3)).astype(np.float32)]


def convert(model: keras.Model, quantize: bool, buffer_offsets: bool = False, sparse: bool = False) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if sparse:
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if buffer_offsets:
        converter._experimental_use_buffer_offset = True
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def jsonable_quant(q: dict) -> dict:
    return {
        "scales": [float(v) for v in q["scales"]],
        "zero_points": [int(v) for v in q["zero_points"]],
        "quantized_dimension": int(q["quantized_dimension"]),
    }


def truth(path: Path) -> dict:
    # No default delegate (XNNPACK): its nodes would appear among the file's operators.
    interpreter = tf.lite.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    tensors = []
    for t in interpreter.get_tensor_details():
        tensors.append(
            {
                "index": int(t["index"]),
                "name": t["name"],
                "shape": [int(v) for v in t["shape"]],
                "shape_signature": [int(v) for v in t["shape_signature"]],
                "dtype": np.dtype(t["dtype"]).name,
                "quantization": jsonable_quant(t["quantization_parameters"]),
            }
        )
    ops = []
    slices = []
    for op in interpreter._get_ops_details():
        entry = {
            "index": int(op["index"]),
            "op_name": op["op_name"],
            "inputs": [int(v) for v in op["inputs"]],
            "outputs": [int(v) for v in op["outputs"]],
        }
        ops.append(entry)
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            kernel_index = entry["inputs"][1]
            kernel = interpreter.get_tensor(kernel_index)
            for n in (0, 5):
                if op["op_name"] == "DEPTHWISE_CONV_2D":
                    values = kernel[0, :, :, n]
                else:
                    values = kernel[n]
                slices.append({"op": entry["index"], "tensor": kernel_index, "out": n, "values": values.tolist()})
    return {
        "tensors": tensors,
        "ops": ops,
        "inputs": [int(d["index"]) for d in interpreter.get_input_details()],
        "outputs": [int(d["index"]) for d in interpreter.get_output_details()],
        "kernel_slices": slices,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = build()
    record = {"tensorflow": tf.__version__, "keras": keras.__version__, "files": {}}
    for name, quantize in (("small_float", False), ("small_int8", True)):
        path = OUT / f"{name}.tflite"
        path.write_bytes(convert(model, quantize))
        record["files"][path.name] = truth(path)
        print(path, path.stat().st_size, "bytes")
    path = OUT / "buffer_offsets.tflite"
    path.write_bytes(convert(build_offsets(), False, buffer_offsets=True))
    record["files"][path.name] = truth(path)
    print(path, path.stat().st_size, "bytes")
    path = OUT / "sparse_dense.tflite"
    path.write_bytes(convert(build_sparse(), False, sparse=True))
    record["files"][path.name] = truth(path)
    print(path, path.stat().st_size, "bytes")
    (OUT / "truth.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
