"""Adaptive exponential integrate-and-fire neurons: ``AdEx``, ``AdExRecurrent``,
``AdExSqueeze``."""

from __future__ import annotations

from typing import Any

import torch

from ..activation import Gaussian
from ..dynamics.models import ADEX_EXP_CAP, AdExParams
from ._point_model import PointModel, cast, model_parameter, time_step
from .recurrent import recurrent_variant
from .reshape import squeeze_variant

#: the parameters in the order of the constructor (and of AdExParams)
_PARAMETERS = ("C", "g_L", "E_L", "V_T", "Delta_T", "tau_w", "a", "b", "V_r", "V_peak")


class AdEx(PointModel):
    r"""Adaptive exponential integrate-and-fire neurons (Brette and Gerstner 2005,
    J. Neurophysiol. 94:3637).

    .. math::
        C \frac{dV}{dt} &= -g_L (V - E_L) + g_L \Delta_T
            \exp\!\left(\frac{V - V_T}{\Delta_T}\right) - w + I\\
        \tau_w \frac{dw}{dt} &= a (V - E_L) - w

    and when :math:`V` reaches :math:`V_{peak}`: :math:`V \leftarrow V_r`,
    :math:`w \leftarrow w + b`.

    Discretisation: forward Euler with step ``dt``; both derivatives are taken at the
    state at the start of the step, then the spike test :math:`V \ge V_{peak}` and the
    reset end the step (the states after a step are post-reset; a spike appears in the
    step whose input made the neuron cross).

    Bound of the exponential: it is evaluated at :math:`\min(V, V_{peak})`, and its
    exponent is clamped to [-80, 80] (:math:`e^{80} \approx 5.5 \cdot 10^{34}`, finite in
    float32; below -80 the term is under :math:`10^{-34} g_L \Delta_T`). The exponential
    is :func:`~sinabs.dynamics.models.fixed_exp` (within 2 ulp of :math:`e^x`, the same
    bits on every backend and processor). Every state the model reaches has
    :math:`V < V_{peak}` (a step that ends at or above it resets), so the first bound
    changes nothing on a trajectory; it only keeps a state set by hand from
    overflowing. The constructor requires
    :math:`(V_{peak} - V_T)/\Delta_T \le 80`, so the cap does not bind either unless
    training moves the parameters past it.

    Units (the paper's): pF, nS, mV, ms, and pA for the input current, ``w`` and ``b``
    (so that :math:`dV/dt` is in mV/ms). Defaults are the paper's regular-spiking cell
    (its Table 1: :math:`C` = 281 pF, :math:`g_L` = 30 nS, :math:`E_L` = −70.6 mV,
    :math:`V_T` = −50.4 mV, :math:`\Delta_T` = 2 mV, :math:`\tau_w` = 144 ms,
    :math:`a` = 4 nS, :math:`b` = 0.0805 nA, :math:`V_r = E_L`), with the spike detected
    at 20 mV. The initial (and reset) state is :math:`V = E_L`, :math:`w = 0`.

    Args:
        C: membrane capacitance (pF).
        g_L: leak conductance (nS).
        E_L: leak reversal potential (mV).
        V_T: threshold potential (mV).
        Delta_T: slope factor (mV), positive.
        tau_w: adaptation time constant (ms), positive.
        a: subthreshold adaptation (nS).
        b: spike-triggered adaptation (pA).
        V_r: reset potential (mV).
        V_peak: spike detection potential (mV); not trained.
        dt: time step (ms).
        surrogate_grad_fn: surrogate gradient of the spike at :math:`V - V_{peak}`,
            default ``Gaussian(sigma=5.0)`` (mV).
        shape: state shape (batch included) to initialise now.
        record_states: keep ``(B, T, ...)`` recordings of ``v_mem`` and ``w``.
        backend: ``"auto"``, ``"reference"``, ``"cpu"`` or ``"triton"``: the fused
            kernels run it with ``SingleSpike`` and the built-in surrogate gradients
            (bit for bit the reference's states and spikes); other spike functions, and the
            recurrent variant with a ``rec_connect`` other than one ``nn.Linear``, run on
            the reference.

    Every parameter but ``V_peak`` is trainable; each is a scalar or per neuron.

    Shape:
        input ``(B, T, *neurons)`` (current, pA), output spikes the same; states
        ``v_mem`` (:math:`V`) and ``w`` of shape ``(B, *neurons)``.

    Example:
        >>> layer = AdEx(record_states=True)
        >>> spikes = layer(torch.full((1, 2000, 1), 1000.0))  # 1 nA for 200 ms
        >>> layer.recordings["w"].shape
        torch.Size([1, 2000, 1])
    """

    _family = "adex"
    _repr_keys = ("dt", *_PARAMETERS)

    def __init__(
        self,
        C: float | torch.Tensor = 281.0,
        g_L: float | torch.Tensor = 30.0,
        E_L: float | torch.Tensor = -70.6,
        V_T: float | torch.Tensor = -50.4,
        Delta_T: float | torch.Tensor = 2.0,
        tau_w: float | torch.Tensor = 144.0,
        a: float | torch.Tensor = 4.0,
        b: float | torch.Tensor = 80.5,
        V_r: float | torch.Tensor = -70.6,
        V_peak: float | torch.Tensor = 20.0,
        dt: float = 0.1,
        surrogate_grad_fn: Any = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(["v_mem", "w"])
        self.C = model_parameter(C, "C", positive=True)
        self.g_L = model_parameter(g_L, "g_L", nonnegative=True)
        self.E_L = model_parameter(E_L, "E_L")
        self.V_T = model_parameter(V_T, "V_T")
        self.Delta_T = model_parameter(Delta_T, "Delta_T", positive=True)
        self.tau_w = model_parameter(tau_w, "tau_w", positive=True)
        self.a = model_parameter(a, "a")
        self.b = model_parameter(b, "b")
        self.V_r = model_parameter(V_r, "V_r")
        self.V_peak = model_parameter(V_peak, "V_peak", trainable=False)
        self.dt = time_step(dt)
        with torch.no_grad():
            ratio = (self.V_peak - self.V_T) / self.Delta_T
            reset_above = bool((self.V_r >= self.V_peak).any())
        if bool((ratio > ADEX_EXP_CAP).any()):
            raise ValueError(
                f"(V_peak - V_T) / Delta_T must be at most {ADEX_EXP_CAP:g} (the bound of "
                f"the exponential term); got V_peak={V_peak!r}, V_T={V_T!r}, "
                f"Delta_T={Delta_T!r}"
            )
        if reset_above:
            raise ValueError(
                f"V_r must be below V_peak (a neuron reset at or above V_peak fires on "
                f"every step); got V_r={V_r!r}, V_peak={V_peak!r}"
            )
        self._init_common(surrogate_grad_fn, Gaussian(sigma=5.0), record_states, backend, shape)

    def _resting(self, name: str, like: torch.Tensor) -> torch.Tensor:
        if name == "v_mem":
            return like + self.E_L.detach().to(like.dtype)
        return like  # w = 0

    def _dynamics_params(self, dtype: torch.dtype) -> AdExParams:
        values = {name: cast(getattr(self, name), dtype) for name in _PARAMETERS}
        return AdExParams(
            **values,
            dt=self.dt,
            spike_fn=self._spike_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
        )


AdExRecurrent = recurrent_variant(AdEx, __name__, after=None)
AdExSqueeze = squeeze_variant(AdEx, __name__)
