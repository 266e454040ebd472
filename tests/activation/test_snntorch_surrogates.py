"""The surrogate gradients of snnTorch 1.0: ``ATan``, ``FastSigmoid``, ``Sigmoid``,
``Triangle``, ``StraightThrough``.

Each is checked against its documented formula twice, in float64: the closed form
written out here, and the autograd derivative of the smooth step S it is the derivative
of (the primitive the documentation states). Then: what a spike function
back-propagates with it, known values (peaks, areas), bad arguments, copying, and its
use in every layer (see also tests/layers/test_surrogates_in_layers.py).
"""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch

import sinabs.activation as sa
from sinabs.activation import (
    ATan,
    FastSigmoid,
    MultiSpike,
    Sigmoid,
    SingleSpike,
    StraightThrough,
    Triangle,
)

F64 = torch.float64

#: non-default arguments, so that a formula that ignores its argument fails
SURROGATES = {
    "ATan": ATan(alpha=3.0),
    "FastSigmoid": FastSigmoid(slope=7.0),
    "Sigmoid": Sigmoid(slope=6.0),
    "Triangle": Triangle(width=0.8),
    "StraightThrough": StraightThrough(),
}
DEFAULTS = {
    "ATan": (ATan(), "ATan(alpha=2.0)"),
    "FastSigmoid": (FastSigmoid(), "FastSigmoid(slope=25.0)"),
    "Sigmoid": (Sigmoid(), "Sigmoid(slope=25.0)"),
    "Triangle": (Triangle(), "Triangle(width=1.0)"),
    "StraightThrough": (StraightThrough(), "StraightThrough()"),
}


def closed_form(surrogate, x):
    """The documented derivative as a closed form of ``x = v - θ`` (float64)."""
    if isinstance(surrogate, ATan):
        a = surrogate.alpha
        return (a / 2) / (1 + (math.pi / 2 * a * x) ** 2)
    if isinstance(surrogate, FastSigmoid):
        return 1 / (1 + surrogate.slope * x.abs()) ** 2
    if isinstance(surrogate, Sigmoid):
        k = surrogate.slope
        e = torch.exp(-k * x)
        return k * e / (e + 1) ** 2
    if isinstance(surrogate, Triangle):
        w = surrogate.width
        return torch.clamp(1 - x.abs() / w, min=0) / w
    if isinstance(surrogate, StraightThrough):
        return torch.ones_like(x)
    raise AssertionError(surrogate)


def primitive(surrogate, x):
    """The smooth step S(x) whose derivative each surrogate is (documentation's S)."""
    if isinstance(surrogate, ATan):
        return torch.atan(math.pi / 2 * surrogate.alpha * x) / math.pi
    if isinstance(surrogate, FastSigmoid):
        return x / (1 + surrogate.slope * x.abs())
    if isinstance(surrogate, Sigmoid):
        return torch.sigmoid(surrogate.slope * x)
    if isinstance(surrogate, Triangle):
        w = surrogate.width
        xc = torch.clamp(x, -w, w)
        return xc / w - xc * xc.abs() / (2 * w * w)
    if isinstance(surrogate, StraightThrough):
        return x
    raise AssertionError(surrogate)


def points(theta: float) -> torch.Tensor:
    """float64 membrane potentials around θ, away from the kinks (x = 0, x = ±w)."""
    x = torch.linspace(-2.05, 2.05, 83, dtype=F64)
    keep = torch.ones_like(x, dtype=torch.bool)
    for kink in (0.0, 0.8, -0.8):
        keep &= (x - kink).abs() > 1e-3
    return theta + x[keep]


# ---------------------------------------------------------------- the formulas


@pytest.mark.parametrize("theta", [1.0, 2.5], ids=["thr1", "thr2.5"])
@pytest.mark.parametrize("name", SURROGATES)
def test_equals_documented_closed_form(name, theta):
    surrogate = SURROGATES[name]
    v = points(theta)
    got = surrogate(v, torch.tensor(theta, dtype=F64))
    assert got.dtype == F64
    torch.testing.assert_close(got, closed_form(surrogate, v - theta), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("theta", [1.0, 2.5], ids=["thr1", "thr2.5"])
@pytest.mark.parametrize("name", SURROGATES)
def test_equals_derivative_of_documented_primitive(name, theta):
    # autograd of S(v - θ) w.r.t. v (and -1 times it w.r.t. θ: each surrogate is a
    # function of v - θ alone, which a trainable threshold relies on)
    surrogate = SURROGATES[name]
    v = points(theta).requires_grad_()
    th = torch.tensor(theta, dtype=F64, requires_grad=True)
    s = primitive(surrogate, v - th)
    (dv,) = torch.autograd.grad(s.sum(), v, retain_graph=True)
    g = surrogate(v.detach(), th.detach())
    torch.testing.assert_close(g, dv, rtol=1e-12, atol=1e-15)
    (dth,) = torch.autograd.grad(s.sum(), th)
    torch.testing.assert_close(-g.sum(), dth, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spike_fn", [SingleSpike, MultiSpike], ids=["single", "multi"])
@pytest.mark.parametrize("name", SURROGATES)
def test_spike_function_backward_is_derivative_of_primitive(name, spike_fn):
    # gradcheck against finite differences of S: the spike's value is swapped for S's
    # (s - s.detach() is 0), its backward is the spike function's own
    surrogate = SURROGATES[name]
    v = points(1.3).requires_grad_()

    def h(v):
        s = spike_fn.apply(v, 1.3, surrogate)
        return s - s.detach() + primitive(surrogate, v.detach() - 1.3)

    assert torch.autograd.gradcheck(h, (v,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_primitive_check_detects_a_wrong_formula():
    # guard for the test above: a surrogate that is not S' fails it
    v = points(1.0).requires_grad_()

    def h(v):
        s = SingleSpike.apply(v, 1.0, ATan(alpha=2.0))
        return s - s.detach() + primitive(ATan(alpha=2.2), v.detach() - 1.0)

    assert not torch.autograd.gradcheck(
        h, (v,), eps=1e-6, atol=1e-6, rtol=1e-4, raise_exception=False
    )


# ---------------------------------------------------------------- known values


def test_known_values():
    one = torch.tensor(1.0, dtype=F64)
    at = torch.tensor([1.0], dtype=F64)
    assert ATan()(at, one).item() == 1.0  # α / 2
    assert ATan(alpha=5.0)(at, one).item() == 2.5
    assert FastSigmoid()(at, one).item() == 1.0
    assert FastSigmoid(slope=10)(torch.tensor([1.1], dtype=F64), one).item() == pytest.approx(
        0.25, rel=1e-12
    )
    assert Sigmoid()(at, one).item() == 6.25  # k / 4
    assert Triangle(width=0.5)(at, one).item() == 2.0  # 1 / w
    assert Triangle(width=0.5)(torch.tensor([1.5, 0.5, 1.25], dtype=F64), one).tolist() == [
        0.0,
        0.0,
        1.0,
    ]
    assert StraightThrough()(torch.tensor([-1e30, 0.0, 1e30]), one).tolist() == [1.0] * 3


@pytest.mark.parametrize("name", ["ATan", "Sigmoid", "Triangle"])
def test_unit_area(name):
    # ATan, Sigmoid and Triangle are densities: the smooth step rises by exactly 1
    surrogate = DEFAULTS[name][0]
    v = torch.linspace(-2000.0, 2000.0, 4_000_001, dtype=F64)
    area = torch.trapezoid(surrogate(v, 0.0), v).item()
    assert area == pytest.approx(1.0, abs=2e-3 if name == "ATan" else 1e-6)


@pytest.mark.parametrize("name", SURROGATES)
def test_symmetric_and_peaked_at_threshold(name):
    surrogate = SURROGATES[name]
    x = torch.linspace(0.0, 3.0, 31, dtype=F64)
    # (1 + x) - 1 and (1 - x) - 1 round differently: equal up to rounding
    torch.testing.assert_close(
        surrogate(1.0 + x, 1.0), surrogate(1.0 - x, 1.0), rtol=1e-12, atol=1e-15
    )
    assert (surrogate(1.0 + x[1:], 1.0) <= surrogate(torch.tensor(1.0, dtype=F64), 1.0)).all()


def test_sigmoid_far_from_threshold_is_finite_and_positive():
    # k σ(kx) σ(-kx): no overflow of exp(-kx), no cancellation in 1 - σ(kx)
    v = torch.tensor([-30.0, -3.0, 3.0, 30.0])
    g = Sigmoid()(v, 0.0)
    assert torch.isfinite(g).all()
    assert (g[1:3] > 0).all()
    expected = 25 * math.exp(-75.0)  # k e^{-k|x|} to first order
    assert g[2].item() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- dtypes and shapes


@pytest.mark.parametrize("dtype", [torch.float32, F64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", SURROGATES)
def test_dtype_follows_v_mem(name, dtype):
    v = torch.linspace(-1.0, 3.0, 9).to(dtype)
    got = SURROGATES[name](v, torch.tensor(1.0, dtype=dtype))
    assert got.dtype == dtype
    assert got.shape == v.shape


@pytest.mark.parametrize("name", SURROGATES)
def test_per_neuron_threshold_and_keywords(name):
    surrogate = SURROGATES[name]
    v = torch.rand(4, 3, dtype=F64, generator=torch.Generator().manual_seed(0)) * 3
    theta = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    got = surrogate(v_mem=v, spike_threshold=theta)
    assert got.shape == (4, 3)
    for j in range(3):
        assert torch.equal(got[:, j], surrogate(v[:, j], theta[j]))


# ---------------------------------------------------------------- bad arguments

BAD_VALUES = [
    pytest.param(-1.0, ValueError, id="negative"),
    pytest.param(0.0, ValueError, id="zero"),
    pytest.param(0, ValueError, id="int-zero"),
    pytest.param(float("nan"), ValueError, id="nan"),
    pytest.param(float("inf"), ValueError, id="inf"),
    pytest.param("2.0", TypeError, id="str"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param(None, TypeError, id="none"),
    pytest.param(torch.tensor(2.0), TypeError, id="tensor"),
    pytest.param(2 + 0j, TypeError, id="complex"),
]
ARGUMENTS = [(ATan, "alpha"), (FastSigmoid, "slope"), (Sigmoid, "slope"), (Triangle, "width")]


@pytest.mark.parametrize(("value", "error"), BAD_VALUES)
@pytest.mark.parametrize(("cls", "field"), ARGUMENTS, ids=[c.__name__ for c, _ in ARGUMENTS])
def test_bad_argument_names_it(cls, field, value, error):
    with pytest.raises(error, match=rf"{cls.__name__}: {field} must be"):
        cls(**{field: value})


@pytest.mark.parametrize(("value", "error"), BAD_VALUES)
@pytest.mark.parametrize(("cls", "field"), ARGUMENTS, ids=[c.__name__ for c, _ in ARGUMENTS])
def test_bad_positional_argument(cls, field, value, error):
    with pytest.raises(error, match=field):
        cls(value)


def test_straight_through_takes_no_arguments():
    with pytest.raises(TypeError):
        StraightThrough(1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize(("cls", "field"), ARGUMENTS, ids=[c.__name__ for c, _ in ARGUMENTS])
def test_integers_are_stored_as_floats(cls, field):
    surrogate = cls(**{field: 3})
    assert getattr(surrogate, field) == 3.0
    assert type(getattr(surrogate, field)) is float
    assert surrogate == cls(**{field: 3.0})


# ---------------------------------------------------------------- objects


@pytest.mark.parametrize("name", DEFAULTS)
def test_defaults_and_repr(name):
    surrogate, text = DEFAULTS[name]
    assert repr(surrogate) == text


@pytest.mark.parametrize("name", SURROGATES)
def test_pickle_and_deepcopy(name):
    surrogate = SURROGATES[name]
    v = torch.linspace(-1, 3, 11)
    for clone in (pickle.loads(pickle.dumps(surrogate)), copy.deepcopy(surrogate)):
        assert clone == surrogate
        assert clone is not surrogate
        assert torch.equal(clone(v, 1.0), surrogate(v, 1.0))


def test_equality_is_fieldwise():
    assert ATan() == ATan(2.0)
    assert ATan() != ATan(3.0)
    assert FastSigmoid(4.0) != Sigmoid(4.0)
    assert StraightThrough() == StraightThrough()


def test_exported():
    for name in SURROGATES:
        assert name in sa.__all__
        assert getattr(sa, name) is type(SURROGATES[name])
