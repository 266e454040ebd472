"""Cropping2dLayer (layers.md)."""

from __future__ import annotations

import doctest

import pytest
import torch

import sinabs.layers.crop2d as module
from sinabs.layers import Cropping2dLayer


def test_pinned_shape():
    out = Cropping2dLayer(((2, 3), (3, 1)))(torch.zeros(2, 2, 10, 10))
    assert out.shape == (2, 2, 5, 6)


def test_crops_the_right_rows_and_columns_as_a_view():
    x = torch.arange(2 * 6 * 5.0).reshape(1, 2, 6, 5)
    crop = Cropping2dLayer(((1, 2), (0, 3)))
    out = crop(x)
    assert torch.equal(out, x[:, :, 1:4, 0:2])
    assert out.data_ptr() == x[:, :, 1:4, 0:2].data_ptr()  # a view, no copy
    assert crop.channels_in == 2
    assert crop.out_shape == (2, 3, 2)
    assert crop.spikes_number == out.abs().sum()
    assert crop.tw == 1


def test_default_crops_nothing():
    x = torch.rand(3, 1, 4, 4)
    assert torch.equal(Cropping2dLayer()(x), x)


def test_get_output_shape():
    crop = Cropping2dLayer(((2, 3), (3, 1)))
    assert crop.get_output_shape((2, 10, 10)) == (2, 5, 6)
    assert (crop.top_crop, crop.bottom_crop, crop.left_crop, crop.right_crop) == (2, 3, 3, 1)


@pytest.mark.parametrize(
    ("cropping", "shape"),
    [(((5, 5), (0, 0)), (1, 1, 10, 10)), (((0, 0), (4, 7)), (1, 1, 10, 10))],
    ids=["rows-all-cropped", "columns-more-than-width"],
)
def test_cropping_larger_than_input_raises(cropping, shape):
    crop = Cropping2dLayer(cropping)
    with pytest.raises(ValueError, match="cropping"):
        crop(torch.zeros(shape))
    with pytest.raises(ValueError, match="cropping"):
        crop.get_output_shape(shape[1:])


@pytest.mark.parametrize(
    "cropping",
    [((1, -1), (0, 0)), ((1, 2, 3), (0, 0)), ((1, 1),), ((0, 0), (1.5, 0))],
    ids=["negative", "three-values", "one-pair", "float"],
)
def test_malformed_cropping_raises(cropping):
    with pytest.raises(ValueError, match="cropping"):
        Cropping2dLayer(cropping)


def test_input_without_four_dimensions_raises():
    with pytest.raises(ValueError, match="binary_input"):
        Cropping2dLayer()(torch.zeros(2, 10, 10))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
