"""The fused backends: the CPU (C) and GPU (Triton) kernels behind the registry's
:class:`~sinabs.dynamics.interface.Backend` interface.

Both take a call to the neutral form (:mod:`.config`), run :func:`.ops.scan` on their
device's kernels and turn the results back into the layer's shapes and state names
(the family's adapter, :func:`to_layer_form`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..families import STATES
from ..interface import Backend, Call, ScanResult
from . import cpu_kernel, ops, recurrent
from .config import Checked, KernelConfig, Prepared, check, from_checked
from .ops import Tensors

if TYPE_CHECKING:
    from ...activation.reset_mechanism import State

# torch.func transforms (grad, vjp, vmap, ...) cannot see into the kernels (they read
# storage that functorch's wrapped tensors do not have, and torch.library operators
# get no functorch rules): under a transform the reference runs, whose spike
# functions have the setup_context form and a generated vmap rule.
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)

#: the key under which a call keeps :func:`.config.check`'s result (both fused
#: backends ask for it; computed once per call)
_CHECK = "fused.check"
#: ... and a recurrent call's linear feedback (or why it has none the kernels run)
_LINEAR = "fused.linear"


def _checked(call: Call) -> Checked:
    return call.memo(_CHECK, lambda: check(call.family, call.x, call.params))


def _linear(call: Call) -> torch.nn.Linear | str:
    """The linear feedback of a recurrent call, or why the fused loop cannot run it
    (:func:`.recurrent.linear_connection`; a call asked about without its module
    cannot be told)."""
    if call.rec_connect is None:
        return "rec_connect not given"
    return call.memo(
        _LINEAR,
        lambda: recurrent.linear_connection(call.rec_connect, call.x),
    )


@dataclass(frozen=True)
class FusedCall:
    """A call prepared for a fused backend: the neutral form and the layer's call."""

    prepared: Prepared
    call: Call


class FusedBackend(Backend):
    """A fused kernel on one device type."""

    name: str = ""
    #: the device type whose tensors the kernels take
    device_type: str = ""

    def kernels(self) -> ops.Kernels:
        """The device's kernels (:mod:`.cpu_kernel` or :mod:`.triton_kernel`)."""
        raise NotImplementedError

    def unavailable(self) -> str | None:
        """Why the kernels cannot run in this installation, or None."""
        raise NotImplementedError

    def supports(self, call: Call) -> str | None:
        """Why this backend cannot run ``call``, or None."""
        if call.x.device.type != self.device_type:
            return f"the input is on {call.x.device.type}, this backend runs on {self.device_type}"
        reason = self.unavailable()
        if reason is not None:
            return reason
        if _functorch_active():
            return "torch.func transforms (grad, vjp, vmap, ...) run on the reference backend"
        checked = _checked(call)
        if isinstance(checked, str):
            return checked
        if call.recurrent:
            if not ops._plain((call.x,)):
                # (its time loop is Python with a kernel call per step: nothing to trace)
                return "recurrent layers under torch.compile or tensor modes run on the reference"
            linear = _linear(call)
            if isinstance(linear, str):
                return f"recurrent layer: {linear}"
        return None

    def prepare(self, call: Call, state: State) -> FusedCall:
        """The neutral form of ``call`` from ``state`` (which :meth:`supports` accepted)."""
        checked = _checked(call)
        if isinstance(checked, str):
            raise ValueError(f"the {self.name} backend cannot run this call: {checked}")
        return FusedCall(from_checked(call.x, state, checked), call)

    def run(self, job: FusedCall) -> ScanResult:
        """Runs the kernels; returns the output, the kernel states and recordings in the
        layer's shapes, and the sum of the output (0-dim, in the graph: the kernel
        accumulates it while writing the output, so a layer's ``firing_rate`` costs no
        further pass)."""
        prepared, call = job.prepared, job.call
        cfg = prepared.config.with_record(call.record)
        if call.recurrent:
            linear = _linear(call)
            assert not isinstance(linear, str)  # (supports() accepted the call)
            outputs = recurrent.scan(self.kernels(), prepared, cfg, linear)
            return to_layer_form(call.x, prepared, cfg, outputs)
        return to_layer_form(call.x, prepared, cfg, self.scan(prepared, cfg))

    def scan(self, prepared: Prepared, cfg: KernelConfig) -> Tensors:
        """The kernels' outputs for ``prepared`` in neutral form (:func:`.ops.scan`)."""
        return ops.scan(self.kernels(), prepared.x, prepared.states, prepared.rows, cfg)


def to_layer_form(
    x: torch.Tensor, prepared: Prepared, cfg: KernelConfig, outputs: tuple[torch.Tensor, ...]
) -> ScanResult:
    """The family's adapter: the kernels' ``(out, final states..., recordings...,
    out_sum)`` as the layer's output ``(B, T, ...)``, states ``(B, ...)`` and
    recordings by name (the kernel states the family carries; the states it derives
    from them are the registry's to add, :meth:`~sinabs.dynamics.params.LeakyParams.derive`).
    """
    s = len(STATES)
    out, finals, recs, out_sum = (
        outputs[0],
        outputs[1 : 1 + s],
        outputs[1 + s : 1 + 2 * s],
        outputs[-1],
    )
    batch, steps = x.shape[:2]
    neurons = prepared.neuron_shape
    flat = len(neurons) == 1  # the kernel's (B, T, N) and (B, N) are the layer's shapes

    def as_state(t: torch.Tensor) -> torch.Tensor:
        return t if flat else t.reshape(batch, *neurons)

    def as_seq(t: torch.Tensor) -> torch.Tensor:
        return t if flat else t.reshape(batch, steps, *neurons)

    new_state: State = {}
    recordings: dict[str, torch.Tensor] = {}
    for k, decl in enumerate(STATES):
        if cfg.has_state(decl.name):
            name = cfg.layer_name(decl.name)  # (an AdEx w is the kernels' u)
            new_state[name] = as_state(finals[k])
            if cfg.record:
                recordings[name] = as_seq(recs[k])
    return as_seq(out), new_state, recordings, out_sum


class CpuBackend(FusedBackend):
    """The fused CPU kernel (compiled C, :mod:`.cpu_kernel`)."""

    name = "cpu"
    device_type = "cpu"

    def kernels(self) -> ops.Kernels:
        return cpu_kernel  # type: ignore[return-value]

    def scan(self, prepared: Prepared, cfg: KernelConfig) -> Tensors:
        """As :meth:`FusedBackend.scan`; layers of fewer neurons than a slot run with
        their batch rows side by side (:func:`pack_batch_rows`)."""
        if not packs_batch_rows(prepared):
            return super().scan(prepared, cfg)
        x, states, rows = pack_batch_rows(prepared)
        batch, _, n = prepared.x.shape
        return unpack_batch_rows(ops.scan(self.kernels(), x, states, rows, cfg), batch, n)

    def unavailable(self) -> str | None:
        reason = _cpu_kernel_missing()
        return reason or None


#: packed layers have fewer lanes than this: autograd then sums a parameter row's
#: gradient over the batch on one thread (the same bits for any thread count)
_PACKED_LANES = 32768


def packs_batch_rows(prepared: Prepared) -> bool:
    """Whether the CPU backend runs ``prepared`` with its batch rows side by side: a
    row of fewer neurons than a slot of the C kernel runs padded to one, on its slower
    partial-slot code. Only training calls pack: the forward alone gains less than
    the packing costs (docs/architecture.md), so inference (no grad mode) runs
    unpacked."""
    batch, _, n = prepared.x.shape
    lanes = cpu_kernel.SLOT_LANES.get(prepared.x.dtype, 0)
    return batch > 1 and 0 < n < lanes and batch * n < _PACKED_LANES and torch.is_grad_enabled()


def pack_batch_rows(prepared: Prepared) -> tuple[torch.Tensor, Tensors, Tensors]:
    """The neutral form of ``prepared`` as one batch row of ``B * N`` neurons: ``x``
    ``(1, T, B * N)``, states ``(1, B * N)``, each parameter row repeated per batch row.

    Every lane of the kernel computes one neuron alone, so the outputs, states and
    recordings keep their bits; a parameter's gradient is the kernel's per neuron and
    batch row, summed over the batch by autograd (within rounding of the kernel's own
    sum, and the same for any thread count: :data:`_PACKED_LANES`).
    """
    batch, steps, n = prepared.x.shape
    x = prepared.x.transpose(0, 1).reshape(1, steps, batch * n)
    # a state the configuration lacks is (0,), a present one (B, N)
    states = tuple(s.reshape(1, batch * n) if s.dim() == 2 else s for s in prepared.states)
    rows = tuple(r.expand(batch, n).reshape(batch * n) for r in prepared.rows)
    return x, states, rows


def unpack_batch_rows(outputs: Tensors, batch: int, n: int) -> Tensors:
    """The kernel's outputs of a :func:`pack_batch_rows` call in the ``(B, T, N)`` and
    ``(B, N)`` layout of the call (contiguous); ``out_sum`` as it is."""

    def unpack(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 3:  # (1, T, B * N)
            return t.view(-1, batch, n).transpose(0, 1).contiguous()
        if t.dim() == 2:  # (1, B * N)
            return t.view(batch, n)
        return t  # an absent state or recording (0,), or out_sum

    return tuple(unpack(t) for t in outputs)


@torch.compiler.assume_constant_result
def _cpu_kernel_missing() -> str:
    """Why the compiled CPU kernel cannot be loaded, or "" (a constant of the process:
    torch.compile takes it as one instead of tracing the loader's cache)."""
    if cpu_kernel.available():
        return ""
    return (
        f"the compiled CPU kernel is not available ({cpu_kernel.unavailable_reason()}); "
        "reinstall sinabs from source with a C compiler "
        "(pip install --force-reinstall --no-binary sinabs sinabs) to build it"
    )


class TritonBackend(FusedBackend):
    """The fused GPU kernel written in Triton (:mod:`.triton_kernel`)."""

    name = "triton"
    device_type = "cuda"

    def kernels(self) -> ops.Kernels:
        from . import triton_kernel  # imported on first use: triton is an optional extra

        return triton_kernel  # type: ignore[return-value]

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("triton") is None:
            return 'triton is not installed (pip install "sinabs[gpu]")'
        return None


__all__ = ["CpuBackend", "FusedBackend", "TritonBackend", "to_layer_form"]
