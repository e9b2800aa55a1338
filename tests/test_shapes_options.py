"""``shapes`` options: --columns, --units, --depth, --type, --match, and their bad values."""

from __future__ import annotations

import pytest

from cnninspect.errors import ExitStatus

from conftest import FIXTURES, SAMPLES, cli, cli_json, load_truth

MNIST = str(SAMPLES / "mnist_cnn.h5")
NESTED = str(FIXTURES / "keras3" / "nested.h5")


def header(stdout: str) -> list[str]:
    line = next(x for x in stdout.splitlines() if x.strip().startswith("#"))
    return line.split()


def test_default_columns_and_every_column() -> None:
    result = cli("shapes", MNIST)
    assert result.exit_code == 0
    assert header(result.stdout) == ["#", "Layer", "Type", "Output", "shape", "Params", "MACs"]
    assert "MACs:" in result.stdout and "Peak activation memory:" in result.stdout and "(per sample)" in result.stdout
    result = cli("shapes", MNIST, "--columns", "all")
    assert header(result.stdout) == ["#", "Layer", "Type", "Output", "shape", "Params", "MACs", "FLOPs", "Memory", "RF"]
    result = cli("shapes", MNIST, "--columns", "rf,macs")
    assert header(result.stdout) == ["#", "Layer", "Type", "RF", "MACs"]
    assert "5×5 j1" in result.stdout and "6×6 j2" in result.stdout


def test_units_change_the_bytes_not_the_counts() -> None:
    # conv2d's output: 28 x 28 x 32 float32 = 100,352 bytes; its MACs 225,792.
    si = cli("shapes", MNIST, "--columns", "memory,macs").stdout
    binary = cli("shapes", MNIST, "--columns", "memory,macs", "--units", "binary").stdout
    conv = [line for line in si.splitlines() if " conv2d " in line][0]
    assert "100 kB" in conv and "226 k" in conv
    conv = [line for line in binary.splitlines() if " conv2d " in line][0]
    assert "98 KiB" in conv and "226 k" in conv
    # the parameters' bytes follow the same units: Keras' 411,690 float32 params
    params = load_truth(SAMPLES / "mnist_cnn.truth.json")["totals"]["params"]
    assert f"Total params: {params:,} ({params * 4 / 1e6:.3g} MB)" in si
    assert f"Total params: {params:,} ({params * 4 / 2**20:.3g} MiB)" in binary


def test_depth_folds_nested_models_keeping_their_sums() -> None:
    truth = load_truth(FIXTURES / "keras3" / "nested.truth.json")
    full = cli_json("shapes", NESTED)
    top = cli_json("shapes", NESTED, "--depth", "0")
    assert [x["path"] for x in top["layers"]] == [x["path"] for x in truth["layers"] if x["depth"] == 0]
    by_path = {x["path"]: x for x in full["layers"]}
    for row in top["layers"]:  # same numbers and index as in the full listing
        assert row == by_path[row["path"]]
    assert top["totals"] == full["totals"]
    assert max(x["depth"] for x in cli_json("shapes", NESTED, "--depth", "1")["layers"]) == 1


def test_type_and_match_filter_rows_and_keep_indices() -> None:
    full = cli_json("shapes", NESTED)
    convs = cli_json("shapes", NESTED, "--type", "conv2d", "--type", "DENSE")
    expected = [x["index"] for x in full["layers"] if x["type"] in ("Conv2D", "Dense")]
    assert [x["index"] for x in convs["layers"]] == expected and len(expected) >= 3
    matched = cli_json("shapes", NESTED, "--match", "^block_fn/.*conv")
    assert [x["path"] for x in matched["layers"]] == ["block_fn/conv2d_1"]
    assert matched["totals"] == full["totals"]
    table = cli("shapes", NESTED, "--match", "block_seq/conv2d$").stdout
    assert " 5 " in table and "block_fn" not in table


@pytest.mark.parametrize("args,words", [
    (["--columns", "shape,bogus"], ["--columns", "shape", "macs", "rf", "all"]),
    (["--columns", ""], ["--columns"]),
    (["--match", "conv("], ["--match", "regular expression"]),
    (["--units", "metric"], ["--units", "si", "binary"]),
    (["--depth", "-1"], ["--depth"]),
])  # fmt: skip
def test_bad_values_are_one_line_usage_errors(args: list[str], words: list[str]) -> None:
    result = cli("shapes", MNIST, *args)
    assert result.exit_code == ExitStatus.USAGE
    assert all(w in result.stderr for w in words), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("cnninspect: ")


def test_json_fields_are_raw_integers() -> None:
    report = cli_json("shapes", MNIST)
    for layer in report["layers"]:
        assert isinstance(layer["macs"], int) and isinstance(layer["flops"], int)
        assert isinstance(layer["activation_bytes"], int)
    assert all(isinstance(report["totals"][k], int) for k in ("macs", "flops", "peak_activation_bytes"))
    assert report["totals"]["uncounted_layers"] == []


def test_weights_only_files_leave_out_what_needs_an_architecture() -> None:
    """No MACs column of '?', no empty Inbound column; asked for, MACs show as unknown."""
    state = FIXTURES / "torch" / "mixed_state.pt"
    header = next(line for line in cli("shapes", state).stdout.splitlines() if "Layer" in line)
    assert "Params" in header and "MACs" not in header and "Inbound" not in header
    asked = cli("shapes", state, "--columns", "shape,macs").stdout
    assert "MACs" in asked and "Params" not in asked
