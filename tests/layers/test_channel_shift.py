"""ChannelShift (layers.md; quirk Q32)."""

from __future__ import annotations

import doctest

import pytest
import torch

import sinabs.layers.channel_shift as module
from sinabs.layers import ChannelShift
from sinabs.layers.channel_shift import ChannelAxisError


def test_pinned_shift():
    x = torch.rand(1, 10, 5, 5)
    out = ChannelShift(14)(x)
    assert out.shape == (1, 24, 5, 5)
    assert (out[:, :14] == 0).all()
    assert torch.equal(out[:, 14:], x)


def test_default_shift_keeps_the_input():
    x = torch.rand(1, 10, 5, 5)
    assert torch.equal(ChannelShift()(x), x)


def test_other_axis_and_padding_list():
    shift = ChannelShift(2, channel_axis=-1)
    assert shift.padding == [2, 0]
    x = torch.tensor([[1.0, 2.0]])
    assert torch.equal(shift(x), torch.tensor([[0.0, 0.0, 1.0, 2.0]]))
    assert ChannelShift(3).padding == [0, 0, 0, 0, 3, 0]


@pytest.mark.parametrize("axis", [0, 1, 3], ids=["axis0", "axis1", "axis3"])
def test_non_negative_axis_raises(axis):
    # Q32: sinabs raised a bare IndexError; ours names the argument and is still one
    with pytest.raises(ChannelAxisError, match="channel_axis") as info:
        ChannelShift(1, channel_axis=axis)
    assert isinstance(info.value, ValueError) and isinstance(info.value, IndexError)


def test_input_with_too_few_dimensions_raises():
    with pytest.raises(ValueError, match="channel_axis"):
        ChannelShift(1, channel_axis=-3)(torch.zeros(4, 4))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
