"""Resonate-and-fire neurons: ``ResonateAndFire``, ``ResonateAndFireRecurrent``,
``ResonateAndFireSqueeze``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..activation import SingleExponential
from ..dynamics.models import ResonateParams
from ._point_model import PointModel, cast, model_parameter, time_step
from .recurrent import recurrent_variant
from .reshape import squeeze_variant


class ResonateAndFire(PointModel):
    r"""Resonate-and-fire neurons (Izhikevich 2001, Neural Networks 14:883), with the
    balanced form of Higuchi, Kairat, Bohté and Otte (ICML 2024) as an option.

    The membrane is complex, :math:`z = x + i y`, stored as two real states ``z_re``
    (:math:`x`, current-like, driven by the input) and ``z_im`` (:math:`y`,
    voltage-like):

    .. math:: \dot z = (b + i\omega)\, z + I

    Discretisation: forward Euler (not the exact exponential), per step

    .. math::
        x &\leftarrow x + \Delta t\,(b x - \omega y + I_t)\\
        y &\leftarrow y + \Delta t\,(\omega x + b y)

    both from the state at the start of the step.

    **Plain** (``balanced=False``, Izhikevich 2001): a spike where
    :math:`y \ge \vartheta` (``spike_threshold``), after which
    :math:`z \leftarrow x_r + i y_r` (``x_reset``, ``y_reset``; both 0 by default). The
    damping ``b`` must be negative for the oscillation to decay. (The input reaches
    :math:`y` one step after :math:`x`; a non-finite :math:`x` makes the output NaN at
    once, as a non-finite membrane does in every layer.)

    **Balanced** (``balanced=True``, Higuchi et al. 2024): no hard reset; instead a
    refractory variable ``q`` raises the threshold and the damping after each spike,
    and the damping stays below the divergence boundary of the Euler step:

    .. math::
        b_t &= p(\omega) - b_{offset} - q_{t-1},\qquad
            p(\omega) = \frac{-1 + \sqrt{1 - (\Delta t\,\omega)^2}}{\Delta t}\\
        s_t &= [x_t \ge \vartheta + q_{t-1}],\qquad q_t = \gamma\, q_{t-1} + s_t

    :math:`p(\omega)` is the damping at which an Euler step neither grows nor shrinks
    (:math:`|1 + \Delta t (p + i\omega)| = 1`), so :math:`b_{offset} \ge 0` keeps every
    neuron stable; it needs :math:`\Delta t\,|\omega| \le 1` (checked here; if training
    moves :math:`\omega` past it, the square root's argument is clamped at 0). As in
    Higuchi et al., the balanced neuron spikes on the real part and the spikes flow into
    ``q`` with their surrogate gradient. The state gains ``q``.

    The output has the gradient of ``surrogate_grad_fn``; the plain form's reset passes
    no gradient through the spike (``x_reset`` and ``y_reset`` are constants).

    Args:
        omega: angular frequency (radians per unit of time), scalar or per neuron.
        b: damping (plain form), negative; default -1. Leave None with ``balanced``.
        dt: time step (in the unit of time of ``omega``).
        spike_threshold: :math:`\vartheta`, positive; not trained.
        x_reset: reset value of ``z_re`` (plain form).
        y_reset: reset value of ``z_im`` (plain form), below the threshold.
        balanced: the balanced form.
        b_offset: distance of the damping below :math:`p(\omega)` (balanced form),
            non-negative.
        gamma: decay of the refractory variable ``q`` per step (balanced form), in [0, 1).
        surrogate_grad_fn: surrogate gradient, default ``SingleExponential()``.
        shape: state shape (batch included) to initialise now.
        record_states: keep ``(B, T, ...)`` recordings of every state.
        backend: ``"auto"``, ``"reference"``, ``"cpu"`` or ``"triton"``: the fused
            kernels run both forms with ``SingleSpike`` and the built-in surrogate
            gradients (bit for bit the reference's states and spikes); other spike
            functions, and the recurrent variant with a ``rec_connect`` other than one
            ``nn.Linear``, run on the reference.

    ``omega``, ``b`` and ``b_offset`` are trainable (the fused kernels also give
    ``x_reset``, ``y_reset`` and ``gamma`` their gradients when they require one).

    Shape:
        input ``(B, T, *neurons)``, output spikes the same; states ``z_re``, ``z_im``
        (and ``q``) of shape ``(B, *neurons)``, zero at rest.

    Example:
        >>> layer = ResonateAndFire(omega=10.0, b=-1.0, dt=0.01, record_states=True)
        >>> spikes = layer(torch.rand(2, 500, 4))
        >>> sorted(layer.recordings)
        ['z_im', 'z_re']
    """

    # parameters of one form only (None in the other)
    b: nn.Parameter | None
    b_offset: nn.Parameter | None
    gamma: nn.Parameter | None
    x_reset: nn.Parameter | None
    y_reset: nn.Parameter | None
    _repr_keys = ("omega", "b", "dt", "spike_threshold", "balanced", "b_offset", "gamma")

    def __init__(
        self,
        omega: float | torch.Tensor,
        b: float | torch.Tensor | None = None,
        dt: float = 0.01,
        spike_threshold: float | torch.Tensor = 1.0,
        x_reset: float | torch.Tensor = 0.0,
        y_reset: float | torch.Tensor = 0.0,
        balanced: bool = False,
        b_offset: float | torch.Tensor = 1.0,
        gamma: float | torch.Tensor = 0.9,
        surrogate_grad_fn: Any = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        if not isinstance(balanced, bool):
            raise TypeError(f"balanced must be a bool; got {balanced!r}")
        super().__init__(["z_re", "z_im", "q"] if balanced else ["z_re", "z_im"])
        self.balanced = balanced
        self.dt = time_step(dt)
        self.omega = model_parameter(omega, "omega")
        self.spike_threshold = model_parameter(
            spike_threshold, "spike_threshold", positive=True, trainable=False
        )
        if balanced:
            if b is not None:
                raise ValueError(
                    "b must be None with balanced=True: the balanced neuron's damping is "
                    "p(omega) - b_offset - q; set b_offset instead"
                )
            self.b = None
            self.b_offset = model_parameter(b_offset, "b_offset", nonnegative=True)
            self.gamma = model_parameter(gamma, "gamma", nonnegative=True, trainable=False)
            if bool((self.gamma >= 1).any()):
                raise ValueError(f"gamma must be in [0, 1); got {gamma!r}")
            if bool((self.omega.detach().abs() * self.dt > 1).any()):
                raise ValueError(
                    "the balanced form needs dt * |omega| <= 1 (its divergence boundary "
                    f"p(omega) is real only there); got omega={omega!r}, dt={dt!r}"
                )
            self.x_reset = self.y_reset = None
        else:
            self.b = model_parameter(-1.0 if b is None else b, "b")
            self.b_offset = self.gamma = None
            self.x_reset = model_parameter(x_reset, "x_reset", trainable=False)
            self.y_reset = model_parameter(y_reset, "y_reset", trainable=False)
            if bool((self.y_reset >= self.spike_threshold).any()):
                raise ValueError(
                    "y_reset must be below spike_threshold (a neuron reset at or above "
                    f"the threshold fires on every step); got y_reset={y_reset!r}, "
                    f"spike_threshold={spike_threshold!r}"
                )
        self._init_common(surrogate_grad_fn, SingleExponential(), record_states, backend, shape)

    @property
    def _family(self) -> str:  # type: ignore[override]  # (PointModel's is a class attribute)
        # the fused kernels take each form as a family of its own (families.py)
        return "resonate_balanced" if self.balanced else "resonate"

    def _dynamics_params(self, dtype: torch.dtype) -> ResonateParams:
        return ResonateParams(
            omega=cast(self.omega, dtype),
            b=cast(self.b, dtype),
            dt=self.dt,
            spike_threshold=cast(self.spike_threshold, dtype),
            x_reset=cast(self.x_reset, dtype),
            y_reset=cast(self.y_reset, dtype),
            b_offset=cast(self.b_offset, dtype),
            gamma=cast(self.gamma, dtype),
            spike_fn=self._spike_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
        )


ResonateAndFireRecurrent = recurrent_variant(ResonateAndFire, __name__, after="omega")
ResonateAndFireSqueeze = squeeze_variant(ResonateAndFire, __name__)
