"""Surrogate gradient functions (activations.md §4; quirks Q10, Part B 21)."""

from __future__ import annotations

import math

import pytest
import torch

from sinabs.activation import (
    Gaussian,
    Heaviside,
    MultiGaussian,
    PeriodicExponential,
    SingleExponential,
)

SURROGATES = {
    "Heaviside": Heaviside(window=0.6),
    "SingleExponential": SingleExponential(grad_width=0.4, grad_scale=1.3),
    "PeriodicExponential": PeriodicExponential(grad_width=0.3, grad_scale=1.2),
    "Gaussian": Gaussian(mu=0.1, sigma=0.4, grad_scale=0.9),
    "MultiGaussian": MultiGaussian(mu=0.05, sigma=0.4, h=0.2, s=4.0, grad_scale=1.1),
}


# ---------------------------------------------------------------- literal spec formulas
# The evaluation order is part of the contract (bitwise reproduction of sinabs 3.1.3).


def spec_gaussian(x, mu, sigma):
    return torch.exp(-((x - mu) ** 2) / (2 * sigma**2)) / (
        sigma * torch.sqrt(2 * torch.tensor(math.pi))
    )


def spec_formula(surrogate, v, theta):
    if isinstance(surrogate, Heaviside):
        return (v >= theta - surrogate.window).to(v.dtype) / theta
    if isinstance(surrogate, Gaussian):
        return spec_gaussian(v - theta, surrogate.mu, surrogate.sigma) * surrogate.grad_scale
    if isinstance(surrogate, MultiGaussian):
        x = v - theta
        sig, h = surrogate.sigma, surrogate.h
        return (
            (1 + h) * spec_gaussian(x, surrogate.mu, sig)
            - h * spec_gaussian(x, sig, surrogate.s * sig)
            - h * spec_gaussian(x, -sig, surrogate.s * sig)
        ) * surrogate.grad_scale
    if isinstance(surrogate, SingleExponential):
        w = theta * surrogate.grad_width
        return (surrogate.grad_scale / w) * torch.exp((-torch.abs(v - theta)) / w)
    if isinstance(surrogate, PeriodicExponential):
        n = v / theta - 0.5
        p = n - torch.floor(n)
        p = theta * (2 * p - 1)
        below = (v - theta) * (v < theta)
        above = p * (v >= theta)
        return surrogate.grad_scale * torch.exp(-torch.abs(above + below) / surrogate.grad_width)
    raise AssertionError(surrogate)


THETAS = {
    "float": 1.3,
    "tensor0d": torch.tensor(1.3),
    "per_neuron": torch.linspace(0.5, 2.0, 7),
}


@pytest.mark.parametrize("theta_kind", THETAS)
@pytest.mark.parametrize("name", SURROGATES)
def test_bitwise_spec_formula(name, theta_kind):
    surrogate, theta = SURROGATES[name], THETAS[theta_kind]
    v = torch.rand(5, 7, generator=torch.Generator().manual_seed(3)) * 8 - 3
    got = surrogate(v, theta)
    assert got.dtype == torch.float32
    assert torch.equal(got, spec_formula(surrogate, v, theta))


@pytest.mark.parametrize("name", SURROGATES)
def test_keyword_call_and_float64(name):
    surrogate = SURROGATES[name]
    v = torch.linspace(-2, 4, 13, dtype=torch.float64)
    theta = torch.tensor(1.0, dtype=torch.float64)
    got = surrogate(v_mem=v, spike_threshold=theta)
    assert got.dtype == torch.float64
    assert torch.isfinite(got).all()
    assert torch.equal(got, surrogate(v, theta))


# ---------------------------------------------------------------- known values


def test_single_exponential_peak_and_relative_width():
    # w = θ · grad_width: peak grad_scale / w at v = θ.
    assert SingleExponential()(torch.tensor([1.0]), torch.tensor(1.0)).item() == 2.0
    assert SingleExponential()(torch.tensor([2.0]), torch.tensor(2.0)).item() == 1.0
    assert SingleExponential(0.5, 3.0)(torch.tensor([2.0]), torch.tensor(2.0)).item() == 3.0
    g = SingleExponential(grad_width=0.5)(torch.tensor([1.0, 3.0]), torch.tensor(2.0))
    assert torch.allclose(g, torch.full((2,), math.exp(-1.0)))


@pytest.mark.parametrize(
    ("theta", "window", "v", "expected"),
    [
        (1.0, 0.5, [0.0, 0.49, 0.5, 0.51, 1.0, 3.0], [0, 0, 1, 1, 1, 1]),
        (2.0, 0.5, [1.0, 1.49, 1.5, 2.0, 5.0], [0, 0, 0.5, 0.5, 0.5]),
        (1.0, 1.0, [-0.01, 0.0, 0.7], [0, 1, 1]),
    ],
    ids=["thr1_w0.5", "thr2_w0.5_absolute", "default_window"],
)
def test_heaviside_window_is_absolute(theta, window, v, expected):
    g = Heaviside(window=window)(torch.tensor(v), torch.tensor(theta))
    assert torch.equal(g, torch.tensor(expected, dtype=torch.float32))


def test_gaussian_normaliser_in_float32():
    # Q10: sqrt(2π) is computed in float32, even for a float64 membrane potential.
    g = Gaussian(mu=0.0, sigma=1.0)(torch.zeros(1, dtype=torch.float64), 0.0)
    sqrt_2pi_f32 = torch.sqrt(torch.tensor(2 * math.pi, dtype=torch.float32)).item()
    assert g.item() == 1.0 / sqrt_2pi_f32
    assert abs(g.item() - 1.0 / math.sqrt(2 * math.pi)) < 1e-7


def test_gaussian_peak_at_mu():
    v = torch.linspace(-2.0, 4.0, 601, dtype=torch.float64)
    g = Gaussian(mu=0.3, sigma=0.5, grad_scale=2.0)(v, 1.0)
    assert v[g.argmax()].item() == pytest.approx(1.3, abs=1e-9)
    assert g.max().item() == pytest.approx(2.0 / (0.5 * math.sqrt(2 * math.pi)), rel=1e-6)


def test_multigaussian_without_side_lobes_is_gaussian():
    v = torch.rand(50, generator=torch.Generator().manual_seed(4)) * 4 - 1
    multi = MultiGaussian(mu=0.2, sigma=0.3, h=0.0, s=5.0, grad_scale=1.7)
    assert torch.equal(multi(v, 1.0), Gaussian(mu=0.2, sigma=0.3, grad_scale=1.7)(v, 1.0))


def test_multigaussian_side_lobes_centred_at_plus_minus_sigma():
    # mu = 0: symmetric around θ; lobes at ±sigma, not ±mu.
    m = MultiGaussian(mu=0.0, sigma=0.4, h=0.15, s=6.0)
    x = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    assert torch.allclose(m(1.0 + x, 1.0), m(1.0 - x, 1.0), rtol=1e-12, atol=0)
    # Value at x = 0 from the definition with sinabs's float32 normaliser.
    c = math.sqrt(2 * math.pi)
    expected = 1.15 / (0.4 * c) - 2 * 0.15 * math.exp(-(0.4**2) / (2 * 2.4**2)) / (2.4 * c)
    assert m(torch.tensor([1.0], dtype=torch.float64), 1.0).item() == pytest.approx(
        expected, rel=1e-6
    )


@pytest.mark.parametrize("name", ["Gaussian", "SingleExponential"])
def test_symmetric_around_threshold(name):
    surrogate = {"Gaussian": Gaussian(), "SingleExponential": SingleExponential()}[name]
    x = torch.linspace(0.0, 2.0, 21, dtype=torch.float64)
    assert torch.allclose(surrogate(1.0 + x, 1.0), surrogate(1.0 - x, 1.0), rtol=1e-12, atol=0)


# ---------------------------------------------------------------- PeriodicExponential (Part B 21)


def test_periodic_exponential_ten_exact_peaks():
    v = torch.arange(-5, 10.5, 0.01)
    g = PeriodicExponential(grad_width=0.1)(v, 1.0)
    assert int((g == 1).sum()) == 10


SCALES = [0.5, 1.0, 2.0]


@pytest.mark.parametrize("grad_scale", SCALES, ids=lambda x: f"scale{x}")
@pytest.mark.parametrize("grad_width", SCALES, ids=lambda x: f"width{x}")
@pytest.mark.parametrize("theta", SCALES, ids=lambda x: f"thr{x}")
def test_periodic_exponential_properties(theta, grad_width, grad_scale):
    surrogate = PeriodicExponential(grad_width=grad_width, grad_scale=grad_scale)
    v = torch.arange(-5, 10.5, 0.01)
    g = surrogate(v, theta)
    assert (g >= 0).all()
    assert (g <= grad_scale).all()
    multiples = torch.arange(1, 8) * theta
    assert torch.allclose(surrogate(multiples, theta), torch.full((7,), grad_scale))
    rising = surrogate(torch.linspace(-theta, theta, 50), theta)
    assert (rising[1:] > rising[:-1]).all()


# ---------------------------------------------------------------- dataclass behaviour


@pytest.mark.parametrize(
    ("surrogate", "text"),
    [
        (Heaviside(), "Heaviside(window=1.0)"),
        (Gaussian(), "Gaussian(mu=0.0, sigma=0.5, grad_scale=1.0)"),
        (MultiGaussian(), "MultiGaussian(mu=0.0, sigma=0.5, h=0.15, s=6, grad_scale=1.0)"),
        (SingleExponential(), "SingleExponential(grad_width=0.5, grad_scale=1.0)"),
        (PeriodicExponential(), "PeriodicExponential(grad_width=0.5, grad_scale=1.0)"),
    ],
    ids=["Heaviside", "Gaussian", "MultiGaussian", "SingleExponential", "PeriodicExponential"],
)
def test_default_repr(surrogate, text):
    assert repr(surrogate) == text


def test_equality_is_fieldwise():
    assert SingleExponential() == SingleExponential(grad_width=0.5, grad_scale=1.0)
    assert SingleExponential(0.3) != SingleExponential()
    assert PeriodicExponential() != SingleExponential()
    assert Heaviside(0.5) == Heaviside(window=0.5)
    assert MultiGaussian(h=0.1) != MultiGaussian()
    assert Gaussian(sigma=0.2) == Gaussian(0.0, 0.2, 1.0)


# ---------------------------------------------------------------- gradcheck of the formulas

OFFSETS = [-2.3, -1.1, -0.37, -0.05, 0.11, 0.43, 0.77, 1.31, 1.83, 2.62]


@pytest.mark.parametrize("theta", [1.0, 2.0], ids=["thr1", "thr2"])
@pytest.mark.parametrize("name", SURROGATES)
def test_gradcheck_formula(name, theta):
    # Points avoid every kink (v = θ, kθ, (k + 1/2)θ, θ - window).
    surrogate = SURROGATES[name]
    theta_t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    v = (theta + torch.tensor(OFFSETS, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(surrogate, (v, theta_t))
