"""Resonate-and-fire neurons (Izhikevich 2001) and the balanced form (Higuchi et al.
2024) against transcriptions in Python complex arithmetic; gradients, laws, variants,
bad input and persistence."""

from __future__ import annotations

import copy
import doctest
import math
import pickle

import pytest
import torch

import sinabs.layers as sl
import sinabs.layers.resonate as module
from sinabs.dynamics import BackendError
from sinabs.layers import ResonateAndFire

F64 = torch.float64


def plain(current, omega, b, dt, threshold=1.0, reset=0j):
    """z <- z + dt ((b + i omega) z + I); spike and reset where Im z >= threshold."""
    z, spikes, trace = 0j, [], []
    for k, i in enumerate(current):
        z = z + dt * ((b + 1j * omega) * z + i)
        if z.imag >= threshold:
            spikes.append(k)
            z = reset
        trace.append(z)
    return spikes, trace


def balanced(current, omega, dt, b_offset, gamma=0.9, threshold=1.0):
    """Higuchi et al.: b_t = p(omega) - b_offset - q_{t-1}; spike on Re z >= theta + q."""
    p = (-1 + math.sqrt(1 - (dt * omega) ** 2)) / dt
    z, q, spikes, trace = 0j, 0.0, [], []
    for k, i in enumerate(current):
        b = p - b_offset - q
        z = z + dt * ((b + 1j * omega) * z + i)
        s = 1.0 if z.real >= threshold + q else 0.0
        if s:
            spikes.append(k)
        q = gamma * q + s
        trace.append((z, q))
    return spikes, trace


def resonant_pulses(steps, period, width=3, level=20.0):
    return [level if k % period < width else 0.0 for k in range(steps)]


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(previous)


def test_plain_form_matches_the_transcription_and_resonates(float64_default) -> None:
    omega, b, dt = 10.0, -1.0, 0.01
    period = round(2 * math.pi / omega / dt)  # input pulses at the eigenfrequency
    layer = ResonateAndFire(omega=omega, b=b, dt=dt, record_states=True)
    counts = {}
    for name, p in (("resonant", period), ("off", period // 2 + 7)):
        current = resonant_pulses(2000, p)
        spikes, trace = plain(current, omega, b, dt)
        layer.reset_states()
        out = layer(torch.tensor(current).reshape(1, -1, 1))[0, :, 0]
        assert torch.nonzero(out).flatten().tolist() == spikes
        z = torch.tensor(trace)
        assert torch.allclose(layer.recordings["z_re"][0, :, 0], z.real, rtol=1e-12, atol=1e-12)
        assert torch.allclose(layer.recordings["z_im"][0, :, 0], z.imag, rtol=1e-12, atol=1e-12)
        counts[name] = len(spikes)
    # one pulse stays below the threshold; pulses at the eigenfrequency add up and make
    # it fire, pulses out of phase cancel
    assert counts["resonant"] > 0 == counts["off"]


def test_balanced_form_matches_the_transcription(float64_default) -> None:
    omega, dt, b_offset = 20.0, 0.01, 0.5
    current = resonant_pulses(1500, round(2 * math.pi / omega / dt), level=80.0)
    spikes, trace = balanced(current, omega, dt, b_offset)
    layer = ResonateAndFire(omega=omega, dt=dt, balanced=True, b_offset=b_offset,
                            record_states=True)  # fmt: skip
    out = layer(torch.tensor(current).reshape(1, -1, 1))[0, :, 0]
    assert torch.nonzero(out).flatten().tolist() == spikes
    assert len(spikes) > 3
    q = torch.tensor([t[1] for t in trace])
    z = torch.tensor([t[0] for t in trace])
    assert torch.allclose(layer.recordings["q"][0, :, 0], q, rtol=1e-12, atol=1e-12)
    assert torch.allclose(layer.recordings["z_re"][0, :, 0], z.real, rtol=1e-12, atol=1e-12)
    # refractoriness: each spike raises q, and with it the threshold and the damping
    assert bool((layer.recordings["q"][0, spikes, 0] >= 1).all())


def test_balanced_without_input_decays() -> None:
    # Below the divergence boundary the oscillation decays even at high frequency.
    layer = ResonateAndFire(omega=99.0, dt=0.01, balanced=True, b_offset=0.0, shape=(1, 1))
    layer.z_re = torch.tensor([[0.5]])
    layer(torch.zeros(1, 3000, 1))
    assert abs(layer.z_re.item()) < 0.5 and abs(layer.z_im.item()) < 0.5


class SmoothSpike:
    required_states = ("v_mem",)

    @staticmethod
    def apply(v, threshold, surrogate):
        return torch.sigmoid(4.0 * (v - threshold))


@pytest.mark.parametrize("form", ["plain", "balanced"])
def test_gradcheck_float64(form: str) -> None:
    if form == "plain":
        layer = ResonateAndFire(omega=10.0, b=-1.0, dt=0.05)
        names, values = ("omega", "b"), (10.0, -1.0)
    else:
        layer = ResonateAndFire(omega=10.0, dt=0.05, balanced=True, b_offset=0.3)
        names, values = ("omega", "b_offset"), (10.0, 0.3)
    layer._spike_fn = SmoothSpike
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(1, 30, 2, generator=g, dtype=F64) * 30).requires_grad_()
    initial = {
        name: (torch.rand(1, 2, generator=g, dtype=F64) * 0.4).requires_grad_()
        for name in layer.state_names
    }
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in values]

    def f(x, *tensors):
        states, params = tensors[: len(initial)], tensors[len(initial) :]
        for name, value in zip(initial, states, strict=True):
            setattr(layer, name, value)
        layer.record_states = True
        out = torch.func.functional_call(layer, dict(zip(names, params, strict=True)), (x,))
        return (out, *layer.recordings.values())

    out = f(x, *initial.values(), *params)[0]
    assert int((out > 0.5).sum()) > 0
    inputs = (x, *initial.values(), *params)
    # no input is disconnected (that would pass gradcheck with a zero Jacobian)
    grads = torch.autograd.grad(sum(o.sum() for o in f(*inputs)), inputs)
    assert all(bool(g.abs().sum() > 0) for g in grads)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("balanced_form", [False, True], ids=["plain", "balanced"])
def test_time_splitting_batch_independence_variants(balanced_form: bool) -> None:
    kwargs = {"omega": 15.0, "dt": 0.01, "balanced": balanced_form}
    x = torch.rand(3, 400, 2, dtype=F64) * 60
    one, two = ResonateAndFire(**kwargs).double(), ResonateAndFire(**kwargs).double()
    out = one(x)
    assert out.sum() > 0
    assert torch.equal(out, torch.cat([two(x[:, :170]), two(x[:, 170:])], 1))
    for name in one.state_names:
        assert torch.equal(getattr(one, name), getattr(two, name))
    for row in range(3):
        assert torch.equal(ResonateAndFire(**kwargs).double()(x[row : row + 1]), out[row : row + 1])
    squeeze = sl.ResonateAndFireSqueeze(batch_size=3, **kwargs).double()
    assert torch.equal(squeeze(x.flatten(0, 1)), out.flatten(0, 1))
    silent = sl.ResonateAndFireRecurrent(rec_connect=lambda s: 0 * s, **kwargs).double()
    assert torch.equal(silent(x), out)


def test_fused_backends_refuse_by_name() -> None:
    with pytest.raises(BackendError, match="resonate"):
        ResonateAndFire(omega=5.0, backend="cpu")(torch.rand(1, 3, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"omega": float("nan")}, ValueError, "omega must be finite"),
        ({"b": float("inf")}, ValueError, "b must be finite"),
        ({"dt": -0.01}, ValueError, "dt must be positive"),
        ({"spike_threshold": 0.0}, ValueError, "spike_threshold must be positive"),
        ({"y_reset": 2.0}, ValueError, "y_reset must be below spike_threshold"),
        ({"balanced": True, "b": -1.0}, ValueError, "b must be None with balanced=True"),
        ({"balanced": True, "b_offset": -0.1}, ValueError, "b_offset must be non-negative"),
        ({"balanced": True, "gamma": 1.0}, ValueError, r"gamma must be in \[0, 1\)"),
        ({"balanced": True, "omega": 200.0}, ValueError, r"dt \* \|omega\| <= 1"),
        ({"balanced": 1}, TypeError, "balanced must be a bool"),
    ],
    ids=["omega-nan", "b-inf", "dt-negative", "threshold-zero", "y_reset-above",
         "balanced-with-b", "b_offset-negative", "gamma-one", "omega-past-boundary",
         "balanced-int"],
)  # fmt: skip
def test_bad_parameters(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        ResonateAndFire(**{"omega": 10.0, **kwargs})


@pytest.mark.parametrize("balanced_form", [False, True], ids=["plain", "balanced"])
def test_state_dict_deepcopy_pickle_repr(balanced_form: bool) -> None:
    layer = ResonateAndFire(omega=12.0, balanced=balanced_form, record_states=True)
    layer(torch.rand(2, 200, 3) * 60)
    fresh = ResonateAndFire(omega=3.0, balanced=balanced_form)
    fresh.load_state_dict(layer.state_dict())
    assert fresh.omega.item() == 12.0
    x = torch.rand(2, 100, 3) * 60
    reference = copy.deepcopy(layer)(x)
    for other in (fresh, copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert torch.equal(other(x), reference)
    assert "omega=12" in repr(layer)
    assert ("balanced=True" in repr(layer)) == balanced_form


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0 and results.failed == 0
