"""What the point-neuron model layers (Izhikevich, AdEx, resonate-and-fire) share.

Not public API. A model layer stores its parameters as ``nn.Parameter`` (trainable
unless stated), validates them once here, starts from the model's resting state rather
than zeros, and runs its family through :meth:`StatefulLayer._run_dynamics` (on the
reference backend, and on the fused ones for the models declared in
:mod:`sinabs.dynamics.families`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..activation import SingleSpike
from ..dynamics.registry import check_backend_name
from .stateful_layer import _STATES, StatefulLayer, check_input, float_tensor, frozen


def model_parameter(
    value: Any,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    trainable: bool = True,
) -> nn.Parameter:
    """A fresh parameter holding ``value`` (a number or a tensor broadcastable to the
    neurons), checked finite (and positive or non-negative when asked)."""
    tensor = float_tensor(value, name)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if positive and bool((tensor <= 0).any()):
        raise ValueError(f"{name} must be positive; got {value!r}")
    if nonnegative and bool((tensor < 0).any()):
        raise ValueError(f"{name} must be non-negative; got {value!r}")
    return nn.Parameter(tensor, requires_grad=trainable) if trainable else frozen(tensor)


def time_step(value: Any, name: str = "dt") -> float:
    """A positive, finite time step as a Python float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number (the time step); got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite; got {value!r}")
    return float(value)


def cast(value: torch.Tensor | None, dtype: torch.dtype) -> Any:
    """``value`` in the compute dtype (in the graph), or None."""
    if value is None or value.dtype == dtype:
        return value
    return value.to(dtype)


def finite_number(value: Any, name: str) -> float:
    """A finite Python float (a configuration constant, not a parameter)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(value)


class PointModel(StatefulLayer):
    """Base of the model layers: resting states, the spike function, the forward call.

    Subclasses set ``_family`` and implement ``_dynamics_params(dtype)`` and
    ``_resting(name, like)``.
    """

    _family: str = ""
    #: the spike function of the output (``SingleSpike``; tests substitute a smooth one)
    _spike_fn: Any = SingleSpike

    def _init_common(
        self,
        surrogate_grad_fn: Any,
        default_surrogate: Any,
        record_states: bool,
        backend: str,
        shape: torch.Size | tuple[int, ...] | None,
    ) -> None:
        if surrogate_grad_fn is None:
            surrogate_grad_fn = default_surrogate
        if not callable(surrogate_grad_fn):
            raise TypeError(
                "surrogate_grad_fn must be callable (v_mem, spike_threshold); "
                f"got {surrogate_grad_fn!r}"
            )
        self.surrogate_grad_fn = surrogate_grad_fn
        self.record_states = record_states
        self.backend = check_backend_name(backend)
        if shape:
            self.init_state_with_shape(shape)

    def _resting(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """The resting value of state ``name``, shaped and typed like ``like``."""
        return torch.zeros_like(like)

    def reset_states(
        self,
        randomize: bool = False,
        value_ranges: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        """Sets the states to the model's resting state (or to uniform random values
        with ``randomize``, as every layer), and detaches them."""
        if randomize or not self.is_state_initialised():
            super().reset_states(randomize=randomize, value_ranges=value_ranges)
            return
        with torch.no_grad():
            for name, buf in list(self._states()):
                empty = torch.zeros(buf.shape, dtype=buf.dtype, device=buf.device)
                self._set_state(name, self._resting(name, empty).detach())

    # the base class reads the dtype and shape from ``v_mem``; resonate-and-fire has none
    def _first_state(self) -> torch.Tensor:
        return next(iter(self.__dict__[_STATES].values()))

    @property
    def shape(self) -> torch.Size | None:
        return self._first_state().shape if self.is_state_initialised() else None

    def _dtype_state(self) -> torch.Tensor:
        return self._first_state()

    @property
    def does_spike(self) -> bool:
        return True

    def _dynamics_params(self, dtype: torch.dtype) -> Any:
        raise NotImplementedError

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Runs the neurons over the input current ``(B, T, ...)``; returns spikes."""
        x = check_input(input_data)
        return self._run_dynamics(self._family, x, self._dynamics_params)
