"""``--help`` into a reader that has gone (``| head``) is quiet and exits 141, as the
commands themselves do: no traceback from the watchdog's child or the parent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize("args", [["--help"], ["shapes", "--help"], ["activations", "--help"]])
def test_help_into_a_closed_pipe(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails
    try:
        done = subprocess.run([sys.executable, "-m", "cnninspect", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": "80"})  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
