"""Helpers shared by the neuron-layer modules (not public API)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..activation import MembraneSubtract, SingleExponential
from ..dynamics.precision import HALF_DTYPES
from .stateful_layer import decay_factor, time_constant


def cast(value: Any, dtype: torch.dtype) -> Any:
    """``value`` in the compute dtype when it is a tensor (keeps it in the graph)."""
    if isinstance(value, torch.Tensor) and value.dtype != dtype:
        return value.to(dtype)
    return value


def decay(tau: torch.Tensor) -> torch.Tensor:
    """``exp(-1 / tau)`` correctly rounded to ``tau``'s dtype, in the graph.

    ``-1 / tau`` is rounded as sinabs rounds it (``tau.reciprocal().neg()``, the bits of
    ``-1.0 / tau``), and its exponential is taken in float64 and rounded once. torch's
    float32 ``exp`` runs MKL's vendor-dispatched code, which is one ulp off the
    correctly rounded value for some time constants on some processors (Intel without
    AVX-512: τ = 9 and 20 among those of the golden cases); this way a layer computes the
    same decay factors, and so the same forward bits, on every processor: sinabs's on
    the machines where its float32 ``exp`` is correctly rounded.
    """
    argument = tau.reciprocal().neg()
    if argument.dtype == torch.float64:
        return torch.exp(argument)
    return torch.exp(argument.double()).to(argument.dtype)


def check_train_threshold(train_threshold: Any, spiking: bool) -> bool:
    """Validates ``train_threshold``: a bool, True only for a layer with a threshold."""
    if not isinstance(train_threshold, bool):
        raise TypeError(f"train_threshold must be True or False; got {train_threshold!r}")
    if train_threshold and not spiking:
        raise ValueError(
            "train_threshold=True needs a spike function and a spike_threshold "
            "(this layer does not spike)"
        )
    return train_threshold


def trainable(threshold: torch.Tensor, train: bool) -> nn.Parameter:
    """The threshold parameter: trainable with ``train_threshold``, frozen otherwise."""
    return nn.Parameter(threshold, requires_grad=train)


def check_spike_fn(spike_fn: Any) -> Any:
    """Validates a spike function: a class such as ``MultiSpike`` or an instance."""
    if spike_fn is not None and not (
        hasattr(spike_fn, "apply") and hasattr(spike_fn, "required_states")
    ):
        raise TypeError(
            "spike_fn must be a spike function such as MultiSpike, SingleSpike or "
            f"MaxSpike(n) (with .apply and .required_states); got {spike_fn!r}"
        )
    return spike_fn


def default_reset(reset_fn: Any) -> Any:
    if reset_fn is None:
        return MembraneSubtract()
    if not callable(reset_fn):
        raise TypeError(f"reset_fn must be callable (spikes, state, threshold); got {reset_fn!r}")
    return reset_fn


def default_surrogate(surrogate_grad_fn: Any) -> Any:
    if surrogate_grad_fn is None:
        return SingleExponential()
    if not callable(surrogate_grad_fn):
        raise TypeError(
            "surrogate_grad_fn must be callable (v_mem, spike_threshold); "
            f"got {surrogate_grad_fn!r}"
        )
    return surrogate_grad_fn


class TimeConstants:
    """Time constants of a neuron layer, written once for every layer that has them.

    Each name in ``_time_constants`` (``"mem"``, ``"syn"``, ``"adapt"``) is stored as
    the trainable parameter ``tau_<name>`` (in time steps), or with ``train_alphas`` as
    ``alpha_<name>`` = :math:`e^{-1/\\tau}`; None means the layer has no such decay.
    """

    _time_constants: tuple[str, ...] = ()
    train_alphas: bool

    def _init_time_constants(self, train_alphas: bool, **taus: Any) -> None:
        """Registers the parameters for ``taus`` (``mem=...``, ``syn=...``), in order."""
        self.train_alphas = train_alphas
        for name, value in taus.items():
            if value is None:
                parameter = None
            elif train_alphas:
                parameter = nn.Parameter(decay_factor(value, f"tau_{name}"))
            else:
                parameter = nn.Parameter(time_constant(value, f"tau_{name}"))
            setattr(self, f"{'alpha' if train_alphas else 'tau'}_{name}", parameter)

    def _decay(self, name: str) -> torch.Tensor | None:
        """The decay factor :math:`\\alpha` of ``name`` (in the graph), or None.

        A time constant stored in half precision (a layer converted with ``.half()``)
        gives its decay factor in float32, the precision the layer computes in.
        """
        if self.train_alphas:
            return getattr(self, f"alpha_{name}", None)
        tau = getattr(self, f"tau_{name}", None)
        if tau is None:
            return None
        return decay(tau.float() if tau.dtype in HALF_DTYPES else tau)

    def _tau(self, name: str) -> torch.Tensor | None:
        """The time constant of ``name`` (computed from the decay factor when it is
        trained), or None."""
        if not self.train_alphas:
            return getattr(self, f"tau_{name}", None)
        alpha = getattr(self, f"alpha_{name}", None)
        return None if alpha is None else -1.0 / torch.log(alpha)

    def _live_config(self) -> dict[str, Any]:
        """The layer's configuration with the current time constants (detached copies,
        computed from the decay factors when they are trained)."""
        live: dict[str, Any] = super()._live_config()  # type: ignore[misc]
        for name in self._time_constants:
            tau = self._tau(name)
            live[f"tau_{name}"] = None if tau is None else tau.detach().clone()
        return live
