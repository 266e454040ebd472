"""Merge (layers.md)."""

from __future__ import annotations

import doctest

import pytest
import torch

import sinabs.layers.merge as module
from sinabs.layers import Merge


def test_pinned_shapes_and_total():
    a, b = torch.rand(100, 1, 5, 6), torch.rand(100, 10, 5, 5)
    out = Merge()(a, b)
    assert out.shape == (100, 10, 5, 6)
    assert torch.allclose(out.sum(), a.sum() + b.sum())


def test_pads_at_the_end_of_every_dimension_including_batch():
    a = torch.tensor([[1.0, 2.0]])  # (1, 2)
    b = torch.tensor([[10.0], [20.0], [30.0]])  # (3, 1)
    expected = torch.tensor([[11.0, 2.0], [20.0, 0.0], [30.0, 0.0]])
    assert torch.equal(Merge()(a, b), expected)
    assert torch.equal(Merge()(b, a), expected)


def test_equal_shapes_are_added():
    a, b = torch.rand(2, 3), torch.rand(2, 3)
    assert torch.equal(Merge()(a, b), a + b)


def test_gradient_reaches_both_inputs():
    a = torch.rand(1, 2, 3, requires_grad=True)
    b = torch.rand(1, 1, 4, requires_grad=True)
    Merge()(a, b).sum().backward()
    assert torch.equal(a.grad, torch.ones_like(a))
    assert torch.equal(b.grad, torch.ones_like(b))


def test_inputs_of_different_rank_raise():
    with pytest.raises(ValueError, match=r"data1 of shape \(2, 3\) and data2 of shape"):
        Merge()(torch.zeros(2, 3), torch.zeros(2, 3, 1))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
