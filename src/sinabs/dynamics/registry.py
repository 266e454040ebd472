"""The one dispatch point between neuron layers and the implementations of their dynamics.

A backend (:class:`~sinabs.dynamics.interface.Backend`) is an object with three
methods: ``supports`` says why it cannot run a :class:`~sinabs.dynamics.interface.Call`
(or None), ``prepare`` puts a call into the form it runs, ``run`` runs it.
:func:`choose` (and :func:`select`, its form for a call not yet built) is the only place
that picks one, the device included (each fused backend runs on one device type):

* ``backend="auto"`` takes the first backend in :data:`AUTO_ORDER` that supports the
  call. The order is fixed (fastest first), so the choice depends only on the
  configuration, the input's device and dtype and what is installed (a CPU kernel
  that was not compiled, Triton missing), never on timing or the environment; under
  ``torch.func`` transforms (grad, vjp, vmap, ...) only the reference can run.
* a named backend is used if it supports the call; otherwise :class:`BackendError`
  says why. Nothing is swapped silently.

The reference backend supports every family and defines the semantics. States a family
derives from its kernel states (ALIF's ``spike_threshold``) are added by
:func:`execute`, once, for every backend (``sinabs.dynamics.params.add_derived``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import torch

from ..activation.reset_mechanism import State
from .families import FAMILY_NAMES
from .fused.backend import CpuBackend, TritonBackend
from .fused.config import sum_fixed_order
from .interface import Backend, BackendError, Call, ScanResult
from .models import MODEL_STEPS
from .params import LeakyParams, add_derived, kernel_states
from .reference import RecConnect, kernel_scan

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "CPU",
    "FAMILIES",
    "REFERENCE",
    "TRITON",
    "Backend",
    "BackendError",
    "Call",
    "check_backend_name",
    "choose",
    "execute",
    "run",
    "select",
]

#: The dynamics families by name (a neuron type is a configuration of one of them;
#: their declarations: :data:`sinabs.dynamics.families.FAMILIES`), then the point-neuron
#: models (:mod:`sinabs.dynamics.models`) that have no declaration (yet): those run on
#: the reference only. A model with a declaration is listed once.
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys((*FAMILY_NAMES, *MODEL_STEPS)))


class _Reference(Backend):
    """The plain PyTorch time loop (:func:`~sinabs.dynamics.reference.kernel_scan`)."""

    name = "reference"

    def supports(self, call: Call) -> str | None:
        return None if call.family in FAMILIES else f"unknown dynamics family {call.family!r}"

    def prepare(self, call: Call, state: State) -> tuple[Call, State]:
        return call, state

    def run(self, prepared: tuple[Call, State]) -> ScanResult:
        call, state = prepared
        out, new_state, recordings = kernel_scan(
            call.family, call.x, state, call.params, record=call.record,
            rec_connect=call.rec_connect,
        )  # fmt: skip
        # (a leaky layer's output is continuous: torch's own sum would round it
        # differently for another thread count from 32768 elements on)
        return out, new_state, recordings, sum_fixed_order(out)


#: The plain PyTorch time loop, which runs everything and defines the semantics.
REFERENCE = _Reference()
#: Fused CPU kernel (compiled C); unsupported where it was not compiled.
CPU = CpuBackend()
#: Fused GPU kernel written in Triton.
TRITON = TritonBackend()

#: Every backend by name (read-only).
BACKENDS: Mapping[str, Backend] = MappingProxyType({b.name: b for b in (REFERENCE, CPU, TRITON)})

#: The order in which ``backend="auto"`` tries backends: fastest first, reference last.
#: Each fused backend runs on one device type, so on a given device at most one of
#: them applies; configurations they cannot run (custom spike, reset or surrogate
#: functions, recurrent layers whose ``rec_connect`` is not one ``nn.Linear``,
#: float16/bfloat16 inputs given to the dynamics directly,
#: parameters with a batch dimension, a CPU kernel that was not compiled) fall to the
#: reference. (Layers compute float16/bfloat16 inputs in float32 and call with that:
#: :mod:`sinabs.dynamics.precision`.)
AUTO_ORDER: tuple[str, ...] = ("triton", "cpu", "reference")


def check_backend_name(backend: str) -> str:
    """Validates a ``backend=`` argument; returns it."""
    if backend != "auto" and backend not in BACKENDS:
        choices = ", ".join(["auto", *BACKENDS])
        raise ValueError(f"backend must be one of {choices}; got {backend!r}")
    return backend


def choose(call: Call, backend: str = "auto") -> Backend:
    """The backend that runs ``call`` (see the module docstring).

    Raises:
        BackendError: ``backend`` is named and cannot run the call.
    """
    check_backend_name(backend)
    if backend != "auto":
        chosen = BACKENDS[backend]
        reason = chosen.supports(call)
        if reason is not None:
            raise BackendError(f"backend {backend!r} cannot run this {call.family} layer: {reason}")
        return chosen
    for name in AUTO_ORDER:
        if BACKENDS[name].supports(call) is None:
            return BACKENDS[name]
    raise BackendError(f"no backend supports this {call.family} configuration")  # pragma: no cover


def select(
    family: str,
    x: torch.Tensor,
    params: LeakyParams,
    *,
    recurrent: bool,
    backend: str = "auto",
    rec_connect: RecConnect | None = None,
) -> Backend:
    """The backend that would run ``family`` on ``x`` with ``params`` (:func:`choose`).
    For a recurrent layer the answer depends on ``rec_connect`` (the fused kernels run
    one ``nn.Linear``); without it the reference is assumed."""
    return choose(Call(family, x, params, rec_connect=rec_connect, recurrent=recurrent), backend)


def execute(chosen: Backend, call: Call, state: State) -> ScanResult:
    """Runs ``call`` from ``state`` on the backend :func:`choose` returned for it.

    The family's derived states (ALIF's ``spike_threshold``) are dropped from ``state``
    before and computed from the kernel states after, once for every backend
    (``sinabs.dynamics.params.add_derived``, which the reference's public
    :func:`~sinabs.dynamics.reference_scan` uses too).
    """
    prepared = chosen.prepare(call, kernel_states(call.family, state))
    out, new_state, recordings, out_sum = chosen.run(prepared)
    add_derived(call.family, call.params, new_state, recordings)
    return out, new_state, recordings, out_sum


def run(
    family: str,
    x: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
    backend: str = "auto",
) -> ScanResult:
    """Runs ``family`` dynamics on ``x`` ``(B, T, ...)`` from ``state`` with ``params``.

    Returns the output, the new state, the recordings and the sum of the output.
    """
    call = Call(family, x, params, rec_connect=rec_connect, record=record)
    return execute(choose(call, backend), call, state)
