#!/usr/bin/env python3
"""Write the fixtures of ``cnninspect diff`` in tests/fixtures/diff/ with the real libraries,
and the truth they report about them in ``diff.truth.json``.

One small Keras CNN (Conv2D relu, BatchNormalization, Conv2D relu, MaxPooling2D, Flatten,
Dense) and its ports, each written by the library that would write it:

* ``keras3.keras``, ``keras3.h5``: the model saved by Keras 3;
* ``tfkeras.h5``: the same weights in the same architecture, saved by tf-keras;
* PyTorch ports (``nn.Sequential``: Conv2d, ReLU, BatchNorm2d, Conv2d, ReLU, MaxPool2d,
  Flatten, Linear), as state dicts unless said otherwise:
  ``port_correct.pt`` (kernels transposed, the Linear's columns reordered from Keras'
  (h, w, c) flatten order to PyTorch's (c, h, w)), ``port_no_reorder.pt`` (the Linear
  copied without the reorder), ``port_hwio.pt`` (conv_b's HWIO kernel reshaped to OIHW's
  shape instead of transposed), ``port_module.pt`` (the correct port pickled whole, so
  BatchNorm's eps and momentum are stored: eps 1e-3, momentum 0.01 = Keras' 0.99),
  ``port_eps.pt`` (the same, with BatchNorm's eps left at PyTorch's 1e-5);
* ``port.onnx``: ``torch.onnx.export`` of the correct port (constant folding off, so that
  BatchNorm stays a node of its own);
* ``tuned_before.pt``, ``tuned_after.pt``: the correct port before and after two SGD steps
  on ``conv_b`` (module 3) and the Linear (module 7) only, in eval mode (BatchNorm's
  running statistics do not move);
* ``perturbed.pt``: ``port_correct.pt`` with one weight of conv_b moved by 1e-3;
* ``strided.h5`` (Keras 3: one Conv2D, stride 2, padding 'same', on 6x6 inputs) and
  ``strided_port.pt``, its port pickled whole with PyTorch's ``padding=1``: TensorFlow pads
  an even size by (0, 1), PyTorch by (1, 1), so the outputs differ though the weights match.

The truth: for each port, the largest output difference between Keras and PyTorch on one
input (run by both libraries here), and for the checkpoints, which layers changed and the
max abs difference, relative L2 change and changed fraction NumPy computes from the torch
tensors.

Three processes (Keras 3 and tf-keras must not share one; TensorFlow and PyTorch live in
different environments): ``--stage keras3`` and ``--stage tf_keras`` with
/work/venv-tf/bin/python, ``--stage torch`` with a python that has torch. With no
``--stage`` the script runs the three in turn:

    python3 scripts/make_diff_fixtures.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "diff"
TF_PYTHON = os.environ.get("TF_PYTHON", "/work/venv-tf/bin/python")
INPUT_SHAPE = (6, 6, 2)  # h, w, c
SEED = 15
FINE_TUNED = ("3", "7")  # conv_b and the Linear, by their nn.Sequential index
PERTURBED = ("3.weight", (1, 2, 0, 1), 1e-3)  # conv_b's weight[1, 2, 0, 1] += 1e-3


# ---------------------------------------------------------------------------------------
# Keras (both APIs): the same architecture, the weights from the npz Keras 3 wrote


def keras_model(K: Any) -> Any:
    L = K.layers
    inp = K.Input(shape=INPUT_SHAPE, name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Conv2D(6, 3, activation="relu", name="conv_b")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(5, name="dense")(x)
    return K.Model(inp, out, name="small_cnn")


def stage_keras3(work: Path) -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(SEED)
    model = keras_model(keras)
    weights = []
    for w in model.get_weights():
        weights.append(rng.normal(0.0, 0.5, w.shape).astype(np.float32))
    bn = model.get_layer("bn")
    gamma, beta, mean, var = (weights[i] for i in range(2, 6))
    weights[5] = rng.uniform(0.5, 2.0, var.shape).astype(np.float32)  # variances are positive
    model.set_weights(weights)
    assert bn.epsilon == 1e-3 and bn.momentum == 0.99
    x = rng.normal(0.0, 1.0, (2, *INPUT_SHAPE)).astype(np.float32)
    y = model.predict(x, verbose=0)
    model.save(OUT / "keras3.keras")
    model.save(OUT / "keras3.h5")
    np.savez(work / "keras.npz", x=x, y=y, **{f"w{i}": w for i, w in enumerate(weights)})

    inp = keras.Input(shape=INPUT_SHAPE, name="image")
    strided = keras.Model(inp, keras.layers.Conv2D(3, 3, strides=2, padding="same", name="conv")(inp), name="strided")
    strided.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in strided.get_weights()])
    strided.save(OUT / "strided.h5")
    k, b = strided.get_weights()
    np.savez(work / "strided.npz", k=k, b=b, y=strided.predict(x, verbose=0))
    (work / "keras3.json").write_text(json.dumps({"keras_version": keras.__version__}))


def stage_tf_keras(work: Path) -> None:
    import numpy as np
    import tf_keras

    saved = np.load(work / "keras.npz")
    model = keras_model(tf_keras)
    model.set_weights([saved[f"w{i}"] for i in range(len(model.get_weights()))])
    y = model.predict(saved["x"], verbose=0)
    model.save(OUT / "tfkeras.h5")
    (work / "tf_keras.json").write_text(
        json.dumps({"tf_keras_version": tf_keras.__version__, "max_abs_output_diff": float(np.abs(y - saved["y"]).max())})
    )


# ---------------------------------------------------------------------------------------
# PyTorch: the ports


def stage_torch(work: Path) -> None:
    import numpy as np
    import torch
    from torch import nn

    saved = np.load(work / "keras.npz")
    k_a, b_a, gamma, beta, mean, var, k_b, b_b, k_d, b_d = (saved[f"w{i}"] for i in range(10))
    x, y_keras = saved["x"], saved["y"]

    def build(eps: float = 1e-3) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4, eps=eps, momentum=0.01),
            nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(24, 5),
        )  # fmt: skip

    def oihw(k: Any) -> Any:
        return np.ascontiguousarray(k.transpose(3, 2, 0, 1))

    # Keras flattens the (2, 2, 6) map as (h, w, c), PyTorch the (6, 2, 2) one as (c, h, w):
    # the Linear's column c*4 + h*2 + w is Keras' row h*12 + w*6 + c.
    h, w, c = 2, 2, 6
    order = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
    linear_reordered = np.ascontiguousarray(k_d[order].T)

    def port(eps: float = 1e-3, linear: Any = linear_reordered, conv_b: Any = None) -> nn.Sequential:
        model = build(eps)
        values = {
            "0.weight": oihw(k_a), "0.bias": b_a, "2.weight": gamma, "2.bias": beta, "2.running_mean": mean,
            "2.running_var": var, "3.weight": oihw(k_b) if conv_b is None else conv_b, "3.bias": b_b,
            "7.weight": linear, "7.bias": b_d,
        }  # fmt: skip
        state = model.state_dict()
        for name, value in values.items():
            state[name] = torch.from_numpy(np.array(value))
        model.load_state_dict(state)
        return model.eval()

    def run(model: nn.Module) -> float:
        with torch.no_grad():
            y = model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        return float(np.abs(y - y_keras).max())

    ports = {
        "port_correct.pt": port(),
        "port_no_reorder.pt": port(linear=np.ascontiguousarray(k_d.T)),
        "port_hwio.pt": port(conv_b=k_b.reshape(6, 4, 3, 3)),  # the classic: reshape where a transpose was due
    }
    truth: dict[str, Any] = {"torch_version": torch.__version__, "ports": {}}
    for name, model in ports.items():
        torch.save(model.state_dict(), OUT / name)
        truth["ports"][name] = {"max_abs_output_diff": run(model)}
    for name, eps in (("port_module.pt", 1e-3), ("port_eps.pt", 1e-5)):
        model = port(eps=eps)
        torch.save(model, OUT / name)
        truth["ports"][name] = {"max_abs_output_diff": run(model), "eps": eps, "momentum": 0.01}

    correct = ports["port_correct.pt"]
    torch.onnx.export(correct, (torch.from_numpy(x[:1]).permute(0, 3, 1, 2).contiguous(),), str(OUT / "port.onnx"),
                      dynamo=False, do_constant_folding=False, input_names=["image"], output_names=["logits"])  # fmt: skip
    truth["ports"]["port.onnx"] = {"exported_from": "port_correct.pt"}

    strided = np.load(work / "strided.npz")
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    conv = nn.Sequential(layer).eval()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(oihw(strided["k"])))
        assert layer.bias is not None
        layer.bias.copy_(torch.from_numpy(strided["b"]))
        y = conv(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    torch.save(conv, OUT / "strided_port.pt")
    truth["ports"]["strided_port.pt"] = {"max_abs_output_diff": float(np.abs(y - strided["y"]).max()),
                                         "tensorflow_pads": [[0, 1], [0, 1]], "torch_pads": [[1, 1], [1, 1]]}  # fmt: skip

    truth["fine_tune"] = fine_tune(port(), x, OUT)
    truth["perturbed"] = perturb(correct, OUT)
    keras_info = {**json.loads((work / "keras3.json").read_text()), **json.loads((work / "tf_keras.json").read_text())}
    truth["keras"] = keras_info
    (OUT / "diff.truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per module: what NumPy computes between the two checkpoints' tensors (float64)."""
    import numpy as np

    layers: dict[str, dict[str, float]] = {}
    modules = sorted({name.rsplit(".", 1)[0] for name in before})
    for module in modules:
        names = [n for n in before if n.rsplit(".", 1)[0] == module and n.split(".")[-1] != "num_batches_tracked"]
        a = [before[n].numpy().astype(np.float64) for n in names]
        b = [after[n].numpy().astype(np.float64) for n in names]
        diffs = [y - x for x, y in zip(a, b)]
        sq_diff = sum(float((d * d).sum()) for d in diffs)
        if sq_diff == 0:
            continue
        layers[module] = {
            "max_abs_diff": max(float(np.abs(d).max()) for d in diffs),
            "rel_l2": (sq_diff / sum(float((t * t).sum()) for t in a)) ** 0.5,
            "changed": sum(int(np.count_nonzero(d)) for d in diffs),
            "size": sum(d.size for d in diffs),
        }
    return layers


def fine_tune(model: Any, x: Any, out: Path) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.save(before, out / "tuned_before.pt")
    for name, p in model.named_parameters():
        p.requires_grad_(name.split(".")[0] in FINE_TUNED)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    inputs = torch.from_numpy(x).permute(0, 3, 1, 2)
    target = torch.tensor([1, 3])
    for _ in range(2):  # eval mode throughout: BatchNorm's running statistics stay
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), target).backward()
        opt.step()
    after = model.state_dict()
    torch.save(after, out / "tuned_after.pt")
    return {"tuned_modules": list(FINE_TUNED), "changes": changes(before, after)}


def perturb(model: Any, out: Path) -> dict[str, Any]:
    import torch

    name, index, delta = PERTURBED
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        state[name][index] += delta
    torch.save(state, out / "perturbed.pt")
    before = model.state_dict()
    return {"tensor": name, "index": list(index), "delta": delta, "changes": changes(before, state)}


# ---------------------------------------------------------------------------------------


STAGES = {"keras3": stage_keras3, "tf_keras": stage_tf_keras, "torch": stage_torch}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=list(STAGES), help="default: all three, each in its own process")
    p.add_argument("--work", type=Path, help="where the stages exchange the Keras weights (a temporary directory)")
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.stage:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        STAGES[args.stage](args.work)
        return 0
    with tempfile.TemporaryDirectory() as work:
        for stage, python in (("keras3", TF_PYTHON), ("tf_keras", TF_PYTHON), ("torch", sys.executable)):
            cmd = [python, str(Path(__file__).resolve()), "--stage", stage, "--work", work]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
