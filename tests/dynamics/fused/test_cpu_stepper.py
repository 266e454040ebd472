"""The CPU kernel's one-step caller (``cpu_kernel.Stepper``), which the recurrent loop
(``sinabs.dynamics.fused.recurrent``) calls once per time step and direction.

A step through the Stepper writes into the caller's tensors what ``scan_forward`` and
``scan_backward`` return for the same ``(B, 1, N)`` call: compared bit for bit (the same
kernel on both sides), for every family that carries states in the kernel's v, i, b and
u. The loop's other caller, the copying one the Triton kernels use, must give the loop
the same bits as the Stepper (checked here on the C kernels). Bad arguments are errors
that name them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import sinabs.layers as sl
from sinabs.dynamics.families import STATES
from sinabs.dynamics.fused import cpu_kernel, recurrent
from sinabs.dynamics.fused.config import Prepared, check, from_checked

pytestmark = pytest.mark.skipif(
    not cpu_kernel.available(), reason="the CPU kernel is not built (setup.py build_ext)"
)

# Layers whose family, options and parameters make the configurations (x scaled so that
# each spikes); N covers a partial slot (70 = 64 + 6 float32 lanes) and several slots.
LAYERS: dict[str, tuple[Callable[[], nn.Module], float]] = {
    "LIF": (lambda: sl.LIF(tau_mem=10.0), 3.0),
    "LIF-syn": (lambda: sl.LIF(tau_mem=10.0, tau_syn=4.0), 6.0),
    "IAF": (lambda: sl.IAF(), 1.5),
    "ExpLeak": (lambda: sl.ExpLeak(tau_mem=10.0), 1.0),
    "ALIF": (lambda: sl.ALIF(10.0, 30.0), 3.0),
    "Izhikevich": (lambda: sl.Izhikevich(0.02, 0.2, -65.0, 8.0), 20.0),
    "AdEx": (lambda: sl.AdEx(), 900.0),
    "ResonateAndFire": (lambda: sl.ResonateAndFire(omega=10.0), 5.0),
    "ResonateAndFire-balanced": (lambda: sl.ResonateAndFire(omega=10.0, balanced=True), 5.0),
}


def _prepare(name: str, x: torch.Tensor) -> Prepared:
    """The neutral form of ``name``'s layer on ``x`` (B, T, N), from random states."""
    layer = LAYERS[name][0]()
    checked = check(layer._family, x, layer._dynamics_params(x.dtype))
    assert not isinstance(checked, str), checked
    config = checked[1]
    batch, n = x.shape[0], x.shape[2]
    state = {
        config.layer_name(s.name): torch.rand(batch, n, dtype=x.dtype) * 0.5
        for s in STATES
        if config.has_state(s.name)
    }
    return from_checked(x, state, checked)


def _setup(name: str, dtype: torch.dtype, batch: int, n: int, seed: int = 0):
    torch.manual_seed(seed)
    x = torch.randn(batch, 1, n, dtype=dtype) * LAYERS[name][1]
    prepared = _prepare(name, x)
    cfg = prepared.config.with_record(False)
    table = torch.stack(prepared.rows).contiguous()
    present = [cfg.has_state(s.name) for s in STATES]
    return x, prepared.states, table, cfg, present


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", [(3, 9), (5, 70), (2, 256)], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_stepper_equals_scan_calls(name: str, shape: tuple[int, int], dtype) -> None:
    batch, n = shape
    x, states, table, cfg, present = _setup(name, dtype, batch, n)
    empty = x.new_empty(0)
    expected = cpu_kernel.scan_forward(x, *states, table, cfg)
    stepper = cpu_kernel.Stepper(table, cfg, batch, n)
    out = torch.full((batch, n), float("nan"), dtype=dtype)
    new = [torch.full((batch, n), float("nan"), dtype=dtype) if here else empty for here in present]
    stepper.forward(x[:, 0].contiguous(), states, out, new)
    assert torch.equal(out, expected[0][:, 0])
    for k, here in enumerate(present):
        if here:
            assert torch.equal(new[k], expected[1 + k]), STATES[k].name

    g_out = torch.randn(batch, 1, n, dtype=dtype)
    g_states = [torch.randn(batch, n, dtype=dtype) if here else empty for here in present]
    want = cpu_kernel.scan_backward(
        g_out, *g_states, *([empty] * len(STATES)), x, *states, table, cfg
    )
    g_x = torch.full((batch, n), float("nan"), dtype=dtype)
    g_states0 = [
        torch.full((batch, n), float("nan"), dtype=dtype) if here else empty for here in present
    ]
    g_params = torch.full_like(table, float("nan"))
    stepper.backward(
        g_out[:, 0].contiguous(), list(g_states), x[:, 0].contiguous(), states, g_x,
        g_states0, g_params,
    )  # fmt: skip
    assert torch.equal(g_x, want[0][:, 0])
    for k, here in enumerate(present):
        if here:
            assert torch.equal(g_states0[k], want[1 + k]), STATES[k].name
    assert torch.equal(g_params, want[1 + len(STATES)])
    # absent gradients of the new states (None) count as zero, as empty ones do
    want_none = cpu_kernel.scan_backward(
        g_out, *([empty] * (2 * len(STATES))), x, *states, table, cfg
    )
    stepper.backward(
        g_out[:, 0].contiguous(), [None] * len(STATES), x[:, 0].contiguous(), states, g_x,
        g_states0, g_params,
    )  # fmt: skip
    assert torch.equal(g_x, want_none[0][:, 0])
    assert torch.equal(g_params, want_none[1 + len(STATES)])


def test_stepper_rejects_bad_arguments() -> None:
    _, _, table, cfg, _ = _setup("LIF", torch.float32, 2, 8)
    with pytest.raises(ValueError, match="params has shape"):
        cpu_kernel.Stepper(table, cfg, 2, 9)
    with pytest.raises(ValueError, match="float32 and float64"):
        cpu_kernel.Stepper(table.half(), cfg, 2, 8)
    with pytest.raises(ValueError, match="records nothing"):
        cpu_kernel.Stepper(table, cfg.with_record(True), 2, 8)
    stepper = cpu_kernel.Stepper(table, cfg, 2, 8)
    with pytest.raises(ValueError, match=r"v_mem \(initial\) has shape"):
        stepper.check_state("v_mem (initial)", torch.zeros(3, 8), True)
    with pytest.raises(ValueError, match="v_mem has dtype"):
        stepper.check_state("v_mem", torch.zeros(2, 8, dtype=torch.float64), True)
    with pytest.raises(ValueError, match="v_mem is not contiguous"):
        stepper.check_state("v_mem", torch.zeros(8, 2).t(), True)
    stepper.check_state("i_syn", torch.zeros(5), False)  # not carried: not read


def _loop(kernels: object, name: str, record: bool, seed: int = 1):
    """The recurrent loop's outputs and gradients (input, initial states, weight, bias,
    rows) on ``kernels``."""
    torch.manual_seed(seed)
    batch, steps, n = 3, 6, 70
    linear = nn.Linear(n, n).double()
    x = (torch.randn(batch, steps, n, dtype=torch.float64) * LAYERS[name][1]).requires_grad_()
    prepared = _prepare(name, x)
    cfg = prepared.config.with_record(record)
    present = [cfg.has_state(s.name) for s in STATES]
    states = [
        s.detach().clone().requires_grad_() if here else s
        for s, here in zip(prepared.states, present, strict=True)
    ]
    rows = [r.detach().clone().requires_grad_() for r in prepared.rows]
    call = SimpleNamespace(x=x, states=tuple(states), rows=tuple(rows))
    outputs = recurrent.scan(kernels, call, cfg, linear)  # type: ignore[arg-type]
    loss = sum((o.double() * (0.3 + k)).sum() for k, o in enumerate(outputs) if o.numel())
    leaves = [x, linear.weight, linear.bias, *[s for s in states if s.requires_grad], *rows]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return [o.detach() for o in outputs], grads


@pytest.mark.parametrize("record", [False, True], ids=["plain", "record"])
@pytest.mark.parametrize("name", ["LIF-syn", "ALIF", "AdEx"])
def test_copying_stepper_gives_the_loop_the_same_bits(name: str, record: bool) -> None:
    """The loop on kernels without a Stepper (how it runs the Triton kernels) against
    the loop with the CPU kernel's Stepper: the same kernel, the same bits."""
    plain = SimpleNamespace(
        scan_forward=cpu_kernel.scan_forward, scan_backward=cpu_kernel.scan_backward
    )
    outs_a, grads_a = _loop(cpu_kernel, name, record)
    outs_b, grads_b = _loop(plain, name, record)
    assert outs_a[0].sum() > 0  # it spikes
    for a, b in zip(outs_a, outs_b, strict=True):
        assert torch.equal(a, b)
    for a, b in zip(grads_a, grads_b, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b)
