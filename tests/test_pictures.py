"""Filter pictures (``--png``) and terminal heatmaps (``--view``).

PNGs are read back with Pillow; tiles are found by their 1-pixel pure-black frames (the
README's picture geometry), and pixel colours are compared with the diverging scale as the
README states it (white at 0, pure red at +max, pure blue at -max, linear in between),
computed here from the weight arrays Keras/PyTorch wrote (``*.weights.npz``,
``*.truth.json``) and from ``filters --json``.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, ROOT, cli, cli_json, load_truth, run
from cnninspect.errors import ExitStatus

COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8;")  # a foreground or background colour code
KERAS3 = FIXTURES / "keras3"
TORCH = FIXTURES / "torch"


# --- independent references -------------------------------------------------------------


def scale_colour(value: float, vmax: float) -> tuple[int, int, int]:
    """The README's rule: white at 0, (255, 0, 0) at +vmax, (0, 0, 255) at -vmax."""
    fade = round(255 * (1 - min(abs(value) / vmax, 1.0)))
    return (255, fade, fade) if value >= 0 else (fade, fade, 255)


def rgb_view(value: float, vmax: float) -> int:
    """The README's RGB-view rule: 128 + 127·w/vmax, rounded."""
    return round(128 + 127 * value / vmax)


def keras_arrays(name: str, layer: str) -> list[np.ndarray]:
    """A layer's arrays as Keras' get_weights() returned them."""
    stored = np.load(KERAS3 / f"{name}.weights.npz")
    keys = sorted((k for k in stored.files if k.startswith(f"{layer}::")), key=lambda k: int(k.split("::")[1]))
    return [stored[k] for k in keys]


def frames(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Every tile frame (x, y, width, height), top to bottom then left to right: a top-left
    corner is a black pixel with black to its right and below, and not black inside."""
    a = np.asarray(image.convert("RGB")).astype(int)
    black = (a == 0).all(axis=2)
    corners = black[:-1, :-1] & black[1:, :-1] & black[:-1, 1:] & ~black[1:, 1:]
    boxes = []
    for y, x in zip(*np.nonzero(corners)):
        width = int(np.argmin(black[y, x:])) if not black[y, x:].all() else black.shape[1] - x
        height = int(np.argmin(black[y:, x])) if not black[y:, x].all() else black.shape[0] - y
        boxes.append((int(x), int(y), width, height))
    return sorted(boxes, key=lambda b: (b[1], b[0]))


def cell(image: Image.Image, box: tuple[int, int, int, int], r: int, c: int, s: int) -> tuple[int, int, int]:
    """The colour at the centre of weight (r, c) of a framed tile whose weights are s px."""
    x, y = box[0] + 1 + c * s + s // 2, box[1] + 1 + r * s + s // 2
    return image.getpixel((x, y))[:3]


def close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(abs(p - q) <= 1 for p, q in zip(a, b))


# --- filters --png ---------------------------------------------------------------------


def test_filters_png_tiles_and_colours_match_keras(tmp_path: Path) -> None:
    out = tmp_path / "f.png"
    result = cli("filters", KERAS3 / "mnist_cnn.h5", "--layer", "conv2d_1", "--out", "5", "--png", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is the JSON alone
    assert result.stderr.strip().startswith(f"cnninspect: wrote {out}")
    kernel = keras_arrays("mnist_cnn", "conv2d_1")[0]  # (3, 3, 32, 32), Keras' HWIO
    for entry in report["inputs"]:
        np.testing.assert_allclose(entry["filter"], kernel[:, :, entry["in"], 5])
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == 32  # one labelled tile per input map
    s = (boxes[0][2] - 2) // 3
    assert all(b[2] == b[3] == 3 * s + 2 for b in boxes)  # 3x3 weights, s px each, a frame
    per_row = math.ceil(math.sqrt(32))
    assert len({b[0] for b in boxes}) == per_row and len({b[1] for b in boxes}) == math.ceil(32 / per_row)
    assert image.width >= per_row * boxes[0][2] and image.height >= math.ceil(32 / per_row) * boxes[0][3]
    vmax = float(np.abs(kernel[:, :, :, 5]).max())
    for i, box in enumerate(boxes):  # row-major in input order
        for r in range(3):
            for c in range(3):
                assert close(cell(image, box, r, c, s), scale_colour(float(kernel[r, c, i, 5]), vmax)), (i, r, c)
    r, c, i = np.unravel_index(np.abs(kernel[:, :, :, 5]).argmax(), (3, 3, 32))
    assert cell(image, boxes[int(i)], int(r), int(c), s) in ((255, 0, 0), (0, 0, 255))  # full saturation


def test_zero_is_white_and_the_extremes_are_saturated(tmp_path: Path) -> None:
    kernel = np.zeros((3, 3, 2, 4), "f4")  # Keras layout, written by NumPy
    kernel[0, 1, 0, 2] = 0.5
    kernel[2, 2, 1, 2] = -0.25
    np.savez(tmp_path / "k.npz", kernel=kernel)
    out = tmp_path / "k.png"
    report = cli_json("filters", tmp_path / "k.npz", "--layout", "keras", "--layer", "0", "--out", "2", "--png", out)
    assert [e["in"] for e in report["inputs"]] == [0, 1]
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == 2
    s = (boxes[0][2] - 2) // 3
    assert cell(image, boxes[0], 0, 1, s) == (255, 0, 0)
    assert cell(image, boxes[0], 0, 0, s) == (255, 255, 255)
    assert close(cell(image, boxes[1], 2, 2, s), (128, 128, 255))  # half the scale, negative
    assert cell(image, boxes[1], 1, 1, s) == (255, 255, 255)


def test_filters_png_dense_is_one_near_square_tile(tmp_path: Path) -> None:
    out = tmp_path / "d.png"
    report = cli_json("filters", KERAS3 / "mnist_cnn.h5", "--layer", "dense_1", "--out", "3", "--png", out)
    weights = keras_arrays("mnist_cnn", "dense_1")[0][:, 3]  # Keras (in, out)
    assert [e["filter"] for e in report["inputs"]] == pytest.approx(weights.tolist())
    image = Image.open(out)
    (box,) = frames(image)
    side = math.ceil(math.sqrt(len(weights)))
    s = (box[2] - 2) // side
    vmax = float(np.abs(weights).max())
    for k in (0, 1, side, len(weights) - 1, int(np.abs(weights).argmax())):
        assert close(cell(image, box, k // side, k % side, s), scale_colour(float(weights[k]), vmax)), k


def test_filters_png_top_draws_the_strongest(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    report = cli_json("filters", KERAS3 / "mnist_cnn.h5", "--layer", "conv2d_1", "--out", "5", "--top", "4", "--png", out)
    assert len(frames(Image.open(out))) == 4 < len(report["inputs"])


def test_filters_png_separable_draws_effective_filters(tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    report = cli_json("filters", KERAS3 / "depthwise_separable.h5", "--layer", "separable_conv2d", "--out", "1", "--png", out)
    depthwise, pointwise = keras_arrays("depthwise_separable", "separable_conv2d")[:2]  # (3,3,in,m), (1,1,in*m,out)
    m = depthwise.shape[-1]
    effective = [depthwise[:, :, j // m, j % m] * pointwise[0, 0, j, 1] for j in range(depthwise.shape[2] * m)]
    vmax = max(float(np.abs(e).max()) for e in effective)
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == len(effective) == len(report["inputs"])
    s = (boxes[0][2] - 2) // 3
    for j, box in enumerate(boxes):
        for r in range(3):
            for c in range(3):
                assert close(cell(image, box, r, c, s), scale_colour(float(effective[j][r, c]), vmax))


# --- weights --png ---------------------------------------------------------------------


def test_weights_png_grid_and_rgb_view_match_keras(tmp_path: Path) -> None:
    out = tmp_path / "w.png"
    result = cli("weights", KERAS3 / "convs.h5", "--layer", "conv2d_4", "--png", out)
    assert result.exit_code == 0, result.stderr
    kernel = keras_arrays("convs", "conv2d_4")[0]  # (3, 3, 3, 4): 3 input maps, an RGB first layer
    n_in, n_out = kernel.shape[2], kernel.shape[3]
    vmax = float(np.abs(kernel).max())
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == n_out * n_in + n_out  # the grid, then one RGB tile per output map
    grid, colour_tiles = boxes[: n_out * n_in], boxes[n_out * n_in :]
    s = (grid[0][2] - 2) // 3
    assert len({b[0] for b in grid}) == n_in and len({b[1] for b in grid}) == n_out
    for k, box in enumerate(grid):  # row = output map, column = input map
        o, i = divmod(k, n_in)
        for r in range(3):
            for c in range(3):
                assert close(cell(image, box, r, c, s), scale_colour(float(kernel[r, c, i, o]), vmax)), (o, i, r, c)
    assert all(b[1] > grid[-1][1] for b in colour_tiles)  # its own section, below
    for o, box in enumerate(colour_tiles):
        for r in range(3):
            for c in range(3):
                expected = tuple(rgb_view(float(kernel[r, c, ch, o]), vmax) for ch in range(3))
                assert close(cell(image, box, r, c, s), expected), (o, r, c)


def test_weights_png_grouped_conv_draws_only_what_connects(tmp_path: Path) -> None:
    out = tmp_path / "g.png"
    path = TORCH / "small_cnn_module.pt"
    assert cli("weights", path, "--layer", "features/2", "--png", out).exit_code == 0
    truth = load_truth(TORCH / "small_cnn.truth.json")["slices"]["features/2"]  # weight[5]: (in/groups, kh, kw)
    vmax = max(
        float(np.abs(np.array(e["filter"])).max())
        for n in range(8)
        for e in cli_json("filters", path, "--layer", "features/2", "--out", str(n))["inputs"]
    )
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == 8 * 4  # 2 groups: each output map sees 4 of the 8 input maps
    xs = sorted({b[0] for b in boxes})
    assert len(xs) == 8
    row5 = [b for b in boxes if b[1] == sorted({b[1] for b in boxes})[5]]
    assert [xs.index(b[0]) for b in row5] == [4, 5, 6, 7]  # output 5 is in group 1
    s = (row5[0][2] - 2) // 3
    for k, box in enumerate(row5):
        values = np.array(truth["values"][k])
        for r in range(3):
            for c in range(3):
                assert close(cell(image, box, r, c, s), scale_colour(float(values[r, c]), vmax))


def test_weights_png_dense_is_a_matrix(tmp_path: Path) -> None:
    out = tmp_path / "m.png"
    assert cli("weights", KERAS3 / "mnist_cnn.h5", "--layer", "dense_1", "--png", out).exit_code == 0
    kernel = keras_arrays("mnist_cnn", "dense_1")[0]  # (64, 10)
    image = Image.open(out)
    (box,) = frames(image)  # one frame around the whole matrix
    s = (box[2] - 2) // kernel.shape[0]
    assert box[2] == kernel.shape[0] * s + 2 and box[3] == kernel.shape[1] * s + 2
    vmax = float(np.abs(kernel).max())
    for o, i in ((0, 0), (9, 63), (3, 17), np.unravel_index(np.abs(kernel.T).argmax(), kernel.T.shape)):
        assert close(cell(image, box, int(o), int(i), s), scale_colour(float(kernel[i, o]), vmax))


# --- errors ----------------------------------------------------------------------------


def _one_line(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnninspect: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("where", ["missing/dir/x.png", "is_a_dir", "a_file/x.png"])
def test_unwritable_png_path(where: str, tmp_path: Path) -> None:
    (tmp_path / "is_a_dir").mkdir()
    (tmp_path / "a_file").write_text("")
    target = tmp_path / where
    result = cli("filters", KERAS3 / "mnist_cnn.h5", "--layer", "1", "--out", "0", "--png", target)
    _one_line(result, ExitStatus.NOT_FOUND, f"cannot write {target}")
    assert result.stdout == ""


def test_png_write_failure_is_one_line() -> None:
    """A path that passes the checks but fails on write (as root, /proc refuses new files)."""
    result = cli("weights", KERAS3 / "mnist_cnn.h5", "--layer", "1", "--png", "/proc/cnninspect-test.png")
    _one_line(result, ExitStatus.NOT_FOUND, "cannot write /proc/cnninspect-test.png")


def test_weights_png_needs_a_layer(tmp_path: Path) -> None:
    _one_line(cli("weights", KERAS3 / "mnist_cnn.h5", "--png", tmp_path / "x.png"), ExitStatus.USAGE, "--layer")
    assert not (tmp_path / "x.png").exists()


def test_weights_png_of_a_layer_without_filters(tmp_path: Path) -> None:
    _one_line(cli("weights", KERAS3 / "mnist_cnn.h5", "--layer", "flatten", "--png", tmp_path / "x.png"), ExitStatus.SELECTION)


@pytest.mark.parametrize("shape", [(3, 3, 2048, 4), (9000, 2)])
def test_too_big_a_layer_is_refused(shape: tuple[int, ...], tmp_path: Path) -> None:
    np.savez(tmp_path / "big.npz", kernel=np.ones(shape, "f4"))
    result = cli("weights", tmp_path / "big.npz", "--layout", "keras", "--layer", "0", "--png", tmp_path / "x.png")
    _one_line(result, ExitStatus.USAGE, "8192 px", "filters FILE --layer L --out N --png")
    assert not (tmp_path / "x.png").exists()


def test_bad_view_is_a_usage_error() -> None:
    _one_line(cli("filters", KERAS3 / "mnist_cnn.h5", "--layer", "1", "--out", "0", "--view", "pixels"), ExitStatus.USAGE, "--view")


@pytest.mark.parametrize("command", [["filters", "--out", "0"], ["weights"]])
def test_pil_is_imported_only_for_png(command: list[str], tmp_path: Path) -> None:
    code = (
        "import sys; from cnninspect.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('PIL' in sys.modules)"
    )
    base = [sys.executable, "-c", code, *command, str(KERAS3 / "mnist_cnn.h5"), "--layer", "1"]

    def imports_pil(*extra: str) -> bool:
        result = subprocess.run([*base, *extra], capture_output=True, text=True, cwd=ROOT, timeout=60)
        return result.stdout.strip().splitlines()[-1] == "True"

    assert not imports_pil()
    assert imports_pil("--png", str(tmp_path / "x.png"))


# --- terminal heatmaps -----------------------------------------------------------------


def _render(renderable: object, color_system: str | None) -> str:
    from rich.console import Console

    buffer = StringIO()
    Console(file=buffer, color_system=color_system, force_terminal=color_system is not None, width=120).print(renderable)
    return buffer.getvalue()


def test_half_blocks_carry_the_upper_and_lower_weights_colours() -> None:
    from cnninspect.render.heatmap import Blocks

    values = [[0.0, 1.0, -1.0], [0.5, -0.5, 0.25], [-0.75, 0.0, 1.0]]
    text = _render(Blocks(values, 1.0), "truecolor")
    for c in range(3):  # line 1: rows 0 (foreground) and 1 (background)
        fg, bg = scale_colour(values[0][c], 1.0), scale_colour(values[1][c], 1.0)
        assert "\x1b[38;2;{};{};{};48;2;{};{};{}m▀".format(*fg, *bg) in text
    for c in range(3):  # line 2: row 2 alone, over the terminal's background
        assert "\x1b[38;2;{};{};{}m▀".format(*scale_colour(values[2][c], 1.0)) in text
    assert len(text.rstrip("\n").split("\n")) == 2  # two rows of weights per line


def test_shade_ramp_without_colour_is_sign_aware_with_a_legend() -> None:
    from cnninspect.render.heatmap import Blocks, Legend

    values = [[0.0, 1.0, -1.0], [0.5, -0.5, 0.01]]
    text = _render(Blocks(values, 1.0), None) + _render(Legend(1.0), None)
    assert "\x1b" not in text
    lines = text.split("\n")
    assert lines[0] == "··██##" and lines[1] == "▒▒==··"  # 2 characters a weight, one row a line
    assert "±1" in text and "positive: ░░ 0.125-0.375" in text and "negative: -- 0.125-0.375" in text


def test_truecolor_legend_is_a_colour_bar_with_the_scale() -> None:
    from cnninspect.render.heatmap import Legend

    text = _render(Legend(0.5), "truecolor")
    assert "-0.5" in text and "+0.5" in text
    assert "48;2;0;0;255m" in text and "48;2;255;255;255m" in text and "48;2;255;0;0m" in text


def _large_kernel(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "k7.npz", kernel=rng.standard_normal((7, 7, 2, 3)).astype("f4"))
    return tmp_path / "k7.npz"


def test_auto_view_blocks_above_5x5_and_no_color(tmp_path: Path) -> None:
    args = ["filters", _large_kernel(tmp_path), "--layout", "keras", "--layer", "0", "--out", "1"]
    plain = run(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "COLORTERM": "truecolor", "TERM": "xterm-256color"})
    assert plain.returncode == 0 and not COLOUR.search(plain.stdout)  # NO_COLOR wins over FORCE_COLOR
    assert "shades by |w|" in plain.stdout and "positive: ░░" in plain.stdout
    coloured = run(*args, env={"FORCE_COLOR": "1", "COLORTERM": "truecolor", "TERM": "xterm-256color"})
    assert "▀" in coloured.stdout and "48;2;" in coloured.stdout and "shades by" not in coloured.stdout
    numbers = run(*args, "--view", "numbers", env={"NO_COLOR": "1"})
    assert "shades by" not in numbers.stdout and "+" in numbers.stdout


def test_auto_view_keeps_numbers_for_small_kernels() -> None:
    result = run("filters", KERAS3 / "mnist_cnn.h5", "--layer", "1", "--out", "0", env={"NO_COLOR": "1"})
    assert result.returncode == 0 and "shades by" not in result.stdout
    blocks = run("filters", KERAS3 / "mnist_cnn.h5", "--layer", "1", "--out", "0", "--view", "blocks", env={"NO_COLOR": "1"})
    assert "shades by" in blocks.stdout


def test_a_layer_with_nothing_to_draw(tmp_path: Path) -> None:
    path = FIXTURES / "safetensors" / "numpy_arrays.safetensors"  # 'empty': a (0, 3) weight
    _one_line(cli("weights", path, "--layer", "empty", "--png", tmp_path / "x.png"), ExitStatus.SELECTION, "no filters to draw")


def test_weights_png_depthwise_draws_each_output_maps_own_input(tmp_path: Path) -> None:
    out = tmp_path / "dw.png"
    assert cli("weights", KERAS3 / "depthwise_separable.h5", "--layer", "depthwise_conv2d", "--png", out).exit_code == 0
    kernel = keras_arrays("depthwise_separable", "depthwise_conv2d")[0]  # Keras (kh, kw, in, mult)
    n_in, m = kernel.shape[2], kernel.shape[3]
    vmax = float(np.abs(kernel).max())
    image = Image.open(out)
    boxes = frames(image)
    assert len(boxes) == n_in * m  # one tile per output map: its own input only
    xs = sorted({b[0] for b in boxes})
    assert len(xs) == n_in
    s = (boxes[0][2] - 2) // 3
    for o, box in enumerate(boxes):  # top to bottom: output maps in order
        assert xs.index(box[0]) == o // m
        for r in range(3):
            for c in range(3):
                assert close(cell(image, box, r, c, s), scale_colour(float(kernel[r, c, o // m, o % m]), vmax))
