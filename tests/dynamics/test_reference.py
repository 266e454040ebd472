"""Gradients of the reference scans (``sinabs.dynamics.reference.reference_scan``).

The spike functions are step functions, so finite differences only see the
differentiable part of the dynamics. Three kinds of checks keep ``gradcheck``
meaningful:

* **smooth spikes**: a custom spike function following the layer protocol
  (``required_states`` / ``apply``) with a sigmoid forward makes the whole scan
  differentiable, so ``gradcheck`` verifies every path of the scan (synapse, leak,
  subtractive reset, adaptation, clamp, recurrence, recordings) w.r.t. the input, the
  initial state and the time constants;
* **real spike functions that never fire** (huge threshold) with ``MembraneReset``,
  which lets no gradient through the spikes, so the surrogate cannot contribute;
* **real spikes** checked against a hand-written surrogate back-propagation through
  time (the adjoint recursion), not against finite differences.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from sinabs.activation import (
    Heaviside,
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiSpike,
    SingleExponential,
    SingleSpike,
)
from sinabs.dynamics.params import AdaptiveParams, LeakyParams, SpikingParams
from sinabs.dynamics.reference import reference_scan

F64 = torch.float64
B, T, N = 2, 6, 3


class SmoothSpike:
    """A differentiable stand-in spike function: ``sigmoid(4 (v - θ))``."""

    required_states = ("v_mem",)

    @staticmethod
    def apply(v_mem, spike_threshold, surrogate_grad_fn):
        return torch.sigmoid(4.0 * (v_mem - spike_threshold))


def alpha(tau):
    return torch.exp(-1.0 / tau)


def rand(*shape, seed, lo=-1.0, hi=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen, dtype=F64) * (hi - lo) + lo).requires_grad_()


def flat_outputs(out, state, recordings):
    return (out, *state.values(), *recordings.values())


# ---------------------------------------------------------------- configurations
# Each config: family, which inputs exist, and how to build params from them.

CONFIGS = {
    # leaky (ExpLeak and the synaptic current)
    "leaky": dict(family="leaky", syn=False, norm=False),
    "leaky_norm": dict(family="leaky", syn=False, norm=True),
    "leaky_syn": dict(family="leaky", syn=True, norm=False),
    "leaky_syn_norm": dict(family="leaky", syn=True, norm=True),
    "leaky_min_v_mem": dict(family="leaky", syn=False, norm=False, min_v_mem=-0.2),
    "leaky_no_leak_syn": dict(family="leaky", syn=True, norm=False, leak=False),
    "leaky_per_neuron_tau": dict(family="leaky", syn=True, norm=True, per_neuron=True),
    # spiking (IAF, LIF) with smooth spikes
    "iaf_smooth": dict(family="spiking", syn=False, norm=False, leak=False),
    "iaf_syn_smooth": dict(family="spiking", syn=True, norm=False, leak=False),
    "lif_smooth": dict(family="spiking", syn=False, norm=True),
    "lif_syn_smooth": dict(family="spiking", syn=True, norm=True),
    "lif_syn_no_norm_smooth": dict(family="spiking", syn=True, norm=False),
    "lif_min_v_mem_smooth": dict(family="spiking", syn=False, norm=False, min_v_mem=-0.3),
    "lif_per_neuron_smooth": dict(family="spiking", syn=True, norm=True, per_neuron=True),
    "lif_subtract_value_smooth": dict(family="spiking", syn=False, norm=True, sub_value=True),
    "lif_recurrent_smooth": dict(family="spiking", syn=True, norm=True, recurrent=True),
    # adaptive (ALIF) with smooth spikes
    "alif_smooth": dict(family="adaptive", syn=False, norm=True),
    "alif_syn_smooth": dict(family="adaptive", syn=True, norm=True),
    "alif_syn_no_norm_smooth": dict(family="adaptive", syn=True, norm=False),
    "alif_min_v_mem_smooth": dict(family="adaptive", syn=False, norm=False, min_v_mem=-0.3),
    "alif_per_neuron_smooth": dict(family="adaptive", syn=True, norm=True, per_neuron=True),
    "alif_recurrent_smooth": dict(family="adaptive", syn=False, norm=True, recurrent=True),
}


def make_inputs(cfg, seed=0):
    """The gradcheck inputs of a configuration, by name (all float64, requiring grad)."""
    tau_shape = (N,) if cfg.get("per_neuron") else ()
    inputs = {
        "x": rand(B, T, N, seed=seed, lo=-0.5, hi=2.5),
        "v_mem": rand(B, N, seed=seed + 1, lo=-0.5, hi=1.0),
    }
    if cfg.get("leak", True):
        inputs["tau_mem"] = rand(*tau_shape, seed=seed + 2, lo=2.0, hi=6.0)
    if cfg["syn"]:
        inputs["i_syn"] = rand(B, N, seed=seed + 3, lo=-0.5, hi=1.0)
        inputs["tau_syn"] = rand(*tau_shape, seed=seed + 4, lo=1.5, hi=4.0)
    if cfg["family"] != "leaky":
        thr_shape = (N,) if cfg.get("per_neuron") else ()
        inputs["threshold"] = rand(*thr_shape, seed=seed + 5, lo=0.8, hi=1.5)
    if cfg.get("sub_value"):
        inputs["sub_value"] = rand(N, seed=seed + 6, lo=0.5, hi=1.5)
    if cfg["family"] == "adaptive":
        inputs["b"] = rand(B, N, seed=seed + 7, lo=0.0, hi=0.5)
        inputs["tau_adapt"] = rand(*tau_shape, seed=seed + 8, lo=3.0, hi=8.0)
        inputs["adapt_scale"] = rand(*tau_shape, seed=seed + 9, lo=0.5, hi=2.0)
    if cfg.get("recurrent"):
        inputs["w_rec"] = rand(N, N, seed=seed + 10, lo=-0.5, hi=0.5)
    return inputs


def build(cfg, inp, *, spike_fn=SmoothSpike, reset_fn=None, surrogate=None):
    """(state, params, rec_connect) from the named inputs."""
    common = dict(
        alpha_mem=alpha(inp["tau_mem"]) if "tau_mem" in inp else None,
        alpha_syn=alpha(inp["tau_syn"]) if "tau_syn" in inp else None,
        norm_input=cfg["norm"],
        min_v_mem=(torch.tensor(cfg["min_v_mem"], dtype=F64) if "min_v_mem" in cfg else None),
    )
    if reset_fn is None:
        reset_fn = MembraneSubtract(inp.get("sub_value"))
    spiking = dict(
        spike_fn=spike_fn,
        reset_fn=reset_fn,
        surrogate_grad_fn=surrogate or SingleExponential(),
    )
    state = {"v_mem": inp["v_mem"]}
    if "i_syn" in inp:
        state["i_syn"] = inp["i_syn"]
    if cfg["family"] == "leaky":
        params = LeakyParams(**common)
    elif cfg["family"] == "spiking":
        params = SpikingParams(**common, spike_threshold=inp["threshold"], **spiking)
    else:
        state["b"] = inp["b"]
        state["spike_threshold"] = inp["threshold"] + inp["adapt_scale"] * inp["b"]
        params = AdaptiveParams(
            **common,
            spike_threshold=inp["threshold"],
            alpha_adapt=alpha(inp["tau_adapt"]),
            adapt_scale=inp["adapt_scale"],
            **spiking,
        )
    rec = None
    if "w_rec" in inp:
        w = inp["w_rec"]

        def rec(s):
            return s @ w.T

    return state, params, rec


def scan_fn(cfg, names, **build_kw):
    def f(*tensors):
        inp = dict(zip(names, tensors, strict=True))
        state, params, rec = build(cfg, inp, **build_kw)
        result = reference_scan(
            cfg["family"], inp["x"], state, params, record=True, rec_connect=rec
        )
        return flat_outputs(*result)

    return f


@pytest.mark.parametrize("name", CONFIGS)
def test_gradcheck_smooth(name):
    cfg = CONFIGS[name]
    inp = make_inputs(cfg)
    f = scan_fn(cfg, list(inp))
    assert torch.autograd.gradcheck(f, tuple(inp.values()))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_input_reaches_the_outputs(name):
    # Guards the gradcheck above: no input is silently disconnected (a disconnected
    # input would pass gradcheck with an all-zero Jacobian).
    cfg = CONFIGS[name]
    inp = make_inputs(cfg)
    outputs = scan_fn(cfg, list(inp))(*inp.values())
    loss = sum(
        (o * torch.linspace(0.5, 1.5, o.numel(), dtype=F64).view_as(o)).sum() for o in outputs
    )
    grads = torch.autograd.grad(loss, list(inp.values()), allow_unused=True)
    for key, g in zip(inp, grads, strict=True):
        assert g is not None and g.abs().sum() > 0, key


@pytest.mark.parametrize(
    "name", ["leaky_min_v_mem", "lif_min_v_mem_smooth", "alif_min_v_mem_smooth"]
)
def test_min_v_mem_configs_clamp(name):
    # The min_v_mem gradchecks are only meaningful if the clamp is active somewhere.
    cfg = CONFIGS[name]
    inp = make_inputs(cfg)
    with torch.no_grad():
        inp["x"].sub_(1.5)
    state, params, _ = build(cfg, inp)
    _, _, recordings = reference_scan(cfg["family"], inp["x"], state, params, record=True)
    v = recordings["v_mem"]
    assert (v == cfg["min_v_mem"]).any()
    f = scan_fn(cfg, list(inp))
    assert torch.autograd.gradcheck(f, tuple(inp.values()))


# ---------------------------------------------------------------- real spike functions, no spikes

REAL_SPIKE_FNS = {"single": SingleSpike, "multi": MultiSpike, "max2": MaxSpike(2)}


RESETS = {"reset": MembraneReset(0.3), "subtract": MembraneSubtract()}


@pytest.mark.parametrize("reset_name", RESETS)
@pytest.mark.parametrize("spike_name", REAL_SPIKE_FNS)
@pytest.mark.parametrize("family", ["spiking", "adaptive"])
def test_gradcheck_real_spike_fn_silent(family, spike_name, reset_name):
    # Huge threshold: no spikes, and Heaviside(window=1) is zero where v lives, so the
    # surrogate contributes nothing and finite differences are valid for every output.
    cfg = dict(family=family, syn=True, norm=True)
    inp = make_inputs(cfg)
    with torch.no_grad():
        inp["threshold"].add_(1e3)
    kw = dict(
        spike_fn=REAL_SPIKE_FNS[spike_name],
        reset_fn=RESETS[reset_name],
        surrogate=Heaviside(window=1.0),
    )
    f = scan_fn(cfg, list(inp), **kw)
    assert not f(*inp.values())[0].any()
    assert torch.autograd.gradcheck(f, tuple(inp.values()))


@pytest.mark.parametrize("spike_name", REAL_SPIKE_FNS)
def test_membrane_reset_keeps_surrogate_out_of_the_state(spike_name):
    # With a surrogate that is non-zero everywhere the spikes carry a gradient that
    # finite differences cannot see; MembraneReset must keep it out of v_mem / i_syn.
    cfg = dict(family="spiking", syn=True, norm=True)
    inp = make_inputs(cfg)
    with torch.no_grad():
        inp["threshold"].add_(1e3)
    kw = dict(spike_fn=REAL_SPIKE_FNS[spike_name], reset_fn=MembraneReset(0.3))
    f = scan_fn(cfg, list(inp), **kw)
    spikes = f(*inp.values())[0]
    assert not spikes.any()
    (g,) = torch.autograd.grad(spikes.sum(), inp["x"])
    assert g.abs().sum() > 0  # the surrogate is active on the spikes ...

    def states_and_recordings(*tensors):
        return f(*tensors)[1:]

    # ... but not on the state.
    assert torch.autograd.gradcheck(states_and_recordings, tuple(inp.values()))


def test_adaptive_state_gradients_flow_through_recordings():
    # Without spikes, b only reaches the recordings and the final state.
    cfg = dict(family="adaptive", syn=False, norm=True)
    inp = make_inputs(cfg)
    with torch.no_grad():
        inp["threshold"].add_(1e3)
    state, params, _ = build(cfg, inp, spike_fn=SingleSpike, reset_fn=MembraneReset())
    _, _, recordings = reference_scan("adaptive", inp["x"], state, params, record=True)
    loss = recordings["b"].sum() + recordings["spike_threshold"].sum()
    g_b, g_tau, g_scale = torch.autograd.grad(
        loss, [inp["b"], inp["tau_adapt"], inp["adapt_scale"]]
    )
    assert g_b.abs().sum() > 0 and g_tau.abs() > 0 and g_scale.abs() > 0


# ---------------------------------------------------------------- real spikes: hand-written BPTT


def lif_bptt(x, v0, tau, theta, surrogate, spike_fn, w_out, w_rec):
    """Forward and hand-written surrogate gradients of a LIF (norm_input, subtractive reset).

    v_pre_t = α v_{t-1} + (1-α) x_t,  s_t = S(v_pre_t),  v_t = v_pre_t - θ s_t,
    L = Σ w_out·s + Σ w_rec·v.
    """
    a = alpha(tau.detach())
    x, v = x.detach(), v0.detach()
    v_prev, v_pre, spikes = [], [], []
    for t in range(x.shape[1]):
        v_prev.append(v)
        pre = a * v + (1 - a) * x[:, t]
        s = spike_fn.apply(pre, theta, surrogate)
        v_pre.append(pre)
        spikes.append(s)
        v = pre - theta * s
    grad_x = torch.zeros_like(x)
    grad_alpha = torch.zeros_like(v)
    mu = torch.zeros_like(v)  # dL/dv_t (post-reset), through the future
    lam = None
    for t in reversed(range(x.shape[1])):
        mu = mu + w_rec[:, t]
        g = surrogate(v_pre[t], theta)
        lam = w_out[:, t] * g + mu * (1 - theta * g)  # dL/dv_pre_t
        grad_x[:, t] = (1 - a) * lam
        grad_alpha = grad_alpha + lam * (v_prev[t] - x[:, t])
        mu = a * lam
    grad_v0 = mu
    grad_tau = (grad_alpha * a / tau.detach() ** 2).sum()
    return torch.stack(spikes, 1), grad_x, grad_v0, grad_tau


@pytest.mark.parametrize("spike_name", REAL_SPIKE_FNS)
def test_real_spikes_match_handwritten_bptt(spike_name):
    spike_fn = REAL_SPIKE_FNS[spike_name]
    surrogate = SingleExponential(grad_width=0.5, grad_scale=1.0)
    theta = 0.8
    x = rand(B, 12, N, seed=5, lo=-2.0, hi=8.0)
    v0 = rand(B, N, seed=6, lo=0.0, hi=0.5)
    tau = torch.tensor(4.0, dtype=F64, requires_grad=True)
    w_out = rand(B, 12, N, seed=7).detach()
    w_rec = rand(B, 12, N, seed=8).detach()
    params = SpikingParams(
        alpha_mem=alpha(tau),
        norm_input=True,
        spike_threshold=theta,
        spike_fn=spike_fn,
        reset_fn=MembraneSubtract(),
        surrogate_grad_fn=surrogate,
    )
    out, state, rec = reference_scan("spiking", x, {"v_mem": v0}, params, record=True)
    assert out.sum() > 5 and (out == 0).sum() > 5  # a mix of spiking and silent steps
    if spike_name == "multi":
        assert (out > 1).any()
    loss = (out * w_out).sum() + (rec["v_mem"] * w_rec).sum()
    got = torch.autograd.grad(loss, [x, v0, tau])
    spikes, *expected = lif_bptt(x, v0, tau, theta, surrogate, spike_fn, w_out, w_rec)
    assert torch.equal(out.detach(), spikes)
    assert torch.equal(state["v_mem"].detach(), rec["v_mem"][:, -1].detach())
    for g, e, what in zip(got, expected, ["x", "v_mem", "tau_mem"], strict=True):
        assert torch.allclose(g, e, rtol=1e-10, atol=1e-12), what


@pytest.mark.parametrize("family", ["spiking", "adaptive"])
def test_threshold_receives_gradient_only_through_reset(family):
    # θ feeds the spike function (no gradient) and MembraneSubtract (gradient s·θ).
    cfg = dict(family=family, syn=False, norm=False)
    inp = make_inputs(cfg)
    out_grads = {}
    for reset_name, reset_fn in [("subtract", MembraneSubtract()), ("reset", MembraneReset())]:
        state, params, _ = build(cfg, inp, spike_fn=SingleSpike, reset_fn=reset_fn)
        out, _, _ = reference_scan(family, inp["x"], state, params)
        assert out.any()
        keys = ["threshold", "tau_adapt"] if family == "adaptive" else ["threshold"]
        grads = torch.autograd.grad(out.sum(), [inp[k] for k in keys], allow_unused=True)
        out_grads[reset_name] = grads
    assert all(g is not None and g.abs().sum() > 0 for g in out_grads["subtract"])
    assert all(g is None or not g.any() for g in out_grads["reset"])


# ---------------------------------------------------------------- recordings


@pytest.mark.parametrize("name", ["leaky_syn_norm", "lif_syn_smooth", "alif_syn_smooth"])
def test_last_recording_is_final_state_with_same_gradient(name):
    cfg = CONFIGS[name]
    inp = make_inputs(cfg)
    state, params, _ = build(cfg, inp)
    _, final, rec = reference_scan(cfg["family"], inp["x"], state, params, record=True)
    assert list(rec) == list(final)
    leaves = list(inp.values())
    for key in final:
        assert torch.equal(rec[key][:, -1], final[key])
        g_rec = torch.autograd.grad(
            rec[key][:, -1].sum(), leaves, retain_graph=True, allow_unused=True
        )
        g_fin = torch.autograd.grad(final[key].sum(), leaves, retain_graph=True, allow_unused=True)
        for a, b in zip(g_rec, g_fin, strict=True):
            assert (a is None and b is None) or torch.equal(a, b)


def test_leaky_output_is_recorded_membrane():
    cfg = CONFIGS["leaky_min_v_mem"]
    inp = make_inputs(cfg)
    with torch.no_grad():
        inp["x"].sub_(1.5)
    state, params, _ = build(cfg, inp)
    out, _, rec = reference_scan("leaky", inp["x"], state, params, record=True)
    assert torch.equal(out, rec["v_mem"])
    assert (out == cfg["min_v_mem"]).any()


def test_no_recordings_without_record():
    cfg = CONFIGS["lif_syn_smooth"]
    inp = make_inputs(cfg)
    state, params, _ = build(cfg, inp)
    _, _, rec = reference_scan("spiking", inp["x"], state, params)
    assert rec == {}


# ---------------------------------------------------------------- chunking law

CHUNK_CONFIGS = {
    "leaky": (dict(family="leaky", syn=True, norm=True, min_v_mem=-0.2), {}),
    "iaf_multi": (
        dict(family="spiking", syn=True, norm=False, leak=False),
        dict(spike_fn=MultiSpike),
    ),
    "lif_single_reset": (
        dict(family="spiking", syn=False, norm=True, min_v_mem=-0.3),
        dict(spike_fn=SingleSpike, reset_fn=MembraneReset(0.1)),
    ),
    "alif_single": (dict(family="adaptive", syn=True, norm=True), dict(spike_fn=SingleSpike)),
}


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(sorted(CHUNK_CONFIGS)),
    t1=st.integers(1, 6),
    t2=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_two_chunks_equal_one_scan(name, t1, t2, seed):
    # Running T1 then T2 steps with the carried state equals running T1 + T2 steps.
    cfg, kw = CHUNK_CONFIGS[name]
    inp = {k: v.detach() for k, v in make_inputs(cfg, seed=seed).items()}
    gen = torch.Generator().manual_seed(seed)
    inp["x"] = torch.rand(B, t1 + t2, N, generator=gen, dtype=F64) * 3 - 0.5
    state, params, _ = build(cfg, inp, **kw)
    out, final, rec = reference_scan(cfg["family"], inp["x"], state, params, record=True)
    out1, mid, rec1 = reference_scan(cfg["family"], inp["x"][:, :t1], state, params, record=True)
    out2, final2, rec2 = reference_scan(cfg["family"], inp["x"][:, t1:], mid, params, record=True)
    assert torch.equal(out, torch.cat([out1, out2], 1))
    for key in final:
        assert torch.equal(final[key], final2[key])
        assert torch.equal(rec[key], torch.cat([rec1[key], rec2[key]], 1))
