"""The dynamics core: one pure scan per neuron family and the backend dispatch point.

Families: ``"leaky"`` (ExpLeak), ``"spiking"`` (IAF, LIF), ``"adaptive"`` (ALIF). A
neuron type is a configuration of one family (:class:`LeakyParams`,
:class:`SpikingParams`, :class:`AdaptiveParams`).
"""

from __future__ import annotations

from .params import AdaptiveParams, LeakyParams, SpikingParams
from .reference import reference_scan
from .registry import AUTO_ORDER, BACKENDS, Backend, BackendError, run, select

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "AdaptiveParams",
    "Backend",
    "BackendError",
    "LeakyParams",
    "SpikingParams",
    "reference_scan",
    "run",
    "select",
]
