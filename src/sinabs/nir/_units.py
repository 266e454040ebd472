r"""Time steps and units: sinabs's discrete neurons against NIR's continuous ones.

NIR states its neurons as differential equations,

.. math::
    \tau \dot v = (v_{leak} - v) + r I, \qquad \tau_{syn} \dot I = -I + w_{in} S,

and an IF neuron as :math:`\dot v = r I`. One step of length ``dt`` turns a time
constant into a decay factor :math:`\alpha` and an input gain :math:`g`:

=============  =========================================  ===========================
discretisation  decay :math:`\alpha`                       gain of :math:`x` per step
=============  =========================================  ===========================
``"euler"``     :math:`1 - dt/\tau` (forward Euler)        :math:`(dt/\tau)\, r`
``"exact"``     :math:`e^{-dt/\tau}` (exact exponential)   :math:`(1 - e^{-dt/\tau})\, r`
=============  =========================================  ===========================

(IF: gain :math:`dt \cdot r` either way.) Everything here is float64 NumPy; the
functions that invert each other (:func:`tau_to_nir` / :func:`tau_from_nir`,
:func:`alpha_to_nir` / :func:`alpha_from_nir`) use ``expm1`` and ``log1p`` so that a
float32 time constant (or decay factor) comes back to the same float32 number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DISCRETIZATIONS = ("euler", "exact")

#: A gain this close to 1 is 1: the difference is below float32 resolution (2**-21 is
#: 4 float32 ulps at 1), and treating it as 1 lets a layer apply its input unscaled.
UNIT_GAIN_TOLERANCE = 2.0**-21


def check_dt(dt: Any) -> float:
    """Validates the ``dt`` keyword: a positive finite number (seconds, or any unit)."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)):
        raise TypeError(f"dt must be a positive number (the time step); got {dt!r}")
    value = float(dt)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"dt must be a positive finite number (the time step); got {dt!r}")
    return value


def check_discretization(discretization: Any) -> str:
    """Validates the ``discretization`` keyword."""
    if discretization not in DISCRETIZATIONS:
        raise ValueError(
            f"discretization must be one of {', '.join(map(repr, DISCRETIZATIONS))}; "
            f"got {discretization!r}"
        )
    return str(discretization)


def one_minus_alpha(tau: np.ndarray, dt: float, discretization: str) -> np.ndarray:
    r""":math:`1 - \alpha` for NIR time constants ``tau``: ``dt/tau`` or ``1 - exp(-dt/tau)``."""
    if discretization == "euler":
        return dt / tau
    return -np.expm1(-dt / tau)


def alpha_from_nir(tau: np.ndarray, dt: float, discretization: str) -> np.ndarray:
    r"""Decay factor :math:`\alpha` per step of NIR time constants ``tau``."""
    if discretization == "euler":
        return 1.0 - dt / tau
    return np.exp(-dt / tau)


def tau_from_nir(tau: np.ndarray, dt: float, discretization: str) -> np.ndarray:
    r"""sinabs time constant (steps, :math:`\alpha = e^{-1/\tau}`) with the decay factor
    of NIR's ``tau`` under ``discretization``.

    Exact: ``tau / dt``. Euler: :math:`-1 / \log(1 - dt/\tau)`, which needs ``dt < tau``.
    """
    if discretization == "euler":
        return -1.0 / np.log1p(-dt / tau)
    return tau / dt


def tau_to_nir(tau_steps: np.ndarray, dt: float, discretization: str) -> np.ndarray:
    r"""NIR time constant whose discretisation decays by :math:`e^{-1/\tau_{steps}}` per step.

    The inverse of :func:`tau_from_nir`: exact ``tau_steps * dt``; Euler
    :math:`dt / (1 - e^{-1/\tau_{steps}})`.
    """
    if discretization == "euler":
        return dt / -np.expm1(-1.0 / tau_steps)
    return tau_steps * dt


def alpha_to_nir(alpha: np.ndarray, dt: float, discretization: str) -> np.ndarray:
    r"""NIR time constant whose discretisation decays by ``alpha`` per step (the inverse
    of :func:`alpha_from_nir`): Euler :math:`dt / (1 - \alpha)`, exact :math:`-dt/\log\alpha`."""
    if discretization == "euler":
        return dt / (1.0 - alpha)
    return -dt / np.log(alpha)


def is_unit(gain: np.ndarray) -> bool:
    """Whether every gain equals 1 within float32 resolution."""
    return bool(np.all(np.abs(np.asarray(gain, dtype=np.float64) - 1.0) <= UNIT_GAIN_TOLERANCE))
