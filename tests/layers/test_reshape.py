"""FlattenTime, UnflattenTime and Repeat (layers.md)."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch import nn

import sinabs.layers.reshape as module
from sinabs.layers import FlattenTime, InputShapeError, Repeat, UnflattenTime


def test_flatten_time():
    x = torch.rand(2, 5, 3, 4)
    flatten = FlattenTime()
    assert isinstance(flatten, nn.Flatten)
    assert torch.equal(flatten(x), x.reshape(10, 3, 4))
    assert repr(flatten) == "FlattenTime(start_dim=0, end_dim=1)"


def test_unflatten_time_row_order_is_batch_major():
    x = torch.arange(6.0).reshape(6, 1)  # row b*T + t
    out = UnflattenTime(batch_size=2)(x)
    assert out.shape == (2, 3, 1)
    assert torch.equal(out[1, 0], torch.tensor([3.0]))


def test_flatten_unflatten_round_trip():
    x = torch.rand(4, 7, 2)
    assert torch.equal(UnflattenTime(4)(FlattenTime()(x)), x)


def test_unflatten_time_indivisible_raises():
    with pytest.raises(InputShapeError, match="batch_size=4"):
        UnflattenTime(batch_size=4)(torch.zeros(10, 3))


@pytest.mark.parametrize(
    "inner",
    [nn.Conv2d(2, 3, 3), nn.AvgPool2d(2), nn.Linear(6, 2)],
    ids=["conv", "avgpool", "linear"],
)
def test_repeat_equals_flatten_module_unflatten(inner):
    shape = (3, 4, 6) if isinstance(inner, nn.Linear) else (3, 4, 2, 6, 6)
    x = torch.rand(shape)
    expected = inner(x.flatten(0, 1)).unflatten(0, (3, 4))
    assert torch.equal(Repeat(inner)(x), expected)


def test_repeat_repr_and_parameters():
    inner = nn.Linear(2, 3)
    repeat = Repeat(inner)
    assert repr(repeat) == "Repeated " + repr(inner)
    assert list(repeat.parameters()) == list(inner.parameters())


def test_repeat_needs_a_time_axis():
    with pytest.raises(InputShapeError, match="batch, time"):
        Repeat(nn.Identity())(torch.zeros(3))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
