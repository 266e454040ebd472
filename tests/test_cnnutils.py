"""sinabs.cnnutils: output sizes and padding of convolution and pooling layers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sinabs.cnnutils import (
    compute_padding,
    compute_same_padding_size,
    conv_output_size,
    infer_output_shape,
)


@pytest.mark.parametrize(
    ("image", "kernel", "stride", "expected"),
    [
        (10, 3, 1, 8),
        (10, 3, 2, 4),
        (5, 5, 1, 1),
        (7, 2, 2, 3),
        (28, 4, 4, 7),
    ],
    ids=["k3s1", "k3s2", "kernel-equals-image", "k2s2-odd", "k4s4"],
)
def test_conv_output_size(image: int, kernel: int, stride: int, expected: int) -> None:
    assert conv_output_size(image, kernel, stride) == expected


@given(
    image=st.integers(1, 40),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 5),
)
@settings(max_examples=60, deadline=None)
def test_conv_output_size_matches_torch(image: int, kernel: int, stride: int) -> None:
    if image < kernel:
        with pytest.raises(ValueError, match="smaller than kernel"):
            conv_output_size(image, kernel, stride)
        return
    conv = nn.Conv1d(1, 1, kernel, stride=stride)
    with torch.no_grad():
        out = conv(torch.zeros(1, 1, image))
    assert conv_output_size(image, kernel, stride) == out.shape[-1]


def test_conv_output_size_error_names_both_sizes() -> None:
    with pytest.raises(ValueError, match="Image dimension 2 smaller than kernel dimension 3"):
        conv_output_size(2, 3, 1)


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [(1, (0, 0)), (2, (1, 0)), (3, (1, 1)), (4, (2, 1)), (5, (2, 2))],
    ids=lambda v: str(v),
)
def test_compute_same_padding_size(kernel: int, expected: tuple[int, int]) -> None:
    assert compute_same_padding_size(kernel) == expected


@pytest.mark.parametrize("kernel", [(3, 3), (2, 5), (4, 1)], ids=["3x3", "2x5", "4x1"])
def test_same_padding_keeps_the_shape(kernel: tuple[int, int]) -> None:
    padding = compute_padding(kernel, (1, 9, 11), mode="same")
    model = nn.Sequential(nn.ZeroPad2d(padding), nn.Conv2d(1, 1, kernel))
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 9, 11))
    assert out.shape[-2:] == (9, 11)


def test_compute_padding_order_is_left_right_top_bottom() -> None:
    # height 2 -> (1, 0) on top/bottom; width 5 -> (2, 2) on left/right
    assert compute_padding((2, 5), (1, 8, 8), mode="same") == (2, 2, 1, 0)
    assert compute_padding((2, 5), (1, 8, 8)) == (0, 0, 0, 0)


def test_compute_padding_unknown_mode() -> None:
    with pytest.raises(NotImplementedError, match="Unknown padding mode"):
        compute_padding((3, 3), (1, 8, 8), mode="full")


@pytest.mark.parametrize(
    ("layer", "input_shape", "expected"),
    [
        (nn.Conv2d(2, 3, 3), (2, 10, 10), (3, 8, 8)),
        (nn.AvgPool2d(2), (4, 6, 6), (4, 3, 3)),
        (nn.Linear(5, 7), (5,), (7,)),
    ],
    ids=["conv", "avgpool", "linear"],
)
def test_infer_output_shape(
    layer: nn.Module, input_shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    assert infer_output_shape(layer, input_shape) == expected


def test_infer_output_shape_draws_one_random_input() -> None:
    torch.manual_seed(3)
    infer_output_shape(nn.Identity(), (2, 3))
    after = torch.rand(1)
    torch.manual_seed(3)
    torch.rand((1, 2, 3))
    assert torch.equal(after, torch.rand(1))
