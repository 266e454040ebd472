"""Resonate-and-fire neurons (Izhikevich 2001) and the balanced form (Higuchi et al.
2024) against transcriptions in Python complex arithmetic; gradients, laws, variants,
bad input and persistence."""

from __future__ import annotations

import copy
import doctest
import math
import os
import pickle
import subprocess
import sys

import pytest
import torch

import sinabs.layers as sl
import sinabs.layers.resonate as module
from sinabs.activation import Triangle
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


# ---------------------------------------------------------------- the fused kernels

BACKENDS = ["reference", "cpu"]  # the fused CPU kernel runs both forms (families.py)
FORMS = {"plain": False, "balanced": True}


@pytest.mark.parametrize("balanced_form", FORMS.values(), ids=FORMS.keys())
def test_auto_runs_the_fused_cpu_kernel(spy_backend_choice, balanced_form: bool) -> None:
    chosen = spy_backend_choice()
    x = torch.rand(1, 5, 2) * 60
    assert ResonateAndFire(omega=15.0, balanced=balanced_form)(x).shape == x.shape
    assert chosen == ["cpu"]


@pytest.mark.parametrize("balanced_form", FORMS.values(), ids=FORMS.keys())
def test_what_the_kernels_do_not_run_goes_to_the_reference(
    spy_backend_choice, balanced_form: bool
) -> None:
    # another spike function (here a smooth one); recurrent layers, as for every family
    x = torch.rand(1, 5, 2) * 60
    layer = ResonateAndFire(omega=15.0, balanced=balanced_form)
    layer._spike_fn = SmoothSpike
    chosen = spy_backend_choice()
    layer(x)
    recurrent = sl.ResonateAndFireRecurrent(
        rec_connect=lambda s: 0 * s, omega=15.0, balanced=balanced_form
    )
    recurrent(x)
    assert chosen == ["reference", "reference"]
    named = ResonateAndFire(omega=15.0, balanced=balanced_form, backend="cpu")
    named._spike_fn = SmoothSpike
    with pytest.raises(BackendError, match="SingleSpike"):
        named(x)


def _fused_layer(
    balanced_form: bool, per_neuron: bool, backend: str, dtype: torch.dtype
) -> ResonateAndFire:
    def value(v: float, seed: int) -> float | torch.Tensor:
        if not per_neuron:
            return v
        gen = torch.Generator().manual_seed(seed)
        return v * (1 + 0.3 * torch.rand(5, generator=gen, dtype=F64))

    kwargs: dict = {"omega": value(12.0, 1), "dt": 0.02, "record_states": True}
    if balanced_form:
        kwargs |= {"b_offset": value(0.5, 2), "gamma": value(0.8, 3)}
    else:
        kwargs |= {"b": value(-1.5, 4), "x_reset": value(0.1, 5), "y_reset": value(-0.2, 6)}
    kwargs["spike_threshold"] = value(1.0, 7)
    layer = ResonateAndFire(balanced=balanced_form, backend=backend, **kwargs)
    return layer.to(dtype)


@pytest.mark.parametrize("balanced_form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["shared", "per_neuron"])
def test_fused_equals_reference(balanced_form: bool, dtype: torch.dtype, per_neuron: bool) -> None:
    # outputs, states and recordings bit for bit; gradients of the input, the initial
    # states and every parameter (the trainable ones, and the reset values or gamma
    # made trainable) within 1e-5
    g = torch.Generator().manual_seed(3)
    x = (torch.rand((3, 60, 2, 5), generator=g, dtype=dtype) * 60).requires_grad_()
    trained = ("gamma",) if balanced_form else ("b", "x_reset", "y_reset")
    results = {}
    for backend in BACKENDS:
        lyr = _fused_layer(balanced_form, per_neuron, backend, dtype)
        for name in trained:
            getattr(lyr, name).requires_grad_()
        lyr.init_state_with_shape((3, 2, 5))
        initial = []
        for k, name in enumerate(lyr.state_names):
            gen = torch.Generator().manual_seed(10 + k)
            start = torch.rand((3, 2, 5), generator=gen, dtype=dtype).requires_grad_()
            setattr(lyr, name, start)
            initial.append(start)
        out = lyr(x)
        values = [out, *(getattr(lyr, n) for n in lyr.state_names)]
        values += [lyr.recordings[n] for n in lyr.state_names]
        weights = [
            torch.rand(t.shape, generator=torch.Generator().manual_seed(k), dtype=dtype)
            for k, t in enumerate(values)
        ]
        loss = sum((w * t).sum() for w, t in zip(weights, values, strict=True))
        params = [lyr.omega, lyr.b_offset if balanced_form else lyr.b]
        params += [getattr(lyr, n) for n in trained if n != "b"]
        inputs = (x, *initial, *params)
        results[backend] = ([t.detach() for t in values], torch.autograd.grad(loss, inputs))
    (ref, ref_g), (got, got_g) = results["reference"], results["cpu"]
    assert 0 < int(ref[0].sum()) < ref[0].numel() // 2
    for r, o in zip(ref, got, strict=True):
        assert torch.equal(r, o)
    for r, o in zip(ref_g, got_g, strict=True):
        assert bool(r.abs().sum() > 0)  # every input is connected
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))


@pytest.mark.parametrize("balanced_form", FORMS.values(), ids=FORMS.keys())
def test_gradcheck_float64_through_the_fused_backend(
    spy_backend_choice, balanced_form: bool
) -> None:
    # SingleSpike's output is a step, its gradient the surrogate's: with a Triangle too
    # narrow to reach any membrane value (zero surrogate), the gradient through the
    # spikes is zero as finite differences are where no crossing moves, so gradcheck
    # checks everything else the kernels' chain rule does: the Euler step, the plain
    # form's reset values, the balanced form's q through the damping, its decay gamma
    # and omega and b_offset through the divergence boundary. (The surrogate's term is
    # checked against the reference above.)
    kwargs: dict = {"omega": 12.0, "dt": 0.02, "record_states": True, "backend": "cpu"}
    kwargs["surrogate_grad_fn"] = Triangle(width=1e-9)
    if balanced_form:
        names, values = ("omega", "b_offset", "gamma"), (12.0, 0.5, 0.8)
    else:
        names, values = ("omega", "b", "x_reset", "y_reset"), (12.0, -1.5, 0.1, -0.2)
    layer = ResonateAndFire(balanced=balanced_form, **kwargs)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 40, 2, generator=g, dtype=F64) * 60).requires_grad_()
    initial = [
        (torch.rand(1, 2, generator=g, dtype=F64) * 0.4).requires_grad_() for _ in layer.state_names
    ]
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in values]
    fired: list[int] = []

    def f(x, *tensors):
        for name, value in zip(layer.state_names, tensors, strict=False):
            setattr(layer, name, value)
        given = dict(zip(names, tensors[len(initial) :], strict=True))
        out = torch.func.functional_call(layer, given, (x,))
        fired.append(int(out.sum()))
        states = [getattr(layer, n) for n in layer.state_names]
        return (out, *states, *layer.recordings.values())

    chosen = spy_backend_choice()
    inputs = (x, *initial, *params)
    grads = torch.autograd.grad(sum(o.sum() for o in f(*inputs)), inputs)
    assert all(bool(g.abs().sum() > 0) for g in grads)  # none is disconnected
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)
    assert set(chosen) == {"cpu"}
    assert fired[0] > 0  # the resets, or q's steps, are part of it


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("balanced_form", FORMS.values(), ids=FORMS.keys())
def test_time_splitting_and_batch_independence_on_both_backends(
    spy_backend_choice, balanced_form: bool, backend: str
) -> None:
    kwargs = {"omega": 15.0, "dt": 0.01, "balanced": balanced_form, "backend": backend}
    x = torch.rand(3, 300, 70, dtype=F64) * 60  # a full and a partial float32 slot
    chosen = spy_backend_choice()
    one, two = ResonateAndFire(**kwargs).double(), ResonateAndFire(**kwargs).double()
    out = one(x)
    assert out.sum() > 0
    assert torch.equal(out, torch.cat([two(x[:, :130]), two(x[:, 130:])], 1))
    for name in one.state_names:
        assert torch.equal(getattr(one, name), getattr(two, name))
    for row in range(3):
        alone = ResonateAndFire(**kwargs).double()(x[row : row + 1])
        assert torch.equal(alone, out[row : row + 1])
    assert set(chosen) == {backend}


def test_triton_kernels_under_the_interpreter() -> None:
    # The Triton kernels of both forms on a layer's own parameter bundle, in neutral
    # form (the Triton backend runs CUDA tensors only; its cases in tests/dynamics/fused
    # run every option): outputs, states, recordings bit for bit, the input's and
    # omega's gradients within 1e-5 of the reference's. In a subprocess with
    # TRITON_INTERPRET=1 (Triton reads it at import), at a small size.
    pytest.importorskip("triton")
    import importlib.metadata

    version = tuple(int(p) for p in importlib.metadata.version("triton").split(".")[:2])
    if version < (3, 7):
        pytest.skip("the interpreter of triton < 3.7 fails on scalar arguments (numpy 2.4)")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _TRITON_SCRIPT], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1] == "ok plain ok balanced"


_TRITON_SCRIPT = """
import torch
from sinabs.activation import Gaussian
from sinabs.dynamics.fused import triton_kernel as tk
from sinabs.dynamics.fused.config import prepare
from sinabs.layers import ResonateAndFire

words = []
for balanced in (False, True):
    torch.manual_seed(0)
    layer = ResonateAndFire(omega=torch.rand(5) * 10 + 5, dt=0.02, balanced=balanced,
                            surrogate_grad_fn=Gaussian(sigma=0.5), record_states=True,
                            backend="reference").double()
    x = (torch.rand(2, 12, 5, dtype=torch.float64) * 60).requires_grad_()
    out = layer(x)
    names = layer.state_names
    ref = [out, *(getattr(layer, n) for n in names), *(layer.recordings[n] for n in names)]
    weights = [torch.rand(t.shape, dtype=torch.float64) for t in ref]
    loss = sum((w * t).sum() for w, t in zip(weights, ref))
    ref_g = torch.autograd.grad(loss, [x, layer.omega])
    layer.reset_states()
    state = {n: getattr(layer, n) for n in names}
    prepared = prepare(layer._family, x, state, layer._dynamics_params(torch.float64))
    rows = torch.stack(prepared.rows)
    cfg = prepared.config.with_record(True)
    with torch.no_grad():
        got = tk.scan_forward(prepared.x, *prepared.states, rows.detach(), cfg)
    # (out, v, i, b, u, rec_v, rec_i, rec_b, rec_u): z_re, z_im, q are v, u, b
    kernel = {"z_re": (1, 5), "z_im": (4, 8), "q": (3, 7)}
    mine = [got[0]] + [got[kernel[n][0]] for n in names] + [got[kernel[n][1]] for n in names]
    assert ref[0].sum() > 0
    assert all(torch.equal(r.detach(), o) for r, o in zip(ref, mine))
    up = dict(zip(["out", *names, *(f"rec_{n}" for n in names)], weights))
    e = x.new_empty(0)
    grads = tk.scan_backward(
        up["out"], up["z_re"], e, up.get("q", e), up["z_im"], up["rec_z_re"], e,
        up.get("rec_q", e), up["rec_z_im"], prepared.x.detach(),
        *(t.detach() for t in prepared.states), rows.detach(), cfg,
    )
    g_omega = torch.autograd.grad(rows, layer.omega, grads[5])[0]
    for r, o in zip(ref_g, (grads[0], g_omega)):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))
    words += ["ok", "balanced" if balanced else "plain"]
print(" ".join(words))
"""


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
