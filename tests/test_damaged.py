"""Damage the fuzz harness found, rebuilt deterministically: each must end in one line
and exit code 5, not an internal error."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import h5py
import numpy as np

from conftest import FIXTURES, cli

from cnninspect.errors import ExitStatus


def _broken(result, *words: str) -> None:
    assert result.exit_code == ExitStatus.BROKEN, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], result.stderr
    for word in words:
        assert word in lines[0]


def test_zip_member_said_to_start_before_the_file(tmp_path: Path) -> None:
    """An end-of-directory record whose directory offset is too large makes zipfile place
    the first member's local header at a negative offset."""
    data = bytearray((FIXTURES / "tfkeras" / "ops.weights.npz").read_bytes())
    end = data.rindex(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<I", data, end + 16)
    struct.pack_into("<I", data, end + 16, offset + 4096)
    path = tmp_path / "shifted.npz"
    path.write_bytes(bytes(data))
    for command in (["shapes", path], ["filters", path, "--layer", "1", "--out", "0", "--json"]):
        _broken(cli(*command), "outside the file")


def test_weight_name_that_names_a_committed_datatype(tmp_path: Path) -> None:
    """weight_names points at an HDF5 named datatype where a dataset should be."""
    path = tmp_path / "datatype.h5"
    shutil.copy(FIXTURES / "tfkeras" / "transposed.weights_only.h5", path)
    name = "conv1d_transpose/conv1d_transpose/bias:0"
    with h5py.File(path, "r+") as f:
        del f[name]
        f[name] = np.dtype("float32")  # a committed (named) datatype
    _broken(cli("weights", path, "--stats", "--json"), "not a dataset")
