"""Shared test helpers: where fixtures live, and how to run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLES = ROOT / "sample_models"

# Fixtures written by the real libraries, each with the truth the library reported.
TRUTH_FILES = sorted(FIXTURES.glob("keras3/*.truth.json")) + sorted(FIXTURES.glob("tfkeras/*.truth.json"))


def load_truth(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def truth_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.truth.json')}"


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    from cnninspect.cli import app

    return runner().invoke(app, [str(a) for a in args], env={"COLUMNS": "120", **(env or {})})


def runner() -> CliRunner:
    """A runner that keeps stderr apart from stdout: the default from Click 8.2 on, asked
    for with ``mix_stderr=False`` before (Python 3.9 gets Click 8.1)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def cli_json(*args: str) -> dict[str, Any]:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m cnninspect`` as a user would, in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnninspect", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.fixture(params=TRUTH_FILES, ids=truth_id)
def truth_path(request: pytest.FixtureRequest) -> Path:
    return request.param


def weight_facts(weights: list[dict[str, Any]]) -> list[tuple]:
    """What a hand-computed expectation states of each stored weight."""
    return [(w["name"], w["role"], w["shape"], w["axes"], w["flipped"]) for w in weights]
