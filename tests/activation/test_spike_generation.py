"""Spike generation functions (activations.md §2; quirks Part B 9, 20; DECISIONS Q26/Q27).

A spike function is piecewise constant, so ``gradcheck`` against finite differences of
the spike count is meaningless. Instead we check (1) that the backward is exactly
``grad_out * surrogate(v, θ)`` and (2) with ``gradcheck``, that this backward is the
derivative of an independently written primitive ``F`` of the surrogate, through
``h(v) = s - s.detach() + F(v).detach()``: numerically ``h == F``, analytically
``dh/dv`` is the spike function's backward.
"""

from __future__ import annotations

import math

import pytest
import torch

from sinabs.activation import (
    Gaussian,
    Heaviside,
    MaxSpike,
    MultiGaussian,
    MultiSpike,
    PeriodicExponential,
    SingleExponential,
    SingleSpike,
)

SPIKE_FNS = {
    "SingleSpike": SingleSpike,
    "MultiSpike": MultiSpike,
    "MaxSpike2": MaxSpike(2),
}

SURROGATES = {
    "Heaviside": Heaviside(window=0.6),
    "SingleExponential": SingleExponential(grad_width=0.4, grad_scale=1.3),
    "PeriodicExponential": PeriodicExponential(grad_width=0.3, grad_scale=1.2),
    "Gaussian": Gaussian(mu=0.1, sigma=0.4, grad_scale=0.9),
    "MultiGaussian": MultiGaussian(mu=0.05, sigma=0.4, h=0.2, s=4.0, grad_scale=1.1),
}


def spike(spike_fn, v, threshold, surrogate=None):
    surrogate = SingleExponential() if surrogate is None else surrogate
    return spike_fn.apply(v, threshold, surrogate)


# ---------------------------------------------------------------- pinned forward values


@pytest.mark.parametrize(
    ("spike_fn", "expected"),
    [(SingleSpike, [1.0, 0.0]), (MultiSpike, [2.0, 0.0]), (MaxSpike(), [2.0, 0.0])],
    ids=["SingleSpike", "MultiSpike", "MaxSpike_unbounded"],
)
def test_pinned_values_float_threshold(spike_fn, expected):
    out = spike(spike_fn, torch.tensor([2.5, 0.3]), 1.0)
    assert torch.equal(out, torch.tensor(expected))


def test_maxspike_pinned_cap():
    out = spike(MaxSpike(4), torch.tensor([6.5, 1.3]), 1.0)
    assert torch.equal(out, torch.tensor([4.0, 1.0]))


@pytest.mark.parametrize(
    ("spike_fn", "expected"),
    [
        (SingleSpike, [0, 0, 0, 1, 1, 1, 1, 1]),
        (MultiSpike, [0, 0, 0, 1, 1, 2, 3, 7]),
        (MaxSpike(None), [0, 0, 0, 1, 1, 2, 3, 7]),
        (MaxSpike(3), [0, 0, 0, 1, 1, 2, 3, 3]),
        (MaxSpike(1), [0, 0, 0, 1, 1, 1, 1, 1]),
    ],
    ids=["SingleSpike", "MultiSpike", "MaxSpike_None", "MaxSpike3", "MaxSpike1"],
)
def test_spike_counts_truncate(spike_fn, expected):
    # θ = 0.5: v == θ gives one spike, counts are trunc(v / θ) for v > 0.
    v = torch.tensor([-3.0, 0.0, 0.49, 0.5, 0.99, 1.25, 1.5, 3.9])
    out = spike(spike_fn, v, 0.5)
    assert torch.equal(out, torch.tensor(expected, dtype=torch.float32))


@pytest.mark.parametrize(
    ("spike_fn", "expected"),
    [(SingleSpike, [1, 0, 1, 0]), (MultiSpike, [2, 0, 3, 0]), (MaxSpike(2), [2, 0, 2, 0])],
    ids=["SingleSpike", "MultiSpike", "MaxSpike2"],
)
def test_per_neuron_threshold(spike_fn, expected):
    v = torch.tensor([1.0, 1.0, 3.0, -4.0])
    threshold = torch.tensor([0.5, 2.0, 1.0, 1.0])
    out = spike(spike_fn, v, threshold)
    assert torch.equal(out, torch.tensor(expected, dtype=torch.float32))


@pytest.mark.parametrize("threshold", [1.0, torch.tensor(1.0)], ids=["float", "tensor"])
@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_v_equal_threshold_spikes_once(spike_fn, threshold):
    assert spike(spike_fn, torch.tensor([1.0]), threshold).item() == 1.0


def test_large_input_caps():
    v = torch.linspace(0.0, 50.0, 101)
    assert spike(SingleSpike, v, 1.0).max() == 1.0
    assert spike(MaxSpike(3), v, 1.0).max() == 3.0
    assert spike(MultiSpike, v, 1.0).max() == 50.0


# ---------------------------------------------------------------- dtype, negative zeros


DTYPE_EXPECTED = {
    "SingleSpike": [0, 0, 0, 0, 0, 1, 1, 1],
    "MultiSpike": [0, 0, 0, 0, 0, 1, 2, 7],
    "MaxSpike2": [0, 0, 0, 0, 0, 1, 2, 2],
}


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16], ids=str
)
@pytest.mark.parametrize("name", SPIKE_FNS)
def test_spikes_keep_dtype_and_have_no_negative_zero(name, dtype):
    v = torch.tensor([-3.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.5, 7.0], dtype=dtype)
    out = spike(SPIKE_FNS[name], v, 1.0)
    assert out.dtype == dtype
    assert not torch.signbit(out).any()
    assert torch.equal(out, torch.tensor(DTYPE_EXPECTED[name], dtype=dtype))


@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_no_negative_zero_for_negative_membrane(spike_fn):
    v = -torch.rand(1000, generator=torch.Generator().manual_seed(0)) * 10
    assert not torch.signbit(spike(spike_fn, v, 0.7)).any()


# ---------------------------------------------------------------- protocol, dataclass


@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_required_states_and_truthiness(spike_fn):
    assert list(spike_fn.required_states) == ["v_mem"]
    assert bool(spike_fn)


def test_maxspike_dataclass():
    assert repr(MaxSpike(3)) == "MaxSpike(max_num_spikes_per_bin=3)"
    assert repr(MaxSpike()) == "MaxSpike(max_num_spikes_per_bin=None)"
    assert MaxSpike(3) == MaxSpike(max_num_spikes_per_bin=3)
    assert MaxSpike(3) != MaxSpike(4)
    assert MaxSpike() == MaxSpike(None)


# ---------------------------------------------------------------- backward = grad * surrogate


@pytest.mark.parametrize("threshold_kind", ["float", "tensor0d", "per_neuron"])
@pytest.mark.parametrize("surrogate", SURROGATES.values(), ids=SURROGATES.keys())
@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_backward_is_grad_times_surrogate(spike_fn, surrogate, threshold_kind):
    gen = torch.Generator().manual_seed(1)
    v = (torch.rand(4, 6, generator=gen, dtype=torch.float64) * 6 - 2).requires_grad_()
    threshold = {
        "float": 1.3,
        "tensor0d": torch.tensor(1.3, dtype=torch.float64),
        "per_neuron": torch.linspace(0.5, 2.0, 6, dtype=torch.float64),
    }[threshold_kind]
    grad_out = torch.rand(4, 6, generator=gen, dtype=torch.float64) - 0.5
    out = spike(spike_fn, v, threshold, surrogate)
    (grad_v,) = torch.autograd.grad(out, v, grad_out)
    expected = grad_out * surrogate(v.detach(), threshold)
    assert torch.equal(grad_v, expected)
    assert grad_v.any()


@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_threshold_gets_no_gradient_through_spike_fn(spike_fn):
    v = torch.tensor([0.4, 1.2, 2.7], dtype=torch.float64, requires_grad=True)
    threshold = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    out = spike(spike_fn, v, threshold)
    grad_v, grad_threshold = torch.autograd.grad(out.sum(), [v, threshold], allow_unused=True)
    assert grad_v.abs().sum() > 0
    assert grad_threshold is None or not grad_threshold.any()


@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_backward_ignores_spike_count(spike_fn):
    # The same surrogate is used whether 0, 1 or many spikes (or a clamped count) result.
    surrogate = SingleExponential()
    v = torch.tensor([-1.0, 0.5, 1.0, 2.5, 9.0], requires_grad=True)
    (grad_v,) = torch.autograd.grad(spike(spike_fn, v, 1.0, surrogate).sum(), v)
    assert torch.equal(grad_v, surrogate(v.detach(), 1.0))


# ---------------------------------------------------------------- gradcheck against primitives


def _phi(x, mu, sigma):
    return 0.5 * (1 + torch.erf((x - mu) / (sigma * math.sqrt(2))))


def primitive(surrogate, v, threshold):
    """An antiderivative (up to piecewise constants) of ``surrogate(v, threshold)`` in v."""
    x = v - threshold
    if isinstance(surrogate, Heaviside):
        return torch.relu(v - (threshold - surrogate.window)) / threshold
    if isinstance(surrogate, SingleExponential):
        w = threshold * surrogate.grad_width
        return surrogate.grad_scale * torch.sign(x) * (1 - torch.exp(-x.abs() / w))
    if isinstance(surrogate, Gaussian):
        return surrogate.grad_scale * _phi(x, surrogate.mu, surrogate.sigma)
    if isinstance(surrogate, MultiGaussian):
        mu, sigma, h, k = surrogate.mu, surrogate.sigma, surrogate.h, surrogate.s
        return surrogate.grad_scale * (
            (1 + h) * _phi(x, mu, sigma)
            - h * _phi(x, sigma, k * sigma)
            - h * _phi(x, -sigma, k * sigma)
        )
    if isinstance(surrogate, PeriodicExponential):
        # Below θ: scale·exp((v-θ)/w). Above θ, with δ the distance to the nearest
        # multiple of θ, the formula's |p| is 2|δ|: scale·exp(-2|δ|/w).
        w, scale = surrogate.grad_width, surrogate.grad_scale
        delta = v - threshold * torch.round(v / threshold)
        below = scale * w * torch.exp(x / w)
        above = scale * (w / 2) * torch.sign(delta) * (1 - torch.exp(-2 * delta.abs() / w))
        return torch.where(v < threshold, below, above)
    raise AssertionError(surrogate)


def smooth_points(surrogate, threshold):
    """float64 points well away from every kink / jump of the surrogate's primitive."""
    v = torch.linspace(-2.0, 3.0 * threshold + 1.0, 61, dtype=torch.float64)
    bad = [threshold]  # |v - θ| kinks, PeriodicExponential's branch switch
    if isinstance(surrogate, Heaviside):
        bad.append(threshold - surrogate.window)
    if isinstance(surrogate, PeriodicExponential):
        bad += [k * threshold / 2 for k in range(1, 16)]
    keep = torch.ones_like(v, dtype=torch.bool)
    for b in bad:
        keep &= (v - b).abs() > 1e-3
    return v[keep]


@pytest.mark.parametrize("threshold", [1.0, 2.0], ids=["thr1", "thr2"])
@pytest.mark.parametrize("surrogate", SURROGATES.values(), ids=SURROGATES.keys())
@pytest.mark.parametrize("spike_fn", SPIKE_FNS.values(), ids=SPIKE_FNS.keys())
def test_gradcheck_backward_against_surrogate_primitive(spike_fn, surrogate, threshold):
    v = smooth_points(surrogate, threshold).requires_grad_()

    def h(v):
        s = spike(spike_fn, v, threshold, surrogate)
        return s - s.detach() + primitive(surrogate, v.detach(), threshold)

    assert torch.autograd.gradcheck(h, (v,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_primitive_trick_detects_a_wrong_surrogate():
    # Guard for the test above: a backward that is not F' must fail gradcheck.
    right, wrong = SingleExponential(0.5, 1.0), SingleExponential(0.5, 1.1)
    v = smooth_points(right, 1.0).requires_grad_()

    def h(v):
        s = SingleSpike.apply(v, 1.0, wrong)
        return s - s.detach() + primitive(right, v.detach(), 1.0)

    assert not torch.autograd.gradcheck(
        h, (v,), eps=1e-6, atol=1e-6, rtol=1e-4, raise_exception=False
    )
