"""``torch.library`` custom operators for the fused scan.

``sinabs::neuron_scan`` and ``sinabs::neuron_scan_backward`` take the neutral form of
:mod:`.config`; their schemas are written from the declarations of
:mod:`sinabs.dynamics.families` (a tensor per kernel state and per parameter row). They
have fake (meta) implementations, so they trace under ``torch.compile``, and
``neuron_scan`` has its autograd formula registered. Their device kernels: on CPU the
compiled C kernel (:mod:`.cpu_kernel`), on CUDA the Triton kernel
(:mod:`.triton_kernel`). Which of them runs a layer's call is decided before, by
:func:`sinabs.dynamics.registry.select` (the CPU backend is unsupported where the C
kernel is not built); here the dispatcher only routes a tensor's device to the kernel
that the chosen backend runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import torch

from ..families import PARAM_ROWS, ROW, STATES
from . import cpu_kernel
from .config import KernelConfig

Tensors = tuple[torch.Tensor, ...]
#: ``(out, final states..., recordings..., out_sum)``: one final state and one
#: recording per :data:`~sinabs.dynamics.families.STATES` entry
ScanOutputs = tuple[torch.Tensor, ...]
#: ``(g_x, g_initial states..., g_params)``
ScanGradients = tuple[torch.Tensor, ...]

_S = len(STATES)
_P = len(PARAM_ROWS)
_SHORT = [state.short for state in STATES]


class Kernels(Protocol):
    """A device's kernels of the neutral form (:mod:`.cpu_kernel`, :mod:`.triton_kernel`)."""

    def scan_forward(self, *args: Any) -> Tensors: ...

    def scan_backward(self, *args: Any) -> Tensors: ...


def _schema(inputs: list[str], outputs: int) -> str:
    return "(" + ", ".join(inputs) + ") -> (" + ", ".join(["Tensor"] * outputs) + ")"


_FORWARD_SCHEMA = _schema(
    [
        "Tensor x",
        *[f"Tensor {s}0" for s in _SHORT],
        *[f"Tensor {row}" for row in PARAM_ROWS],
        "int[] config",
        "float[] fconfig",
    ],
    2 + 2 * _S,
)
_BACKWARD_SCHEMA = _schema(
    [
        "Tensor g_out",
        *[f"Tensor g_{s}" for s in _SHORT],
        *[f"Tensor g_rec_{s}" for s in _SHORT],
        "Tensor x",
        *[f"Tensor {s}0" for s in _SHORT],
        "Tensor params",
        "int[] config",
        "float[] fconfig",
    ],
    2 + _S,
)


def _forward_impl(
    kernels: Kernels,
    x: torch.Tensor,
    states: Tensors,
    rows: Tensors,
    cfg: KernelConfig,
    params: torch.Tensor | None = None,
) -> ScanOutputs:
    """``kernels``' forward of :func:`neuron_scan`. ``params`` is ``torch.stack(rows)``
    when the caller has it already."""
    table = torch.stack(rows) if params is None else params
    contiguous = [t.contiguous() for t in (x, *states)]
    return cast(ScanOutputs, kernels.scan_forward(*contiguous, table, cfg))


def _backward_impl(kernels: Kernels, tensors: Tensors, cfg: KernelConfig) -> ScanGradients:
    """``kernels``' backward of :func:`neuron_scan_backward`."""
    contiguous = [t.contiguous() for t in tensors]
    return cast(ScanGradients, kernels.scan_backward(*contiguous, cfg))


def _split_forward(args: tuple[Any, ...]) -> tuple[torch.Tensor, Tensors, Tensors, KernelConfig]:
    x, *rest = args
    states, rows = tuple(rest[:_S]), tuple(rest[_S : _S + _P])
    config, fconfig = rest[_S + _P :]
    return x, states, rows, KernelConfig.from_lists(config, fconfig)


def _neuron_scan(*args: Any) -> ScanOutputs:
    """Fused neuron scan; returns ``(out, v, i, b, rec_v, rec_i, rec_b, out_sum)`` (a
    final state and a recording per kernel state).

    See :mod:`.config` for the neutral form; the ``(N,)`` parameter rows are those of
    :data:`~sinabs.dynamics.families.PARAM_ROWS`. ``out_sum`` (0-dim) is the sum of
    ``out``, which the layers divide into their ``firing_rate`` without another pass.
    """
    x = args[0]
    raise NotImplementedError(f"sinabs::neuron_scan has no kernel for {x.device.type} tensors")


neuron_scan = torch.library.custom_op(
    "sinabs::neuron_scan", _neuron_scan, mutates_args=(), schema=_FORWARD_SCHEMA
)


@neuron_scan.register_fake
def _(*args: Any) -> Tensors:
    x, _, _, cfg = _split_forward(args)
    present = [cfg.has_state(state.name) for state in STATES]

    def state(here: bool) -> torch.Tensor:
        return x.new_empty((x.shape[0], x.shape[2]) if here else (0,))

    def seq(here: bool) -> torch.Tensor:
        return x.new_empty(x.shape if here and cfg.record else (0,))

    return (
        x.new_empty(x.shape),
        *[state(here) for here in present],
        *[seq(here) for here in present],
        x.new_empty(()),
    )


def _neuron_scan_backward(*args: Any) -> ScanGradients:
    """Gradients ``(g_x, g_v0, g_i0, g_b0, g_params)`` of :func:`neuron_scan`."""
    raise NotImplementedError(
        f"sinabs::neuron_scan_backward has no kernel for {args[0].device.type} tensors"
    )


neuron_scan_backward = torch.library.custom_op(
    "sinabs::neuron_scan_backward",
    _neuron_scan_backward,
    mutates_args=(),
    schema=_BACKWARD_SCHEMA,
)


@neuron_scan_backward.register_fake
def _(*args: Any) -> Tensors:
    # the gradients of the forward's inputs: their shapes
    x, *states, params = args[1 + 2 * _S : 1 + 2 * _S + 1 + _S + 1]
    return tuple(t.new_empty(t.shape) for t in (x, *states, params))


def _device_kernels(device: str, kernels: Callable[[], Kernels]) -> None:
    """Routes the operators' ``device`` tensors to ``kernels()``."""

    @neuron_scan.register_kernel(device)
    def _(*args: Any) -> Tensors:
        x, states, rows, cfg = _split_forward(args)
        return _forward_impl(kernels(), x, states, rows, cfg)

    @neuron_scan_backward.register_kernel(device)
    def _(*args: Any) -> Tensors:
        *tensors, config, fconfig = args
        return _backward_impl(kernels(), tuple(tensors), KernelConfig.from_lists(config, fconfig))


def _triton_kernels() -> Kernels:
    from . import triton_kernel  # imported on first use: triton is an optional extra

    return cast(Kernels, triton_kernel)


_device_kernels("cpu", lambda: cast(Kernels, cpu_kernel))
_device_kernels("cuda", _triton_kernels)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, states, rows, cfg = _split_forward(inputs)
    ctx.save_for_backward(x, *states, *rows)
    ctx.cfg = cfg
    ctx.set_materialize_grads(False)


def _backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
    def scan_backward(*tensors: torch.Tensor) -> ScanGradients:
        cfg = ctx.cfg
        return cast(ScanGradients, neuron_scan_backward(*tensors, cfg.ints(), list(cfg.fconfig)))

    return (*_backward_with(scan_backward, ctx, *grads), None, None)


def _backward_with(
    scan_backward: Callable[..., ScanGradients], ctx: Any, *grads: torch.Tensor | None
) -> tuple[torch.Tensor | None, ...]:
    """The gradients of ``x``, the initial states and the rows (the configuration's
    are the caller's to add)."""
    x, *saved = ctx.saved_tensors
    states, rows = saved[:_S], saved[_S:]
    g_out, g_states, g_recs, g_sum = (
        grads[0],
        grads[1 : 1 + _S],
        grads[1 + _S : 1 + 2 * _S],
        grads[-1],
    )
    if all(g is None for g in grads):
        return (None,) * (1 + _S + _P)
    if g_sum is not None:  # out_sum = out.sum(): every output element gets g_sum
        g_out = g_sum.expand(x.shape) if g_out is None else g_out + g_sum
    # The synaptic current (i, rec_i) depends only on x, i0 and alpha_syn. When only it
    # is differentiated, the other inputs get None, as autograd through the reference
    # loop gives them (no path), rather than a zero tensor.
    syn = [state.name == "i_syn" for state in STATES]
    only_current = g_out is None and all(
        g is None for k, g in enumerate((*g_states, *g_recs)) if not syn[k % _S]
    )
    empty = x.new_empty(0)
    table = getattr(ctx, "params_table", None)
    if table is None:
        table = torch.stack(rows)
    gx, *g_rest = scan_backward(
        torch.zeros_like(x) if g_out is None else g_out,
        *[empty if g is None else g for g in (*g_states, *g_recs)],
        x, *states, table,
    )  # fmt: skip
    g_initial: list[torch.Tensor | None] = list(g_rest[:_S])
    g_rows: list[torch.Tensor | None] = list(g_rest[_S].unbind(0))
    if only_current:
        g_initial = [g if syn[k] else None for k, g in enumerate(g_initial)]
        g_rows = [g if k == ROW["alpha_syn"] else None for k, g in enumerate(g_rows)]
    return (gx, *g_initial, *g_rows)


neuron_scan.register_autograd(_backward, setup_context=_setup_context)


# ---------------------------------------------------------------- eager calls
# The custom operators go through the dispatcher, dynamo's disable wrappers and a
# generated autograd function: tens of microseconds per call, which is most of a small
# layer's time. Outside torch.compile, on plain tensors and with no dispatch or
# function mode active, the same kernels and the same backward formula run through
# this autograd function instead; everything else (compiling, fake tensors, functorch
# transforms, subclasses) takes the operators.


class _EagerScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, kernels: Kernels, *inputs: Any) -> ScanOutputs:  # type: ignore[override]
        *tensors, cfg = inputs
        x, states, rows = tensors[0], tuple(tensors[1 : 1 + _S]), tuple(tensors[1 + _S :])
        params = torch.stack(rows)  # forward runs without grad mode: a plain tensor
        outputs = _forward_impl(kernels, x, states, rows, cfg, params)
        ctx.save_for_backward(x, *states, *rows)
        ctx.set_materialize_grads(False)
        ctx.kernels, ctx.cfg = kernels, cfg
        ctx.params_table = params  # the backward's copy of the rows (no need to stack again)
        return outputs

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:  # type: ignore[override]
        def scan_backward(*tensors: torch.Tensor) -> ScanGradients:
            return _backward_impl(ctx.kernels, tensors, ctx.cfg)

        return (None, *_backward_with(scan_backward, ctx, *grads), None)


def _plain(tensors: tuple[torch.Tensor, ...]) -> bool:
    """Whether ``tensors`` can skip the operators (see the comment above)."""
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        if (
            torch.compiler.is_compiling()
            or _get_current_dispatch_mode() is not None
            or torch._C._is_torch_function_mode_enabled()
            or torch._C._are_functorch_transforms_active()  # vmap, grad, jacrev, ...
        ):
            return False
        return all(type(t) is torch.Tensor for t in tensors)
    except (ImportError, AttributeError):  # pragma: no cover - other torch versions
        return False


def scan(
    kernels: Kernels, x: torch.Tensor, states: Tensors, rows: Tensors, cfg: KernelConfig
) -> ScanOutputs:
    """:func:`neuron_scan` on ``kernels`` (the chosen backend's, which run on ``x``'s
    device), or in plain eager calls the same computation without the operator
    overhead.

    Args:
        kernels: the device's kernels (:mod:`.cpu_kernel` or :mod:`.triton_kernel`).
        x: input ``(B, T, N)``.
        states: the initial states ``(B, N)``, one per kernel state (empty: absent).
        rows: the ``(N,)`` parameter rows.
        cfg: the static configuration.

    Returns:
        ``(out, final states..., recordings..., out_sum)``.
    """
    if _plain((x, *states, *rows)):
        return cast(ScanOutputs, _EagerScan.apply(kernels, x, *states, *rows, cfg))
    return cast(ScanOutputs, neuron_scan(x, *states, *rows, cfg.ints(), list(cfg.fconfig)))
