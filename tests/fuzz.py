"""A seeded mutation fuzzer for every fixture format and every command.

Each case takes a fixture, damages a copy (bit flips, truncation, a zeroed range, a range
spliced from elsewhere in the file) and runs a command on it, either in-process (the CLI
app called directly, in a forked worker so that a C library that loops forever cannot
hang the run) or as a real subprocess (``python -m cnninspect``, with its watchdog).

A case passes when the command exits 0 or with a documented failure code and, on
failure, prints exactly one line ``cnninspect: ...`` on stderr and nothing on stdout. An
internal error (exit 1), a traceback or a second line is a failure. An in-process worker
that does not finish (libhdf5 can loop forever on damaged metadata) or dies (libhdf5 can
crash on it) is run again as a user runs it: the watchdog must end it with exit code 7
(a hang) or 5 (a crash) and one line.

    python tests/fuzz.py --cases 5000 --seed 7          # many more cases than CI runs
    python tests/fuzz.py --cases 200 --mode subprocess  # as a user runs it
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SUFFIXES = {".h5", ".keras", ".npz", ".npy", ".pt", ".pth", ".safetensors", ".onnx", ".tflite"}
MAX_FIXTURE_BYTES = 400_000  # small files: more cases per second
ALLOWED_FAILURES = {3, 4, 5, 6, 7}
CASE_SECONDS = 10
WORKER_DIED = -1  # the forked worker was killed by a signal: a C library crashed


def fixtures() -> list[Path]:
    return sorted(
        p for p in FIXTURES.rglob("*")
        if p.suffix in SUFFIXES and p.stat().st_size <= MAX_FIXTURE_BYTES and "hostile" not in p.parts
    )  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    out = bytearray(data)
    kind = rng.choice(["flip", "truncate", "zero", "splice"])
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del out[rng.randrange(len(out)) :]
    elif kind == "zero":
        i = rng.randrange(len(out))
        n = min(rng.randint(1, 4096), len(out) - i)
        out[i : i + n] = bytes(n)
    else:
        i, j = rng.randrange(len(out)), rng.randrange(len(out))
        n = min(rng.randint(1, 1024), len(out) - max(i, j))
        out[i : i + n] = out[j : j + n]
    return bytes(out), kind


def commands(path: Path) -> list[list[str]]:
    return [
        ["shapes", str(path), "--json"],
        ["shapes", str(path)],
        ["weights", str(path), "--stats", "--json"],
        ["filters", str(path), "--layer", "1", "--out", "0", "--json"],
        ["filters", str(path), "--layer", "2", "--out", "1"],
    ]


@dataclass
class Outcome:
    code: int | None  # None: did not finish
    stdout: str
    stderr: str


def run_in_process(argv: list[str]) -> Outcome:
    """The CLI app in a forked worker, results back through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        from conftest import runner

        from cnninspect.cli import app

        result = runner().invoke(app, argv, env={"COLUMNS": "120"})
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        stderr = result.stderr + ("Traceback: escaped the CLI: " + repr(result.exception) if crashed else "")
        payload = json.dumps({"code": result.exit_code, "stdout": result.stdout, "stderr": stderr})
        with os.fdopen(write_end, "w") as fh:
            fh.write(payload)
        os._exit(0)
    os.close(write_end)
    signal.signal(signal.SIGALRM, _expire)
    signal.alarm(CASE_SECONDS)
    try:
        with os.fdopen(read_end) as fh:
            data = fh.read()
        os.waitpid(pid, 0)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return Outcome(None, "", "")
    finally:
        signal.alarm(0)
    if not data:
        return Outcome(WORKER_DIED, "", "the worker died")
    result = json.loads(data)
    return Outcome(result["code"], result["stdout"], result["stderr"])


def _expire(*_: object) -> None:
    raise TimeoutError


def run_subprocess(argv: list[str]) -> Outcome:
    env = {**os.environ, "COLUMNS": "120", "CNNINSPECT_TIMEOUT": str(CASE_SECONDS // 2)}
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cnninspect", *argv], capture_output=True, text=True, env=env, timeout=CASE_SECONDS
        )
    except subprocess.TimeoutExpired:
        return Outcome(None, "", "")
    return Outcome(done.returncode, done.stdout, done.stderr)


def problem(outcome: Outcome) -> str | None:
    """What is wrong with an outcome, or None."""
    if outcome.code is None:
        return "did not finish"
    if "Traceback" in outcome.stderr:
        return "traceback"
    if outcome.code == 0:
        return None
    if outcome.code not in ALLOWED_FAILURES:
        return f"exit code {outcome.code}"
    lines = outcome.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("cnninspect: "):
        return f"{len(lines)} stderr lines"
    if outcome.stdout:
        return "output on stdout with a failure"
    return None


def fuzz(cases: int, seed: int, mode: str = "in-process", workdir: Path | None = None) -> dict:
    """Run ``cases`` cases; returns counts and the failing cases (kept on disk)."""
    rng = random.Random(seed)
    sources = fixtures()
    runner = run_in_process if mode == "in-process" else run_subprocess
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cnninspect-fuzz-"))
    counts: dict[str, int] = {"cases": 0, "ok": 0, "clean_failure": 0, "stopped_by_watchdog": 0, "problems": 0}
    problems = []
    for n in range(cases):
        source = rng.choice(sources)
        data, kind = mutate(source.read_bytes(), rng)
        target = workdir / f"case{source.suffix}"
        target.write_bytes(data)
        argv = rng.choice(commands(target))
        outcome = runner(argv)
        counts["cases"] += 1
        if outcome.code in (None, WORKER_DIED) and mode == "in-process":
            # A C library looping forever or crashing: as a user runs it, the watchdog must
            # stop it (exit 7) or report the crash (exit 5), in one line either way.
            outcome = run_subprocess(argv)
            if outcome.code in (5, 7) and problem(outcome) is None:
                counts["stopped_by_watchdog"] += 1
                continue
        issue = problem(outcome)
        if issue is None:
            counts["ok" if outcome.code == 0 else "clean_failure"] += 1
            continue
        counts["problems"] += 1
        kept = workdir / f"problem{n}{source.suffix}"
        kept.write_bytes(data)
        problems.append({"case": n, "source": str(source.relative_to(ROOT)), "mutation": kind,
                         "argv": argv[:1] + argv[2:], "problem": issue, "kept": str(kept),
                         "stderr": outcome.stderr[-600:]})  # fmt: skip
    return {**counts, "problem_cases": problems}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["in-process", "subprocess"], default="in-process")
    args = parser.parse_args()
    report = fuzz(args.cases, args.seed, args.mode)
    print(json.dumps(report, indent=2))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
