"""AdEx neurons (Brette and Gerstner 2005): forward Euler against a plain transcription,
the bounded exponential, gradients, laws, variants, bad input and persistence."""

from __future__ import annotations

import copy
import doctest
import itertools
import math
import pickle

import pytest
import torch

import sinabs.layers as sl
import sinabs.layers.adex as module
from sinabs.dynamics import BackendError
from sinabs.dynamics.models import ADEX_EXP_CAP
from sinabs.layers import AdEx

F64 = torch.float64
PAPER = {
    "C": 281.0, "g_L": 30.0, "E_L": -70.6, "V_T": -50.4, "Delta_T": 2.0, "tau_w": 144.0,
    "a": 4.0, "b": 80.5, "V_r": -70.6, "V_peak": 20.0,
}  # fmt: skip


def euler(current: list[float], dt: float = 0.1, **p: float):
    """Forward Euler of the AdEx equations in plain Python floats (float64), one neuron."""
    p = {**PAPER, **p}
    v, w = p["E_L"], 0.0
    spikes, trace = [], []
    for k, i in enumerate(current):
        x = min((min(v, p["V_peak"]) - p["V_T"]) / p["Delta_T"], ADEX_EXP_CAP)
        dv = (-p["g_L"] * (v - p["E_L"]) + p["g_L"] * p["Delta_T"] * math.exp(x) - w + i) / p["C"]
        dw = (p["a"] * (v - p["E_L"]) - w) / p["tau_w"]
        v, w = v + dt * dv, w + dt * dw
        if v >= p["V_peak"]:
            spikes.append(k)
            v, w = p["V_r"], w + p["b"]
        trace.append((v, w))
    return spikes, trace


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(previous)


def step_current(steps: int = 1400, on: int = 200, off: int = 1200, level: float = 1000.0):
    return [level if on <= k < off else 0.0 for k in range(steps)]


def test_forward_euler_matches_a_transcription(float64_default) -> None:
    # The paper's protocol (Brian's example of it): 1 nA for 100 ms, dt = 0.1 ms.
    current = step_current()
    spikes, trace = euler(current)
    layer = AdEx(record_states=True)
    out = layer(torch.tensor(current).reshape(1, -1, 1))[0, :, 0]
    assert torch.nonzero(out).flatten().tolist() == spikes
    assert len(spikes) >= 5  # the regular-spiking cell fires, and adapts:
    isi = [b - a for a, b in itertools.pairwise(spikes)]
    assert isi[-1] > isi[0]
    v = layer.recordings["v_mem"][0, :, 0]
    w = layer.recordings["w"][0, :, 0]
    expected = torch.tensor(trace)
    assert torch.allclose(v, expected[:, 0], rtol=1e-12, atol=1e-9)
    assert torch.allclose(w, expected[:, 1], rtol=1e-12, atol=1e-9)


def test_exponential_cannot_overflow() -> None:
    # float32, a state far above V_peak and a huge input: everything stays finite.
    layer = AdEx(shape=(1, 3))
    layer.v_mem = torch.tensor([[1e4, 1e30, -1e4]])
    out = layer(torch.tensor([[[0.0, 1e30, 0.0]] * 4]))
    assert bool(torch.isfinite(out).all())
    assert bool(torch.isfinite(layer.v_mem).all()) and bool(torch.isfinite(layer.w).all())
    with pytest.raises(ValueError, match="at most 80"):
        AdEx(Delta_T=0.5)  # (20 + 50.4) / 0.5 = 140.8


def test_resting_state() -> None:
    layer = AdEx(shape=(2, 2))
    assert torch.allclose(layer.v_mem, torch.full((2, 2), -70.6))
    assert torch.equal(layer.w, torch.zeros(2, 2))
    quiet = layer(torch.zeros(2, 50, 2))
    assert quiet.sum() == 0 and torch.allclose(layer.v_mem, torch.full((2, 2), -70.6))


class SmoothSpike:
    required_states = ("v_mem",)

    @staticmethod
    def apply(v, threshold, surrogate):
        return torch.sigmoid((v - threshold) / 4.0)


NAMES = ("C", "g_L", "E_L", "V_T", "Delta_T", "tau_w", "a", "b", "V_r")


def test_gradcheck_float64() -> None:
    layer = AdEx(dt=0.5)
    layer._spike_fn = SmoothSpike
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(1, 40, 2, generator=g, dtype=F64) * 900 + 400).requires_grad_()
    v0 = torch.full((1, 2), -70.0, dtype=F64, requires_grad=True)
    w0 = torch.zeros(1, 2, dtype=F64, requires_grad=True)
    params = [torch.tensor(PAPER[n], dtype=F64, requires_grad=True) for n in NAMES]

    def f(x, v0, w0, *params):
        layer.v_mem, layer.w = v0, w0
        layer.record_states = True
        out = torch.func.functional_call(layer, dict(zip(NAMES, params, strict=True)), (x,))
        return out, layer.recordings["v_mem"], layer.recordings["w"]

    out = f(x, v0, w0, *params)[0]
    assert int((out > 0.5).sum()) > 0
    # no input is disconnected (that would pass gradcheck with a zero Jacobian)
    inputs = (x, v0, w0, *params)
    grads = torch.autograd.grad(sum(o.sum() for o in f(*inputs)), inputs)
    assert all(bool(g.abs().sum() > 0) for g in grads)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)


def test_time_splitting_and_batch_independence() -> None:
    x = torch.rand(3, 400, 2, dtype=F64) * 1500
    one, two = AdEx().double(), AdEx().double()
    out = one(x)
    assert out.sum() > 0
    assert torch.equal(out, torch.cat([two(x[:, :150]), two(x[:, 150:])], 1))
    assert torch.equal(one.v_mem, two.v_mem) and torch.equal(one.w, two.w)
    for row in range(3):
        assert torch.equal(AdEx().double()(x[row : row + 1]), out[row : row + 1])


def test_variants() -> None:
    x = torch.rand(2, 300, 3) * 1500
    plain = AdEx()(x)
    squeeze = sl.AdExSqueeze(num_timesteps=300)
    assert torch.equal(squeeze(x.flatten(0, 1)), plain.flatten(0, 1))
    silent = sl.AdExRecurrent(rec_connect=lambda s: 0 * s)
    assert torch.equal(silent(x), plain)
    # a spike fed back as 1 uA lifts V by 356 mV in the next step: it fires again
    excited = sl.AdExRecurrent(rec_connect=lambda s: 1e6 * s)
    out = excited(x)
    first = int(torch.nonzero(out[0, :, 0])[0])
    assert bool((out[0, first:, 0] == 1).all())


def test_fused_backends_refuse_by_name() -> None:
    with pytest.raises(BackendError, match="adex"):
        AdEx(backend="cpu")(torch.rand(1, 3, 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"C": 0.0}, "C must be positive"),
        ({"C": float("nan")}, "C must be finite"),
        ({"g_L": -1.0}, "g_L must be non-negative"),
        ({"Delta_T": -2.0}, "Delta_T must be positive"),
        ({"tau_w": 0.0}, "tau_w must be positive"),
        ({"a": float("nan")}, "a must be finite"),
        ({"V_peak": float("inf")}, "V_peak must be finite"),
        ({"V_r": 30.0}, "V_r must be below V_peak"),
        ({"dt": -0.1}, "dt must be positive"),
    ],
    ids=["C-zero", "C-nan", "g_L-negative", "Delta_T-negative", "tau_w-zero", "a-nan",
         "V_peak-inf", "V_r-above-peak", "dt-negative"],
)  # fmt: skip
def test_bad_parameters(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        AdEx(**kwargs)


def test_state_dict_deepcopy_pickle_repr() -> None:
    layer = AdEx(b=0.0, record_states=True)
    layer(torch.rand(2, 200, 3) * 1500)
    fresh = AdEx()
    fresh.load_state_dict(layer.state_dict())
    assert fresh.b.item() == 0.0 and torch.equal(fresh.w, layer.w)
    x = torch.rand(2, 100, 3) * 1500
    reference = copy.deepcopy(layer)(x)
    for other in (fresh, copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert torch.equal(other(x), reference)
    assert "Delta_T=2" in repr(layer) and "V_peak=20" in repr(layer)


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0 and results.failed == 0
