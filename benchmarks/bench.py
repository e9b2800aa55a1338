"""Benchmark cnninspect's commands against the least work h5py needs for the same answer.

What it measures
    For each model file, a user's real cost: every command runs as a fresh process
    (interpreter start-up and imports included), stdout to /dev/null.

    * ``cnninspect shapes FILE --json`` against its floor ``floors.py shapes FILE``.
    * ``cnninspect filters FILE --layer L --out N --json`` against ``floors.py filters``.
      L is the top-level Conv layer with the biggest kernel (ties: the last one, e.g.
      VGG16's ``block5_conv3``), found in ``shapes --json``; N is its middle output map.
    * For the record: ``cnninspect --version`` against a bare ``python -c pass``, and the
      import time of ``cnninspect.cli`` from ``python -X importtime``.
    * Scaling: ``shapes`` seconds per 1,000 layers on deep1000 and nasnetmobile, both in
      all and above the floor; cost linear in layer count gives similar numbers.

    Times are wall-clock seconds: median and min of the repeats. Peak memory is each
    process's max RSS, from ``os.wait4``: it returns the rusage of exactly the child it
    reaps, so there is no wrapper process and none of the "max over all children ever"
    of ``getrusage(RUSAGE_CHILDREN)``. The highest value over the repeats is shown.

Why interleaved
    Each pair runs A, B, A, B, ... (after one untimed warm-up of each, which also puts
    the file in the page cache), so CPU frequency changes, other load and cache effects
    hit the command and its floor alike, and their ratio stays meaningful on a noisy
    machine.

The floors (``benchmarks/floors.py``, readable on their own)
    * shapes: open the file, ``json.loads`` ``model_config``, read ``layer_names``, each
      group's ``weight_names`` and every weight dataset's ``.shape``/``.dtype`` (no data).
    * filters: open the file, ``json.loads`` ``model_config``, read ``kernel[..., N]``
      and ``bias[N]`` of the layer, found by its group's ``weight_names``.

Bytecode
    Every child process runs with ``PYTHONPYCACHEPREFIX`` set to a temporary directory
    (and ``PYTHONDONTWRITEBYTECODE`` unset), so after the warm-ups all modules load from
    cached bytecode, as they do for a user's pip-installed package, without writing
    anything into the repository or site-packages. Otherwise an environment that sets
    ``PYTHONDONTWRITEBYTECODE`` would make an editable install compile every cnninspect
    module from source on every run (about 20 ms), which no user pays.

Targets
    shapes <= 1.5x its floor (foundation issue), later <= 1.3x; filters <= 1.3x.

Run it (numpy, h5py and the installed cnninspect; no TensorFlow)
    python benchmarks/bench.py [--repeat 7] [--files A.h5 B.h5 ...] [--json out.json]

The models are written to ``benchmarks/data/`` (git-ignored) by
``/work/venv-tf/bin/python scripts/make_benchmark_models.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MODELS = ["vgg16", "nasnetmobile", "deep1000"]
PY = sys.executable
FLOOR = [PY, str(HERE / "floors.py")]
TARGETS = {"shapes": 1.5, "filters": 1.3}
# ru_maxrss is in KiB on Linux, in bytes on macOS.
RSS_TO_MB = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10


def cnninspect_argv() -> list[str]:
    """The console script of this interpreter's environment, as a user runs it."""
    script = Path(PY).parent / "cnninspect"
    found = str(script) if script.exists() else shutil.which("cnninspect")
    return [found] if found else [PY, "-m", "cnninspect"]


def git_commit() -> str | None:
    done = subprocess.run(["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``argv`` run as a fresh process, stdout discarded."""
    devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=devnull)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}")
    return wall, usage.ru_maxrss * RSS_TO_MB


def compare(command: list[str], floor: list[str], repeat: int) -> dict[str, dict]:
    """Time ``command`` and ``floor`` interleaved, after one untimed warm-up of each."""
    runs: dict[str, list[tuple[float, float]]] = {"command": [], "floor": []}
    run_once(command)
    run_once(floor)
    for _ in range(repeat):
        for key, argv in (("command", command), ("floor", floor)):
            runs[key].append(run_once(argv))
    return {
        key: {
            "argv": argv,
            "median_s": statistics.median(w for w, _ in runs[key]),
            "min_s": min(w for w, _ in runs[key]),
            "peak_rss_mb": max(r for _, r in runs[key]),
            "wall_s": [w for w, _ in runs[key]],
        }
        for key, argv in (("command", command), ("floor", floor))
    }


def importtime(argv: list[str]) -> list[tuple[int, int, str]]:
    """``python -X importtime ARGV``: (self us, cumulative us, indented name) per import."""
    err = subprocess.run([PY, "-X", "importtime", *argv], capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            rows.append((int(fields[0]), int(fields[1]), fields[2]))
    return rows


def import_costs(cli: list[str], path: Path, repeat: int) -> dict:
    """Two import measures, each the median of ``repeat`` runs:

    * ``import cnninspect.cli``: the cumulative time of its top-level entries.
    * What a real ``cnninspect shapes FILE --json`` imports that its floor does not, by
      package (self times). This also counts imports made while running, such as the
      ones a CLI library makes only when it parses arguments.
    """
    script = cli[1:] if cli[0] == PY else cli  # run the console script itself under -X importtime
    floor_modules = {name.strip() for _, _, name in importtime([FLOOR[1], "shapes", str(path)])}
    cli_ms, extras = [], []
    for _ in range(repeat):
        rows = importtime(["-c", "import cnninspect.cli"])
        cli_ms.append(sum(cum for _, cum, name in rows if name.startswith(" cnninspect")) / 1000)
        extra: dict[str, float] = {}
        for self_us, _, name in importtime([*script, "shapes", str(path), "--json"]):
            if name.strip() not in floor_modules:
                package = name.strip().split(".")[0]
                extra[package] = round(extra.get(package, 0) + self_us / 1000, 3)
        extras.append(extra)
    extras.sort(key=lambda e: sum(e.values()))
    extra = extras[len(extras) // 2]
    return {
        "cnninspect_cli_ms": statistics.median(cli_ms),
        "shapes_extra_over_floor_ms": sum(extra.values()),
        "shapes_extra_by_package_ms": dict(sorted(extra.items(), key=lambda kv: -kv[1])),
    }


def filters_target(report: dict) -> tuple[str, int] | None:
    """The top-level Conv layer with the biggest kernel (last of equals) and its middle map."""
    best = max(
        (
            (math.prod(w["shape"]), layer["index"], layer["name"], w["shape"][w["axes"].index("out")])
            for layer in report["layers"]
            if layer["op"] == "conv" and layer["depth"] == 0
            for w in layer["weights"]
            if w["role"] == "kernel" and "out" in w["axes"]
        ),
        default=None,
    )
    return None if best is None else (best[2], best[3] // 2)


def bench_model(path: Path, cli: list[str], repeat: int) -> dict:
    out = subprocess.run([*cli, "shapes", str(path), "--json"], stdout=subprocess.PIPE, text=True, check=True).stdout
    report = json.loads(out)
    layer, n = filters_target(report) or (None, None)
    pairs = {"shapes": ([*cli, "shapes", str(path), "--json"], [*FLOOR, "shapes", str(path)])}
    if layer is not None:
        pairs["filters"] = (
            [*cli, "filters", str(path), "--layer", layer, "--out", str(n), "--json"],
            [*FLOOR, "filters", str(path), layer, str(n)],
        )
    target = f"{layer} --out {n}" if layer else "(no Conv layer: skipped)"
    print(f"  {path.name}: {len(report['layers'])} layers; filters on {target}", file=sys.stderr)
    return {
        "model": path.stem,
        "file": str(path),
        "size_bytes": path.stat().st_size,
        "layers": len(report["layers"]),
        "filters_layer": layer,
        "filters_out": n,
        "results": {name: compare(command, floor, repeat) for name, (command, floor) in pairs.items()},
    }


def table(models: list[dict]) -> str:
    lines = [
        "| model | file size | layers | command | median s | min s | floor median s | ratio (median/floor) "
        "| peak RSS MB | floor RSS MB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in models:
        for name, r in m["results"].items():
            c, f = r["command"], r["floor"]
            ratio = c["median_s"] / f["median_s"]
            label = name if name == "shapes" else f"filters {m['filters_layer']} --out {m['filters_out']}"
            lines.append(
                f"| {m['model']} | {m['size_bytes'] / 2**20:.1f} MiB | {m['layers']} | {label} "
                f"| {c['median_s']:.3f} | {c['min_s']:.3f} | {f['median_s']:.3f} | {ratio:.2f}x "
                f"| {c['peak_rss_mb']:.0f} | {f['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def scaling(models: list[dict]) -> dict:
    """``shapes`` seconds per 1,000 layers: in all, and above the floor."""
    out = {}
    for m in models:
        if m["model"] in ("deep1000", "nasnetmobile"):
            r = m["results"]["shapes"]
            per = 1000 / m["layers"]
            out[m["model"]] = {
                "layers": m["layers"],
                "s_per_1000_layers": r["command"]["median_s"] * per,
                "above_floor_s_per_1000_layers": (r["command"]["median_s"] - r["floor"]["median_s"]) * per,
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command (default 7)")
    parser.add_argument("--files", nargs="+", type=Path, default=[DATA / f"{m}.h5" for m in MODELS])
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args()

    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(
            f"bench: missing model file(s): {', '.join(missing)}\n"
            "Make them (about a minute, needs TensorFlow's venv) with:\n"
            "    /work/venv-tf/bin/python scripts/make_benchmark_models.py",
            file=sys.stderr,
        )
        return 2

    cli = cnninspect_argv()
    print(f"bench: {len(args.files)} file(s), {args.repeat} interleaved repeats, {' '.join(cli)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cnninspect-bench-pyc-") as pyc:
        # Children load cached bytecode, as an installed package does (see "Bytecode" above).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = pyc
        models = [bench_model(p, cli, args.repeat) for p in args.files]
        version = compare([*cli, "--version"], [PY, "-c", "pass"], args.repeat)
        imports = import_costs(cli, args.files[0], args.repeat)
    scale = scaling(models)

    print(table(models))
    print()
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(imports["shapes_extra_by_package_ms"].items())[:6])
    print(
        f"Imports (python -X importtime, median): `import cnninspect.cli` {imports['cnninspect_cli_ms']:.0f} ms; "
        f"`cnninspect shapes {args.files[0].name} --json` imports {imports['shapes_extra_over_floor_ms']:.0f} ms "
        f"more than its floor (ms: {top}). `cnninspect --version`: median {version['command']['median_s']:.3f} s, "
        f"min {version['command']['min_s']:.3f} s (bare `python -c pass`: {version['floor']['median_s']:.3f} s)."
    )
    for name, s in scale.items():
        print(
            f"Scaling: {name} ({s['layers']} layers): shapes {s['s_per_1000_layers']:.3f} s per 1,000 layers, "
            f"{s['above_floor_s_per_1000_layers']:.3f} s per 1,000 above the floor."
        )
    missed = [
        f"{m['model']} {name} {r['command']['median_s'] / r['floor']['median_s']:.2f}x > {TARGETS[name]}x"
        for m in models
        for name, r in m["results"].items()
        if r["command"]["median_s"] / r["floor"]["median_s"] > TARGETS[name]
    ]
    verdict = "missed: " + "; ".join(missed) if missed else "all met"
    print(f"Targets (shapes <= 1.5x, later 1.3x; filters <= 1.3x): {verdict}.")

    if args.json:
        document = {
            "commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "repeat": args.repeat,
            "models": models,
            "version": version,
            "import": imports,
            "scaling": scale,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
