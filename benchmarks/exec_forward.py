#!/usr/bin/env python3
"""cnninspect's forward pass (``forward.run.run_network``) against Keras' own ``model(x)``
and against onnxruntime on the model's ONNX export.

What it measures
    For each Keras application (random weights, ``weights=None``), made once under
    ``--work`` in ``/work/venv-tf`` (``SETUP``): ``NAME.h5`` (``model.save``) and
    ``NAME.onnx`` (tf2onnx ``convert.from_function`` of ``model(x, training=False)``, opset
    13; a failed export is said and that column skipped; ``--no-onnx NAME`` skips it: on
    VGG16 the export outgrew 16 GB of memory in 10 minutes here, folding its 528 MiB of
    weights as graph constants, and was stopped). Then the seconds of one forward
    pass on one 224x224x3 float32 input, after one untimed warm-up, in each of:

    * Keras 3 (``/work/venv-tf``): ``model(x, training=False)`` on the ``.h5``;
    * onnxruntime (``/work/venv-tf``, CPU provider, default threads) on the ``.onnx``;
    * cnninspect (NumPy float32, this interpreter, this checkout): ``run_network`` on the
      ``.h5``.

    Ratios are cnninspect's median over each library's median. GFLOP/s is 2 x the
    multiply-adds of ``shapes --batch 1`` (its cost rules) per second of cnninspect's
    median (and min), against NumPy's own float32 matmul peak here (the best of 5
    2048x2048 products, measured before and after the rounds: the machine is shared).

Why interleaved
    Each round runs Keras, cnninspect, onnxruntime, each a fresh process timing
    ``--repeat`` passes, so machine load hits all three alike; the medians (and mins)
    over all rounds are compared.

Targets (issue 13): cnninspect at most 3x Keras and 4x onnxruntime.

Run: ``python3 benchmarks/exec_forward.py [--models vgg16 resnet50 mobilenetv2] [--rounds 3] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Sequence

TF_PYTHON = "/work/venv-tf/bin/python"
REPO = Path(__file__).resolve().parents[1]
APPS = {"vgg16": "VGG16", "resnet50": "ResNet50", "mobilenetv2": "MobileNetV2"}
TARGETS = {"keras": 3.0, "onnxruntime": 4.0}
ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}

SETUP = r"""
import os, sys
import numpy as np, keras
path, onnx_path, app, export = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
model = None
if not os.path.exists(path):
    model = getattr(keras.applications, app)(weights=None)
    model.save(path)
if export and not os.path.exists(onnx_path):
    import tensorflow as tf, tf2onnx
    model = model or keras.models.load_model(path, compile=False)
    spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
    try:
        tf2onnx.convert.from_function(tf.function(lambda x: model(x, training=False)), input_signature=spec,
                                      opset=13, output_path=onnx_path)
    except Exception as error:
        print(f"tf2onnx export failed: {type(error).__name__}: {error}".splitlines()[0])
"""

TIMING = r"""
import json, sys, time
import numpy as np
x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
path, repeat = sys.argv[1], int(sys.argv[2])
{}
once()
times = []
for _ in range(repeat):
    t = time.perf_counter(); once(); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
KERAS = TIMING.format("""import keras
model = keras.models.load_model(path, compile=False)
once = lambda: model(x, training=False)""")
ORT = TIMING.format("""import onnxruntime
session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
once = lambda: session.run(None, {name: x})""")
OURS = TIMING.format("""from pathlib import Path
from cnninspect.loaders import open_model
from cnninspect.forward.run import run_network
model = open_model(Path(path)).__enter__()
once = lambda: run_network(model, [x])""")

PEAK = r"""
import time, numpy as np
a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
a @ a
best = min((lambda t: (a @ a, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(2 * 2048 ** 3 / best / 1e9)
"""


def _run(python: str, code: str, *args: str) -> list[float]:
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=ENV)
    if done.returncode:
        raise SystemExit(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def matmul_peak() -> float:
    """NumPy's float32 GFLOP/s on a 2048x2048 product here (best of 5)."""
    return float(subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, check=True).stdout)


def shapes_totals(path: Path) -> dict:
    """``shapes --json --batch 1``'s totals (params, bytes, flops, peak_activation_bytes)."""
    argv = [sys.executable, "-m", "cnninspect", "shapes", str(path), "--json", "--batch", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=ENV, check=True)
    return dict(json.loads(done.stdout)["totals"])


def make_models(work: Path, names: list[str], no_onnx: Sequence[str] = ()) -> None:
    """``NAME.h5`` and ``NAME.onnx`` under ``work``, written by Keras and tf2onnx where absent
    (no ``.onnx`` for the names in ``no_onnx``)."""
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
        done = subprocess.run([TF_PYTHON, "-c", SETUP, str(work / f"{name}.h5"), str(work / f"{name}.onnx"), APPS[name], str(int(name not in no_onnx))],
                              capture_output=True, text=True, env=ENV)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"{name}: " + done.stderr.strip().splitlines()[-1])
        if done.stdout.strip():
            print(f"{name}: {done.stdout.strip()}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(APPS), choices=list(APPS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "data" / "apps")
    p.add_argument("--no-onnx", nargs="+", default=[], choices=list(APPS), help="export no ONNX file of these (and time no onnxruntime)")
    p.add_argument("--json", type=Path, help="write the raw numbers here")
    args = p.parse_args()
    make_models(args.work, args.models, args.no_onnx)
    peaks = [matmul_peak()]
    found: dict[str, dict] = {}
    for name in args.models:
        h5, onnx = args.work / f"{name}.h5", args.work / f"{name}.onnx"
        times: dict[str, list[float]] = {"keras": [], "cnninspect": [], "onnxruntime": []}
        for _ in range(args.rounds):
            times["keras"] += _run(TF_PYTHON, KERAS, str(h5), str(args.repeat))
            times["cnninspect"] += _run(sys.executable, OURS, str(h5), str(args.repeat))
            if onnx.exists() and name not in args.no_onnx:
                times["onnxruntime"] += _run(TF_PYTHON, ORT, str(onnx), str(args.repeat))
        found[name] = {"flops": shapes_totals(h5)["flops"], "times": times}
    peaks.append(matmul_peak())
    peak = max(peaks)
    print(f"NumPy float32 matmul peak here: {peaks[0]:.1f} GFLOP/s before, {peaks[1]:.1f} after")
    print("| model | GFLOP | Keras med (min) s | onnxruntime med (min) s | cnninspect med (min) s | x Keras | x onnxruntime "
          "| cnninspect GFLOP/s med (best) | of matmul peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in found.items():
        t = {k: (statistics.median(v), min(v)) if v else None for k, v in r["times"].items()}
        ours, keras, ort = t["cnninspect"], t["keras"], t["onnxruntime"]
        assert ours is not None and keras is not None
        ort_cell = f"{ort[0]:.3f} ({ort[1]:.3f})" if ort else "no export"
        ort_ratio = f"{ours[0] / ort[0]:.2f}x" if ort else "-"
        gflops = (r["flops"] / ours[0] / 1e9, r["flops"] / ours[1] / 1e9)
        r.update(ratio_keras=ours[0] / keras[0], ratio_onnxruntime=ours[0] / ort[0] if ort else None, gflops=gflops)
        print(f"| {name} | {r['flops'] / 1e9:.1f} | {keras[0]:.3f} ({keras[1]:.3f}) | {ort_cell} | {ours[0]:.3f} ({ours[1]:.3f}) "
              f"| {ours[0] / keras[0]:.2f}x | {ort_ratio} | {gflops[0]:.1f} ({gflops[1]:.1f}) | {gflops[1] / peak:.0%} |")
    missed = [f"{n} {k} {r[f'ratio_{k}']:.2f}x > {lim}x" for n, r in found.items() for k, lim in TARGETS.items()
              if r[f"ratio_{k}"] is not None and r[f"ratio_{k}"] > lim]  # fmt: skip
    print(f"Targets (<= 3x Keras, <= 4x onnxruntime): {'missed: ' + '; '.join(missed) if missed else 'all met'}.")
    if args.json:
        args.json.write_text(json.dumps({"matmul_peak_gflops": peaks, "models": found}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
