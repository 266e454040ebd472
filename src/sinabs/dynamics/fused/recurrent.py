"""Recurrent layers on the fused kernels, for a ``rec_connect`` that is one linear map.

A recurrent layer adds ``rec_connect(s_{t-1})`` to the input of step t, so its steps
cannot run as one scan. When ``rec_connect`` is an ``nn.Linear`` (or an ``nn.Sequential``
of ``nn.Flatten`` and one ``nn.Linear``) the time loop here runs each step as a one-step
call of the device's kernels and the feedback as ``F.linear``, the operation the module
itself performs, so outputs, states and recordings are the reference loop's bits. Its
backward is written out (:class:`_RecurrentScan`): per step, backwards, the kernels'
one-step backward with the feedback's gradient ``g_fb_{t+1} W`` added to the spikes'
gradient; the weight's gradient is one matrix product over all steps at the end. The
reference loop builds an autograd graph of every step's operations instead: this does
the same work with one kernel call and one matrix product per step and direction.

Any other ``rec_connect`` (or one with hooks, which the module call would run) stays on
the reference backend: :func:`linear_connection` says why.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ..families import STATES
from .config import KernelConfig, Prepared, sum_fixed_order
from .ops import Kernels, ScanOutputs, Tensors

__all__ = ["linear_connection", "scan"]

_S = len(STATES)


def _has_hooks(module: nn.Module) -> bool:
    hooks = (
        module._forward_hooks,
        module._forward_pre_hooks,
        module._backward_hooks,
        module._backward_pre_hooks,
        nn.modules.module._global_forward_hooks,
        nn.modules.module._global_forward_pre_hooks,
        nn.modules.module._global_backward_hooks,
        nn.modules.module._global_backward_pre_hooks,
    )
    return any(len(h) for h in hooks)


def linear_connection(rec_connect: Any, x: torch.Tensor) -> nn.Linear | str:
    """The ``nn.Linear`` that ``rec_connect`` applies to the flattened spikes of the
    neurons of ``x`` ``(B, T, ...)``, or why the fused kernels cannot run it (then the
    reference does).

    Accepted: ``nn.Linear(N, N)`` on one-dimensional neurons, and ``nn.Sequential`` of
    an optional ``nn.Flatten()`` (from dimension 1) and one ``nn.Linear(N, N)``, for any
    neuron shape (what sinabs's documentation writes), with plain tensors of the
    input's dtype and device and no hooks.
    """
    neuron_shape = x.shape[2:]
    if isinstance(rec_connect, nn.Sequential):
        modules = list(rec_connect)
    elif isinstance(rec_connect, nn.Module):
        modules = [rec_connect]
    else:
        return f"rec_connect {rec_connect!r} is not an nn.Linear"
    if any(_has_hooks(m) for m in (rec_connect, *modules)):
        return "rec_connect has hooks (the reference runs the module)"
    if modules and type(modules[0]) is nn.Flatten:
        flat = modules.pop(0)
        if flat.start_dim != 1 or flat.end_dim != -1:
            return "rec_connect flattens other dimensions than the neurons'"
    elif len(neuron_shape) != 1:
        return "rec_connect has no nn.Flatten for multi-dimensional neurons"
    if len(modules) != 1 or type(modules[0]) is not nn.Linear:
        names = ", ".join(type(m).__name__ for m in modules) or "nothing"
        return f"rec_connect runs {names}, not one nn.Linear"
    linear = cast(nn.Linear, modules[0])
    n = neuron_shape.numel()
    if linear.in_features != n or linear.out_features != n:
        return f"rec_connect maps {linear.in_features} to {linear.out_features}, not {n} to {n}"
    for name, t in (("weight", linear.weight), ("bias", linear.bias)):
        if t is None:
            continue
        if type(t) not in (torch.Tensor, nn.Parameter):
            return f"rec_connect's {name} is a {type(t).__name__}"
        if t.dtype != x.dtype or t.device != x.device:
            return f"rec_connect's {name} is {t.dtype} on {t.device}, the input {x.dtype}"
    return linear


def scan(kernels: Kernels, prepared: Prepared, cfg: KernelConfig, linear: nn.Linear) -> ScanOutputs:
    """The kernels' outputs ``(out, final states..., recordings..., out_sum)`` of a
    recurrent call whose feedback is ``linear`` (see the module docstring)."""
    x, states, rows = prepared.x, prepared.states, prepared.rows
    weight, bias = linear.weight, linear.bias
    bias_in = bias if bias is not None else x.new_empty(0)
    out, *rest = _RecurrentScan.apply(
        kernels, cfg, bias is not None, x, weight, bias_in, *states, *rows
    )
    return (out, *rest, sum_fixed_order(out))


class _RecurrentScan(torch.autograd.Function):
    """The time loop of a recurrent layer with a linear feedback (module docstring).

    Inputs: ``x`` (B, T, N), ``weight`` (N, N), ``bias`` (N,) or empty, the initial
    states (one per kernel state, empty where absent), the parameter rows. Outputs:
    ``out``, the final states and the recordings (as the kernels return them).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        kernels: Kernels,
        cfg: KernelConfig,
        has_bias: bool,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> Tensors:
        states, rows = tuple(tensors[:_S]), tuple(tensors[_S:])
        table = torch.stack(rows)
        step_cfg = cfg.with_record(False)
        batch, steps, n = x.shape
        present = [cfg.has_state(s.name) for s in STATES]
        b = bias if has_bias else None
        out = torch.empty_like(x)
        pre = torch.empty_like(x)  # each step's input with the feedback: the backward's
        # the states before each step (the backward recomputes each step from them) and
        # after the last
        history: list[Tensors] = []
        state = tuple(s.contiguous() for s in states)
        feedback = torch.zeros_like(x[:, 0])
        for t in range(steps):
            pre[:, t] = x[:, t] + feedback  # the reference's x_t + feedback
            history.append(state)
            result = kernels.scan_forward(pre[:, t : t + 1].contiguous(), *state, table, step_cfg)
            out[:, t] = result[0][:, 0]
            state = tuple(result[1 : 1 + _S])
            if t + 1 < steps:
                # what rec_connect(out_t) computes: the same operation, the same bits
                feedback = torch.nn.functional.linear(result[0][:, 0], weight, b)
        history.append(state)
        recordings: list[torch.Tensor] = []
        for k in range(_S):
            if cfg.record and present[k] and steps:
                recordings.append(torch.stack([h[k] for h in history[1:]], 1))
            elif cfg.record and present[k]:
                recordings.append(x.new_empty(batch, 0, n))
            else:
                recordings.append(x.new_empty(0))
        ctx.kernels, ctx.cfg, ctx.has_bias, ctx.present = kernels, step_cfg, has_bias, present
        # (the initial states through save_for_backward: autograd then sees a change in
        # place of the caller's tensors; the later ones are this loop's own)
        ctx.history, ctx.table = history[1:], table
        ctx.save_for_backward(pre, out, weight, *history[0])
        ctx.set_materialize_grads(False)
        finals = state if steps else tuple(s.clone() for s in states)
        return (out, *finals, *recordings)

    @staticmethod
    @once_differentiable  # (the kernels' backward has no graph of its own)
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:  # type: ignore[override]
        pre, out, weight, *initial = ctx.saved_tensors
        kernels, cfg, present = ctx.kernels, ctx.cfg, ctx.present
        history = [tuple(initial), *ctx.history]
        batch, steps, n = pre.shape
        g_out, g_finals, g_recs = grads[0], grads[1 : 1 + _S], grads[1 + _S : 1 + 2 * _S]
        empty = pre.new_empty(0)

        def zeros_or(g: torch.Tensor | None, here: bool) -> torch.Tensor:
            if not here:
                return empty
            return pre.new_zeros(batch, n) if g is None else g.contiguous()

        g_state = [zeros_or(g, present[k]) for k, g in enumerate(g_finals)]
        g_pre = torch.empty_like(pre)
        g_table = torch.zeros_like(ctx.table)
        g_feedback: torch.Tensor | None = None  # the gradient of step t+1's feedback
        for t in reversed(range(steps)):
            g_s = pre.new_zeros(batch, 1, n) if g_out is None else g_out[:, t : t + 1]
            if g_feedback is not None:  # feedback_{t+1} = s_t W^T + b
                g_s = g_s + (g_feedback @ weight).unsqueeze(1)
            for k in range(_S):
                g_rec = g_recs[k]
                if present[k] and g_rec is not None:  # the recording of step t is state t
                    g_state[k] = g_state[k] + g_rec[:, t]
            result = kernels.scan_backward(
                g_s.contiguous(), *g_state, *([empty] * _S),
                pre[:, t : t + 1].contiguous(), *history[t], ctx.table, cfg,
            )  # fmt: skip
            g_pre[:, t] = result[0][:, 0]
            g_state = list(result[1 : 1 + _S])
            g_table += result[1 + _S]
            g_feedback = result[0][:, 0] if t > 0 else None
        # the feedback of steps 1..T-1 came from the spikes of steps 0..T-2
        g_fb = g_pre[:, 1:].reshape(-1, n)
        g_weight = g_fb.t() @ out[:, :-1].reshape(-1, n) if steps > 1 else torch.zeros_like(weight)
        g_bias = g_fb.sum(0) if ctx.has_bias else None
        g_initial = [g if present[k] else None for k, g in enumerate(g_state)]
        return (None, None, None, g_pre, g_weight, g_bias, *g_initial, *g_table.unbind(0))
