"""Izhikevich neurons against a straight transcription of the paper's MATLAB code.

Izhikevich (2003), "Simple model of spiking neurons", IEEE TNN 14:1569, gives the
simulation loop (one iteration per 1 ms)::

    fired=find(v>=30);
    v(fired)=c(fired);
    u(fired)=u(fired)+d(fired);
    v=v+0.5*(0.04*v.^2+5*v+140-u+I);
    v=v+0.5*(0.04*v.^2+5*v+140-u+I);
    u=u+a.*(b.*v-u);

with v = -65 and u = b.*v initially. :func:`paper` below is that loop in NumPy float64
for a step current; the layer's spike at 0-based step k is the paper's firing at
iteration k + 2 (the paper tests at the top of the next iteration; see the layer's
docstring).
"""

from __future__ import annotations

import copy
import doctest
import io
import pickle

import numpy as np
import pytest
import torch

import sinabs.layers as sl
import sinabs.layers.izhikevich as module
from sinabs.activation import Gaussian
from sinabs.dynamics import BackendError
from sinabs.layers import IZHIKEVICH_PRESETS, Izhikevich

F64 = torch.float64
STEPS = 300
ONSET = 20  # the current steps on at this 0-based step
CURRENT = 10.0


def step_current(steps: int = STEPS, onset: int = ONSET, level: float = CURRENT) -> np.ndarray:
    current = np.zeros(steps)
    current[onset:] = level
    return current


def paper(a, b, c, d, current: np.ndarray):
    """The paper's loop, literally, for one neuron per preset (vectors as in MATLAB).

    ``current[t-1]`` is I in iteration t. Returns the firings as (iteration, neuron) and
    v after each iteration."""
    a, b, c, d = (np.asarray(p, dtype=np.float64) for p in (a, b, c, d))
    v = -65 * np.ones(a.shape)
    u = b * v
    firings = []
    trace = []
    for t in range(1, len(current) + 1):
        current_t = current[t - 1] * np.ones(a.shape)
        fired = np.nonzero(v >= 30)[0]
        firings += [(t, int(n)) for n in fired]
        v[fired] = c[fired]
        u[fired] = u[fired] + d[fired]
        v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + current_t)
        v = v + 0.5 * (0.04 * v**2 + 5 * v + 140 - u + current_t)
        u = u + a * (b * v - u)
        trace.append(v.copy())
    return firings, np.array(trace)


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(previous)


NAMES = list(IZHIKEVICH_PRESETS)


BACKENDS = ["reference", "cpu"]  # the fused CPU kernel runs the family (families.py)


@pytest.mark.parametrize("backend", BACKENDS)
def test_presets_reproduce_the_papers_code(float64_default, backend: str) -> None:
    current = step_current()
    params = np.array([IZHIKEVICH_PRESETS[n] for n in NAMES]).T  # (4, presets)
    # one more iteration: the paper reports a spike of the last step in the next one
    firings, _ = paper(*params, np.append(current, 0.0))
    for k, name in enumerate(NAMES):
        layer = Izhikevich.from_preset(name, backend=backend)
        x = torch.tensor(current, dtype=F64).reshape(1, STEPS, 1)
        spikes = layer(x)[0, :, 0]
        ours = torch.nonzero(spikes).flatten().tolist()
        theirs = [t - 2 for t, n in firings if n == k]
        assert ours == theirs, name
        assert len(ours) > 0, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_presets_batched_per_neuron_parameters_give_the_same(float64_default, backend: str) -> None:
    # All seven presets as one layer with per-neuron parameters, the paper's own layout.
    current = step_current()
    params = np.array([IZHIKEVICH_PRESETS[n] for n in NAMES]).T
    firings, trace = paper(*params, np.append(current, 0.0))
    layer = Izhikevich(*(torch.tensor(p) for p in params), record_states=True, backend=backend)
    x = torch.tensor(current).reshape(1, STEPS, 1).expand(1, STEPS, len(NAMES)).contiguous()
    spikes = layer(x)[0]
    ours = sorted((int(t) + 2, int(n)) for t, n in torch.nonzero(spikes))
    assert ours == sorted(firings)
    # where nothing fired, v is the paper's v (exactly-rounded +, -, * in its order)
    v = layer.recordings["v_mem"][0].detach().numpy()
    quiet = spikes.detach().numpy() == 0
    np.testing.assert_array_equal(v[quiet], trace[:STEPS][quiet])


@pytest.mark.parametrize("backend", BACKENDS)
def test_firing_patterns_have_the_papers_character(float64_default, backend: str) -> None:
    # Counts and first-spike times of the step current, and the character of each
    # pattern (Fig. 2 of the paper), from the paper's code.
    current = np.append(step_current(steps=500), 0.0)
    params = np.array([IZHIKEVICH_PRESETS[n] for n in NAMES]).T
    firings, _ = paper(*params, current)
    times = {n: [t for t, k in firings if k == NAMES.index(n)] for n in NAMES}
    isi = {n: np.diff(t) for n, t in times.items()}
    # regular spiking adapts: the intervals lengthen
    assert isi["RS"][-1] > isi["RS"][0]
    # fast spiking fires more than regular spiking, without much adaptation
    assert len(times["FS"]) > 2 * len(times["RS"])
    # intrinsically bursting: an initial burst, then longer intervals
    assert isi["IB"][0] <= 5 < isi["IB"][-1]
    # chattering: bursts, so short and long intervals alternate
    assert isi["CH"].min() <= 5 and isi["CH"].max() >= 15
    for name in NAMES:
        layer = Izhikevich.from_preset(name, backend=backend)
        spikes = layer(torch.tensor(current[:-1]).reshape(1, -1, 1))[0, :, 0]
        ours = torch.nonzero(spikes).flatten()
        assert len(ours) == len(times[name]) - (times[name][-1] == len(current))
        assert int(ours[0]) == times[name][0] - 2


def test_long_preset_names_and_unknown_name() -> None:
    assert Izhikevich.from_preset("regular_spiking").d.item() == 8.0
    with pytest.raises(ValueError, match="unknown Izhikevich preset 'XX'"):
        Izhikevich.from_preset("XX")


def test_resting_state_and_reset_states() -> None:
    layer = Izhikevich.from_preset("RS", shape=(2, 3))
    assert torch.equal(layer.v_mem, torch.full((2, 3), -65.0))
    assert torch.allclose(layer.u, torch.full((2, 3), 0.2 * -65.0))
    layer(torch.rand(2, 10, 3) * 20)
    layer.reset_states()
    assert torch.equal(layer.v_mem, torch.full((2, 3), -65.0))
    layer.reset_states(randomize=True)
    assert bool((layer.v_mem >= 0).all())


# ---------------------------------------------------------------------------------------
# gradients


class SmoothSpike:
    """A differentiable stand-in for the output spike (the reset stays hard)."""

    required_states = ("v_mem",)

    @staticmethod
    def apply(v, threshold, surrogate):
        return torch.sigmoid((v - threshold) / 4.0)


def test_gradcheck_float64() -> None:
    # With a smooth output the layer is differentiable wherever no neuron's crossing
    # moves under the finite-difference step: gradcheck covers both half steps, u, the
    # reset values c and d, and the initial state.
    layer = Izhikevich(0.02, 0.2, -65.0, 8.0, dt=0.5)
    layer._spike_fn = SmoothSpike
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 30, 2, generator=g, dtype=F64) * 12 + 4).requires_grad_()
    v0 = torch.full((1, 2), -65.0, dtype=F64, requires_grad=True)
    u0 = torch.full((1, 2), -13.0, dtype=F64, requires_grad=True)
    names = ("a", "b", "c", "d")
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (0.02, 0.2, -65.0, 8.0)]

    def f(x, v0, u0, *params):
        layer.v_mem, layer.u = v0, u0
        layer.record_states = True
        out = torch.func.functional_call(layer, dict(zip(names, params, strict=True)), (x,))
        return out, layer.recordings["v_mem"], layer.recordings["u"]

    out = f(x, v0, u0, *params)[0]
    assert 0 < int((out > 0.5).sum()) < out.numel()  # it fires, not everywhere
    # no input is disconnected (that would pass gradcheck with a zero Jacobian)
    inputs = (x, v0, u0, *params)
    grads = torch.autograd.grad(sum(o.sum() for o in f(*inputs)), inputs)
    assert all(bool(g.abs().sum() > 0) for g in grads)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)


def test_surrogate_gradient_of_one_step() -> None:
    # The output's gradient is the surrogate at v - 30 times dv/dI of the two half steps
    # (I = 75 takes v from -65 to about 29.3: just below the peak, where the surrogate is
    # large).
    sg = Gaussian(sigma=5.0)
    layer = Izhikevich(0.02, 0.2, -65.0, 8.0, surrogate_grad_fn=sg).double()
    x = torch.tensor([[[75.0]]], dtype=F64, requires_grad=True)
    layer(x).sum().backward()

    i = torch.tensor(75.0, dtype=F64, requires_grad=True)
    v, u = torch.tensor(-65.0, dtype=F64), torch.tensor(-13.0, dtype=F64)
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + i)
    v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + i)
    (dv_di,) = torch.autograd.grad(v, i)
    assert 25.0 < v.item() < 30.0
    expected = sg(v.detach(), torch.tensor(30.0, dtype=F64)) * dv_di
    assert x.grad is not None and expected > 0.01
    assert torch.allclose(x.grad[0, 0, 0], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# laws, variants, bad input, persistence


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_splitting_equals_one_call(backend: str) -> None:
    x = torch.rand(3, 60, 4, dtype=F64) * 15
    one = Izhikevich.from_preset("CH", record_states=True, backend=backend).double()
    two = Izhikevich.from_preset("CH", record_states=True, backend=backend).double()
    out = one(x)
    first, second = two(x[:, :25]), two(x[:, 25:])
    assert torch.equal(out, torch.cat([first, second], 1))
    assert torch.equal(one.v_mem, two.v_mem) and torch.equal(one.u, two.u)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_independence(backend: str) -> None:
    x = torch.rand(4, 50, 3) * 15
    batched = Izhikevich.from_preset("FS", backend=backend)(x)
    for row in range(4):
        alone = Izhikevich.from_preset("FS", backend=backend)(x[row : row + 1])
        assert torch.equal(batched[row : row + 1], alone)


def test_squeeze_variant_equals_the_layer() -> None:
    x = torch.rand(2, 30, 5) * 15
    expected = Izhikevich.from_preset("RS")(x)
    squeeze = sl.IzhikevichSqueeze(batch_size=2, a=0.02, b=0.2, c=-65.0, d=8.0)
    assert torch.equal(squeeze(x.flatten(0, 1)), expected.flatten(0, 1))


def test_recurrent_variant() -> None:
    x = torch.rand(2, 30, 4) * 15
    rec = sl.IzhikevichRecurrent(0.02, 0.2, -65.0, 8.0, rec_connect=torch.nn.Identity())
    zero = sl.IzhikevichRecurrent(0.02, 0.2, -65.0, 8.0, rec_connect=lambda s: 0 * s)
    plain = Izhikevich.from_preset("RS")
    assert torch.equal(zero(x), plain(x))
    out = rec(x)
    assert out.shape == x.shape
    # feedback of each spike (50 units of current) makes the neurons fire more
    big = sl.IzhikevichRecurrent(0.02, 0.2, -65.0, 8.0, rec_connect=lambda s: 50 * s)
    assert big(x).sum() > plain(x).sum()


def test_auto_runs_the_fused_cpu_kernel(spy_backend_choice) -> None:
    chosen = spy_backend_choice()
    x = torch.rand(1, 5, 2) * 10
    assert Izhikevich.from_preset("RS", backend="auto")(x).shape == x.shape
    assert chosen == ["cpu"]


def test_what_the_kernels_do_not_run_goes_to_the_reference(spy_backend_choice) -> None:
    # another spike function (here a smooth one); recurrent layers, as for every family
    x = torch.rand(1, 5, 2) * 10
    layer = Izhikevich.from_preset("RS")
    layer._spike_fn = SmoothSpike
    chosen = spy_backend_choice()
    layer(x)
    assert chosen == ["reference"]
    named = Izhikevich.from_preset("RS", backend="cpu")
    named._spike_fn = SmoothSpike
    with pytest.raises(BackendError, match="SingleSpike"):
        named(x)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_fused_equals_reference(dtype: torch.dtype, per_neuron: bool) -> None:
    # outputs, states and recordings bit for bit; gradients of the input, the initial
    # states and a, b, c, d within 1e-5
    g = torch.Generator().manual_seed(3)
    shape = (3, 40, 2, 5)
    x = (torch.rand(shape, generator=g, dtype=dtype) * 20).requires_grad_()

    def layer(backend: str) -> Izhikevich:
        p = (0.02, 0.2, -65.0, 8.0)
        if per_neuron:
            p = tuple(
                v * (1 + 0.2 * torch.rand(5, generator=torch.Generator().manual_seed(4))) for v in p
            )
        return Izhikevich(*p, dt=0.5, record_states=True, backend=backend).to(dtype)

    results = {}
    for backend in ("reference", "cpu"):
        lyr = layer(backend)
        lyr.init_state_with_shape((3, 2, 5))
        lyr.reset_states()
        lyr.v_mem = (
            lyr.v_mem
            + torch.rand(lyr.v_mem.shape, generator=torch.Generator().manual_seed(5), dtype=dtype)
            * 80
        ).requires_grad_()
        lyr.u = lyr.u.detach().clone().requires_grad_()
        v0, u0 = lyr.v_mem, lyr.u
        out = lyr(x)
        values = [out, lyr.v_mem, lyr.u, lyr.recordings["v_mem"], lyr.recordings["u"]]
        weights = [
            torch.rand(t.shape, generator=torch.Generator().manual_seed(k), dtype=dtype)
            for k, t in enumerate(values)
        ]
        loss = sum((w * t).sum() for w, t in zip(weights, values, strict=True))
        inputs = (x, v0, u0, lyr.a, lyr.b, lyr.c, lyr.d)
        results[backend] = ([t.detach() for t in values], torch.autograd.grad(loss, inputs))
    (ref, ref_g), (got, got_g) = results["reference"], results["cpu"]
    assert int(ref[0].sum()) > 0
    for r, o in zip(ref, got, strict=True):
        assert torch.equal(r, o)
    for r, o in zip(ref_g, got_g, strict=True):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))


def test_gradcheck_float64_through_the_fused_backend(spy_backend_choice) -> None:
    # SingleSpike: the recorded and final states are differentiable wherever no
    # crossing moves under the finite-difference step (the reset's selection passes no
    # gradient; c and d receive theirs); the spikes' gradient is the surrogate's, not a
    # derivative, so gradcheck takes the states.
    layer = Izhikevich(0.02, 0.2, -65.0, 8.0, dt=0.5, record_states=True, backend="cpu")
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 30, 2, generator=g, dtype=F64) * 12 + 4).requires_grad_()
    v0 = torch.full((1, 2), -65.0, dtype=F64, requires_grad=True)
    u0 = torch.full((1, 2), -13.0, dtype=F64, requires_grad=True)
    names = ("a", "b", "c", "d")
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (0.02, 0.2, -65.0, 8.0)]
    fired: list[int] = []

    def f(x, v0, u0, *params):
        layer.v_mem, layer.u = v0, u0
        out = torch.func.functional_call(layer, dict(zip(names, params, strict=True)), (x,))
        fired.append(int(out.sum()))
        return layer.recordings["v_mem"], layer.recordings["u"], layer.v_mem, layer.u

    chosen = spy_backend_choice()
    inputs = (x, v0, u0, *params)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-7, atol=1e-5, rtol=1e-4)
    assert set(chosen) == {"cpu"}
    assert fired[0] > 0  # the resets are part of it


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"a": float("nan")}, "a must be finite"),
        ({"c": float("inf")}, "c must be finite"),
        ({"d": torch.tensor([1.0, float("nan")])}, "d must be finite"),
        ({"dt": -1.0}, "dt must be positive"),
        ({"dt": 0.0}, "dt must be positive"),
        ({"dt": float("nan")}, "dt must be positive"),
        ({"spike_threshold": float("nan")}, "spike_threshold must be finite"),
        ({"v_init": float("nan")}, "v_init must be finite"),
    ],
    ids=["a-nan", "c-inf", "d-nan-per-neuron", "dt-negative", "dt-zero", "dt-nan",
         "threshold-nan", "v_init-nan"],
)  # fmt: skip
def test_bad_parameters(kwargs, match) -> None:
    args = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        Izhikevich(**args)


def test_bad_types() -> None:
    with pytest.raises(TypeError, match="dt must be a number"):
        Izhikevich(0.02, 0.2, -65.0, 8.0, dt="1")
    with pytest.raises(TypeError, match="surrogate_grad_fn must be callable"):
        Izhikevich(0.02, 0.2, -65.0, 8.0, surrogate_grad_fn=3)
    with pytest.raises(TypeError, match="a must be a number or a tensor"):
        Izhikevich("x", 0.2, -65.0, 8.0)
    layer = Izhikevich.from_preset("RS")
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(1, 3, 2, dtype=torch.int64))


def test_per_neuron_parameter_that_does_not_fit() -> None:
    layer = Izhikevich(torch.full((3,), 0.02), 0.2, -65.0, 8.0)
    with pytest.raises(ValueError, match="a has shape"):
        layer(torch.rand(1, 4, 5))


def test_state_dict_round_trip() -> None:
    layer = Izhikevich.from_preset("IB")
    layer(torch.rand(2, 20, 3) * 15)
    fresh = Izhikevich.from_preset("RS")
    fresh.load_state_dict(layer.state_dict())
    assert fresh.c.item() == -55.0
    assert torch.equal(fresh.v_mem, layer.v_mem) and torch.equal(fresh.u, layer.u)
    x = torch.rand(2, 10, 3) * 15
    assert torch.equal(fresh(x), layer(x))


def test_deepcopy_and_pickle() -> None:
    layer = Izhikevich.from_preset("LTS", record_states=True)
    layer(torch.rand(2, 20, 3) * 15)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    for other in (
        copy.deepcopy(layer),
        pickle.loads(pickle.dumps(layer)),
        torch.load(buffer, weights_only=False),
    ):
        assert torch.equal(other.v_mem, layer.v_mem)
        x = torch.rand(2, 10, 3) * 15
        assert torch.equal(other(x), copy.deepcopy(layer)(x))
    assert "a=0.02" in repr(layer) and "d=2" in repr(layer)
    assert layer._param_dict["c"].item() == -65.0


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0 and results.failed == 0
