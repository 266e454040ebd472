"""Reset mechanisms (activations.md §3; quirks Part B 20; DECISIONS Q7)."""

from __future__ import annotations

import pytest
import torch

from sinabs.activation import (
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiSpike,
    SingleExponential,
    SingleSpike,
)

V = [2.5, 0.3]


def reset_v(reset_fn, spikes, v, threshold=1.0, **other):
    return reset_fn(spikes, {"v_mem": v, **other}, threshold)["v_mem"]


# ---------------------------------------------------------------- pinned values


@pytest.mark.parametrize(
    ("spike_fn", "reset_fn", "expected"),
    [
        (SingleSpike, MembraneSubtract(), [1.5, 0.3]),
        (MultiSpike, MembraneSubtract(), [0.5, 0.3]),
        (SingleSpike, MembraneReset(), [0.0, 0.3]),
        (MultiSpike, MembraneReset(), [0.0, 0.3]),
    ],
    ids=["single-subtract", "multi-subtract", "single-reset", "multi-reset"],
)
def test_pinned_values(spike_fn, reset_fn, expected):
    v = torch.tensor(V)
    spikes = spike_fn.apply(v, 1.0, SingleExponential())
    assert torch.equal(reset_v(reset_fn, spikes, v), torch.tensor(expected))


def test_subtract_value_tensor():
    reset_fn = MembraneSubtract(subtract_value=torch.tensor([0.9, 1.1]))
    out = reset_v(reset_fn, torch.tensor([1.0, 0.0]), torch.tensor(V))
    assert torch.equal(out, torch.tensor([1.6, 0.3]))


def test_subtract_value_float_replaces_threshold():
    out = reset_v(
        MembraneSubtract(subtract_value=0.5), torch.tensor([2.0, 0.0]), torch.tensor(V), 1.0
    )
    assert torch.equal(out, torch.tensor([1.5, 0.3]))


def test_subtract_per_neuron_threshold():
    v = torch.tensor([2.5, 0.75])
    out = reset_v(MembraneSubtract(), torch.tensor([2.0, 1.0]), v, torch.tensor([1.0, 0.25]))
    assert torch.equal(out, torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("reset_value", [0.0, -0.25, 0.4], ids=["zero", "negative", "positive"])
def test_membrane_reset_sets_only_spiking_neurons(reset_value):
    # DECISIONS Q7: neurons that spiked (any count) are set to reset_value; others unchanged.
    v = torch.tensor([2.5, 0.3, 3.2, -0.7])
    spikes = torch.tensor([1.0, 0.0, 3.0, 0.0])
    out = reset_v(MembraneReset(reset_value=reset_value), spikes, v)
    assert torch.equal(out, torch.tensor([reset_value, 0.3, reset_value, -0.7]))


def test_membrane_reset_ignores_threshold():
    v = torch.tensor([2.5, 0.3])
    spikes = torch.tensor([1.0, 0.0])
    a = reset_v(MembraneReset(0.1), spikes, v, 1.0)
    b = reset_v(MembraneReset(0.1), spikes, v, torch.tensor([7.0, -3.0]))
    assert torch.equal(a, b)


# ---------------------------------------------------------------- dict protocol


@pytest.mark.parametrize(
    "reset_fn",
    [MembraneSubtract(), MembraneSubtract(0.3), MembraneReset(), MembraneReset(-1.0)],
    ids=["subtract", "subtract_value", "reset", "reset_value"],
)
def test_returns_new_dict_without_mutating(reset_fn):
    v = torch.tensor([2.5, 0.3])
    i_syn = torch.tensor([0.1, 0.2])
    state = {"v_mem": v, "i_syn": i_syn}
    v_before = v.clone()
    new = reset_fn(torch.tensor([1.0, 0.0]), state, 1.0)
    assert new is not state
    assert state["v_mem"] is v and torch.equal(v, v_before)
    assert new["i_syn"] is i_syn
    assert set(new) == {"v_mem", "i_syn"}
    assert new["v_mem"] is not v


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16], ids=str
)
@pytest.mark.parametrize(
    ("reset_fn", "expected"),
    [
        (MembraneSubtract(), [0.5, 0.25]),
        (MembraneSubtract(0.5), [1.5, 0.25]),
        (MembraneReset(), [0.0, 0.25]),
        (MembraneReset(-0.5), [-0.5, 0.25]),
    ],
    ids=["subtract", "subtract_value", "reset", "reset_value"],
)
def test_keeps_membrane_dtype(reset_fn, expected, dtype):
    v = torch.tensor([2.5, 0.25], dtype=dtype)
    spikes = MultiSpike.apply(v, 1.0, SingleExponential())
    out = reset_v(reset_fn, spikes, v)
    assert out.dtype == dtype
    assert torch.equal(out, torch.tensor(expected, dtype=dtype))


# ---------------------------------------------------------------- dataclass behaviour


def test_dataclass_repr_and_equality():
    assert repr(MembraneSubtract()) == "MembraneSubtract(subtract_value=None)"
    assert repr(MembraneSubtract(0.5)) == "MembraneSubtract(subtract_value=0.5)"
    assert repr(MembraneReset()) == "MembraneReset(reset_value=0.0)"
    assert MembraneSubtract() == MembraneSubtract(subtract_value=None)
    assert MembraneSubtract(1.0) != MembraneSubtract()
    assert MembraneReset() == MembraneReset(0.0)
    assert MembraneReset(1.0) != MembraneReset(0.0)
    assert MembraneReset() != MembraneSubtract()


# ---------------------------------------------------------------- gradients


def test_gradcheck_membrane_subtract():
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    spikes = torch.rand(3, 4, generator=gen, dtype=torch.float64).mul(3).requires_grad_()
    threshold = torch.rand(4, generator=gen, dtype=torch.float64).add(0.5).requires_grad_()

    def f(v, spikes, threshold):
        return reset_v(MembraneSubtract(), spikes, v, threshold)

    assert torch.autograd.gradcheck(f, (v, spikes, threshold))


def test_gradcheck_membrane_subtract_value_tensor():
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    spikes = torch.rand(3, 4, generator=gen, dtype=torch.float64).mul(3).requires_grad_()
    value = torch.rand(4, generator=gen, dtype=torch.float64).requires_grad_()

    def f(v, spikes, value):
        return reset_v(MembraneSubtract(subtract_value=value), spikes, v, 1.0)

    assert torch.autograd.gradcheck(f, (v, spikes, value))


@pytest.mark.parametrize("reset_value", [0.0, 0.3], ids=["zero", "nonzero"])
def test_gradcheck_membrane_reset_wrt_v(reset_value):
    gen = torch.Generator().manual_seed(2)
    v = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    spikes = torch.tensor([[0.0, 1.0, 0.0, 2.0]] * 3, dtype=torch.float64)

    def f(v):
        return reset_v(MembraneReset(reset_value), spikes, v)

    assert torch.autograd.gradcheck(f, (v,))
    (grad_v,) = torch.autograd.grad(f(v).sum(), v)
    assert torch.equal(grad_v, (spikes == 0).to(torch.float64))


def test_membrane_reset_no_gradient_through_spikes():
    v = torch.tensor([2.5, 0.3], dtype=torch.float64, requires_grad=True)
    spikes = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    out = reset_v(MembraneReset(0.2), spikes, v)
    (grad_spikes,) = torch.autograd.grad(out.sum(), spikes, allow_unused=True)
    assert grad_spikes is None or not grad_spikes.any()


@pytest.mark.parametrize(
    "spike_fn", [SingleSpike, MultiSpike, MaxSpike(2)], ids=["single", "multi", "max2"]
)
def test_subtract_chain_rule_through_spikes(spike_fn):
    # v' = v - θ·s(v), so dv'/dv = 1 - θ·surrogate(v, θ).
    surrogate = SingleExponential()
    threshold = 1.5
    v = torch.tensor([-0.5, 0.8, 1.5, 2.2, 4.0], dtype=torch.float64, requires_grad=True)
    spikes = spike_fn.apply(v, threshold, surrogate)
    (grad_v,) = torch.autograd.grad(reset_v(MembraneSubtract(), spikes, v, threshold).sum(), v)
    expected = 1 - threshold * surrogate(v.detach(), threshold)
    assert torch.allclose(grad_v, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "spike_fn", [SingleSpike, MultiSpike, MaxSpike(2)], ids=["single", "multi", "max2"]
)
def test_reset_blocks_surrogate_path(spike_fn):
    surrogate = SingleExponential()
    v = torch.tensor([-0.5, 0.8, 1.5, 2.2, 4.0], dtype=torch.float64, requires_grad=True)
    spikes = spike_fn.apply(v, 1.0, surrogate)
    (grad_v,) = torch.autograd.grad(reset_v(MembraneReset(), spikes, v).sum(), v)
    assert torch.equal(grad_v, (spikes.detach() == 0).to(torch.float64))


@pytest.mark.parametrize(
    "reset_fn", [MembraneSubtract(), MembraneReset()], ids=["subtract", "reset"]
)
@pytest.mark.parametrize("spike_fn", [SingleSpike, MultiSpike], ids=["single", "multi"])
def test_mse_gradient_nonzero_and_finite(spike_fn, reset_fn):
    v = torch.tensor(V, requires_grad=True)
    spikes = spike_fn.apply(v, 1.0, SingleExponential())
    new_v = reset_v(reset_fn, spikes, v)
    loss = torch.nn.functional.mse_loss(new_v, torch.zeros(2)) + torch.nn.functional.mse_loss(
        spikes, torch.ones(2)
    )
    (grad_v,) = torch.autograd.grad(loss, v)
    assert torch.isfinite(grad_v).all()
    assert grad_v.any()
