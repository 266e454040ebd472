"""snnTorch's surrogates (``ATan``, ``FastSigmoid``, ``Sigmoid``, ``Triangle``,
``StraightThrough``) as ``surrogate_grad_fn`` of every spiking layer.

What a layer back-propagates with each: the surrogate itself for one step from rest;
float64 gradcheck over many steps (with the smooth-value spike function of
tests/layers/test_train_threshold.py, which keeps the real backward); the laws for
gradients (time splitting, batch independence); backend selection (the CPU kernel,
as the reference); copies. The formulas themselves: tests/activation/test_snntorch_surrogates.py.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFRecurrent, ALIFSqueeze
from sinabs.layers.iaf import IAFRecurrent

F64 = torch.float64
B, N = 2, 3

SURROGATES = {
    "ATan": sa.ATan(alpha=3.0),
    "FastSigmoid": sa.FastSigmoid(slope=5.0),
    "Sigmoid": sa.Sigmoid(slope=4.0),
    "Triangle": sa.Triangle(width=0.9),
    "StraightThrough": sa.StraightThrough(),
}


def primitive(surrogate: Any, x: torch.Tensor) -> torch.Tensor:
    """The smooth step S (S' = the surrogate) as in the documentation, shifted by 1/2."""
    if isinstance(surrogate, sa.ATan):
        return torch.atan(math.pi / 2 * surrogate.alpha * x) / math.pi + 0.5
    if isinstance(surrogate, sa.FastSigmoid):
        return x / (1 + surrogate.slope * x.abs()) + 0.5
    if isinstance(surrogate, sa.Sigmoid):
        return torch.sigmoid(surrogate.slope * x)
    if isinstance(surrogate, sa.Triangle):
        w = surrogate.width
        xc = torch.clamp(x, -w, w)
        return xc / w - xc * xc.abs() / (2 * w * w) + 0.5
    if isinstance(surrogate, sa.StraightThrough):
        return x + 0.5
    raise AssertionError(surrogate)


class SmoothValue:
    """Spikes with the real ``inner`` backward and the smooth value S(v - θ)."""

    required_states = ("v_mem",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def apply(self, v_mem: torch.Tensor, threshold: Any, surrogate: Any) -> torch.Tensor:
        spikes = self.inner.apply(v_mem, threshold, surrogate)
        smooth = primitive(surrogate, v_mem.detach() - torch.as_tensor(threshold).detach())
        return spikes - spikes.detach() + smooth


LAYERS: dict[str, Callable[..., nn.Module]] = {
    "IAF": lambda **k: sl.IAF(**k),
    "IAFRecurrent": lambda **k: IAFRecurrent(rec_connect=nn.Linear(N, N), **k),
    "IAFSqueeze": lambda **k: sl.IAFSqueeze(batch_size=B, **k),
    "LIF": lambda **k: sl.LIF(10.0, norm_input=False, **k),
    "LIFRecurrent": lambda **k: sl.LIFRecurrent(10.0, nn.Linear(N, N), norm_input=False, **k),
    "LIFSqueeze": lambda **k: sl.LIFSqueeze(batch_size=B, tau_mem=10.0, norm_input=False, **k),
    "ALIF": lambda **k: sl.ALIF(10.0, 20.0, norm_input=False, **k),
    "ALIFRecurrent": lambda **k: ALIFRecurrent(10.0, 20.0, nn.Linear(N, N), norm_input=False, **k),
    "ALIFSqueeze": lambda **k: ALIFSqueeze(
        batch_size=B, tau_mem=10.0, tau_adapt=20.0, norm_input=False, **k
    ),
}


def feed(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, sl.SqueezeMixin):
        return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    return layer(x)


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("name", LAYERS)
def test_one_step_gradient_is_the_surrogate(name, surrogate):
    # one step from rest (no recurrent feedback yet, b = 0): v = x, so ∂s/∂x = g(x, θ)
    fn = SURROGATES[surrogate]
    torch.manual_seed(0)
    layer = LAYERS[name](spike_fn=sa.SingleSpike, surrogate_grad_fn=fn).double()
    x = torch.linspace(-1.0, 3.0, B * N, dtype=F64).reshape(B, 1, N).requires_grad_()
    feed(layer, x).sum().backward()
    threshold = torch.tensor(1.0, dtype=F64)
    assert torch.equal(x.grad, fn(x.detach(), threshold))
    assert layer.surrogate_grad_fn is fn


@pytest.mark.parametrize("spike", [sa.SingleSpike, sa.MultiSpike], ids=["single", "multi"])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_gradcheck_lif(surrogate, spike):
    fn = SURROGATES[surrogate]

    def run(x: torch.Tensor, theta: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layer = sl.LIF(
            tau_mem=5.0, tau_syn=3.0, spike_fn=SmoothValue(spike), surrogate_grad_fn=fn,
            train_threshold=True, record_states=True, backend="reference",
        ).double()  # fmt: skip
        values = {"spike_threshold": theta, "tau_mem": tau}
        out = torch.func.functional_call(layer, values, (x,))
        return (out, *layer.recordings.values())

    gen = torch.Generator().manual_seed(5)
    x = (torch.rand(B, 6, N, generator=gen, dtype=F64) * 2.0 - 0.4).requires_grad_()
    theta = (torch.rand(N, generator=gen, dtype=F64) * 0.5 + 0.7).requires_grad_()
    tau = torch.tensor(5.0, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(run, (x, theta, tau))


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_time_splitting_and_batch_independence(surrogate):
    fn = SURROGATES[surrogate]
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(3, 10, N, generator=gen, dtype=F64) * 2.0
    weights = torch.linspace(-1.0, 1.0, x.numel(), dtype=F64).view_as(x)

    def input_grad(
        xx: torch.Tensor, cuts: list[int], rows: slice = slice(None)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        layer = sl.ALIF(10.0, 15.0, tau_syn=3.0, surrogate_grad_fn=fn).double()
        xx = xx.clone().requires_grad_()
        out = torch.cat([layer(chunk) for chunk in xx.split(cuts, dim=1)], 1)
        (out * weights[rows]).sum().backward()
        return out, xx.grad

    out, grad = input_grad(x, [10])
    out_split, grad_split = input_grad(x, [4, 6])
    assert torch.equal(out, out_split)
    torch.testing.assert_close(grad, grad_split, rtol=1e-13, atol=1e-13)
    assert grad.abs().sum() > 0
    for i in range(3):
        out_i, grad_i = input_grad(x[i : i + 1], [10], slice(i, i + 1))
        assert torch.equal(out_i, out[i : i + 1])
        assert torch.equal(grad_i, grad[i : i + 1])


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_auto_runs_the_cpu_kernel_with_the_surrogate(surrogate, spy_backend_choice):
    fn = SURROGATES[surrogate]
    chosen = spy_backend_choice()
    x = torch.rand(2, 5, N, generator=torch.Generator().manual_seed(0)) * 2
    results = []
    for backend in ("auto", "reference"):
        layer = sl.LIF(4.0, tau_syn=3.0, surrogate_grad_fn=fn, record_states=True, backend=backend)
        xl = x.clone().requires_grad_()
        out = layer(xl)
        (out.sum() + layer.v_mem.sum()).backward()
        results.append((out, layer.v_mem, layer.recordings["i_syn"], xl.grad, layer.tau_mem.grad))
    assert chosen == ["cpu", "reference"]
    (got, v, i, g_x, g_tau), (ref, ref_v, ref_i, ref_g_x, ref_g_tau) = results
    assert int(ref.sum()) > 0
    assert torch.equal(got, ref) and torch.equal(v, ref_v) and torch.equal(i, ref_i)
    for o, r in ((g_x, ref_g_x), (g_tau, ref_g_tau)):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_layer_copies_keep_the_surrogate(surrogate):
    fn = SURROGATES[surrogate]
    layer = sl.LIF(10.0, surrogate_grad_fn=fn, train_threshold=True)
    x = torch.rand(2, 5, N) * 2
    layer(x)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone.surrogate_grad_fn == fn
        assert clone._param_dict["surrogate_grad_fn"] == fn
        clone.reset_states()
        layer.reset_states()
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        layer(xa).sum().backward()
        clone(xb).sum().backward()
        assert torch.equal(xa.grad, xb.grad)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_cpu_kernel_evaluates_the_surrogate_in_its_order(surrogate, dtype):
    # one step from rest (v = x): the input's gradient of Σ s is g(x, θ) and the
    # trained threshold's -g(x, θ), on a fine grid across the threshold. The C kernel
    # follows the class's order of operations: the same bits, but for Sigmoid, whose
    # exp is the kernel's own (within an ulp of torch's)
    fn = SURROGATES[surrogate]
    x = torch.linspace(-1.5, 3.5, 1001, dtype=dtype).reshape(1, 1, -1)
    theta = torch.full((1001,), 1.1, dtype=dtype)
    grads = []
    for backend in ("reference", "cpu"):
        layer = sl.IAF(
            spike_threshold=theta, surrogate_grad_fn=fn, train_threshold=True, backend=backend
        ).to(dtype)
        xl = x.clone().requires_grad_()
        layer(xl).sum().backward()
        grads.append((xl.grad, layer.spike_threshold.grad))
    (ref_x, ref_th), (got_x, got_th) = grads
    assert torch.equal(ref_th, -ref_x.flatten())
    if surrogate == "Sigmoid":
        torch.testing.assert_close(got_x, ref_x, rtol=4 * torch.finfo(dtype).eps, atol=0.0)
        torch.testing.assert_close(got_th, ref_th, rtol=4 * torch.finfo(dtype).eps, atol=0.0)
    else:
        assert torch.equal(got_x, ref_x) and torch.equal(got_th, ref_th)


def test_gaussian_surrogate_does_not_depend_on_the_default_dtype() -> None:
    # The kernels cache the Gaussian's normaliser: the reference must compute it the
    # same way in any session (it is evaluated in float32, as sinabs does by default).
    x = torch.rand(2, 30, 5, dtype=torch.float64) * 3
    grads = []
    previous = torch.get_default_dtype()
    try:
        for default in (torch.float32, torch.float64, torch.float32):
            torch.set_default_dtype(default)
            for backend in ("cpu", "reference"):
                layer = sl.Izhikevich(0.02, 0.2, -65.0, 8.0, backend=backend).double()
                xs = (x * 10).requires_grad_()
                layer(xs).sum().backward()
                grads.append(xs.grad)
    finally:
        torch.set_default_dtype(previous)
    # the fused kernel against the reference in each session (the layer's parameters
    # differ between sessions: 0.02 made in float32, then .double())
    for cpu, ref in zip(grads[0::2], grads[1::2], strict=True):
        assert (cpu - ref).abs().max() <= 1e-12 * ref.abs().max()
