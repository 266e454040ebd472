"""NeuromorphicReLU (layers.md; quirks Q39, Part B 22)."""

from __future__ import annotations

import doctest

import pytest
import torch

import sinabs.layers.neuromorphic_relu as module
from sinabs.layers import NeuromorphicReLU


def test_pinned_forward():
    relu = NeuromorphicReLU()
    out = relu(torch.tensor([-5.5, -3.23, 2.3, 0.0]))
    assert torch.equal(out, torch.tensor([0.0, 0.0, 2.0, 0.0]))


def test_pinned_gradient_is_relu_derivative_straight_through():
    x = torch.tensor([-5.5, -3.23, 2.3, 0.1], requires_grad=True)
    (2 * NeuromorphicReLU()(x).sum()).backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 0.0, 2.0, 2.0]))


@pytest.mark.parametrize(
    ("fanout", "expected"),
    [(1, 1.5), (3, 4.5), (0, 0.0)],
    ids=["fanout-1", "fanout-3", "fanout-0"],
)
def test_activity_is_events_per_sample_times_fanout(fanout, expected):
    # floor gives [[1, 2], [0, 0]]: 3 events over a batch of 2
    relu = NeuromorphicReLU(fanout=fanout)
    relu(torch.tensor([[1.5, 2.2], [0.3, -1.0]]))
    assert relu.activity == expected


def test_activity_of_1d_input_divides_by_number_of_elements():
    relu = NeuromorphicReLU(fanout=2)
    relu(torch.tensor([1.0, 2.0, 3.0, 0.0]))  # 6 events / 4 elements * 2
    assert relu.activity == 3.0


def test_without_quantize_is_plain_relu():
    x = torch.tensor([-1.0, 0.25, 2.75], requires_grad=True)
    out = NeuromorphicReLU(quantize=False)(x)
    out.sum().backward()
    assert torch.equal(out, torch.tensor([0.0, 0.25, 2.75]))
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0]))


def test_floor_quantisation_of_small_inputs_is_zero_but_has_gradient():
    x = torch.rand(20, generator=torch.Generator().manual_seed(0)).requires_grad_()
    out = NeuromorphicReLU()(x)
    out.sum().backward()
    assert out.sum() == 0
    assert torch.equal(x.grad, torch.ones(20))


def test_stochastic_rounding_in_training_rounds_up_or_down():
    torch.manual_seed(3)
    x = (torch.rand(200) * 3).requires_grad_()
    relu = NeuromorphicReLU(stochastic_rounding=True).train()
    out = relu(x)
    out.sum().backward()
    floor = torch.floor(x.detach())
    assert ((out == floor) | (out == floor + 1)).all()
    assert (out == floor + 1).any() and (out == floor).any()
    assert torch.equal(x.grad, torch.ones(200))  # straight-through


def test_stochastic_rounding_in_eval_rounds_half_to_even_with_zero_gradient():
    x = torch.tensor([0.5, 1.5, 2.5, 2.6], requires_grad=True)
    out = NeuromorphicReLU(stochastic_rounding=True).eval()(x)
    out.sum().backward()
    assert torch.equal(out, torch.tensor([0.0, 2.0, 2.0, 3.0]))
    assert torch.equal(x.grad, torch.zeros(4))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
