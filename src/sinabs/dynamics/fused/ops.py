"""``torch.library`` custom operators for the fused scan.

``sinabs::neuron_scan`` and ``sinabs::neuron_scan_backward`` take the neutral form of
:mod:`.config`. They have fake (meta) implementations, so they trace under
``torch.compile``, and ``neuron_scan`` has its autograd formula registered. The device
kernels: on CPU the compiled C kernel (:mod:`.cpu_kernel`) or, when it is not built,
the plain PyTorch implementation (:mod:`.torch_impl`) with a one-time warning; on CUDA
the Triton kernel (:mod:`.triton_kernel`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, cast

import torch

from . import cpu_kernel, torch_impl
from .config import ROW, KernelConfig

Tensors = tuple[torch.Tensor, ...]
ScanOutputs = tuple[
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
]
ScanGradients = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

_warned_fallback = False


def _cpu_impls() -> tuple[Callable[..., Tensors], Callable[..., Tensors]]:
    global _warned_fallback
    if cpu_kernel.available():
        return cpu_kernel.scan_forward, cpu_kernel.scan_backward
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            "sinabs: the compiled CPU kernel is not available "
            f"({cpu_kernel.unavailable_reason()}); the fused backend runs its plain "
            "PyTorch implementation, which is slower. Reinstall sinabs from source with "
            "a C compiler (pip install --force-reinstall --no-binary sinabs sinabs) to "
            "build it.",
            RuntimeWarning,
            stacklevel=4,
        )
    return torch_impl.scan_forward, torch_impl.scan_backward


def _state_shape(x: torch.Tensor, present: bool) -> tuple[int, ...]:
    return (x.shape[0], x.shape[2]) if present else (0,)


@torch.library.custom_op("sinabs::neuron_scan", mutates_args=())
def neuron_scan(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    alpha_mem: torch.Tensor,
    alpha_syn: torch.Tensor,
    threshold: torch.Tensor,
    min_v_mem: torch.Tensor,
    alpha_adapt: torch.Tensor,
    adapt_scale: torch.Tensor,
    reset_amount: torch.Tensor,
    config: list[int],
    fconfig: list[float],
) -> ScanOutputs:
    """Fused neuron scan; returns ``(out, v, i, b, rec_v, rec_i, rec_b, out_sum)``.

    See :mod:`.config` for the neutral form; the seven ``(N,)`` parameter rows are those
    of :data:`.config.PARAM_ROWS`. ``out_sum`` (0-dim) is the sum of ``out``, which
    the layers divide into their ``firing_rate`` without another pass over ``out``.
    """
    rows = (alpha_mem, alpha_syn, threshold, min_v_mem, alpha_adapt, adapt_scale, reset_amount)
    return _forward_impl(x, v0, i0, b0, rows, config, fconfig)


def _forward_impl(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    rows: tuple[torch.Tensor, ...],
    config: list[int],
    fconfig: list[float],
    params: torch.Tensor | None = None,
) -> ScanOutputs:
    """The device kernel of :func:`neuron_scan` (CPU: C or its PyTorch fallback; CUDA:
    Triton). ``params`` is ``torch.stack(rows)`` when the caller has it already."""
    cfg = KernelConfig.from_lists(config, fconfig)
    table = torch.stack(rows) if params is None else params
    args = (x.contiguous(), v0.contiguous(), i0.contiguous(), b0.contiguous(), table)
    if x.device.type == "cuda":
        from . import triton_kernel

        return cast(ScanOutputs, triton_kernel.scan_forward(*args, cfg))
    forward, _ = _cpu_impls()
    return cast(ScanOutputs, forward(*args, cfg))


@neuron_scan.register_fake
def _(x: torch.Tensor, v0: torch.Tensor, i0: torch.Tensor, b0: torch.Tensor, *rest: Any) -> Tensors:
    *_, config, fconfig = rest
    cfg = KernelConfig.from_lists(config, fconfig)
    rec = cfg.record

    def seq(present: bool) -> torch.Tensor:
        return x.new_empty(x.shape if present else (0,))

    return (
        x.new_empty(x.shape),
        x.new_empty(_state_shape(x, True)),
        x.new_empty(_state_shape(x, cfg.has_syn)),
        x.new_empty(_state_shape(x, cfg.family == 2)),
        seq(rec),
        seq(rec and cfg.has_syn),
        seq(rec and cfg.family == 2),
        x.new_empty(()),
    )


@torch.library.custom_op("sinabs::neuron_scan_backward", mutates_args=())
def neuron_scan_backward(
    g_out: torch.Tensor,
    g_v: torch.Tensor,
    g_i: torch.Tensor,
    g_b: torch.Tensor,
    g_rec_v: torch.Tensor,
    g_rec_i: torch.Tensor,
    g_rec_b: torch.Tensor,
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    params: torch.Tensor,
    config: list[int],
    fconfig: list[float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_v0, g_i0, g_b0, g_params)`` of :func:`neuron_scan`."""
    tensors = (g_out, g_v, g_i, g_b, g_rec_v, g_rec_i, g_rec_b, x, v0, i0, b0, params)
    return _backward_impl(*tensors, config=config, fconfig=fconfig)


def _backward_impl(
    *tensors: torch.Tensor, config: list[int], fconfig: list[float]
) -> ScanGradients:
    """The device kernel of :func:`neuron_scan_backward`."""
    cfg = KernelConfig.from_lists(config, fconfig)
    contiguous = [t.contiguous() for t in tensors]
    if tensors[7].device.type == "cuda":
        from . import triton_kernel

        return cast(ScanGradients, triton_kernel.scan_backward(*contiguous, cfg))  # type: ignore[call-arg, arg-type]
    _, backward = _cpu_impls()
    return cast(ScanGradients, backward(*contiguous, cfg))


@neuron_scan_backward.register_fake
def _(*args: Any) -> Tensors:
    x, v0, i0, b0, params = args[7:12]  # gradients of the forward's inputs: their shapes
    return tuple(t.new_empty(t.shape) for t in (x, v0, i0, b0, params))


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, v0, i0, b0, *rows, config, fconfig = inputs
    ctx.save_for_backward(x, v0, i0, b0, *rows)
    ctx.config, ctx.fconfig = config, fconfig
    ctx.set_materialize_grads(False)


def _backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
    return _backward_with(neuron_scan_backward, ctx, *grads)


def _backward_with(
    scan_backward: Callable[..., ScanGradients], ctx: Any, *grads: torch.Tensor | None
) -> tuple[Any, ...]:
    x, v0, i0, b0, *rows = ctx.saved_tensors
    g_out, g_v, g_i, g_b, g_rec_v, g_rec_i, g_rec_b, g_sum = grads
    if all(g is None for g in grads):
        return (None,) * (4 + len(rows) + 2)
    if g_sum is not None:  # out_sum = out.sum(): every output element gets g_sum
        g_out = g_sum.expand(x.shape) if g_out is None else g_out + g_sum
    # The synaptic current (i, rec_i) depends only on x, i0 and alpha_syn. When only it
    # is differentiated, the other inputs get None, as autograd through the reference
    # loop gives them (no path), rather than a zero tensor.
    only_current = all(g is None for g in (g_out, g_v, g_b, g_rec_v, g_rec_b))
    empty = x.new_empty(0)
    table = getattr(ctx, "params_table", None)
    if table is None:
        table = torch.stack(rows)
    g_states: list[torch.Tensor | None]
    gx, *g_states, gp = scan_backward(
        torch.zeros_like(x) if g_out is None else g_out,
        *[empty if g is None else g for g in (g_v, g_i, g_b, g_rec_v, g_rec_i, g_rec_b)],
        x, v0, i0, b0, table, ctx.config, ctx.fconfig,
    )  # fmt: skip
    g_rows: list[torch.Tensor | None] = list(gp.unbind(0))
    if only_current:
        g_states[0] = g_states[2] = None  # v0, b0
        g_rows = [g if k == ROW["alpha_syn"] else None for k, g in enumerate(g_rows)]
    return (gx, *g_states, *g_rows, None, None)


neuron_scan.register_autograd(_backward, setup_context=_setup_context)


def _register_cuda() -> None:
    @neuron_scan.register_kernel("cuda")
    def _(
        x: torch.Tensor, v0: torch.Tensor, i0: torch.Tensor, b0: torch.Tensor, *rest: Any
    ) -> Tensors:
        *rows, config, fconfig = rest
        return _forward_impl(x, v0, i0, b0, tuple(rows), config, fconfig)

    @neuron_scan_backward.register_kernel("cuda")
    def _(*args: Any) -> Tensors:
        *tensors, config, fconfig = args
        return _backward_impl(*tensors, config=config, fconfig=fconfig)


_register_cuda()


# ---------------------------------------------------------------- eager calls
# The custom operators go through the dispatcher, dynamo's disable wrappers and a
# generated autograd function: tens of microseconds per call, which is most of a small
# layer's time. Outside torch.compile, on plain tensors and with no dispatch or
# function mode active, the same kernels and the same backward formula run through
# this autograd function instead; everything else (compiling, fake tensors, functorch
# transforms, subclasses) takes the operators.


class _EagerScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> ScanOutputs:  # type: ignore[override]
        x, v0, i0, b0, *rows, config, fconfig = inputs
        params = torch.stack(rows)  # forward runs without grad mode: a plain tensor
        outputs = _forward_impl(x, v0, i0, b0, tuple(rows), config, fconfig, params)
        _setup_context(ctx, inputs, outputs)
        ctx.params_table = params  # the backward's copy of the rows (no need to stack again)
        return outputs

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:  # type: ignore[override]
        def scan_backward(*args: Any) -> ScanGradients:
            *tensors, config, fconfig = args
            return _backward_impl(*tensors, config=config, fconfig=fconfig)

        return _backward_with(scan_backward, ctx, *grads)


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
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    rows: tuple[torch.Tensor, ...],
    config: list[int],
    fconfig: list[float],
) -> ScanOutputs:
    """:func:`neuron_scan`, or in plain eager calls the same computation without the
    operator overhead."""
    if _plain((x, v0, i0, b0, *rows)):
        return cast(ScanOutputs, _EagerScan.apply(x, v0, i0, b0, *rows, config, fconfig))
    return neuron_scan(x, v0, i0, b0, *rows, config, fconfig)
