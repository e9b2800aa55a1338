"""Write a TFLite fixture whose graph stores operands that are not parameters, with
TensorFlow's converter, and its truth from Keras, the interpreter and TF's own schema
readers (issue 12).

Run with a Python that has TensorFlow (never needed by the tests):

    /work/venv-tf/bin/python scripts/make_tflite_extra_fixtures.py

Writes ``tests/fixtures/tflite_extra/operands.tflite`` and ``operands.truth.json``: a Keras
model (a Conv2D, slicing, a stack, a reshape and a Dense) whose converted file stores the
begin/end/strides of STRIDED_SLICE, and the new shape of RESHAPE, as constant tensors.
The truth holds Keras' ``count_params()`` (only the layers' weights), every operator with
its constant inputs (a buffer with data) as the interpreter lists them, and what the file records about its
writing: the ``min_runtime_version`` metadata, the converter's ``CONVERSION_METADATA``
(TensorFlow version, API version) as TF's generated schema reads them, and the
model's ``description``.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import conversion_metadata_schema_py_generated as conversion_fb
from tensorflow.lite.python import schema_py_generated as schema_fb

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tflite_extra"
SEED = 11


def build() -> keras.Model:
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)  # 6x6x4
    a = x[:, 1:5, :, :]  # STRIDED_SLICE: 4x6x4
    b = keras.ops.stack([a, a], axis=1)  # PACK: 2x4x6x4
    f = keras.layers.Reshape((-1,), name="flat")(b)  # RESHAPE: 192
    out = keras.layers.Dense(3, name="dense")(f)
    model = keras.Model(inp, out, name="operands")
    for layer in model.layers:  # biases off zero: the converter drops a zero bias
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.full_like(bias, 0.25)])
    return model


def file_records(data: bytes) -> dict:
    model = schema_fb.Model.GetRootAsModel(data, 0)
    records: dict = {"description": (model.Description() or b"").decode(), "schema_version": model.Version()}
    for i in range(model.MetadataLength()):
        meta = model.Metadata(i)
        raw = model.Buffers(meta.Buffer()).DataAsNumpy()
        blob = bytes(raw) if isinstance(raw, np.ndarray) else b""
        name = meta.Name().decode()
        if name == "min_runtime_version":
            records[name] = blob.split(b"\0")[0].decode()
        elif name == "CONVERSION_METADATA":
            env = conversion_fb.ConversionMetadata.GetRootAsConversionMetadata(blob, 0).Environment()
            records[name] = {"tensorflow_version": env.TensorflowVersion().decode(), "api_version": env.ApiVersion()}
    return records


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = build()
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    (OUT / "operands.tflite").write_bytes(data)
    resolver = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = tf.lite.Interpreter(model_content=data, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    details = {t["index"]: t for t in interp.get_tensor_details()}
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 3)).astype(np.float32)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    schema = schema_fb.Model.GetRootAsModel(data, 0)
    graph = schema.Subgraphs(0)
    constant = {i for i in range(graph.TensorsLength()) if schema.Buffers(graph.Tensors(i).Buffer()).DataLength()}
    stored = []
    for op in interp._get_ops_details():  # noqa: SLF001 - the interpreter's own operator list
        consts = [{"name": details[i]["name"], "shape": details[i]["shape"].tolist(),
                   "value": interp.get_tensor(i).reshape(-1)[:8].tolist()} for i in op["inputs"] if i in constant]
        stored.append({"op": op["op_name"], "outputs": [details[o]["name"] for o in op["outputs"]], "inputs": consts})
    truth = {
        "keras_params": model.count_params(),
        "layer_params": {layer.name: layer.count_params() for layer in model.layers if layer.count_params()},
        "operators": stored,
        "output_shape": list(interp.get_tensor(interp.get_output_details()[0]["index"]).shape),
        "file": file_records(data),
    }
    (OUT / "operands.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(json.dumps({k: v for k, v in truth.items() if k != "operators"}), [o["op"] for o in stored])


if __name__ == "__main__":
    main()
