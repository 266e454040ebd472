"""SumPool2d and SpikingMaxPooling2dLayer (layers.md; quirks Q31, Q40)."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch import nn

import sinabs.layers.pool2d as module
from sinabs.layers import SpikingMaxPooling2dLayer, SumPool2d

# ---------------------------------------------------------------- SumPool2d


def test_sumpool_is_lppool_with_norm_one():
    pool = SumPool2d(2)
    assert isinstance(pool, nn.LPPool2d)
    assert pool.norm_type == 1
    assert pool.stride is None
    assert pool.kernel_size == 2


@pytest.mark.parametrize(
    ("kernel_size", "stride", "ceil_mode"),
    [(2, None, False), ((2, 3), (1, 2), False), (3, 2, True)],
    ids=["k2", "k2x3-s1x2", "k3-s2-ceil"],
)
def test_sumpool_numerics_equal_lppool(kernel_size, stride, ceil_mode):
    x = torch.rand(2, 3, 7, 8, generator=torch.Generator().manual_seed(1))
    expected = nn.LPPool2d(1, kernel_size, stride, ceil_mode)(x)
    assert torch.equal(SumPool2d(kernel_size, stride, ceil_mode)(x), expected)
    assert SumPool2d(kernel_size, stride).kernel_size == kernel_size


def test_sumpool_sums_each_window():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # windows: [0,1,4,5] [2,3,6,7] [8,9,12,13] [10,11,14,15]
    assert torch.equal(SumPool2d(2)(x), torch.tensor([[[[10.0, 18.0], [42.0, 50.0]]]]))


def test_sumpool_gradient_is_zero_where_window_sums_to_zero():
    x = torch.tensor([[[[1.0, -1.0, 1.0, 1.0]]]], requires_grad=True)
    SumPool2d((1, 2)).forward(x).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[[[0.0, 0.0, 1.0, 1.0]]]]))


# ---------------------------------------------------------------- SpikingMaxPooling2dLayer


def test_maxpool_pinned_always_spiking_pixel():
    raster = torch.zeros(10, 1, 2, 3)
    raster[:, 0, 0, 2] = 1
    pool = SpikingMaxPooling2dLayer((2, 3))
    out = pool(raster)
    assert out.shape == (10, 1, 1, 1)
    assert out.sum() == 10
    assert pool.spikes_number == 10
    assert pool.tw == 10


def test_maxpool_pinned_output_shape():
    out = SpikingMaxPooling2dLayer((2, 2), strides=(2, 2))(torch.zeros(2, 2, 10, 10))
    assert out.shape == (2, 2, 5, 5)


def test_maxpool_passes_spikes_of_the_leading_pixel_only():
    # one window of two pixels A, B. Running counts:
    # t0 A spikes (A=1, B=0) -> A leads, passes; t1 A spikes (2, 0) -> passes;
    # t2 B spikes (2, 1) -> B is behind, blocked; t3 B (2, 2) -> tie, passes;
    # t4 nothing -> 0; t5 A and B spike (3, 3) -> one output spike.
    a = [1, 1, 0, 0, 0, 1]
    b = [0, 0, 1, 1, 0, 1]
    raster = torch.tensor([a, b], dtype=torch.float32).T.reshape(6, 1, 1, 2)
    out = SpikingMaxPooling2dLayer((1, 2))(raster)
    assert torch.equal(out.flatten(), torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0]))


@pytest.mark.parametrize(
    ("padding", "pads"),
    [((0, 0, 0, 0), False), ([0, 0, 0, 0], False), ((1, 0, 2, 1), True)],
    ids=["tuple-zeros", "list-zeros", "left1-top2-bottom1"],
)
def test_maxpool_padding(padding, pads):
    pool = SpikingMaxPooling2dLayer(2, padding=padding)
    # Q31: a list of zeros is no padding either (sinabs added a no-op ZeroPad2d)
    assert (pool.pad is not None) == pads
    out = pool(torch.ones(3, 1, 4, 5))
    assert out.shape[1:] == pool.get_output_shape((1, 4, 5))


def test_maxpool_get_output_shape():
    pool = SpikingMaxPooling2dLayer((2, 3), strides=(2, 1), padding=(1, 2, 0, 1))
    # H: (10 + 0 + 1 - 2) // 2 + 1 = 5; W: (7 + 1 + 2 - 3) // 1 + 1 = 8
    assert pool.get_output_shape((4, 10, 7)) == (4, 5, 8)
    assert pool(torch.zeros(2, 4, 10, 7)).shape == (2, 4, 5, 8)


def test_maxpool_strides_default_to_pool_size():
    assert SpikingMaxPooling2dLayer((3, 2)).strides == (3, 2)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"pool_size": 2, "padding": (1, 1)}, "padding"),
        ({"pool_size": (2, 2, 2)}, "pool_size"),
        ({"pool_size": 2, "strides": (1, 2, 3)}, "strides"),
    ],
    ids=["padding-two-entries", "pool-three-entries", "strides-three-entries"],
)
def test_maxpool_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SpikingMaxPooling2dLayer(**kwargs)


def test_maxpool_bad_input_rank():
    with pytest.raises(ValueError, match="binary_input"):
        SpikingMaxPooling2dLayer(2)(torch.zeros(1, 2, 3, 4, 4))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
