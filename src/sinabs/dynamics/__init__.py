"""The dynamics core: one pure scan per neuron family and the backend dispatch point.

Families: ``"leaky"`` (ExpLeak), ``"spiking"`` (IAF, LIF), ``"adaptive"`` (ALIF). A
neuron type is a configuration of one family (:class:`LeakyParams`,
:class:`SpikingParams`, :class:`AdaptiveParams`); the families' states, parameter rows
and options are declared once in :mod:`sinabs.dynamics.families`, from which every
backend takes its layout. Adding a neuron model: see the documentation's how-to guide
"Adding a neuron model".
"""

from __future__ import annotations

from .interface import Backend, BackendError, Call
from .params import AdaptiveParams, LeakyParams, SpikingParams
from .reference import reference_scan
from .registry import AUTO_ORDER, BACKENDS, choose, execute, run, select

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "AdaptiveParams",
    "Backend",
    "BackendError",
    "Call",
    "LeakyParams",
    "SpikingParams",
    "choose",
    "execute",
    "reference_scan",
    "run",
    "select",
]
