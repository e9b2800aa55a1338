"""A zip-based model file cut short is damaged (exit 5) and named by the format it looks
like, never "not a model file" (exit 4): its central directory is at the end, so the local
headers at the start are what is left to tell a PyTorch, Keras or NumPy archive by."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnninspect.errors import ExitStatus

from conftest import cli

FIXTURES = Path(__file__).parent / "fixtures"
ARCHIVES = {
    "torch/small_cnn_state.pt": "PyTorch zip archive",
    "torch/graphs/resnet_tiny.pt2": "PyTorch zip archive",
    "keras3/convs.keras": "Keras .keras (zip) archive",
    "keras3/convs.weights.npz": "NumPy .npz (zip) archive",
}


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.99])
@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_a_truncated_archive_is_damaged_and_named(tmp_path: Path, name: str, fraction: float) -> None:
    data = (FIXTURES / name).read_bytes()
    cut = tmp_path / Path(name).name
    cut.write_bytes(data[: int(len(data) * fraction)])
    result = cli("shapes", str(cut))
    assert result.exit_code == ExitStatus.BROKEN, result.stderr
    assert ARCHIVES[name] in result.stderr and "truncated" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
