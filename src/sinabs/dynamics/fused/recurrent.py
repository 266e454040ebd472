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
the same work with one kernel call and one matrix product per step and direction. On
the CPU a step's kernel call is one ctypes call into tensors the loop allocated once
(:class:`.cpu_kernel.Stepper`); other kernels are called per step and copied from.

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


class _CopyStepper:
    """One-step calls of kernels without a ``Stepper`` of their own (the Triton
    kernels): each step is a ``(B, 1, N)`` call whose results are copied into the
    caller's tensors. The interface of :class:`.cpu_kernel.Stepper`."""

    def __init__(self, kernels: Kernels, table: torch.Tensor, cfg: KernelConfig) -> None:
        self.kernels, self.table, self.cfg = kernels, table, cfg
        self.present = tuple(cfg.has_state(s.name) for s in STATES)

    def check_state(self, name: str, t: torch.Tensor, present: bool) -> None:
        """Nothing: the kernels check their inputs at every call."""

    def forward(
        self, x: torch.Tensor, states: Tensors, out: torch.Tensor, new_states: Tensors
    ) -> None:
        result = self.kernels.scan_forward(x.unsqueeze(1), *states, self.table, self.cfg)
        out.copy_(result[0][:, 0])
        for k, here in enumerate(self.present):
            if here:
                new_states[k].copy_(result[1 + k])

    def backward(
        self,
        g_out: torch.Tensor,
        g_states: list[torch.Tensor | None],
        x: torch.Tensor,
        states: Tensors,
        g_x: torch.Tensor,
        g_states0: list[torch.Tensor],
        g_params: torch.Tensor,
    ) -> None:
        empty = x.new_empty(0)
        g_in = [
            g if here and g is not None else empty
            for g, here in zip(g_states, self.present, strict=True)
        ]
        result = self.kernels.scan_backward(
            g_out.unsqueeze(1), *g_in, *([empty] * _S), x.unsqueeze(1), *states, self.table,
            self.cfg,
        )  # fmt: skip
        g_x.copy_(result[0][:, 0])
        for k, here in enumerate(self.present):
            if here:
                g_states0[k].copy_(result[1 + k])
        g_params.copy_(result[1 + _S])


def _stepper(kernels: Kernels, table: torch.Tensor, cfg: KernelConfig, batch: int, n: int) -> Any:
    """The device's one-step caller: its kernels' ``Stepper`` (the CPU kernel's: one
    ctypes call per step, into the loop's own tensors), else :class:`_CopyStepper`."""
    make = getattr(kernels, "Stepper", None)
    return make(table, cfg, batch, n) if make is not None else _CopyStepper(kernels, table, cfg)


class _RecurrentScan(torch.autograd.Function):
    """The time loop of a recurrent layer with a linear feedback (module docstring).

    Inputs: ``x`` (B, T, N), ``weight`` (N, N), ``bias`` (N,) or empty, the initial
    states (one per kernel state, empty where absent), the parameter rows. Outputs:
    ``out``, the final states and the recordings (as the kernels return them).

    The loop keeps its sequences time-major, ``(T, B, N)``: a step's ``(B, N)`` slice is
    then contiguous, what the kernels read and write in place, and what ``F.linear``
    reads (a contiguous ``(B, N)`` tensor, as in the reference loop). Outputs and
    gradients are laid out ``(B, T, N)`` once at the end.
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
        present = tuple(cfg.has_state(s.name) for s in STATES)
        stepper = _stepper(kernels, table, step_cfg, batch, n)
        initial = tuple(s.contiguous() for s in states)
        for k, initial_k in enumerate(initial):
            stepper.check_state(f"{STATES[k].name} (initial)", initial_k, present[k])
        b = bias if has_bias else None
        empty = x.new_empty(0)
        pre = x.new_empty(steps, batch, n)  # each step's input with the feedback
        out = x.new_empty(steps, batch, n)
        # the states after each step (the backward recomputes step t from those of t-1)
        after = [x.new_empty(steps, batch, n) if here else empty for here in present]
        after_steps = list(
            zip(
                *[
                    a.unbind(0) if here else (empty,) * steps
                    for a, here in zip(after, present, strict=True)
                ],
                strict=True,
            )
        )
        pre_t, out_t, x_t = pre.unbind(0), out.unbind(0), x.unbind(1)
        feedback = x.new_zeros(batch, n)
        for t in range(steps):
            torch.add(x_t[t], feedback, out=pre_t[t])  # the reference's x_t + feedback
            stepper.forward(
                pre_t[t], after_steps[t - 1] if t else initial, out_t[t], after_steps[t]
            )
            if t + 1 < steps:
                # what rec_connect(out_t) computes: the same operation, the same bits
                feedback = torch.nn.functional.linear(out_t[t], weight, b)
        recordings: list[torch.Tensor] = []
        for k in range(_S):
            if cfg.record and present[k]:
                recordings.append(after[k].transpose(0, 1).contiguous())
            else:
                recordings.append(empty)
        ctx.stepper, ctx.table, ctx.has_bias = stepper, table, has_bias
        ctx.present, ctx.after_steps = present, after_steps
        # (the initial states through save_for_backward: autograd then sees a change in
        # place of the caller's tensors; the later ones are this loop's own)
        ctx.save_for_backward(pre, out, weight, *initial)
        ctx.set_materialize_grads(False)
        finals = tuple(
            (after[k][steps - 1].clone() if steps else initial[k].clone()) if present[k]
            else states[k].clone()
            for k in range(_S)
        )  # fmt: skip
        return (out.transpose(0, 1).contiguous(), *finals, *recordings)

    @staticmethod
    @once_differentiable  # (the kernels' backward has no graph of its own)
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:  # type: ignore[override]
        pre, out, weight, *initial = ctx.saved_tensors
        stepper, present = ctx.stepper, ctx.present
        steps, batch, n = pre.shape
        g_out, g_finals, g_recs = grads[0], grads[1 : 1 + _S], grads[1 + _S : 1 + 2 * _S]
        # the gradients of the states after the step being differentiated (None: zero)
        g_state: list[torch.Tensor | None] = [
            g.contiguous() if here and g is not None else None
            for g, here in zip(g_finals, present, strict=True)
        ]
        # the kernel writes the gradients of the states before a step into one of two
        # buffers per state, the other holding those after it (absent states: a tensor
        # that is not read)
        buffers = [[pre.new_empty(batch, n) if here else pre for here in present] for _ in range(2)]
        recorded = [(k, g) for k, g in enumerate(g_recs) if present[k] and g is not None]
        g_pre = torch.empty_like(pre)
        g_pre_t, pre_t = g_pre.unbind(0), pre.unbind(0)
        g_params = torch.empty_like(ctx.table)  # one step's
        g_table = torch.zeros_like(ctx.table)
        g_s = pre.new_empty(batch, n)
        g_feedback: torch.Tensor | None = None  # the gradient of step t+1's feedback
        for t in reversed(range(steps)):
            # feedback_{t+1} = s_t W^T + b
            if g_feedback is None:
                if g_out is None:
                    g_s.zero_()
                else:
                    g_s.copy_(g_out[:, t])
            elif g_out is None:
                torch.mm(g_feedback, weight, out=g_s)
            else:
                torch.addmm(g_out[:, t], g_feedback, weight, out=g_s)
            for k, g_rec_k in recorded:  # the recording of step t is state t
                g_k, g_rec = g_state[k], g_rec_k[:, t]
                g_state[k] = g_rec.contiguous() if g_k is None else g_k + g_rec
            g_before = buffers[t % 2]
            before = ctx.after_steps[t - 1] if t else initial
            stepper.backward(g_s, g_state, pre_t[t], before, g_pre_t[t], g_before, g_params)
            g_table += g_params
            g_state = list(g_before)
            g_feedback = g_pre_t[t] if t > 0 else None
        # the feedback of steps 1..T-1 came from the spikes of steps 0..T-2
        g_fb = g_pre[1:].reshape(-1, n)
        g_weight = g_fb.t() @ out[:-1].reshape(-1, n) if steps > 1 else torch.zeros_like(weight)
        g_bias = g_fb.sum(0) if ctx.has_bias else None
        g_initial = [
            (g if g is not None else pre.new_zeros(batch, n)) if here else None
            for g, here in zip(g_state, present, strict=True)
        ]
        g_x = g_pre.transpose(0, 1).contiguous()
        return (None, None, None, g_x, g_weight, g_bias, *g_initial, *g_table.unbind(0))
