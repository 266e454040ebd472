"""Recurrent layers on the fused CPU kernel (``sinabs.dynamics.fused.recurrent``).

A recurrent layer whose ``rec_connect`` is one ``nn.Linear`` (or ``nn.Sequential(
nn.Flatten(), nn.Linear)``) runs its time loop with a one-step kernel call per step.
Against the reference loop, for every spiking family and option: outputs, states and
recordings bit for bit; gradients of the input, the initial states, the feedback's
weight and bias and the layer's trained parameters within 1e-5 (float32) and 1e-10
(float64: the same chain rule, summed in another order). What it cannot run goes to the
reference, with the reason when the CPU backend is named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.dynamics import BackendError

B, T, N = 3, 25, 12
F32, F64 = torch.float32, torch.float64
TOL = {F32: 1e-5, F64: 1e-10}

# (name, layer factory given rec_connect and backend); every variant spikes on the input
LAYERS: dict[str, Callable[..., nn.Module]] = {
    "LIF": lambda rec, **kw: sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec, **kw),
    "LIF-syn-train_alphas": lambda rec, **kw: sl.LIFRecurrent(
        tau_mem=10.0, tau_syn=4.0, rec_connect=rec, train_alphas=True, **kw
    ),
    "LIF-single-reset-min": lambda rec, **kw: sl.LIFRecurrent(
        tau_mem=8.0,
        rec_connect=rec,
        spike_fn=sa.SingleSpike,
        reset_fn=sa.MembraneReset(-0.2),
        min_v_mem=-1.0,
        **kw,
    ),
    "LIF-atan-train_threshold": lambda rec, **kw: sl.LIFRecurrent(
        tau_mem=10.0,
        rec_connect=rec,
        surrogate_grad_fn=sa.ATan(),
        train_threshold=True,
        spike_threshold=torch.linspace(0.8, 1.2, N),
        **kw,
    ),
    "IAF-syn": lambda rec, **kw: sl.IAFRecurrent(rec_connect=rec, tau_syn=5.0, **kw),
    "ALIF": lambda rec, **kw: sl.ALIFRecurrent(10.0, 30.0, rec_connect=rec, **kw),
    "ALIF-train_threshold": lambda rec, **kw: sl.ALIFRecurrent(
        10.0, 30.0, rec_connect=rec, train_threshold=True, tau_syn=3.0, **kw
    ),
}


def linear(dtype: torch.dtype, bias: bool = True, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(N, N, bias=bias).to(dtype)
    with torch.no_grad():
        layer.weight.mul_(0.5)
    return layer


def run(
    layer: nn.Module, x: torch.Tensor, rec: nn.Module, v0: torch.Tensor | None
) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """Two calls (the second from the first's states), a loss over outputs, states and
    recordings; returns the values and the gradients by name."""
    xs = x.clone().requires_grad_()
    inputs: dict[str, torch.Tensor] = {"x": xs}
    if v0 is not None:
        layer.v_mem = v0.clone().requires_grad_()
        inputs["v0"] = layer.v_mem
    first = layer(xs[:, :10])
    second = layer(xs[:, 10:])
    out = torch.cat([first, second], 1)
    names = ("v_mem", "i_syn", "b")
    values = [out, *[getattr(layer, s).detach() for s in names if hasattr(layer, s)]]
    values += [r.detach() for r in layer.recordings.values()]
    weights = torch.linspace(0.5, 1.5, out[0, 0].numel(), dtype=x.dtype).reshape(out.shape[2:])
    loss = (out * weights).sum() + layer.v_mem.sum()
    loss = loss + sum((0.1 * r).sum() for r in layer.recordings.values())
    named = dict(inputs)
    named.update({f"rec.{k}": p for k, p in rec.named_parameters()})
    named.update({k: p for k, p in layer.named_parameters() if p.requires_grad and "rec" not in k})
    grads = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    return values, dict(zip(named, grads, strict=True))


def compare(make: Callable[[str], tuple[nn.Module, nn.Module]], x, v0=None) -> None:
    results = {}
    for backend in ("reference", "cpu"):
        layer, rec = make(backend)
        results[backend] = run(layer, x, rec, v0)
    (ref_values, ref_grads), (cpu_values, cpu_grads) = results["reference"], results["cpu"]
    assert ref_values[0].sum() > 0  # it spikes
    assert len(ref_values) == len(cpu_values)
    for a, b in zip(ref_values, cpu_values, strict=True):
        assert torch.equal(a, b)
    assert ref_grads.keys() == cpu_grads.keys()
    tol = TOL[x.dtype]
    for name in ref_grads:
        a, b = ref_grads[name], cpu_grads[name]
        assert (a is None) == (b is None), name
        if a is not None:
            scale = a.abs().max().clamp(min=1.0)
            assert (a - b).abs().max() <= tol * scale, name


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_recurrent_layer_equals_reference(name: str, dtype: torch.dtype) -> None:
    def make(backend: str) -> tuple[nn.Module, nn.Module]:
        rec = linear(dtype)
        return LAYERS[name](rec, record_states=True, backend=backend).to(dtype), rec

    x = torch.rand(B, T, N, dtype=dtype, generator=torch.Generator().manual_seed(1)) * 2.5
    compare(make, x, v0=torch.rand(B, N, dtype=dtype) * 0.5)


@pytest.mark.parametrize("bias", [True, False])
def test_sequential_flatten_linear_on_two_dimensional_neurons(bias: bool) -> None:
    shape = (3, 4)  # 12 neurons

    def make(backend: str) -> tuple[nn.Module, nn.Module]:
        rec = nn.Sequential(nn.Flatten(), linear(F64, bias=bias))
        layer = sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec, record_states=True)
        layer.backend = backend
        return layer.double(), rec

    x = torch.rand(B, T, *shape, dtype=F64, generator=torch.Generator().manual_seed(2)) * 2.5
    compare(make, x)


def test_auto_runs_the_cpu_kernel_for_a_linear_feedback(spy_backend_choice) -> None:
    chosen = spy_backend_choice()
    layer = sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear(F32))
    layer(torch.rand(B, T, N))
    layer2 = sl.IAFRecurrent(rec_connect=nn.Sequential(nn.Flatten(), linear(F32)))
    layer2(torch.rand(B, T, N))
    assert chosen == ["cpu", "cpu"]


REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "a two-layer feedback": (
        lambda: nn.Sequential(nn.Linear(N, N), nn.ReLU()),
        "runs Linear, ReLU, not one",
    ),
    "a function": (lambda: lambda s: 0.5 * s, "is not an nn.Linear"),
    "a Linear of another size": (lambda: nn.Linear(N, 2 * N), f"maps {N} to {2 * N}"),
    "a float64 Linear": (lambda: nn.Linear(N, N).double(), None),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_other_feedbacks_run_on_the_reference(case: str, spy_backend_choice) -> None:
    make, reason = REFUSED[case]
    if reason is None:  # the layer itself refuses it (a TypeError naming rec_connect)
        with pytest.raises(TypeError, match="rec_connect"):
            sl.LIFRecurrent(tau_mem=10.0, rec_connect=make())(torch.rand(B, T, N))
        return
    if "size" in case:  # the reference fails on the reshape: the layer's own error
        with pytest.raises(BackendError, match=reason):
            sl.LIFRecurrent(tau_mem=10.0, rec_connect=make(), backend="cpu")(torch.rand(B, T, N))
        return
    chosen = spy_backend_choice()
    sl.LIFRecurrent(tau_mem=10.0, rec_connect=make())(torch.rand(B, T, N))
    assert chosen == ["reference"]
    with pytest.raises(BackendError, match=reason):
        sl.LIFRecurrent(tau_mem=10.0, rec_connect=make(), backend="cpu")(torch.rand(B, T, N))


def test_a_feedback_with_hooks_runs_the_module(spy_backend_choice) -> None:
    rec = linear(F32)
    calls: list[int] = []
    rec.register_forward_hook(lambda module, args, out: calls.append(1))
    chosen = spy_backend_choice()
    sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec)(torch.rand(B, T, N))
    assert chosen == ["reference"] and len(calls) == T
    with pytest.raises(BackendError, match="hooks"):
        sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec, backend="cpu")(torch.rand(B, T, N))


@pytest.mark.parametrize("shape", [(0, T, N), (B, 0, N), (B, 1, N)], ids=["B=0", "T=0", "T=1"])
def test_edge_sizes(shape: tuple[int, ...]) -> None:
    def make(backend: str) -> nn.Module:
        torch.manual_seed(0)
        return sl.LIFRecurrent(
            tau_mem=10.0, rec_connect=linear(F32), record_states=True, backend=backend
        )

    x = torch.rand(shape) * 3
    ref, cpu = make("reference"), make("cpu")
    a, b = ref(x), cpu(x)
    assert torch.equal(a, b) and a.shape == x.shape
    assert torch.equal(ref.v_mem, cpu.v_mem)
    assert torch.equal(ref.recordings["v_mem"], cpu.recordings["v_mem"])


def test_batch_rows_are_independent() -> None:
    x = torch.rand(4, T, N) * 2.5
    layer = sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear(F32), backend="cpu")
    batched = layer(x)
    for row in range(4):
        layer.reset_states()
        assert torch.equal(layer(x[row : row + 1]), batched[row : row + 1])


def test_no_grad_inference_and_firing_rate() -> None:
    x = torch.rand(B, T, N) * 2.5
    ref = sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear(F32), backend="reference")
    cpu = sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear(F32), backend="cpu")
    with torch.no_grad():
        assert torch.equal(ref(x), cpu(x))
    assert ref.firing_rate == cpu.firing_rate


# the point-neuron models' recurrent variants (their families on the kernels too)
MODELS: dict[str, tuple[Callable[..., nn.Module], float]] = {
    "Izhikevich": (
        lambda rec, **kw: sl.IzhikevichRecurrent(0.02, 0.2, -65.0, 8.0, rec_connect=rec, **kw),
        15.0,
    ),
    "AdEx": (lambda rec, **kw: sl.AdExRecurrent(rec_connect=rec, dt=0.1, **kw), 6000.0),
    "ResonateAndFire": (
        lambda rec, **kw: sl.ResonateAndFireRecurrent(omega=10.0, dt=0.1, rec_connect=rec, **kw),
        20.0,
    ),
    "ResonateAndFire-balanced": (
        lambda rec, **kw: sl.ResonateAndFireRecurrent(
            omega=10.0, dt=0.1, balanced=True, rec_connect=rec, **kw
        ),
        20.0,
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_point_model_recurrent_variants(name: str) -> None:
    factory, scale = MODELS[name]

    def make(backend: str) -> tuple[nn.Module, nn.Module]:
        rec = linear(F64)
        with torch.no_grad():
            rec.weight.mul_(0.3 * scale)
            rec.bias.mul_(0.1 * scale)
        return factory(rec, record_states=True, backend=backend).double(), rec

    results = {}
    x = torch.rand(B, T, N, dtype=F64, generator=torch.Generator().manual_seed(5)) * scale
    for backend in ("reference", "cpu"):
        layer, rec = make(backend)
        xs = x.clone().requires_grad_()
        out = layer(xs)
        loss = out.sum() + sum(1e-3 * r.sum() for r in layer.recordings.values())
        grads = torch.autograd.grad(loss, [xs, rec.weight, rec.bias])
        results[backend] = (out.detach(), dict(layer.recordings), grads)
    (ref_out, ref_rec, ref_g), (cpu_out, cpu_rec, cpu_g) = results["reference"], results["cpu"]
    assert ref_out.sum() > 0
    assert torch.equal(ref_out, cpu_out)
    assert ref_rec.keys() == cpu_rec.keys()
    assert all(torch.equal(ref_rec[k], cpu_rec[k]) for k in ref_rec)
    for a, b in zip(ref_g, cpu_g, strict=True):
        assert (a - b).abs().max() <= 1e-10 * a.abs().max().clamp(min=1.0)
