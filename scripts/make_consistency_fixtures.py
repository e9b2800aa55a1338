#!/usr/bin/env python3
"""Write the fixtures of ``cnninspect check`` (the architecture against the weights) in
tests/fixtures/consistency/, each family with a deliberately inconsistent twin.

Written by the real libraries, with their own verdict stored beside them
(``<name>.truth.json``): the output shapes they compute for a sound model, and for a
twin the error the library itself raises when it loads or runs it.

- ``keras``  (tf-keras, run with /work/venv-tf/bin/python):
  ``cnn.h5`` a small CNN; ``cnn.weights_only.h5`` + ``cnn.json`` its weights and
  architecture; ``other.json`` another network's architecture (the wrong ``--config``);
  ``cnn_wrong_input.h5`` cnn.h5 whose model_config says 3 input channels (edited with
  h5py: tf-keras refuses to load it); ``lambda_norm.h5`` a normalising Lambda first,
  saved without output_shape; ``lambda_slice.h5`` a Lambda that keeps one channel of
  three, also without output_shape (assuming it shape-preserving contradicts the conv).
- ``torch`` (torch 2.13, system python): ``grouped_bad_state.pt`` a state dict whose
  nn.Sequential has a conv taking 3 maps per group after one making 8;
  ``lenet5_bad_module.pt`` LeNet-5 whose fc1 takes 399 features where forward() gives
  400.
- ``legacy`` (h5py, hand-built per FIELD_NOTES like scripts/make_legacy_fixtures.py,
  whose builders it reuses): ``keras1_lambda_th.h5`` a Keras 1.2.1 Theano Sequential
  whose first layer is a Lambda without output_shape (Keras 1 on Theano gives it its
  input's shape), and ``keras1_lambda_th_bad.h5`` the same with a conv kernel that takes
  2 channels where that rule gives 1.

Run: ``python scripts/make_consistency_fixtures.py`` (torch and legacy here, keras
through /work/venv-tf/bin/python); or one part: ``... torch|keras|legacy``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "consistency"
VENV_TF = Path("/work/venv-tf/bin/python")


def write_truth(name: str, truth: dict[str, Any]) -> None:
    (OUT / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print("wrote", name)


# ---------------------------------------------------------------------------------------
# tf-keras


def keras() -> None:
    import os

    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import h5py
    import numpy as np
    import tf_keras as k

    k.utils.set_random_seed(11)
    versions = {"api": "tf_keras", "keras": k.__version__}

    def cnn(channels: int, filters: int) -> Any:
        return k.Sequential([
            k.layers.InputLayer(input_shape=(10, 10, channels)),
            k.layers.Conv2D(filters, 3, name="conv2d"),
            k.layers.BatchNormalization(name="batch_normalization"),
            k.layers.MaxPooling2D(2, name="max_pooling2d"),
            k.layers.Flatten(name="flatten"),
            k.layers.Dense(3, name="dense"),
        ])  # fmt: skip

    def shapes(model: Any) -> dict[str, Any]:
        return {"output_shapes": {layer.name: list(layer.output_shape) for layer in model.layers},
                "params": {layer.name: int(layer.count_params()) for layer in model.layers}}  # fmt: skip

    model = cnn(1, 4)
    model.save(OUT / "cnn.h5")
    model.save_weights(OUT / "cnn.weights_only.h5")
    (OUT / "cnn.json").write_text(model.to_json())
    write_truth("cnn", {"writer": versions, "loads": True, **shapes(model)})

    other = cnn(3, 8)
    (OUT / "other.json").write_text(other.to_json())
    try:
        other.load_weights(OUT / "cnn.weights_only.h5")
        refused = None
    except ValueError as exc:
        refused = str(exc).splitlines()[0]
    write_truth("other", {"writer": versions, "config_for": "cnn.weights_only.h5", "loads": refused is None, "error": refused})

    shutil.copy(OUT / "cnn.h5", OUT / "cnn_wrong_input.h5")
    with h5py.File(OUT / "cnn_wrong_input.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 10, 10, 3]
        f.attrs["model_config"] = json.dumps(config)
    try:
        k.models.load_model(OUT / "cnn_wrong_input.h5")
        refused = None
    except ValueError as exc:
        refused = str(exc).splitlines()[0]
    write_truth("cnn_wrong_input", {"writer": versions, "edited": "model_config: batch_input_shape [None, 10, 10, 3]",
                                    "loads": refused is None, "error": refused})  # fmt: skip

    for name, channels, function in (("lambda_norm", 1, lambda x: x / 127.5 - 1), ("lambda_slice", 3, lambda x: x[..., :1])):
        inputs = k.Input((10, 10, channels))
        x = k.layers.Lambda(function, name="lambda")(inputs)  # no output_shape
        x = k.layers.Conv2D(4, 3, name="conv2d")(x)
        x = k.layers.Flatten(name="flatten")(x)
        model = k.Model(inputs, k.layers.Dense(3, name="dense")(x))
        model.save(OUT / f"{name}.h5")
        out = model(np.zeros((1, 10, 10, channels), "float32"))
        write_truth(name, {"writer": versions, "output": list(out.shape), **shapes(model)})


# ---------------------------------------------------------------------------------------
# torch


try:  # the torch part runs in the system python, the keras part in /work/venv-tf
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:
    torch = None
else:

    class LeNet5(nn.Module):  # at module level: torch.save pickles it by name
        """LeNet-5 with functional pooling and a view, but fc1 one feature short."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(399, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x: Any) -> Any:
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def torch_part() -> None:
    torch.manual_seed(11)
    versions = {"torch_version": torch.__version__}

    def refusal(module: Any, x: Any) -> str | None:
        try:
            module(x)
        except RuntimeError as exc:
            return str(exc).splitlines()[0]
        return None

    grouped = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(9, 9, 3, groups=3))
    torch.save(grouped.state_dict(), OUT / "grouped_bad_state.pt")
    write_truth("grouped_bad_state", {**versions, "modules": {"0": "Conv2d(1, 8, 3)", "1": "ReLU", "2": "Conv2d(9, 9, 3, groups=3)"},
                                      "input_shape": [1, 1, 8, 8], "runs": False,
                                      "error": refusal(grouped, torch.zeros(1, 1, 8, 8))})  # fmt: skip

    lenet = LeNet5()
    torch.save(lenet, OUT / "lenet5_bad_module.pt")
    write_truth("lenet5_bad_module", {**versions, "input_shape": [1, 1, 32, 32], "flattened": 400, "fc1_in_features": 399,
                                      "runs": False, "error": refusal(lenet, torch.zeros(1, 1, 32, 32))})  # fmt: skip


# ---------------------------------------------------------------------------------------
# Keras 1 on Theano, hand-built


def legacy() -> None:
    import numpy as np

    spec = importlib.util.spec_from_file_location("legacy", ROOT / "scripts" / "make_legacy_fixtures.py")
    assert spec is not None and spec.loader is not None
    lg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lg)
    lg.OUT_DIR = OUT  # its save_fixture writes X.h5 and X.expected.json there

    for fname, takes in (("keras1_lambda_th.h5", 1), ("keras1_lambda_th_bad.h5", 2)):
        rule = "Keras 1 on Theano: a Lambda without output_shape has its input's shape"
        conv_how = ("valid 3x3: 8-3+1=6; params 4*1*3*3+4=40" if takes == 1 else
                    "the kernel takes 2 channels, the Lambda's rule gives 1: Keras 1 could not have built it")  # fmt: skip
        layers = [
            lg.layer("lambda_1", "Lambda", [[None, 1, 8, 8]], 0, rule),
            lg.layer("convolution2d_1", "Convolution2D", [[None, 4, 6, 6]], 4 * takes * 9 + 4, conv_how,
                     lg.conv_weights(*lg.k1_names("convolution2d_1", "theano"), [4, takes, 3, 3], 4, lg.TH, True)),
            lg.layer("flatten_1", "Flatten", [[None, 144]], 0, "4*6*6=144"),
            lg.layer("dense_1", "Dense", [[None, 2]], 290, "output_dim 2; params 144*2+2=290",
                     lg.dense_weights(*lg.k1_names("dense_1", "theano"), 144, 2)),
        ]
        lam = lg.k1_lambda("lambda_1", lg.HARMLESS_SRC)
        lam.update(batch_input_shape=[None, 1, 8, 8], input_dtype="float32")
        config = [
            lg.seq_entry("Lambda", lam),
            lg.seq_entry("Convolution2D", lg.k1_conv("convolution2d_1", 4, 3, 3, "valid", [1, 1], "th")),
            lg.seq_entry("Flatten", lg.simple("flatten_1")),
            lg.seq_entry("Dense", lg.k1_dense("dense_1", 2)),
        ]
        names = [s["name"] for s in layers]

        def write(f: Any, config: list = config, layers: list = layers, names: list = names) -> None:
            f.attrs["keras_version"] = np.bytes_(b"1.2.1")
            lg.set_json(f, "model_config", {"class_name": "Sequential", "config": config}, "fixed")
            lg.write_weight_groups(f.create_group("model_weights"), names, layers, np.random.RandomState(113), "fixed")

        doc = lg.expected_doc(fname, "Keras 1.2.1 on Theano (weight names without ':0'), a Sequential whose first "
                              "layer is a Lambda without output_shape", layers, "model_weights/",
                              inputs=[{"name": None, "shape": [None, 1, 8, 8]}],
                              outputs=[{"name": "dense_1", "shape": [None, 2]}], notes=[rule])  # fmt: skip
        lg.save_fixture(doc, write)
        print("wrote", fname)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    parts = sys.argv[1:] or ["torch", "legacy", "keras"]
    for part in parts:
        if part == "keras" and Path(sys.executable) != VENV_TF and not sys.argv[1:]:
            subprocess.run([str(VENV_TF), __file__, "keras"], check=True)
        else:
            {"torch": torch_part, "keras": keras, "legacy": legacy}[part]()


if __name__ == "__main__":
    main()
