"""Every neuron layer on the fused CPU backend against the reference backend.

Outputs, recordings, states and spiking layers' firing rates must be identical (a
leaky layer's firing rate, the mean of its continuous output, within rounding);
gradients (input, warm-up input and so the initial state, time constants; the loss
includes the firing rate) equal within 1e-5 relative. Two calls in a row
carry the state (and the graph) from one call to the next.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFSqueeze

N = 5
PER_NEURON = torch.tensor([4.0, 8.0, 12.0, 20.0, 40.0])
THRESHOLDS = torch.tensor([0.6, 0.9, 1.0, 1.4, 2.0])

LAYERS: dict[str, Callable[[str], torch.nn.Module]] = {
    "iaf": lambda be: sl.IAF(backend=be),
    "iaf_syn_min": lambda be: sl.IAF(tau_syn=5.0, min_v_mem=-0.5, backend=be),
    "iaf_single_reset": lambda be: sl.IAF(
        spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(0.2), backend=be
    ),
    "iaf_max_amount": lambda be: sl.IAF(
        spike_fn=sa.MaxSpike(2), reset_fn=sa.MembraneSubtract(0.7), backend=be
    ),
    "lif": lambda be: sl.LIF(10.0, backend=be),
    "lif_syn_no_norm": lambda be: sl.LIF(10.0, tau_syn=4.0, norm_input=False, backend=be),
    "lif_train_alphas_syn": lambda be: sl.LIF(12.0, tau_syn=3.0, train_alphas=True, backend=be),
    "lif_per_neuron": lambda be: sl.LIF(
        PER_NEURON, tau_syn=PER_NEURON / 2, spike_threshold=THRESHOLDS, backend=be
    ),
    "lif_periodic": lambda be: sl.LIF(
        10.0, surrogate_grad_fn=sa.PeriodicExponential(0.3, 1.2), backend=be
    ),
    "lif_gaussian_min": lambda be: sl.LIF(
        10.0, surrogate_grad_fn=sa.Gaussian(0.1, 0.4), min_v_mem=-1.0, backend=be
    ),
    "lif_multigaussian": lambda be: sl.LIF(
        10.0, surrogate_grad_fn=sa.MultiGaussian(h=0.2, s=4.0), backend=be
    ),
    "lif_heaviside": lambda be: sl.LIF(10.0, surrogate_grad_fn=sa.Heaviside(0.5), backend=be),
    "expleak": lambda be: sl.ExpLeak(10.0, backend=be),
    "expleak_norm_min": lambda be: sl.ExpLeak(
        PER_NEURON, norm_input=True, min_v_mem=-0.3, backend=be
    ),
    "expleak_train_alphas": lambda be: sl.ExpLeak(8.0, train_alphas=True, backend=be),
    "alif": lambda be: sl.ALIF(10.0, 20.0, backend=be),
    "alif_syn_multi": lambda be: sl.ALIF(
        10.0, 20.0, tau_syn=3.0, spike_fn=sa.MultiSpike, norm_input=False, backend=be
    ),
    "alif_per_neuron_min": lambda be: sl.ALIF(
        PER_NEURON,
        2 * PER_NEURON,
        adapt_scale=THRESHOLDS,
        spike_threshold=THRESHOLDS,
        min_v_mem=-0.5,
        backend=be,
    ),
    "alif_train_alphas_reset": lambda be: sl.ALIF(
        10.0, 25.0, train_alphas=True, reset_fn=sa.MembraneReset(), backend=be
    ),
    "alif_amount_max": lambda be: sl.ALIF(
        10.0, 20.0, spike_fn=sa.MaxSpike(3), reset_fn=sa.MembraneSubtract(0.8), backend=be
    ),
    "iafsqueeze": lambda be: sl.IAFSqueeze(batch_size=3, tau_syn=4.0, backend=be),
    "lifsqueeze": lambda be: sl.LIFSqueeze(num_timesteps=12, tau_mem=10.0, backend=be),
    "expleaksqueeze": lambda be: sl.ExpLeakSqueeze(batch_size=3, tau_mem=6.0, backend=be),
    "alifsqueeze": lambda be: ALIFSqueeze(batch_size=3, tau_mem=10.0, tau_adapt=20.0, backend=be),
}


def _run(make: Callable[[str], torch.nn.Module], backend: str, dtype: torch.dtype, record: bool):
    torch.manual_seed(0)
    layer = make(backend).to(dtype)
    layer.record_states = record
    squeeze = isinstance(layer, sl.SqueezeMixin)
    shape = (3 * 12, N) if squeeze else (3, 12, N)
    warm = (torch.randn(shape, dtype=dtype) * 2.5).requires_grad_(True)
    x = (torch.randn(shape, dtype=dtype) * 2.5).requires_grad_(True)
    w_out = torch.randn(shape, dtype=dtype)
    out_warm = layer(warm)
    out = layer(x)
    rate = layer.firing_rate
    recordings = {k: v.as_subclass(torch.Tensor) for k, v in layer.recordings.items()}
    # firing_rate is in the graph (a regulariser): its gradient joins the output's
    loss = (out * w_out).sum() + out_warm.sum() * 0.5 + 3.0 * rate
    for rec in recordings.values():
        loss = loss + (rec * torch.linspace(-1, 1, rec.numel(), dtype=dtype).view_as(rec)).sum()
    params = {n: p for n, p in layer.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(loss, [warm, x, *params.values()], allow_unused=True)
    states = {n: getattr(layer, n).detach() for n in layer.state_names}
    named_grads = dict(zip(["warm", "x", *params], grads, strict=True))
    return out_warm, out, states, recordings, named_grads, rate.detach(), layer.does_spike


@pytest.mark.parametrize("record", [False, True], ids=["plain", "record"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_cpu_layer_equals_reference(name: str, dtype: torch.dtype, record: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fallback notice, tested elsewhere
        ref = _run(LAYERS[name], "reference", dtype, record)
        fused = _run(LAYERS[name], "cpu", dtype, record)
    assert torch.equal(ref[0], fused[0])
    assert torch.equal(ref[1], fused[1])
    assert ref[1].dtype == dtype
    if ref[6]:  # spike counts are summed exactly
        assert torch.equal(ref[5], fused[5])
    else:
        torch.testing.assert_close(fused[5], ref[5], rtol=1e-6, atol=0.0)
    for group in (2, 3):
        assert ref[group].keys() == fused[group].keys()
        for key in ref[group]:
            assert torch.equal(ref[group][key], fused[group][key]), key
    assert ref[4].keys() == fused[4].keys()
    for key, g_ref in ref[4].items():
        g = fused[4][key]
        if g_ref is None:
            assert g is None or not g.any(), key
            continue
        assert g is not None, key
        scale = g_ref.abs().max()
        assert torch.allclose(g, g_ref, rtol=1e-5, atol=1e-5 * float(scale)), (key, g, g_ref)
