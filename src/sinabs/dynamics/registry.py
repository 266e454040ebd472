"""The one dispatch point between neuron layers and the implementations of their dynamics.

A :class:`Backend` implements some families (``"leaky"``, ``"spiking"``,
``"adaptive"``) and says, through :meth:`Backend.unsupported`, which configurations it
cannot run. :func:`run` picks the implementation:

* ``backend="auto"`` takes the first backend in :data:`AUTO_ORDER` that supports the
  call. The order is fixed (fastest first), so the choice depends only on the
  configuration, the input's device and dtype, never on timing or the environment;
  one exception: under ``torch.func`` transforms (grad, vjp, vmap, ...) only the
  reference can run (see ``sinabs.dynamics.fused.backend.fused_unsupported``).
* a named backend is used if it supports the call; otherwise :class:`BackendError`
  says why. Nothing is swapped silently.

The reference backend supports everything and defines the semantics.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from ..activation.reset_mechanism import State
from .fused.backend import fused_scan, fused_unsupported
from .fused.config import sum_fixed_order
from .params import LeakyParams
from .reference import RecConnect, reference_scan

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "CPU",
    "FAMILIES",
    "REFERENCE",
    "TRITON",
    "Backend",
    "BackendError",
    "check_backend_name",
    "run",
    "select",
]

#: The dynamics families; a neuron type is a configuration of one of them. The point-neuron
#: models (sinabs.dynamics.models) run on the reference only.
FAMILIES = ("leaky", "spiking", "adaptive", "izhikevich", "adex", "resonate")

#: ``(output, new state, recordings, output.sum())``
ScanResult = tuple[torch.Tensor, State, dict[str, torch.Tensor], torch.Tensor]
ScanFn = Callable[..., ScanResult]


class BackendError(ValueError):
    """An explicitly requested backend cannot run the given configuration."""


@dataclass(frozen=True)
class Backend:
    """An implementation of the neuron dynamics.

    Attributes:
        name: the name users pass as ``backend=``.
        scan: ``scan(family, x, state, params, *, record, rec_connect)``, returns
            :func:`sinabs.dynamics.reference_scan`'s results and the sum of
            the output (a 0-dim tensor in the graph: the layers' ``firing_rate``).
        unsupported: ``(family, x, params, recurrent) -> reason or None``.
    """

    name: str
    scan: ScanFn
    unsupported: Callable[[str, torch.Tensor, LeakyParams, bool], str | None]


def _reference_unsupported(
    family: str, x: torch.Tensor, params: LeakyParams, recurrent: bool
) -> str | None:
    return None if family in FAMILIES else f"unknown dynamics family {family!r}"


def _triton_unsupported(
    family: str, x: torch.Tensor, params: LeakyParams, recurrent: bool
) -> str | None:
    if x.device.type == "cuda" and importlib.util.find_spec("triton") is None:
        return 'triton is not installed (pip install "sinabs[gpu]")'
    return fused_unsupported("cuda", family, x, params, recurrent)


def _cpu_unsupported(
    family: str, x: torch.Tensor, params: LeakyParams, recurrent: bool
) -> str | None:
    return fused_unsupported("cpu", family, x, params, recurrent)


def _reference_with_sum(
    family: str,
    x: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
) -> ScanResult:
    out, new_state, recordings = reference_scan(
        family, x, state, params, record=record, rec_connect=rec_connect
    )
    # (a leaky layer's output is continuous: torch's own sum would round it differently
    # for another thread count from 32768 elements on)
    return out, new_state, recordings, sum_fixed_order(out)


#: The plain PyTorch time loop, which runs everything and defines the semantics.
REFERENCE = Backend("reference", _reference_with_sum, _reference_unsupported)
#: Fused CPU kernel (compiled C; plain PyTorch fallback with a warning when not built).
CPU = Backend("cpu", fused_scan, _cpu_unsupported)
#: Fused GPU kernel written in Triton.
TRITON = Backend("triton", fused_scan, _triton_unsupported)

#: Every backend by name (read-only).
BACKENDS: Mapping[str, Backend] = MappingProxyType({b.name: b for b in (REFERENCE, CPU, TRITON)})

#: The order in which ``backend="auto"`` tries backends: fastest first, reference last.
#: Each fused backend runs on one device type, so on a given device at most one of
#: them applies; configurations they cannot run (custom spike, reset or surrogate
#: functions, recurrent layers, float16/bfloat16, parameters with a batch dimension)
#: fall to the reference.
AUTO_ORDER: tuple[str, ...] = ("triton", "cpu", "reference")


def check_backend_name(backend: str) -> str:
    """Validates a ``backend=`` argument; returns it."""
    if backend != "auto" and backend not in BACKENDS:
        choices = ", ".join(["auto", *BACKENDS])
        raise ValueError(f"backend must be one of {choices}; got {backend!r}")
    return backend


def select(
    family: str, x: torch.Tensor, params: LeakyParams, *, recurrent: bool, backend: str = "auto"
) -> Backend:
    """Returns the backend that runs this call (see the module docstring)."""
    check_backend_name(backend)
    if backend != "auto":
        chosen = BACKENDS[backend]
        reason = chosen.unsupported(family, x, params, recurrent)
        if reason is not None:
            raise BackendError(f"backend {backend!r} cannot run this {family} layer: {reason}")
        return chosen
    for name in AUTO_ORDER:
        if BACKENDS[name].unsupported(family, x, params, recurrent) is None:
            return BACKENDS[name]
    raise BackendError(f"no backend supports this {family} configuration")  # pragma: no cover


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
    chosen = select(family, x, params, recurrent=rec_connect is not None, backend=backend)
    return chosen.scan(family, x, state, params, record=record, rec_connect=rec_connect)
