#!/usr/bin/env python3
"""``cnninspect activations FILE --input img.png --json`` end to end, against loading the
model in Keras and predicting, each a fresh process; and its peak memory against the
bound of issue 13.

What it measures
    On the Keras applications that ``exec_forward.py`` writes under ``--work`` (random
    weights, ``.h5``), with one seeded random 224x224 RGB PNG:

    * cnninspect: ``python -m cnninspect activations FILE --input img.png --json`` (this
      checkout, ``PYTHONPATH``), every layer's stats as the command reports them;
    * Keras: ``/work/venv-tf``'s ``python -c "import keras; m = keras.models.load_model(FILE);
      m.predict(x)"``, with ``x`` the same PNG read by Pillow, resized and scaled to [0, 1]
      as cnninspect's default ``--preprocess unit`` does.

    Wall seconds of the whole process (start-up, imports, reading the file, the forward
    pass, the JSON) and peak RSS from ``os.wait4`` (``bench.run_once``), median and min
    over ``--repeat`` interleaved runs (cnninspect, Keras, cnninspect, ...) after one
    untimed warm-up of each (which also puts the file in the page cache).

    The memory bound: the weights' bytes plus twice the largest live activation set
    (``shapes``' ``peak_activation_bytes``, float32, batch 1) plus 200 MB.

Targets (issue 13): cnninspect at least 5x faster than Keras; peak RSS under the bound.

Run: ``python3 benchmarks/activations_e2e.py [--models vgg16 resnet50 mobilenetv2] [--repeat 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from bench import PY, run_once
from exec_forward import APPS, REPO, TF_PYTHON, make_models, shapes_totals

MB = 2**20
SLACK_MB = 200
TARGET_SPEEDUP = 5.0
KERAS = """import sys
import numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
x = np.asarray(Image.open(sys.argv[2]).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32)[None] / 255
model.predict(x, verbose=0)
"""


def write_image(path: Path) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def summary(runs: list[tuple[float, float]]) -> dict:
    return {
        "median_s": statistics.median(w for w, _ in runs),
        "min_s": min(w for w, _ in runs),
        "peak_rss_mb": max(r for _, r in runs),
        "wall_s": [w for w, _ in runs],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(APPS), choices=list(APPS))
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "data" / "apps")
    p.add_argument("--json", type=Path, help="write the raw numbers here")
    args = p.parse_args()
    make_models(args.work, args.models, no_onnx=list(APPS))  # the ONNX files are exec_forward's
    image = args.work / "img.png"
    write_image(image)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    found = {}
    for name in args.models:
        h5 = args.work / f"{name}.h5"
        jobs = {
            "cnninspect": [PY, "-m", "cnninspect", "activations", str(h5), "--input", str(image), "--json"],
            "keras": [TF_PYTHON, "-c", KERAS, str(h5), str(image)],
        }
        runs: dict[str, list[tuple[float, float]]] = {key: [] for key in jobs}
        for argv in jobs.values():
            run_once(argv, env)
        for _ in range(args.repeat):
            for key, argv in jobs.items():
                runs[key].append(run_once(argv, env))
        totals = shapes_totals(h5)
        bound = (totals["bytes"] + 2 * totals["peak_activation_bytes"]) / MB + SLACK_MB
        found[name] = {**{key: summary(r) for key, r in runs.items()}, "weights_mb": totals["bytes"] / MB,
                       "peak_activation_mb": totals["peak_activation_bytes"] / MB, "bound_mb": bound}  # fmt: skip
    print("| model | cnninspect med (min) s | Keras load+predict med (min) s | speed-up | cnninspect peak RSS MB "
          "| bound MB (weights + 2x live + 200) | Keras peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    missed = []
    for name, r in found.items():
        ours, keras = r["cnninspect"], r["keras"]
        speedup = keras["median_s"] / ours["median_s"]
        r["speedup"] = speedup
        print(f"| {name} | {ours['median_s']:.2f} ({ours['min_s']:.2f}) | {keras['median_s']:.2f} ({keras['min_s']:.2f}) "
              f"| {speedup:.1f}x | {ours['peak_rss_mb']:.0f} | {r['bound_mb']:.0f} ({r['weights_mb']:.0f} + 2x{r['peak_activation_mb']:.1f} + {SLACK_MB}) "
              f"| {keras['peak_rss_mb']:.0f} |")  # fmt: skip
        missed += [f"{name} speed-up {speedup:.1f}x < {TARGET_SPEEDUP}x"] if speedup < TARGET_SPEEDUP else []
        missed += [f"{name} peak {ours['peak_rss_mb']:.0f} MB > {r['bound_mb']:.0f} MB"] if ours["peak_rss_mb"] > r["bound_mb"] else []
    print(f"Targets (>= {TARGET_SPEEDUP}x faster than Keras, peak RSS under the bound): {'missed: ' + '; '.join(missed) if missed else 'all met'}.")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
