#!/usr/bin/env python3
"""cnninspect's forward pass (``forward.run.run_network``) against Keras' own ``model(x)``.

What it measures
    For each Keras application (random weights, ``weights=None``, saved as ``.h5`` under
    ``--work``): the seconds of one forward pass on one 224x224 image, after one untimed
    warm-up, in Keras 3 (``/work/venv-tf``) and in cnninspect (NumPy, float32, this
    interpreter); the ratio; and cnninspect's GFLOP/s (multiply-adds x 2, from ``shapes``'
    cost rules) against NumPy's own float32 matmul peak here (a 2048x2048 product).

Why interleaved
    Rounds alternate Keras, cnninspect, Keras, cnninspect, ... each in a fresh process
    timing ``--repeat`` passes, so machine load hits both alike; the medians are compared.

Run: ``python3 benchmarks/exec_forward.py [--models vgg16 resnet50 mobilenetv2] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

TF_PYTHON = "/work/venv-tf/bin/python"
REPO = Path(__file__).resolve().parents[1]
APPS = {"vgg16": "VGG16", "resnet50": "ResNet50", "mobilenetv2": "MobileNetV2"}

KERAS = r"""
import json, sys, time, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
path, repeat = sys.argv[1], int(sys.argv[2])
if not os.path.exists(path):
    getattr(keras.applications, sys.argv[3])(weights=None).save(path)
model = keras.models.load_model(path, compile=False)
x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
model(x, training=False)
times = []
for _ in range(repeat):
    t = time.perf_counter(); model(x, training=False); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""

OURS = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from cnninspect.loaders import open_model
from cnninspect.forward.run import run_network
path, repeat = sys.argv[1], int(sys.argv[2])
x = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
with open_model(Path(path)) as model:
    run_network(model, [x])
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); run_network(model, [x]); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""

PEAK = r"""
import time, numpy as np
a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
a @ a
best = min((lambda t: (a @ a, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(5))
print(2 * 2048 ** 3 / best / 1e9)
"""


def _run(python: str, code: str, *args: str) -> list[float]:
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    if done.returncode:
        raise SystemExit(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _flops(path: Path) -> float:
    done = subprocess.run([sys.executable, "-m", "cnninspect", "shapes", str(path), "--json", "--batch", "1"], capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    doc = json.loads(done.stdout)
    return float(doc["totals"]["flops"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(APPS), choices=list(APPS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path("/tmp/cnninspect-bench"))
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    peak = float(subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True).stdout)
    print(f"NumPy float32 matmul peak here: {peak:.1f} GFLOP/s")
    for name in args.models:
        path = args.work / f"{name}.h5"
        keras_times: list[float] = []
        our_times: list[float] = []
        for _ in range(args.rounds):
            keras_times += _run(TF_PYTHON, KERAS, str(path), str(args.repeat), APPS[name])
            our_times += _run(sys.executable, OURS, str(path), str(args.repeat))
        k, o = statistics.median(keras_times), statistics.median(our_times)
        flops = _flops(path)
        print(f"{name}: Keras {k:.3f} s, cnninspect {o:.3f} s, ratio {o / k:.2f}x; cnninspect {flops / o / 1e9:.1f} GFLOP/s "
              f"({flops / o / 1e9 / peak:.0%} of the matmul peak)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
