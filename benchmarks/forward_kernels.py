"""GFLOP/s of ``cnninspect.forward.conv`` on VGG16-, ResNet50- and MobileNetV2-sized
convolution layers, against NumPy's own matmul on this machine (the BLAS peak the
im2col + matmul route can reach), same dtype, interleaved runs.

    python benchmarks/forward_kernels.py [--dtype float32|float64] [--repeats 5] [--layout last|first]

For each layer, one round is: the conv kernel, then a bare ``np.matmul`` of the
layer's im2col shape ``(H_out*W_out, C_in/G*k*k) @ (C_in/G*k*k, C_out/G)``, batched
over the G groups, then a square
1024x1024 matmul; rounds repeat ``--repeats`` times so that the machine's load
falls on all three alike. Printed: best and median GFLOP/s (2 * MACs per second),
the conv's best as a fraction of the same-shape and square matmul bests, and the
median over rounds of the same-shape matmul's time over the conv's in that round
(steadiest on a loaded machine: both ran under the same load).
Batch 1, as ``activations`` runs. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnninspect.forward.conv import conv, conv_pads  # noqa: E402

# name, (H, W, C_in), C_out, kernel, stride, groups
LAYERS = [
    ("vgg16 block1_conv2", (224, 224, 64), 64, 3, 1, 1),
    ("vgg16 block3_conv2", (56, 56, 256), 256, 3, 1, 1),
    ("vgg16 block5_conv1", (14, 14, 512), 512, 3, 1, 1),
    ("resnet50 conv1 7x7/2", (224, 224, 3), 64, 7, 2, 1),
    ("resnet50 conv2 1x1", (56, 56, 64), 256, 1, 1, 1),
    ("resnet50 conv2 3x3", (56, 56, 64), 64, 3, 1, 1),
    ("resnet50 conv4 3x3", (14, 14, 256), 256, 3, 1, 1),
    ("mobilenetv2 depthwise 3x3", (56, 56, 144), 144, 3, 1, 144),
]


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layout", default="last", choices=["last", "first"])
    args = p.parse_args(argv)
    dtype = np.dtype(args.dtype)
    channels_last = args.layout == "last"
    rng = np.random.default_rng(0)
    square = rng.standard_normal((1024, 1024)).astype(dtype)
    square_flops = 2 * 1024**3
    print(f"numpy {np.__version__}, {dtype}, channels {args.layout}, batch 1, {args.repeats} interleaved rounds")
    print(f"{'layer':28s} {'GFLOP':>6s} {'conv best/med':>15s} {'matmul same shape':>18s} {'square 1024':>12s} {'conv/same':>9s} {'conv/square':>11s} {'per-round':>9s}")
    for name, (h, w, cin), cout, k, stride, groups in LAYERS:
        x = rng.standard_normal((1, h, w, cin) if channels_last else (1, cin, h, w)).astype(dtype)
        weight = (rng.standard_normal((cout, cin // groups, k, k)) * 0.1).astype(dtype)
        pads = conv_pads([h, w], [k, k], stride, 1, "same")
        ho, wo = -(-h // stride), -(-w // stride)
        depth = cin // groups * k * k
        flops = 2 * ho * wo * depth * cout
        a = rng.standard_normal((groups, ho * wo, depth)).astype(dtype)
        b = rng.standard_normal((groups, depth, cout // groups)).astype(dtype)
        same_flops = flops
        runs: dict[str, list[float]] = {"conv": [], "same": [], "square": []}
        conv(x, weight, None, stride, 1, pads, groups, channels_last)  # warm-up
        for _ in range(args.repeats):
            runs["conv"].append(_seconds(lambda: conv(x, weight, None, stride, 1, pads, groups, channels_last)))  # noqa: B023
            runs["same"].append(_seconds(lambda: np.matmul(a, b)))  # noqa: B023
            runs["square"].append(_seconds(lambda: np.matmul(square, square)))
        conv_best, conv_med = flops / min(runs["conv"]) / 1e9, flops / statistics.median(runs["conv"]) / 1e9
        same = same_flops / min(runs["same"]) / 1e9
        sq = square_flops / min(runs["square"]) / 1e9
        per_round = statistics.median(s / c for s, c in zip(runs["same"], runs["conv"]))
        print(f"{name:28s} {flops / 1e9:6.2f} {conv_best:7.1f}/{conv_med:<7.1f} {same:18.1f} {sq:12.1f} {conv_best / same:9.2f} {conv_best / sq:11.2f} {per_round:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
