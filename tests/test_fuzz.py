"""A bounded run of the mutation fuzzer (tests/fuzz.py) over every fixture format and
command: zero tracebacks, zero internal errors, zero hangs. More cases:
``python tests/fuzz.py --cases 5000 --seed N`` (and ``--mode subprocess``)."""

from __future__ import annotations

import pytest

from fuzz import fuzz


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_files_in_process(seed: int, tmp_path) -> None:
    report = fuzz(cases=80, seed=seed, mode="in-process", workdir=tmp_path)
    assert report["problems"] == 0, report["problem_cases"]
    assert report["cases"] == 80


def test_mutated_files_as_a_user_runs_them(tmp_path) -> None:
    report = fuzz(cases=15, seed=99, mode="subprocess", workdir=tmp_path)
    assert report["problems"] == 0, report["problem_cases"]
