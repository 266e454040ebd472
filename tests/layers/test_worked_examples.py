"""Worked examples of neurons.md and the neuron-layer facts pinned in quirks.md Part B.

Values are exact where the spec pins the evaluation order (float32 decay factors
``exp(-1/τ)``, ``α_s·(i + x)``, ``α_m·v + u``, ``relu(v − m) + m``); decimal examples
of the spec are compared with a tolerance of one float32 rounding.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import (
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    SingleSpike,
)
from sinabs.layers.alif import ALIFSqueeze


def alpha(tau: float) -> torch.Tensor:
    """The float32 decay factor, computed as the spec prescribes."""
    return torch.exp(-1.0 / torch.tensor(tau, dtype=torch.float32))


def plain(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().as_subclass(torch.Tensor)


def impulse(batch: int, steps: int, *neurons: int, value=1.0) -> torch.Tensor:
    x = torch.zeros(batch, steps, *neurons)
    x[:, 0] = value
    return x


# ---------------------------------------------------------------- IAF example (neurons.md §4)

IAF_INPUT = torch.tensor([0.5, 0.7, 0.0, 2.5]).view(1, 4, 1)


@pytest.mark.parametrize(
    ("kwargs", "spikes", "v_mem"),
    [
        (dict(), [0, 1, 0, 2], [0.5, 0.2, 0.2, 0.7]),
        (dict(spike_fn=SingleSpike), [0, 1, 0, 1], [0.5, 0.2, 0.2, 1.7]),
        (dict(spike_fn=MaxSpike(1)), [0, 1, 0, 1], [0.5, 0.2, 0.2, 1.7]),
        (dict(reset_fn=MembraneReset()), [0, 1, 0, 2], [0.5, 0.0, 0.0, 0.0]),
        # DECISIONS Q7: only neurons that spiked are set to reset_value.
        (dict(reset_fn=MembraneReset(reset_value=-0.5)), [0, 1, 0, 2], [0.5, -0.5, -0.5, -0.5]),
    ],
    ids=["multispike_subtract", "singlespike_subtract", "maxspike1", "reset", "reset_value"],
)
def test_iaf_example(kwargs, spikes, v_mem):
    layer = sl.IAF(spike_threshold=1.0, record_states=True, **kwargs)
    out = layer(IAF_INPUT)
    assert torch.equal(out.flatten(), torch.tensor(spikes, dtype=torch.float32))
    rec = plain(layer.recordings["v_mem"]).flatten()
    assert torch.allclose(rec, torch.tensor(v_mem), rtol=0, atol=1e-6)
    assert torch.equal(plain(layer.v_mem).flatten(), rec[-1:])


# ---------------------------------------------------------------- synapse example (§3.4)


def synapse_reference(a_m, a_s, x, norm_input):
    """The spec's step, literally, for a scalar neuron without spikes."""
    i, v, vs, is_ = torch.zeros(()), torch.zeros(()), [], []
    for x_t in x:
        i = a_s * (i + x_t)
        u = (1 - a_m) * i if norm_input else i
        v = a_m * v + u
        vs.append(v)
        is_.append(i)
    return torch.stack(vs), torch.stack(is_)


@pytest.mark.parametrize("norm_input", [False, True], ids=["raw", "norm_input"])
def test_lif_synapse_example(norm_input):
    tau_mem, tau_syn, steps = 10.0, 4.0, 8
    a_m, a_s = alpha(tau_mem), alpha(tau_syn)
    layer = sl.LIF(
        tau_mem=tau_mem,
        tau_syn=tau_syn,
        spike_threshold=1e6,
        norm_input=norm_input,
        record_states=True,
    )
    x = impulse(1, steps, 1)
    out = layer(x)
    assert not out.any()
    v = plain(layer.recordings["v_mem"]).flatten()
    i = plain(layer.recordings["i_syn"]).flatten()
    # i = α_s, α_s², α_s³, ... (the input is decayed in the step it arrives)
    assert i[0] == a_s and i[1] == a_s * a_s and i[2] == a_s * (a_s * a_s)
    scale = (1 - a_m) if norm_input else torch.tensor(1.0)
    assert v[0] == scale * a_s
    if not norm_input:
        assert v[1] == a_m * a_s + a_s * a_s
        assert v[2] == a_m * v[1] + a_s * (a_s * a_s)
    v_ref, i_ref = synapse_reference(a_m, a_s, x.flatten(), norm_input)
    assert torch.equal(v, v_ref)
    assert torch.equal(i, i_ref)
    assert torch.equal(plain(layer.v_mem).flatten(), v_ref[-1:])
    assert torch.equal(plain(layer.i_syn).flatten(), i_ref[-1:])


def test_lif_norm_input_with_synapse_scales_membrane_only():
    x = torch.rand(3, 30, 5, generator=torch.Generator().manual_seed(0))
    kw = dict(tau_mem=20.0, tau_syn=5.0, spike_threshold=1e6, record_states=True)
    raw, norm = sl.LIF(norm_input=False, **kw), sl.LIF(norm_input=True, **kw)
    raw(x)
    norm(x)
    assert torch.equal(plain(raw.recordings["i_syn"]), plain(norm.recordings["i_syn"]))
    v_raw, v_norm = plain(raw.recordings["v_mem"]), plain(norm.recordings["v_mem"])
    assert torch.allclose(v_norm, (1 - alpha(20.0)) * v_raw)


def test_iaf_synapse_example():
    a_s = alpha(3.0)
    layer = sl.IAF(tau_syn=3.0, spike_threshold=1e6, record_states=True)
    layer(impulse(1, 6, 1))
    v_ref, i_ref = synapse_reference(torch.tensor(1.0), a_s, impulse(1, 6, 1).flatten(), False)
    assert torch.equal(plain(layer.recordings["i_syn"]).flatten(), i_ref)
    assert torch.equal(plain(layer.recordings["v_mem"]).flatten(), v_ref)


# ------------------------------------------------- steady state, decay (Part B 10-12)


@pytest.mark.parametrize("tau", [10.0, 30.0], ids=["tau10", "tau30"])
def test_lif_input_integration_one_spike_per_neuron(tau):
    a = alpha(tau)
    batch, steps, neurons = 10, 100, (2, 7, 7)
    layer = sl.LIF(tau_mem=torch.tensor(tau), record_states=True)
    x = impulse(batch, steps, *neurons, value=1 / (1 - a))
    out = layer(x)
    n_neurons = batch * 2 * 7 * 7
    assert out.sum() == n_neurons
    assert out[:, 0].sum() == n_neurons
    # afterwards v decays as α^k (v_0 − 1)
    v0 = (1 - a) * (1 / (1 - a))
    k = torch.arange(steps, dtype=torch.float32).view(1, steps, 1, 1, 1)
    expected = (a**k * (v0 - 1)).expand_as(x)
    assert torch.allclose(plain(layer.recordings["v_mem"]), expected, atol=1e-12)


def test_lif_membrane_decay():
    tau, steps, start = 30.0, 100, 0.75
    a = alpha(tau)
    layer = sl.LIF(tau_mem=torch.tensor(tau))
    out = layer(impulse(10, steps, 2, 7, 7, value=start / (1 - a)))
    assert not out.any()
    expected = torch.full_like(plain(layer.v_mem), start) * a ** (steps - 1)
    assert torch.allclose(plain(layer.v_mem), expected, atol=1e-8)


def test_lif_with_multiple_taus():
    taus = torch.tensor([5.0, 10.0, 20.0, 40.0])
    a = torch.exp(-1.0 / taus)
    layer = sl.LIF(tau_mem=taus, record_states=True)
    x = torch.zeros(3, 2, 4)
    x[:, 0] = 0.75 / (1 - a)
    assert not layer(x).any()
    assert torch.allclose(plain(layer.v_mem), (a * 0.75).expand(3, 4))
    longer = sl.LIF(tau_mem=taus, record_states=True)
    x = torch.zeros(3, 20, 4)
    x[:, 0] = 0.75 / (1 - a)
    longer(x)
    k = torch.arange(20, dtype=torch.float32).view(1, 20, 1)
    assert torch.allclose(plain(longer.recordings["v_mem"]), (0.75 * a**k).expand(3, 20, 4))


# ---------------------------------------------------------------- recurrent (Part B 13)


def test_lif_recurrent_basic():
    tau, batch, steps, n = 30.0, 5, 100, 16
    a = alpha(tau)
    rec = nn.Sequential(nn.Flatten(), nn.Linear(n, n, bias=False))
    with torch.no_grad():
        rec[1].weight.fill_(0.5 / (1 - a) / n)
    layer = sl.LIFRecurrent(tau_mem=torch.tensor(tau), rec_connect=rec)
    out = layer(torch.full((batch, steps, n), 0.5) / (1 - a))
    assert out.sum() == batch * (steps - 2) * n
    assert not out[:, :2].any()
    assert (out[:, 2:] == 1).all()


# ---------------------------------------------------------------- ALIF (neurons.md §8.3, Part B 18)


@pytest.mark.parametrize("adapt_scale", [1.8, 0.5], ids=["default_scale", "scale0.5"])
def test_alif_two_step_example(adapt_scale):
    tau_mem, tau_adapt = 10.0, 20.0
    a_m, a_ad = alpha(tau_mem), alpha(tau_adapt)
    scale = torch.tensor(adapt_scale)
    layer = sl.ALIF(
        tau_mem=tau_mem,
        tau_adapt=tau_adapt,
        adapt_scale=adapt_scale,
        spike_threshold=1.0,
        norm_input=False,
        record_states=True,
    )
    out = layer(torch.tensor([2.0, 0.0]).view(1, 2, 1))
    assert torch.equal(out.flatten(), torch.tensor([1.0, 0.0]))
    b = torch.stack([1 - a_ad, a_ad * (1 - a_ad)])
    rec = {k: plain(v).flatten() for k, v in layer.recordings.items()}
    assert set(rec) == {"v_mem", "b", "spike_threshold"}
    assert torch.equal(rec["v_mem"], torch.stack([torch.tensor(1.0), a_m]))  # DECISIONS Q1
    assert torch.equal(rec["b"], b)
    assert torch.equal(rec["spike_threshold"], 1 + scale * b)
    assert torch.equal(plain(layer.v_mem).flatten(), a_m.view(1))
    assert torch.equal(plain(layer.b).flatten(), b[-1:])
    assert torch.equal(plain(layer.spike_threshold).flatten(), 1 + scale * b[-1:])


def test_alif_threshold_decay():
    tau, batch, steps = 30.0, 10, 100
    a = alpha(tau)
    layer = sl.ALIF(tau_mem=torch.tensor(tau), tau_adapt=torch.tensor(tau), adapt_scale=1 / (1 - a))
    out = layer(impulse(batch, steps, 2, 7, 7, value=1 / (1 - a)))
    assert out.sum() == batch * 2 * 7 * 7
    assert out[:, 0].sum() == out.sum()
    threshold = plain(layer.spike_threshold)
    assert torch.allclose(threshold - 1, torch.full_like(threshold, a ** (steps - 1)), atol=1e-8)
    assert (threshold + plain(layer.b) >= 1).all()


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_alif_recordings_without_norm_input(backend):
    layer = sl.ALIF(
        tau_mem=10.0,
        tau_adapt=20.0,
        tau_syn=5.0,
        norm_input=False,
        record_states=True,
        backend=backend,
    )
    x = torch.rand(2, 10, 3, generator=torch.Generator().manual_seed(1)) * 3
    out = layer(x)
    assert set(layer.recordings) == {"v_mem", "i_syn", "b", "spike_threshold"}
    for rec in layer.recordings.values():
        assert rec.shape == out.shape
    layer.recordings["i_syn"].sum().backward()
    assert layer.tau_syn.grad is not None and layer.tau_syn.grad != 0
    assert layer.tau_mem.grad is None


# ---------------------------------------------------------------- ExpLeak (§5, Part B 17)


def test_expleak_impulse_response_integrates_to_one():
    tau, steps = 10.0, 200
    a = alpha(tau)
    layer = sl.ExpLeak(tau_mem=tau, norm_input=True)
    out = layer(impulse(2, steps, 3))
    k = torch.arange(steps, dtype=torch.float32).view(1, steps, 1)
    assert torch.allclose(out, ((1 - a) * a**k).expand(2, steps, 3))
    assert torch.allclose(out.sum(1), torch.ones(2, 3), atol=5e-5)


def test_expleak_norm_input_scales_output():
    x = torch.randn(3, 40, 4, generator=torch.Generator().manual_seed(2))
    out_norm = sl.ExpLeak(tau_mem=15.0, norm_input=True)(x)
    out_raw = sl.ExpLeak(tau_mem=15.0, norm_input=False)(x)
    assert torch.allclose(out_norm, (1 - alpha(15.0)) * out_raw, atol=1e-7)


def test_expleak_four_dim_input_and_last_output_is_state():
    tau, steps = 12.0, 9
    a = alpha(tau)
    layer = sl.ExpLeak(tau_mem=tau, norm_input=True)
    x = torch.zeros(steps, 2, 7, 7)  # read as (B=9, T=2, 7, 7)
    x[:, 0] = 1 / (1 - a)
    out = layer(x)
    assert out.shape == x.shape
    assert torch.allclose(out[:, 0], torch.ones(steps, 7, 7))
    assert torch.equal(out[:, -1], plain(layer.v_mem))


def test_expleak_output_is_clamped_state():
    # DECISIONS Q9: the output equals the clamped membrane potential.
    layer = sl.ExpLeak(tau_mem=5.0, min_v_mem=-0.5, record_states=True)
    x = torch.randn(2, 20, 4, generator=torch.Generator().manual_seed(3)) - 0.5
    out = layer(x)
    assert out.min() == -0.5
    assert torch.equal(plain(out), plain(layer.recordings["v_mem"]))
    assert torch.equal(plain(out[:, -1]), plain(layer.v_mem))


# ---------------------------------------------------------------- min_v_mem (Part B 14)

MIN_V_LAYERS = {
    "IAF": lambda **kw: sl.IAF(**kw),
    "LIF": lambda **kw: sl.LIF(tau_mem=10.0, **kw),
    "ALIF": lambda **kw: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **kw),
}


@pytest.mark.parametrize("name", MIN_V_LAYERS)
def test_min_v_mem_bounds_membrane(name):
    x = torch.randn(2, 30, 6, generator=torch.Generator().manual_seed(4)) - 0.5
    clamped = MIN_V_LAYERS[name](min_v_mem=-0.5, record_states=True)
    free = MIN_V_LAYERS[name](record_states=True)
    clamped(x)
    free(x)
    assert (plain(clamped.recordings["v_mem"]) >= -0.5).all()
    assert (plain(clamped.recordings["v_mem"]) == -0.5).any()
    assert (plain(free.recordings["v_mem"]) < -0.5).any()


def test_min_v_mem_clamp_comes_after_reset():
    # v = 1.5 spikes once; the reset by 2 gives −0.5, only then clamped to −0.2.
    layer = sl.IAF(
        spike_threshold=1.0,
        reset_fn=MembraneSubtract(subtract_value=2.0),
        min_v_mem=-0.2,
        record_states=True,
    )
    out = layer(torch.tensor([1.5, 0.1]).view(1, 2, 1))
    assert torch.equal(out.flatten(), torch.tensor([1.0, 0.0]))
    assert torch.equal(plain(layer.recordings["v_mem"]).flatten(), torch.tensor([-0.2, -0.1]))


def test_min_v_mem_literal_relu_form():
    # relu(v − m) + m, not clamp(v, min=m): they differ in the last bit for some v.
    # (For 57 of these 200 inputs, (v − m) + m != v in float32.)
    m = torch.tensor(-0.3)
    x = torch.linspace(-0.29, 0.0, 200)
    layer = sl.IAF(spike_threshold=1e6, min_v_mem=-0.3)
    layer(x.view(200, 1, 1))  # one step, 200 samples
    v = plain(layer.v_mem).flatten()
    assert torch.equal(v, torch.relu(x - m) + m)
    assert not torch.equal(v, x)


# ------------------------------------------------- Part B 1-3: parameters, fresh layers


@pytest.mark.parametrize(
    "factory",
    [lambda: sl.LIF(tau_mem=10.0, min_v_mem=-2.0), lambda: sl.IAF(min_v_mem=-2.0)],
    ids=["LIF", "IAF"],
)
def test_threshold_and_min_v_mem_are_frozen_parameters(factory):
    layer = factory()
    keys = layer.state_dict().keys()
    assert "min_v_mem" in keys and "spike_threshold" in keys
    params = dict(layer.named_parameters())
    for name in ("min_v_mem", "spike_threshold"):
        assert isinstance(params[name], nn.Parameter)
        assert not params[name].requires_grad
    assert "min_v_mem" not in dict(layer.named_buffers())
    assert "min_v_mem" not in dict(layer.named_states())


def test_iaf_has_no_tau_mem_parameter():
    layer = sl.IAF(min_v_mem=-2.0)
    assert "tau_mem" not in dict(layer.named_parameters())
    assert "tau_mem" not in layer.state_dict()
    assert layer.tau_mem_calculated is None


FRESH = {
    "IAF": lambda: sl.IAF(),
    "LIF": lambda: sl.LIF(tau_mem=10.0),
    "LIF_syn": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0),
    "IAFSqueeze": lambda: sl.IAFSqueeze(batch_size=2),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(3, 3)),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=nn.Linear(3, 3)
    ),
}


@pytest.mark.parametrize(
    ("name", "spikes"),
    [("IAF", True), ("LIF", True), ("ALIF", True), ("ExpLeak", False), ("IAFSqueeze", True)],
)
def test_does_spike(name, spikes):
    assert FRESH[name]().does_spike is spikes


@pytest.mark.parametrize("name", FRESH)
def test_fresh_layer_states_are_empty(name):
    layer = FRESH[name]()
    assert layer.v_mem.shape == (0,)
    assert not layer.is_state_initialised()
    layer.reset_states()
    assert layer.v_mem.shape == (0,)
    assert not layer.is_state_initialised()
    assert layer.v_mem.sum() == 0


# ---------------------------------------------------------------- Part B 4-6: state life cycle


def test_state_shapes_and_reset():
    layer = sl.LIF(tau_mem=30.0, tau_syn=10.0)
    layer(torch.rand(2, 3, 4))
    assert layer.v_mem.shape == (2, 4) and layer.i_syn.shape == (2, 4)
    layer(torch.rand(5, 3, 4))
    assert layer.v_mem.shape == (5, 4) and layer.i_syn.shape == (5, 4)
    layer.reset_states()
    assert not layer.v_mem.any() and not layer.i_syn.any()
    assert layer.v_mem.grad_fn is None
    layer.reset_states(randomize=True)
    assert layer.v_mem.any() and layer.i_syn.any()
    layer.reset_states(randomize=True, value_ranges={"v_mem": (-5.0, -3.0)})
    assert ((layer.v_mem >= -5) & (layer.v_mem <= -3)).all()
    assert ((layer.i_syn >= 0) & (layer.i_syn <= 1)).all()


@pytest.mark.parametrize(("b1", "b2"), [(3, 5), (5, 3), (2, 7)], ids=["grow", "shrink", "grow_x3"])
def test_batch_size_change_carries_state(b1, b2):
    # θ = 50 and all-ones input: no spikes, v counts the steps (times the row's scale).
    layer = sl.IAF(spike_threshold=50)
    scale = torch.arange(1, b1 + 1, dtype=torch.float32).view(b1, 1, 1, 1, 1)
    layer(torch.ones(b1, 10, 1, 28, 28) * scale)
    first = layer.v_mem.detach().clone()
    layer(torch.ones(b2, 10, 1, 28, 28))
    for _, buf in layer.named_states():
        assert buf.shape[0] == b2
    second = layer.v_mem.detach()
    n = min(b1, b2)
    assert (second[:n] - first[:n]).sum() > 0
    # DECISIONS Q25: row i of the new state is row i mod B_old of the old one.
    rows = torch.arange(b2) % b1
    assert torch.equal(second, first[rows] + 10)


def test_trailing_shape_change_reinitialises():
    layer = sl.IAF(spike_threshold=50)
    layer(torch.ones(3, 10, 1, 28, 28))
    layer(torch.ones(3, 10, 1, 26, 26))
    assert layer.v_mem.shape == (3, 1, 26, 26)
    assert torch.equal(layer.v_mem.detach(), torch.full((3, 1, 26, 26), 10.0))


def test_squeeze_batch_mismatch_raises_then_set_batch_size():
    layer = sl.IAFSqueeze(batch_size=2)
    model = nn.Sequential(layer)
    x = torch.rand(5 * 13, 3)
    with pytest.raises(RuntimeError):
        model(x)
    sinabs.set_batch_size(model, 5)
    assert layer.batch_size == 5
    out = model(x)
    assert out.shape == x.shape
    assert layer.v_mem.shape == (5, 3)


# ---------------------------------------------------------------- Part B 7-9: recordings, rates


@pytest.mark.parametrize("tau_syn", [None, 5.0], ids=["no_syn", "syn"])
def test_lif_recordings(tau_syn):
    layer = sl.LIF(tau_mem=10.0, tau_syn=tau_syn, record_states=True)
    x = torch.rand(2, 12, 3, generator=torch.Generator().manual_seed(5)) * 3
    x[:, :5] = 0
    out = layer(x)
    expected = {"v_mem"} if tau_syn is None else {"v_mem", "i_syn"}
    assert set(layer.recordings) == expected
    for rec in layer.recordings.values():
        assert rec.shape == out.shape
    assert not plain(layer.recordings["v_mem"][:, :5]).any()
    layer.recordings["v_mem"].sum().backward(retain_graph=True)
    assert layer.tau_mem.grad is not None and layer.tau_mem.grad != 0
    if tau_syn is not None:
        layer.recordings["i_syn"].sum().backward()
        assert layer.tau_syn.grad is not None and layer.tau_syn.grad != 0


FIRING = {
    "IAF": lambda: sl.IAF(),
    "LIF": lambda: sl.LIF(tau_mem=10.0),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(4, 4)),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=nn.Linear(4, 4)
    ),
}


@pytest.mark.parametrize("name", FIRING)
def test_firing_rate(name):
    layer = FIRING[name]()
    x = torch.rand(3, 11, 4, generator=torch.Generator().manual_seed(6)) * 8
    out = layer(x)
    assert out.sum() > 0
    assert layer.firing_rate == out.sum() / (3 * 11 * 4)


@pytest.mark.parametrize(
    ("spike_fn", "cap"), [(SingleSpike, 1.0), (MaxSpike(3), 3.0)], ids=["SingleSpike", "MaxSpike3"]
)
@pytest.mark.parametrize("layer_name", ["IAF", "LIF"])
def test_spike_count_caps(layer_name, spike_fn, cap):
    layer = sl.IAF(spike_fn=spike_fn) if layer_name == "IAF" else sl.LIF(10.0, spike_fn=spike_fn)
    out = layer(torch.rand(2, 10, 5) * 100 + 100)
    assert out.max() == cap


# ---------------------------------------------------------------- Part B 15: alpha <-> tau


@pytest.mark.parametrize("tau_syn", [None, 5.0], ids=["no_syn", "syn"])
@pytest.mark.parametrize("train_alphas", [False, True], ids=["taus", "alphas"])
def test_alpha_tau_conversion(train_alphas, tau_syn):
    layer = sl.LIF(tau_mem=20.0, tau_syn=tau_syn, train_alphas=train_alphas)
    assert torch.equal(layer.alpha_mem_calculated.detach(), alpha(20.0))
    assert torch.allclose(layer.tau_mem_calculated.detach(), torch.tensor(20.0))
    if train_alphas:
        assert torch.equal(layer.alpha_mem.detach(), alpha(20.0))
    else:
        assert torch.equal(layer.tau_mem.detach(), torch.tensor(20.0))
    if tau_syn is None:
        assert layer.alpha_syn_calculated is None
        assert layer.tau_syn_calculated is None
    else:
        assert torch.equal(layer.alpha_syn_calculated.detach(), alpha(5.0))
        assert torch.allclose(layer.tau_syn_calculated.detach(), torch.tensor(5.0))


# ---------------------------------------------------------------- Part B 19: deepcopy

COPYABLE = {
    "IAF": lambda: sl.IAF(spike_threshold=0.8, min_v_mem=-1.0),
    "IAFSqueeze": lambda: sl.IAFSqueeze(batch_size=2, spike_threshold=0.8),
    "LIF": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, spike_fn=SingleSpike),
    "LIF_train_alphas": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, train_alphas=True),
    "LIFSqueeze": lambda: sl.LIFSqueeze(num_timesteps=4, tau_mem=10.0),
    "LIFSqueeze_train_alphas": lambda: sl.LIFSqueeze(batch_size=2, tau_mem=10.0, train_alphas=True),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, adapt_scale=1.2),
    "ALIFSqueeze": lambda: ALIFSqueeze(batch_size=2, tau_mem=10.0, tau_adapt=20.0),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0, min_v_mem=-1.0),
}
COPIED_ATTRIBUTES = (
    "spike_threshold", "min_v_mem", "tau_mem", "alpha_mem", "tau_syn", "alpha_syn",
    "spike_fn", "reset_fn", "surrogate_grad_fn", "train_alphas", "norm_input",
    "batch_size", "num_timesteps", "tau_adapt", "adapt_scale", "b0",
)  # fmt: skip


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("initialised", [False, True], ids=["fresh", "initialised"])
@pytest.mark.parametrize("name", COPYABLE)
def test_deepcopy(name, initialised):
    layer = COPYABLE[name]()
    if initialised:
        x = torch.rand(8, 3) * 3 if "Squeeze" in name else torch.rand(2, 4, 3) * 3
        layer(x)
    clone = copy.deepcopy(layer)
    assert type(clone) is type(layer)
    params, cloned_params = dict(layer.named_parameters()), dict(clone.named_parameters())
    assert params.keys() == cloned_params.keys()
    for key, p in params.items():
        q = cloned_params[key]
        assert q is not p and torch.equal(q, p), key
        assert q.data_ptr() != p.data_ptr(), key
    buffers, cloned_buffers = dict(layer.named_states()), dict(clone.named_states())
    assert buffers.keys() == cloned_buffers.keys()
    for key, b in buffers.items():
        c = cloned_buffers[key]
        assert c is not b and torch.equal(c.detach(), b.detach()), key
        if b.numel():
            assert c.data_ptr() != b.data_ptr(), key
    for attr in COPIED_ATTRIBUTES:
        if hasattr(layer, attr):
            assert _same(getattr(clone, attr), getattr(layer, attr)), attr
    assert clone.is_state_initialised() is initialised
