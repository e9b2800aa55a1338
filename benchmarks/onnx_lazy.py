"""Parse a large ONNX model's structure without its weights: cnninspect's own reader
against the ``onnx`` package and against the least work possible.

What it measures
    Each command runs as a fresh process (interpreter start-up and imports included) on
    ``benchmarks/data/vgg16.onnx`` (528 MiB, written by ``scripts/make_benchmark_onnx.py``):

    * ``onnx_proto``: ``cnninspect.loaders.onnx_proto.load(FILE)``, then every node's
      attribute values through ``get_attribute_value``: the whole structure, no weight
      read.
    * ``shapes``: the command a user runs, ``python -m cnninspect shapes FILE --json``,
      end to end (CLI, loader, shape inference, cost rules, the JSON on stdout, sent to
      ``/dev/null``). It has no inner timing: only its process time is shown.
    * ``onnx.load``: ``onnx.load(FILE, load_external_data=False)`` (for the record: it
      holds the whole file in memory).
    * ``floor``: the least a reader must do, a bare read of the file's non-weight bytes:
      open the file and ``seek`` + ``read`` every byte range outside the tensors' data
      (``raw_data`` and typed arrays), ranges handed over on the command line. They are
      found by ``onnx_proto`` in this process, and checked against ``onnx`` when it is
      installed (the ``raw_data`` of each initializer must be those very bytes).
    * ``import``: ``from cnninspect.loaders import onnx_proto`` alone: the part of
      ``onnx_proto``'s cost that does not depend on the file (the ``cnninspect.loaders``
      package, which every command imports anyway).
    * ``python``: a bare ``python -c pass``, to show what start-up alone costs.

    Times are wall-clock seconds (median and min of the repeats): of the whole process,
    and of its work alone (timed inside the child from its first line: the imports and
    the parse, or the floor's reads), which start-up noise on a shared machine does not
    blur. Peak memory is each child's ``ru_maxrss`` from ``os.wait4``
    (``bench.run_once``), the highest over the repeats; the ranges are found in another
    child, so that this process stays small (a spawned child starts from its parent's
    high-water mark). Commands run interleaved (A, B, C, D, A, B, ...) after one untimed warm-up of
    each, so load changes on a shared machine hit them all alike; children load cached
    bytecode from a temporary ``PYTHONPYCACHEPREFIX``, as in ``bench.py``, and import
    cnninspect from this checkout (``PYTHONPATH``).

Targets (issue 12): ``shapes`` (and ``onnx_proto``) at no more than 1.3x the floor, and at
most 100 MB peak RSS.

    python scripts/make_benchmark_onnx.py        # once: writes benchmarks/data/vgg16.onnx
    python benchmarks/onnx_lazy.py [--repeat 15] [--file F.onnx] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import PY, run_once

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET_RATIO, TARGET_PEAK_MB = 1.3, 100

PARSE = """from cnninspect.loaders import onnx_proto
model = onnx_proto.load(sys.argv[1])
for node in model.graph.node:
    for attribute in node.attribute:
        onnx_proto.get_attribute_value(attribute)
"""
ONNX_LOAD = "import onnx; onnx.load(sys.argv[1], load_external_data=False)"
FLOOR = """numbers = [int(n) for n in sys.argv[2:]]
with open(sys.argv[1], "rb", buffering=0) as f:
    for offset, length in zip(numbers[::2], numbers[1::2]):
        f.seek(offset)
        f.read(length)
"""
TIMED = """import sys, time
start = time.perf_counter()
{}
with open({!r}, "a") as out:
    out.write(f"{} {{time.perf_counter() - start}}\\n")
"""


def non_weight_ranges(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of every byte range of the file outside the tensors' data."""
    sys.path.insert(0, str(REPO))
    from cnninspect.loaders import onnx_proto

    model = onnx_proto.load(path)
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    _check_spans(path, model)
    ranges, at = [], 0
    for offset, length in sorted(span for t in tensors for span in t.data_spans()):
        if offset > at:
            ranges.append((at, offset - at))
        at = max(at, offset + length)
    size = path.stat().st_size
    return ranges + ([(at, size - at)] if at < size else [])


def _check_spans(path: Path, model: object) -> None:
    """The raw_data ranges are the ones onnx reads, where onnx is installed."""
    try:
        import onnx
    except ImportError:
        return
    theirs = onnx.load(str(path), load_external_data=False)
    with open(path, "rb") as f:
        for ours, their in zip(model.graph.initializer, theirs.graph.initializer):  # type: ignore[attr-defined]
            if ours.raw_span:
                f.seek(ours.raw_span[0])
                assert f.read(ours.raw_span[1]) == their.raw_data, ours.name
    del theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=HERE / "data" / "vgg16.onnx")
    parser.add_argument("--ranges", action="store_true", help="print the non-weight ranges as JSON and stop")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"onnx_lazy: no {args.file}; make it with: python scripts/make_benchmark_onnx.py", file=sys.stderr)
        return 2

    if args.ranges:
        print(json.dumps(non_weight_ranges(args.file)))
        return 0
    found = subprocess.run([PY, __file__, "--ranges", "--file", str(args.file)], capture_output=True, text=True, check=True)
    ranges = json.loads(found.stdout)
    kept = sum(n for _, n in ranges)
    runs: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="cnninspect-onnx-") as tmp:
        times = Path(tmp) / "times.txt"
        commands = {
            name: [PY, "-c", TIMED.format(body, str(times), name), str(args.file), *extra]
            if body is not None
            else [PY, "-m", "cnninspect", name, str(args.file), "--json"]
            for name, body, extra in [
                ("onnx_proto", PARSE, []),
                ("shapes", None, []),
                ("import", "from cnninspect.loaders import onnx_proto", []),
                ("onnx.load", ONNX_LOAD, []),
                ("floor", FLOOR, [str(n) for r in ranges for n in r]),
                ("python", "pass", []),
            ]
        }
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = tmp
        os.environ["PYTHONPATH"] = str(REPO)
        for argv in commands.values():
            run_once(argv)
        times.unlink()
        for _ in range(args.repeat):
            for name, argv in commands.items():
                runs.setdefault(name, []).append(run_once(argv))
        work: dict[str, list[float]] = {}
        for line in times.read_text().splitlines():
            name, seconds = line.rsplit(" ", 1)
            work.setdefault(name, []).append(float(seconds))
    results: dict[str, dict[str, Any]] = {
        name: {
            "median_s": statistics.median(w for w, _ in runs[name]),
            "min_s": min(w for w, _ in runs[name]),
            "work_median_s": statistics.median(work[name]) if name in work else None,
            "work_min_s": min(work[name]) if name in work else None,
            "peak_rss_mb": max(r for _, r in runs[name]),
            "wall_s": [w for w, _ in runs[name]],
        }
        for name in commands
    }
    floor, floor_work = results["floor"]["median_s"], results["floor"]["work_median_s"]
    size = args.file.stat().st_size
    print(f"{args.file.name}: {size / 2**20:.0f} MiB, {kept:,} non-weight bytes in {len(ranges)} ranges; {args.repeat} interleaved runs")
    print(f"{'':<12}{'process: median s':>18}{'min s':>8}{'x floor':>9}{'work: median ms':>17}{'min ms':>8}{'peak RSS MB':>13}")
    for name, r in results.items():
        inner = f"{r['work_median_s'] * 1e3:>17.1f}{r['work_min_s'] * 1e3:>8.1f}" if r["work_median_s"] is not None else f"{'-':>17}{'-':>8}"
        print(f"{name:<12}{r['median_s']:>18.3f}{r['min_s']:>8.3f}{r['median_s'] / floor:>9.2f}{inner}{r['peak_rss_mb']:>13.1f}")
    parse = results["onnx_proto"]["work_median_s"] - results["import"]["work_median_s"]
    print(f"onnx_proto's work is {(results['onnx_proto']['work_median_s'] - floor_work) * 1e3:.1f} ms (median) above the floor's, "
          f"of which the parse itself (its work less the import's) is {parse * 1e3:.1f} ms.")
    for name in ("shapes", "onnx_proto"):
        ours = results[name]
        met = ours["median_s"] <= TARGET_RATIO * floor and ours["peak_rss_mb"] <= TARGET_PEAK_MB
        print(f"Targets ({name} <= {TARGET_RATIO}x the floor, <= {TARGET_PEAK_MB} MB peak): {'met' if met else 'missed'}.")
    if args.json:
        args.json.write_text(json.dumps({"file": str(args.file), "bytes": size, "non_weight_bytes": kept, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
