"""The shared convolution arithmetic and the shape rules, against brute-force references
(counting window positions, scattering a transposed kernel, NumPy itself)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnninspect.core.arithmetic import ShapeError, broadcast, conv_length, transposed_length
from cnninspect.core.model import Call, Constant
from cnninspect.core.ops import spec
from cnninspect.core.ops.base import RuleContext

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
dilations = st.integers(1, 3)


def _windows(padded: int, k: int, stride: int, dilation: int) -> int:
    """Count the window positions that fit, by trying every start."""
    eff = dilation * (k - 1) + 1
    return sum(1 for start in range(0, padded, stride) if start + eff <= padded)


@given(sizes, kernels, strides, dilations)
def test_valid_and_full_by_counting_windows(n: int, k: int, s: int, d: int) -> None:
    eff = d * (k - 1) + 1
    for padding, padded in (("valid", n), ("full", n + 2 * (eff - 1)), ((1, 2), n + 3)):
        expected = _windows(padded, k, s, d)
        if expected == 0:
            with pytest.raises(ShapeError):
                conv_length(n, k, s, d, padding)
        else:
            assert conv_length(n, k, s, d, padding) == expected


@given(sizes, kernels, strides, dilations)
def test_same_and_causal_by_counting_windows(n: int, k: int, s: int, d: int) -> None:
    """'same' pads just enough for ceil(n/s) windows (TensorFlow's rule); 'causal' pads
    eff-1 on the left."""
    eff = d * (k - 1) + 1
    pad_same = max((-(-n // s) - 1) * s + eff - n, 0)
    assert conv_length(n, k, s, d, "same") == _windows(n + pad_same, k, s, d)
    assert conv_length(n, k, s, d, "causal") == _windows(n + eff - 1, k, s, d)


@given(sizes, kernels, strides, dilations, st.integers(0, 3), st.integers(0, 3))
def test_transposed_by_scattering(n: int, k: int, s: int, d: int, crop: int, extra: int) -> None:
    """Every input position scatters the kernel; the output spans the furthest tap, minus
    the cropping (padding), plus output_padding."""
    furthest = max(i * s + j * d for i in range(n) for j in range(k)) + 1
    expected = furthest - 2 * crop + extra
    assert transposed_length(n, k, s, d, (crop, crop), extra) == expected


def test_unknown_lengths_stay_unknown() -> None:
    assert conv_length(None, 3, 1, 1, "valid") is None
    assert transposed_length(None, 3, 2) is None


@given(st.lists(st.lists(st.sampled_from([1, 2, 3, 5]), min_size=0, max_size=4), min_size=1, max_size=3))
def test_broadcast_agrees_with_numpy(shapes: list[list[int]]) -> None:
    try:
        expected = np.broadcast_shapes(*map(tuple, shapes))
    except ValueError:
        with pytest.raises(ShapeError):
            broadcast([tuple(s) for s in shapes])
    else:
        assert broadcast([tuple(s) for s in shapes]) == expected


def _apply(op: str, attrs: dict, *shapes: tuple, call: Call | None = None) -> list:
    return spec(op).shape(attrs, list(shapes), RuleContext(call or Call()))


@pytest.mark.parametrize(
    "key",
    [(slice(None), slice(1, None)), (slice(None), 2), (slice(None), None, slice(None, None, 2)), (slice(None), slice(-3, -1))],
)
def test_getitem_agrees_with_numpy(key: tuple) -> None:
    shape = (4, 6, 5)
    expected = np.empty(shape)[key].shape
    call = Call(kwargs={"slice_spec": list(key)})
    assert _apply("getitem", {}, shape, call=call) == [expected]


@pytest.mark.parametrize("target", [[-1], [3, -1], [-1, 2, 5], [6, 5]])
def test_reshape_agrees_with_numpy(target: list) -> None:
    expected = np.empty((7, 6, 5)).reshape(7, *target).shape
    assert _apply("reshape", {"target_shape": target}, (7, 6, 5)) == [expected]
    assert _apply("reshape", {"target_shape": target}, (None, 6, 5)) == [(None, *expected[1:])]


def test_reshape_full_with_batch_in_target() -> None:
    call = Call(kwargs={"shape": [-1, 20]})
    assert _apply("reshape", {"batch_included": True}, (None, 5, 4), call=call) == [(None, 20)]
    assert _apply("reshape", {"batch_included": True}, (3, 5, 4), call=call) == [(3, 20)]


def test_permute_agrees_with_numpy() -> None:
    expected = np.empty((2, 3, 4, 5)).transpose(0, 3, 1, 2).shape
    assert _apply("transpose", {"perm": [0, 3, 1, 2]}, (2, 3, 4, 5)) == [expected]  # Keras Permute((3, 1, 2))


def test_elementwise_with_constant_array() -> None:
    call = Call([Constant([[1.0, 2.0, 3.0]])])
    assert _apply("elementwise", {}, (None, 4, 3), call=call) == [(None, 4, 3)]


def test_concat_and_dot() -> None:
    assert _apply("concat", {"axis": -1}, (None, 4, 3), (None, 4, 5)) == [(None, 4, 8)]
    assert _apply("concat", {"axis": 1}, (None, 4, 3), (None, None, 3)) == [(None, None, 3)]
    assert _apply("dot", {"axes": 1}, (None, 8), (None, 8)) == [(None, 1)]
    assert _apply("dot", {"axes": [2, 2]}, (None, 3, 8), (None, 5, 8)) == [(None, 3, 5)]


def test_lambda_without_output_shape_says_why() -> None:
    with pytest.raises(ShapeError, match="never run"):
        _apply("lambda", {}, (None, 3))
    assert _apply("lambda", {"output_shape": [7]}, None) == [(None, 7)]
