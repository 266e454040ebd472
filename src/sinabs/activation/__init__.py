"""Spike generation, reset mechanisms, surrogate gradients and quantisers."""

from __future__ import annotations

from .quantize import Quantize, StochasticRounding
from .reset_mechanism import MembraneReset, MembraneSubtract
from .spike_generation import MaxSpike, MultiSpike, SingleSpike
from .surrogate_gradient_fn import (
    ATan,
    FastSigmoid,
    Gaussian,
    Heaviside,
    MultiGaussian,
    PeriodicExponential,
    Sigmoid,
    SingleExponential,
    StraightThrough,
    Triangle,
)

__all__ = [
    "ATan",
    "FastSigmoid",
    "Gaussian",
    "Heaviside",
    "MaxSpike",
    "MembraneReset",
    "MembraneSubtract",
    "MultiGaussian",
    "MultiSpike",
    "PeriodicExponential",
    "Quantize",
    "Sigmoid",
    "SingleExponential",
    "SingleSpike",
    "StochasticRounding",
    "StraightThrough",
    "Triangle",
]
