"""Benchmark cnninspect's commands against the least work a bare library needs for the same answer.

What it measures
    For each model (VGG16, NASNetMobile, deep1000) in each format it is written in, a
    user's real cost: every command runs as a fresh process (interpreter start-up and
    imports included), stdout to /dev/null.

    * ``cnninspect shapes FILE --json`` against ``floors.py shapes FILE``, for ``.h5``,
      ``.keras`` and ``.safetensors``.
    * ``cnninspect filters FILE --layer L --out N --json`` against ``floors.py filters``,
      for ``.h5`` and ``.safetensors`` (with ``--layout keras``: its kernels are Keras').
      L is the top-level Conv layer with the biggest kernel (ties: the last one, e.g.
      VGG16's ``block5_conv3``), found in the ``.h5``'s ``shapes --json``; N is its
      middle output map.
    * ``cnninspect weights FILE --stats --json`` against ``floors.py stats FILE`` for
      ``.h5``, and its peak memory against the model's largest tensor (VGG16's fc1
      kernel, 392 MiB).
    * For the record: ``cnninspect --version`` against a bare ``python -c pass``, and the
      import time of ``cnninspect.cli`` from ``python -X importtime``.
    * Scaling: ``shapes`` seconds per 1,000 layers on deep1000 and nasnetmobile, both in
      all and above the floor; cost linear in layer count gives similar numbers.

    Times are wall-clock seconds: median and min of the repeats. Peak memory is each
    process's max RSS, from ``os.wait4``: it returns the rusage of exactly the child it
    reaps, so there is no wrapper process and none of the "max over all children ever"
    of ``getrusage(RUSAGE_CHILDREN)``. The highest value over the repeats is shown. The
    console script runs the command in a forked child (the watchdog of ``cli.run``); the
    child's peak is the one that counts, and ``wait4`` on the parent includes it
    (``ru_maxrss`` of a process covers its waited-for children).

Why interleaved
    Each pair runs A, B, A, B, ... (after one untimed warm-up of each, which also puts
    the file in the page cache), so CPU frequency changes, other load and cache effects
    hit the command and its floor alike, and their ratio stays meaningful on a noisy
    machine.

The floors (``benchmarks/floors.py``, readable on their own; its docstring lists them)
    * shapes: the config parsed and every weight's shape and dtype (h5py metadata walk
      for ``.h5``; the zip's ``config.json`` and the weights member walked in place with
      h5py for ``.keras``; the 8-byte length and JSON header for ``.safetensors``).
    * filters: the config parsed, then only ``kernel[..., N]`` and ``bias[N]`` (an h5py
      slice, or a NumPy memmap slice of the safetensors tensor).
    * stats: one NumPy pass over every tensor, read with h5py 16 MiB at a time.

Bytecode
    Every child process runs with ``PYTHONPYCACHEPREFIX`` set to a temporary directory
    (and ``PYTHONDONTWRITEBYTECODE`` unset), so after the warm-ups all modules load from
    cached bytecode, as they do for a user's pip-installed package, without writing
    anything into the repository or site-packages. Otherwise an environment that sets
    ``PYTHONDONTWRITEBYTECODE`` would make an editable install compile every cnninspect
    module from source on every run (about 20 ms), which no user pays.

Against an earlier checkout
    ``--baseline DIR`` also times each command with ``PYTHONPATH=DIR`` (a ``git worktree``
    of an earlier commit, e.g. before a refactor), interleaved with this checkout's
    command and the floor (A, B, floor, A, B, floor, ...); the table adds its median and
    ratio to the floor. This checkout's command then runs with ``PYTHONPATH`` set to this
    repository, so neither side depends on where the editable install points.

Targets
    shapes <= 1.3x its floor, filters <= 1.3x, weights --stats <= 1.5x with peak RSS
    under twice the largest tensor (checked where that tensor exceeds 64 MiB, i.e.
    VGG16: below, the interpreter's own ~40 MB dominates).

Run it (numpy, h5py and the installed cnninspect; no TensorFlow)
    python benchmarks/bench.py [--repeat 7] [--models vgg16,nasnetmobile,deep1000] [--only shapes]
                               [--baseline /tmp/before] [--json out.json]

The models are written to ``benchmarks/data/`` (git-ignored) by
``scripts/make_benchmark_models.py`` (its docstring says how to make its venv).
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
TARGETS = {"shapes": 1.3, "filters": 1.3, "stats": 1.5}
MAX_PEAK_PER_LARGEST_TENSOR = 2.0  # weights --stats peak RSS, in largest tensors
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


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``argv`` run as a fresh process, stdout discarded."""
    devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=devnull)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}")
    return wall, usage.ru_maxrss * RSS_TO_MB


def compare(command: list[str], floor: list[str], repeat: int, baseline: Path | None = None) -> dict[str, dict]:
    """Time ``command`` and ``floor`` (and ``command`` run from the ``baseline`` checkout)
    interleaved, after one untimed warm-up of each."""
    jobs: dict[str, tuple[list[str], dict[str, str] | None]] = {"command": (command, None), "floor": (floor, None)}
    if baseline is not None:
        jobs = {"command": (command, {**os.environ, "PYTHONPATH": str(HERE.parent)}),
                "baseline": (command, {**os.environ, "PYTHONPATH": str(baseline)}), "floor": (floor, None)}  # fmt: skip
    runs: dict[str, list[tuple[float, float]]] = {key: [] for key in jobs}
    for argv, env in jobs.values():
        run_once(argv, env)
    for _ in range(repeat):
        for key, (argv, env) in jobs.items():
            runs[key].append(run_once(argv, env))
    return {
        key: {
            "argv": argv,
            "pythonpath": None if env is None else env["PYTHONPATH"],
            "median_s": statistics.median(w for w, _ in runs[key]),
            "min_s": min(w for w, _ in runs[key]),
            "peak_rss_mb": max(r for _, r in runs[key]),
            "wall_s": [w for w, _ in runs[key]],
        }
        for key, (argv, env) in jobs.items()
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


def json_of(argv: list[str]) -> dict:
    return json.loads(subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True).stdout)


def cases(model: str, cli: list[str]) -> list[dict]:
    """Every (format, command) pair of one model: the cnninspect argv and its floor's."""
    h5, keras, st = (DATA / f"{model}{ext}" for ext in (".h5", ".keras", ".safetensors"))
    st_layout = ["--layout", "keras"]  # the safetensors files keep Keras' kernel layouts
    shapes = {path: [*cli, "shapes", str(path), "--json", *extra] for path, extra in ((h5, []), (keras, []), (st, st_layout))}
    found = [dict(path=path, command="shapes", label="shapes", cli=argv, floor=[*FLOOR, "shapes", str(path)])
             for path, argv in shapes.items()]  # fmt: skip
    reports = {path: json_of(argv) for path, argv in shapes.items()}
    target = filters_target(reports[h5])
    if target is not None:
        layer, n = target
        for path, extra in ((h5, []), (st, st_layout)):
            argv = [*cli, "filters", str(path), "--layer", layer, "--out", str(n), "--json", *extra]
            found.append(dict(path=path, command="filters", label=f"filters {layer} --out {n}", cli=argv,
                              floor=[*FLOOR, "filters", str(path), layer, str(n)]))  # fmt: skip
    found.append(dict(path=h5, command="stats", label="weights --stats", cli=[*cli, "weights", str(h5), "--stats", "--json"],
                      floor=[*FLOOR, "stats", str(h5)]))  # fmt: skip
    tensors = {path: json_of([*cli, "weights", str(path), "--json", *(st_layout if path == st else [])])["tensors"] for path in shapes}
    for case in found:
        path = case.pop("path")
        case.update(
            model=model,
            format=path.suffix[1:],
            file=str(path),
            size_bytes=path.stat().st_size,
            layers=len(reports[path]["layers"]),
            largest_tensor_bytes=max(t["bytes"] for t in tensors[path]),
        )
    print(f"  {model}: filters on {f'{target[0]} --out {target[1]}' if target else '(no Conv layer: skipped)'}", file=sys.stderr)
    return found


def ratio(case: dict, key: str = "command") -> float:
    return case["results"][key]["median_s"] / case["results"]["floor"]["median_s"]


def peak_per_largest(case: dict) -> float:
    return case["results"]["command"]["peak_rss_mb"] * 2**20 / case["largest_tensor_bytes"]


def table(done: list[dict]) -> str:
    with_baseline = bool(done) and "baseline" in done[0]["results"]
    head = "| baseline median s | baseline min s | baseline ratio " if with_baseline else ""
    lines = [
        "| model | format | file size | layers | command | median s | min s | floor median s | ratio (median/floor) "
        f"{head}| peak RSS MB | floor RSS MB |",
        "|---|---|---:|---:|---|---:|---:|---:|---:" + "|---:" * (5 if with_baseline else 2) + "|",
    ]
    for case in done:
        c, f = case["results"]["command"], case["results"]["floor"]
        extra = f" ({peak_per_largest(case):.2f}x the largest tensor)" if case["command"] == "stats" else ""
        b = case["results"].get("baseline")
        cells = f"| {b['median_s']:.3f} | {b['min_s']:.3f} | {ratio(case, 'baseline'):.2f}x " if b else ""
        lines.append(
            f"| {case['model']} | {case['format']} | {case['size_bytes'] / 2**20:.1f} MiB | {case['layers']} | {case['label']} "
            f"| {c['median_s']:.3f} | {c['min_s']:.3f} | {f['median_s']:.3f} | {ratio(case):.2f}x "
            f"{cells}| {c['peak_rss_mb']:.0f}{extra} | {f['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def scaling(done: list[dict]) -> dict:
    """``shapes`` seconds per 1,000 layers, in all and above the floor, for the formats with an
    architecture (a safetensors file has only its weighted layers)."""
    out = {}
    for case in done:
        if case["model"] in ("deep1000", "nasnetmobile") and case["command"] == "shapes" and case["format"] != "safetensors":
            r, per = case["results"], 1000 / case["layers"]
            out[f"{case['model']}.{case['format']}"] = {
                "layers": case["layers"],
                "s_per_1000_layers": r["command"]["median_s"] * per,
                "above_floor_s_per_1000_layers": (r["command"]["median_s"] - r["floor"]["median_s"]) * per,
            }
    return out


def misses(done: list[dict]) -> list[str]:
    found = [
        f"{c['model']}.{c['format']} {c['command']} {ratio(c):.2f}x > {TARGETS[c['command']]}x"
        for c in done
        if ratio(c) > TARGETS[c["command"]]
    ]
    found += [
        f"{c['model']}.{c['format']} stats peak {peak_per_largest(c):.2f}x the largest tensor"
        for c in done
        if c["command"] == "stats" and peak_per_largest(c) >= MAX_PEAK_PER_LARGEST_TENSOR and c["largest_tensor_bytes"] > 2**26
    ]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command (default 7)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of: " + ",".join(MODELS))
    parser.add_argument("--only", help="comma-separated commands to time (shapes, filters, stats); default all")
    parser.add_argument("--baseline", type=Path, help="also time each command from this checkout (PYTHONPATH), interleaved")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args()

    models = args.models.split(",")
    missing = [str(DATA / f"{m}{ext}") for m in models for ext in (".h5", ".keras", ".safetensors") if not (DATA / f"{m}{ext}").is_file()]
    if missing:
        print(
            f"bench: missing model file(s): {', '.join(missing)}\n"
            "Make them (a few minutes, in TensorFlow's venv: see its docstring) with:\n"
            "    python scripts/make_benchmark_models.py",
            file=sys.stderr,
        )
        return 2

    cli = cnninspect_argv()
    print(f"bench: {len(models)} model(s), {args.repeat} interleaved repeats, {' '.join(cli)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cnninspect-bench-pyc-") as pyc:
        # Children load cached bytecode, as an installed package does (see "Bytecode" above).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = pyc
        todo = [case for m in models for case in cases(m, cli) if not args.only or case["command"] in args.only.split(",")]
        for case in todo:
            case["results"] = compare(case["cli"], case["floor"], args.repeat, args.baseline)
        version = compare([*cli, "--version"], [PY, "-c", "pass"], args.repeat)
        first = DATA / f"{models[0]}.h5"
        imports = import_costs(cli, first, args.repeat)
    scale = scaling(todo)

    print(table(todo))
    print()
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(imports["shapes_extra_by_package_ms"].items())[:6])
    print(
        f"Imports (python -X importtime, median): `import cnninspect.cli` {imports['cnninspect_cli_ms']:.0f} ms; "
        f"`cnninspect shapes {first.name} --json` imports {imports['shapes_extra_over_floor_ms']:.0f} ms "
        f"more than its floor (ms: {top}). `cnninspect --version`: median {version['command']['median_s']:.3f} s, "
        f"min {version['command']['min_s']:.3f} s (bare `python -c pass`: {version['floor']['median_s']:.3f} s)."
    )
    for name, s in scale.items():
        print(
            f"Scaling: {name} ({s['layers']} layers): shapes {s['s_per_1000_layers']:.3f} s per 1,000 layers, "
            f"{s['above_floor_s_per_1000_layers']:.3f} s per 1,000 above the floor."
        )
    missed = misses(todo)
    verdict = "missed: " + "; ".join(missed) if missed else "all met"
    print(f"Targets (shapes, filters <= 1.3x; --stats <= 1.5x, peak < 2x the largest tensor): {verdict}.")

    if args.json:
        document = {
            "commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "repeat": args.repeat,
            "cases": todo,
            "version": version,
            "import": imports,
            "scaling": scale,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
