"""Straight-through quantisers (activations.md §5; quirks Part B 22)."""

from __future__ import annotations

import pytest
import torch

from sinabs.activation import Quantize, StochasticRounding


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_quantize_floors(dtype):
    x = torch.tensor([-1.5, -0.2, -0.0, 0.0, 0.7, 1.0, 2.3], dtype=dtype)
    out = Quantize.apply(x)
    assert out.dtype == dtype
    assert torch.equal(out, torch.tensor([-2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0], dtype=dtype))


@pytest.mark.parametrize(
    "fn", [Quantize, StochasticRounding], ids=["Quantize", "StochasticRounding"]
)
def test_straight_through_gradient(fn):
    x = torch.tensor([-1.5, -0.2, 0.0, 0.7, 2.3], dtype=torch.float64, requires_grad=True)
    grad_out = torch.tensor([0.3, -1.0, 2.0, 0.5, -0.25], dtype=torch.float64)
    (grad_x,) = torch.autograd.grad(fn.apply(x), x, grad_out)
    assert torch.equal(grad_x, grad_out)
    assert grad_x is not grad_out


def test_floor_of_small_inputs_zero_but_gradient_flows():
    x = torch.rand(20, generator=torch.Generator().manual_seed(0)).requires_grad_()
    out = Quantize.apply(x)
    assert not out.any()
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones(20))


def test_stochastic_rounding_values_are_floor_or_ceil():
    torch.manual_seed(0)
    x = torch.rand(1000) * 10 - 5
    out = StochasticRounding.apply(x)
    up = out - torch.floor(x)
    assert ((up == 0) | (up == 1)).all()
    assert (up == 1).any() and (up == 0).any()


def test_stochastic_rounding_keeps_integers_and_dtype():
    torch.manual_seed(0)
    x = torch.tensor([-3.0, -1.0, 0.0, 2.0, 7.0], dtype=torch.float64).repeat(100)
    out = StochasticRounding.apply(x)
    assert out.dtype == torch.float64
    assert torch.equal(out, x)


def test_stochastic_rounding_uses_global_rng_like_rand_like():
    # Rounds up where rand_like(x) < frac(x): same draw as a seeded rand_like.
    x = torch.rand(200, generator=torch.Generator().manual_seed(1)) * 6 - 3
    torch.manual_seed(123)
    out = StochasticRounding.apply(x)
    torch.manual_seed(123)
    expected = torch.floor(x) + (torch.rand_like(x) < (x - torch.floor(x))).float()
    assert torch.equal(out, expected)


def test_stochastic_rounding_probability_is_fraction():
    torch.manual_seed(0)
    x = torch.full((200_000,), 2.3)
    out = StochasticRounding.apply(x)
    assert abs((out - 2.0).mean().item() - 0.3) < 0.005


def test_stochastic_rounding_rounds_small_inputs_up_sometimes():
    torch.manual_seed(2)
    x = torch.rand(20).requires_grad_()
    out = StochasticRounding.apply(x)
    assert out.sum() > 0
    out.sum().backward()
    assert x.grad.any()
