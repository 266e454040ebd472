"""QuantizeLayer (layers.md)."""

from __future__ import annotations

import doctest

import torch

import sinabs.layers.quantize as module
from sinabs.layers import QuantizeLayer


def test_floor_with_straight_through_gradient():
    x = torch.tensor([-0.5, 0.0, 0.5, 1.7, 3.0], requires_grad=True)
    out = QuantizeLayer()(x)
    (out * torch.arange(5.0)).sum().backward()
    assert torch.equal(out, torch.tensor([-1.0, 0.0, 0.0, 1.0, 3.0]))
    assert torch.equal(x.grad, torch.arange(5.0))


def test_without_quantize_returns_the_input_object():
    x = torch.tensor([0.5, 1.5])
    assert QuantizeLayer(quantize=False)(x) is x


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
