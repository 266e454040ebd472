"""torch.func transforms over neuron layers.

The fused kernels cannot run under a transform (functorch's wrapped tensors have no
storage for the C kernel, and torch.library operators get no functorch rules), so
``backend="auto"`` runs the reference there, whose spike functions have the
``setup_context`` form and a generated vmap rule; an explicitly requested fused backend
raises :class:`~sinabs.dynamics.BackendError`.
"""

from __future__ import annotations

import pytest
import torch

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs import dynamics

LAYERS = {
    "lif": lambda: sl.LIF(10.0),
    "lif_syn_maxspike": lambda: sl.LIF(10.0, tau_syn=5.0, spike_fn=sa.MaxSpike(2)),
    "iaf_single": lambda: sl.IAF(spike_fn=sa.SingleSpike, min_v_mem=-1.0),
    "alif": lambda: sl.ALIF(10.0, 20.0),
    "expleak": lambda: sl.ExpLeak(10.0),
}


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3, 12, 6, generator=gen) * 2
    weights = torch.linspace(-1, 1, 12 * 6).view(12, 6)
    return x, weights


@pytest.mark.parametrize("name", list(LAYERS))
def test_func_grad_equals_autograd(name: str) -> None:
    x, weights = _inputs()
    layer = LAYERS[name]()

    def loss(inp: torch.Tensor) -> torch.Tensor:
        layer.reset_states()
        return (layer(inp) * weights).sum()

    got = torch.func.grad(loss)(x)
    xx = x.clone().requires_grad_(True)
    loss(xx).backward()
    assert xx.grad is not None and xx.grad.abs().sum() > 0
    assert torch.allclose(got, xx.grad, rtol=1e-5, atol=1e-7)
    # the layer is usable afterwards, on its usual backend, with the same results
    layer.reset_states()
    again = layer(x)
    fresh = LAYERS[name]()
    assert torch.equal(again, fresh(x))


@pytest.mark.parametrize("name", ["lif", "alif"])
def test_vmap_of_grad_gives_per_sample_gradients(name: str) -> None:
    x, weights = _inputs()
    layer = LAYERS[name]()

    def sample_loss(sample: torch.Tensor) -> torch.Tensor:
        layer.reset_states()
        return (layer(sample.unsqueeze(0)) * weights).sum()

    got = torch.func.vmap(torch.func.grad(sample_loss))(x)
    # vmap leaves batched states in the layer; reset_states makes it usable again
    layer.reset_states()
    assert torch.equal(layer(x), LAYERS[name]()(x))
    reference = LAYERS[name]()
    for b in range(x.shape[0]):
        xb = x[b : b + 1].clone().requires_grad_(True)
        reference.reset_states()
        (reference(xb) * weights).sum().backward()
        assert xb.grad is not None
        assert torch.allclose(got[b], xb.grad[0], rtol=1e-5, atol=1e-7)


def test_explicit_fused_backend_refuses_torch_func() -> None:
    x, _ = _inputs()
    layer = sl.LIF(10.0, backend="cpu")
    with pytest.raises(dynamics.BackendError, match=r"torch\.func transforms"):
        torch.func.grad(lambda inp: layer(inp).sum())(x)


@pytest.mark.parametrize("threshold", [1.0, torch.tensor(0.8)])
@pytest.mark.parametrize("spike_fn", [sa.SingleSpike, sa.MultiSpike, sa.MaxSpike(2)])
def test_spike_functions_under_grad(spike_fn: object, threshold: object) -> None:
    v = torch.linspace(-1, 3, 17)
    surrogate = sa.SingleExponential()

    def f(v_mem: torch.Tensor) -> torch.Tensor:
        return (spike_fn.apply(v_mem, threshold, surrogate) * torch.arange(17.0)).sum()  # type: ignore[attr-defined]

    got = torch.func.grad(f)(v)
    vv = v.clone().requires_grad_(True)
    f(vv).backward()
    assert torch.equal(got, vv.grad)
    assert torch.equal(got, torch.arange(17.0) * surrogate(v, threshold))
