"""AdEx neurons (Brette and Gerstner 2005): forward Euler against a plain transcription,
the bounded exponential, gradients, laws, variants, bad input and persistence."""

from __future__ import annotations

import copy
import doctest
import importlib.util
import itertools
import json
import math
import os
import pickle
import subprocess
import sys

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


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_time_splitting_and_batch_independence(backend: str) -> None:
    x = torch.rand(3, 400, 2, dtype=F64) * 1500
    one, two = AdEx(backend=backend).double(), AdEx(backend=backend).double()
    out = one(x)
    assert out.sum() > 0
    assert torch.equal(out, torch.cat([two(x[:, :150]), two(x[:, 150:])], 1))
    assert torch.equal(one.v_mem, two.v_mem) and torch.equal(one.w, two.w)
    for row in range(3):
        assert torch.equal(AdEx(backend=backend).double()(x[row : row + 1]), out[row : row + 1])


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


def test_auto_runs_the_fused_cpu_kernel(spy_backend_choice) -> None:
    chosen = spy_backend_choice()
    x = torch.rand(1, 5, 2) * 1000
    assert AdEx(backend="auto")(x).shape == x.shape
    assert chosen == ["cpu"]


def test_what_the_kernels_do_not_run_goes_to_the_reference(spy_backend_choice) -> None:
    # another spike function (here a smooth one); recurrent layers, as for every family
    x = torch.rand(1, 5, 2) * 1000
    layer = AdEx()
    layer._spike_fn = SmoothSpike
    chosen = spy_backend_choice()
    layer(x)
    sl.AdExRecurrent(rec_connect=lambda s: 0 * s)(x)
    assert chosen == ["reference", "reference"]
    named = AdEx(backend="cpu")
    named._spike_fn = SmoothSpike
    with pytest.raises(BackendError, match="SingleSpike"):
        named(x)


def _fused_layer(backend: str, dtype: torch.dtype, per_neuron: bool) -> AdEx:
    params = dict(PAPER)
    if per_neuron:  # the trainable parameters vary by up to 20 % over the 5 neurons
        gen = torch.Generator().manual_seed(4)
        params = {
            n: v * (1 + 0.2 * torch.rand(5, generator=gen, dtype=F64)) if n in NAMES else v
            for n, v in params.items()
        }
    return AdEx(**params, record_states=True, backend=backend).to(dtype)


def _run_with_gradients(
    backend: str, dtype: torch.dtype, per_neuron: bool, x: torch.Tensor
) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...]]:
    """Outputs, final states and recordings, and the gradients of a weighted sum of
    them w.r.t. x, v0, w0 and every trainable parameter."""
    layer = _fused_layer(backend, dtype, per_neuron)
    gen = torch.Generator().manual_seed(5)
    layer.init_state_with_shape((3, 2, 5))
    v0 = (-72 + 25 * torch.rand(3, 2, 5, generator=gen, dtype=F64)).to(dtype).requires_grad_()
    w0 = (100 * torch.rand(3, 2, 5, generator=gen, dtype=F64)).to(dtype).requires_grad_()
    layer.v_mem, layer.w = v0, w0
    out = layer(x)
    values = [out, layer.v_mem, layer.w, layer.recordings["v_mem"], layer.recordings["w"]]
    weights = [
        torch.rand(t.shape, generator=torch.Generator().manual_seed(k), dtype=F64).to(dtype)
        for k, t in enumerate(values)
    ]
    loss = sum((w * t).sum() for w, t in zip(weights, values, strict=True))
    inputs = (x, v0, w0, *(getattr(layer, n) for n in NAMES))
    return [t.detach() for t in values], torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per_neuron"])
def test_fused_equals_reference(dtype: torch.dtype, per_neuron: bool) -> None:
    # outputs, states and recordings bit for bit; gradients of the input, the initial
    # states and all nine trainable parameters within 1e-5
    gen = torch.Generator().manual_seed(3)
    x = (400 + 1200 * torch.rand(3, 120, 2, 5, generator=gen, dtype=F64)).to(dtype)
    x.requires_grad_()
    ref, ref_g = _run_with_gradients("reference", dtype, per_neuron, x)
    got, got_g = _run_with_gradients("cpu", dtype, per_neuron, x)
    assert int(ref[0].sum()) > 10  # it spikes, and w adapts (jumps by b)
    for r, o in zip(ref, got, strict=True):
        assert torch.equal(r, o)
    for name, r, o in zip(("x", "v0", "w0", *NAMES), ref_g, got_g, strict=True):
        assert bool(r.abs().sum() > 0), name
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()), msg=name)


def test_gradcheck_float64_through_the_fused_backend(spy_backend_choice) -> None:
    # SingleSpike: the recorded and final states are differentiable wherever no
    # crossing moves under the finite-difference step (the reset's selection passes no
    # gradient; V_r and b receive theirs); the spikes' gradient is the surrogate's, not
    # a derivative, so gradcheck takes the states.
    layer = AdEx(record_states=True, backend="cpu")
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 60, 2, generator=g, dtype=F64) * 2000 + 3000).requires_grad_()
    v0 = torch.tensor([[-55.0, -60.0]], dtype=F64, requires_grad=True)
    w0 = torch.tensor([[10.0, 40.0]], dtype=F64, requires_grad=True)
    params = [torch.tensor(PAPER[n], dtype=F64, requires_grad=True) for n in NAMES]
    fired: list[int] = []

    def f(x, v0, w0, *params):
        layer.v_mem, layer.w = v0, w0
        out = torch.func.functional_call(layer, dict(zip(NAMES, params, strict=True)), (x,))
        fired.append(int(out.sum()))
        return layer.recordings["v_mem"], layer.recordings["w"], layer.v_mem, layer.w

    chosen = spy_backend_choice()
    inputs = (x, v0, w0, *params)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)
    assert set(chosen) == {"cpu"}
    assert fired[0] > 0  # the resets are part of it


_TRITON_SCRIPT = """
import json, sys, torch
from sinabs.dynamics.fused.backend import TritonBackend
from sinabs.layers import AdEx
TritonBackend.device_type = "cpu"  # the interpreter runs the kernels on CPU tensors
report = {}
for dtype in (torch.float32, torch.float64):
    runs = []
    for backend in ("reference", "triton"):
        gen = torch.Generator().manual_seed(7)
        x = (600 + 1500 * torch.rand(2, 40, 3, generator=gen, dtype=torch.float64)).to(dtype)
        x.requires_grad_()
        layer = AdEx(C=torch.tensor([250.0, 281.0, 300.0]), record_states=True,
                     backend=backend).to(dtype)
        layer.init_state_with_shape((2, 3))
        layer.v_mem = (layer.v_mem + 25 * torch.rand(2, 3, generator=gen).to(dtype)).detach()
        out = layer(x)
        values = [out, layer.v_mem, layer.w, layer.recordings["v_mem"], layer.recordings["w"]]
        loss = sum((k + 1) * t.sum() for k, t in enumerate(values))
        grads = torch.autograd.grad(loss, (x, layer.C, layer.g_L, layer.a, layer.b))
        runs.append(([t.detach() for t in values], grads))
    (ref, ref_g), (got, got_g) = runs
    errors = [f"value {k}" for k, (r, o) in enumerate(zip(ref, got)) if not torch.equal(r, o)]
    for k, (r, o) in enumerate(zip(ref_g, got_g)):
        if not torch.allclose(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max())):
            errors.append(f"gradient {k}")
    report[str(dtype)] = {"spikes": int(ref[0].sum()), "errors": errors}
print("ADEX-REPORT " + json.dumps(report))
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
def test_triton_kernels_under_the_interpreter() -> None:
    # the layer on backend="triton" (the interpreter, TRITON_INTERPRET=1, in a process
    # of its own as tests/dynamics/fused/test_triton_kernel.py runs it) against the
    # reference: values bit for bit, gradients within 1e-5
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _TRITON_SCRIPT],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ADEX-REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    report = json.loads(lines[-1].split(" ", 1)[1])
    for dtype, entry in report.items():
        assert entry["errors"] == [], dtype
        assert entry["spikes"] > 0, dtype


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
