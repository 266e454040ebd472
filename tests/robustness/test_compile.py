"""Every neuron layer under ``torch.compile(fullgraph=True)``: the same outputs, states,
recordings and gradients as eager, on the reference and the fused CPU backend, over a
first call, a call with carried state and a batch-size change; recompilations counted.

The compiler back end is ``aot_eager`` (dynamo's graph capture and AOTAutograd's joint
graph, without code generation, which costs tens of seconds per graph on two cores);
inductor runs in test_inductor_layer_equals_eager and tests/dynamics/fused/test_ops.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch._dynamo.testing import CompileCounterWithBackend

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFSqueeze

T = 3
N = 4


def linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(N, N, bias=False)


LAYERS: dict[str, tuple[Callable[[str], nn.Module], bool]] = {
    "IAF": (lambda b: sl.IAF(tau_syn=4.0, record_states=True, backend=b), True),
    "LIF": (
        lambda b: sl.LIF(
            10.0, min_v_mem=-1.0, spike_fn=sa.MaxSpike(2), record_states=True, backend=b
        ),
        True,
    ),
    "LIF-train-alphas": (lambda b: sl.LIF(10.0, 5.0, train_alphas=True, backend=b), True),
    "ExpLeak": (lambda b: sl.ExpLeak(10.0, record_states=True, backend=b), True),
    "ALIF": (lambda b: sl.ALIF(10.0, 20.0, tau_syn=4.0, record_states=True, backend=b), True),
    "LIFSqueeze": (lambda b: sl.LIFSqueeze(batch_size=2, tau_mem=10.0, backend=b), True),
    "ALIFSqueeze": (
        lambda b: ALIFSqueeze(num_timesteps=T, tau_mem=10.0, tau_adapt=20.0, backend=b),
        True,
    ),
    # snnTorch's surrogates and trainable thresholds (reference only: see
    # tests/layers/test_train_threshold.py for the backends)
    "LIF-ATan-train-threshold": (
        lambda b: sl.LIF(
            10.0,
            tau_syn=4.0,
            surrogate_grad_fn=sa.ATan(),
            train_threshold=True,
            record_states=True,
            backend=b,
        ),
        False,
    ),
    "ALIF-Triangle-train-threshold": (
        lambda b: sl.ALIF(
            10.0,
            20.0,
            spike_threshold=torch.tensor([0.8, 1.0, 1.2, 1.4]),
            surrogate_grad_fn=sa.Triangle(2.0),
            train_threshold=True,
            backend=b,
        ),
        False,
    ),
    "IAF-FastSigmoid": (lambda b: sl.IAF(surrogate_grad_fn=sa.FastSigmoid(), backend=b), False),
    "LIF-Sigmoid": (lambda b: sl.LIF(10.0, surrogate_grad_fn=sa.Sigmoid(4.0), backend=b), False),
    "LIF-StraightThrough": (
        lambda b: sl.LIF(10.0, surrogate_grad_fn=sa.StraightThrough(), backend=b),
        False,
    ),
    "IAFRecurrent": (lambda b: sl.IAFRecurrent(rec_connect=linear(), backend=b), False),
    "LIFRecurrent": (lambda b: sl.LIFRecurrent(10.0, rec_connect=linear(), backend=b), False),
}
CASES = [
    pytest.param(name, backend, id=f"{name}-{backend}")
    for name, (_, fused) in LAYERS.items()
    for backend in ("reference", "cpu")
    if backend == "reference" or fused
]
#: (batch, whether the states are carried from the previous call)
CALLS = [(2, False), (2, True), (2, True), (3, True), (5, True)]
#: frames compiled over CALLS: the fresh layer, the carried state, one batch-size change
#: (dynamo then marks the batch dimension dynamic: the next change recompiles nothing)
MAX_COMPILES = 3


def feed(layer: nn.Module, fn: Callable, x: torch.Tensor) -> torch.Tensor:
    """Calls ``fn`` (the layer or its compiled form) with ``x`` (B, T, ...) in the
    layer's layout."""
    if isinstance(layer, sl.SqueezeMixin):
        if layer.batch_size > 0 and x.shape[0] != layer.batch_size:
            layer.batch_size = x.shape[0]
        return fn(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    return fn(x)


def step(layer: nn.Module, fn: Callable, x: torch.Tensor) -> dict[str, object]:
    """One call and its gradients (input and parameters), states then detached."""
    xx = x.clone().requires_grad_(True)
    out = fn(xx)
    weights = torch.linspace(-1, 1, out.numel()).view_as(out)
    loss = (out * weights).sum()
    for rec in getattr(layer, "recordings", {}).values():
        loss = loss + rec.as_subclass(torch.Tensor).sum()
    params = [p for p in layer.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [xx, *params])
    result = {
        "out": out.detach(),
        "states": {k: v.detach().clone() for k, v in layer.named_states()},
        "recordings": {k: v.detach().clone() for k, v in layer.recordings.items()},
        "grads": grads,
    }
    layer.detach_states()
    return result


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_compiled_layer_equals_eager(name: str, backend: str) -> None:
    torch._dynamo.reset()
    build = LAYERS[name][0]
    eager, compiled_layer = build(backend), build(backend)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(compiled_layer, backend=counter, fullgraph=True)
    g = torch.Generator().manual_seed(1)
    for k, (batch, carried) in enumerate(CALLS):
        if not carried:
            eager.reset_states()
            compiled_layer.reset_states()
        x = torch.rand(batch, T, N, generator=g) * 12 - 1
        expected = step(eager, lambda v: feed(eager, eager, v), x)
        got = step(compiled_layer, lambda v: feed(compiled_layer, compiled, v), x)
        assert torch.equal(got["out"], expected["out"]), k
        assert expected["out"].abs().sum() > 0, k
        for group in ("states", "recordings"):
            assert got[group].keys() == expected[group].keys(), (k, group)
            for key, value in expected[group].items():
                assert torch.equal(got[group][key], value), (k, group, key)
        for a, b in zip(got["grads"], expected["grads"], strict=True):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), k
    # a Squeeze layer's batch_size is a constant of its module: each value compiles anew
    fixed_batch = getattr(compiled_layer, "batch_size", -1) > 0
    assert 1 <= counter.frame_count <= MAX_COMPILES + fixed_batch


@pytest.mark.parametrize(
    "backend",
    [
        # inductor compiles the reference's unrolled time loop for about a minute
        pytest.param("reference", marks=pytest.mark.slow),
        "cpu",
    ],
)
def test_inductor_layer_equals_eager(backend: str) -> None:
    torch._dynamo.reset()
    eager = sl.LIF(10.0, tau_syn=4.0, record_states=True, backend=backend)
    compiled_layer = sl.LIF(10.0, tau_syn=4.0, record_states=True, backend=backend)
    compiled = torch.compile(compiled_layer, fullgraph=True)
    g = torch.Generator().manual_seed(2)
    for _ in range(2):  # the second call carries the state
        x = torch.rand(2, T, N, generator=g) * 1.5
        expected = step(eager, eager, x)
        got = step(compiled_layer, compiled, x)
        assert torch.equal(got["out"], expected["out"])
        for key, value in expected["states"].items():
            assert torch.allclose(got["states"][key], value, rtol=1e-6, atol=1e-7), key
        for a, b in zip(got["grads"], expected["grads"], strict=True):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("backend", "recurrent"),
    [("reference", False), ("cpu", False), ("reference", True)],
    ids=["LIF-reference", "LIF-cpu", "LIFRecurrent-bf16-connection-reference"],
)
def test_compiled_half_precision_equals_eager(backend: str, recurrent: bool) -> None:
    """Mixed precision under ``torch.compile(fullgraph=True)``: a bfloat16 input (under
    autocast) computes in float32 as in eager; a recurrent connection converted to
    bfloat16 is fed the spikes in bfloat16."""
    torch._dynamo.reset()

    def build() -> nn.Module:
        if recurrent:
            layer = sl.LIFRecurrent(10.0, rec_connect=linear(), tau_syn=4.0, record_states=True)
            layer.rec_connect.to(torch.bfloat16)
            return layer
        return sl.LIF(10.0, tau_syn=4.0, record_states=True, backend=backend)

    eager, compiled_layer = build(), build()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(compiled_layer, backend=counter, fullgraph=True)
    g = torch.Generator().manual_seed(2)
    for k in range(2):  # a first call and one with carried float32 states
        x = (torch.rand(2, T, N, generator=g) * 12 - 1).to(torch.bfloat16)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            expected = step(eager, eager, x)
            got = step(compiled_layer, compiled, x)
        assert got["out"].dtype == torch.bfloat16
        assert torch.equal(got["out"], expected["out"]), k
        assert expected["out"].abs().sum() > 0, k
        for group in ("states", "recordings"):
            for key, value in expected[group].items():
                assert value.dtype == torch.float32, (k, group, key)
                assert torch.equal(got[group][key], value), (k, group, key)
        for a, b in zip(got["grads"], expected["grads"], strict=True):
            assert a.dtype == b.dtype, k
            rtol = 2.0**-7 if a.dtype == torch.bfloat16 else 1e-5  # bfloat16: one rounding
            assert torch.allclose(a.float(), b.float(), rtol=rtol, atol=1e-6), k
    assert 1 <= counter.frame_count <= MAX_COMPILES
