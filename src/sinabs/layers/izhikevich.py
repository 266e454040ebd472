"""Izhikevich neurons: ``Izhikevich``, ``IzhikevichRecurrent``, ``IzhikevichSqueeze``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import torch

from ..activation import Gaussian
from ..dynamics.models import IzhikevichParams
from ._point_model import PointModel, cast, finite_number, model_parameter, time_step
from .recurrent import recurrent_variant
from .reshape import squeeze_variant

#: The named parameter sets of Izhikevich (2003), Fig. 2: ``(a, b, c, d)``.
IZHIKEVICH_PRESETS: Mapping[str, tuple[float, float, float, float]] = MappingProxyType(
    {
        "RS": (0.02, 0.2, -65.0, 8.0),  # regular spiking
        "IB": (0.02, 0.2, -55.0, 4.0),  # intrinsically bursting
        "CH": (0.02, 0.2, -50.0, 2.0),  # chattering
        "FS": (0.1, 0.2, -65.0, 2.0),  # fast spiking
        "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking
        "TC": (0.02, 0.25, -65.0, 0.05),  # thalamo-cortical
        "RZ": (0.1, 0.26, -65.0, 2.0),  # resonator
    }
)
_LONG_NAMES = {
    "regular_spiking": "RS",
    "intrinsically_bursting": "IB",
    "chattering": "CH",
    "fast_spiking": "FS",
    "low_threshold_spiking": "LTS",
    "thalamo_cortical": "TC",
    "resonator": "RZ",
}


class Izhikevich(PointModel):
    r"""Izhikevich's simple model of spiking neurons (IEEE Trans. Neural Netw. 2003).

    .. math::
        \dot v = 0.04 v^2 + 5 v + 140 - u + I, \qquad \dot u = a (b v - u),

    and when :math:`v \ge 30` mV: :math:`v \leftarrow c`, :math:`u \leftarrow u + d`.

    Discretisation: exactly the paper's MATLAB code, with its 1 ms step as ``dt``. Per
    time step, for the input current :math:`I_t`:

    .. math::
        v &\leftarrow v + \tfrac{\Delta t}{2}\,(0.04 v^2 + 5 v + 140 - u + I_t)
            \quad\text{(two half steps, the second from the first's } v)\\
        u &\leftarrow u + \Delta t\, a\,(b v - u) \quad\text{(with the new } v)\\
        s_t &= [v \ge v_{peak}],\quad v \leftarrow c,\ u \leftarrow u + d
            \text{ where } s_t

    The paper's loop tests for spikes at the top of each iteration, on the ``v`` the
    previous iteration left, and then integrates: the same sequence of operations, so the
    trajectories are identical; here the test and the reset end the step whose input
    made the neuron cross, as in every sinabs layer. A spike the paper reports at
    iteration :math:`t` (1-based, input ``I(t)`` in that iteration) is therefore this
    layer's output at step :math:`t - 2` (0-based), and the states after a step are the
    post-reset values (recordings never show the peak). The expressions are evaluated in
    the paper's order, so in float64 with float64 parameters the layer reproduces the
    paper's code bit for bit (``tests/layers/test_izhikevich.py``).

    The initial (and reset) state is the paper's :math:`v = -65`,
    :math:`u = b v` (``v_init``). Units: mV, ms, and the paper's dimensionless current.
    The spike output has the gradient of ``surrogate_grad_fn`` at :math:`v - v_{peak}`;
    the reset passes no gradient through the spike (``c`` and ``d`` receive theirs).

    Args:
        a: time scale of the recovery variable ``u`` (1/ms), scalar or per neuron.
        b: sensitivity of ``u`` to ``v``.
        c: after-spike reset value of ``v`` (mV).
        d: after-spike increment of ``u``.
        dt: time step (ms), 1 in the paper.
        spike_threshold: :math:`v_{peak}`, the spike cut-off (mV), 30 in the paper.
        v_init: initial membrane potential (mV); ``u`` starts at ``b * v_init``.
        surrogate_grad_fn: surrogate gradient of the spike, default
            ``Gaussian(sigma=5.0)`` (an absolute width in mV).
        shape: state shape (batch included) to initialise now.
        record_states: keep ``(B, T, ...)`` recordings of ``v_mem`` and ``u``.
        backend: ``"auto"``, ``"reference"``, ``"cpu"`` or ``"triton"``: the fused
            kernels run it with ``SingleSpike`` and the built-in surrogate gradients
            (bit for bit the reference's states and spikes); other spike functions, and the
            recurrent variant with a ``rec_connect`` other than one ``nn.Linear``, run on
            the reference.

    Parameters given as numbers are stored in torch's default dtype and are trainable
    (``a``, ``b``, ``c``, ``d``); for float64 simulations with the paper's exact
    decimals build the layer under ``torch.set_default_dtype(torch.float64)`` or pass
    float64 tensors (``.double()`` converts values already rounded to float32).

    Shape:
        input ``(B, T, *neurons)`` (the current), output spikes the same; states
        ``v_mem`` and ``u`` of shape ``(B, *neurons)``.

    Example:
        >>> layer = Izhikevich.from_preset("RS", record_states=True)
        >>> spikes = layer(torch.full((1, 200, 1), 10.0))
        >>> layer.recordings["v_mem"].shape
        torch.Size([1, 200, 1])
    """

    _family = "izhikevich"
    _repr_keys = ("a", "b", "c", "d", "dt", "spike_threshold")

    def __init__(
        self,
        a: float | torch.Tensor,
        b: float | torch.Tensor,
        c: float | torch.Tensor,
        d: float | torch.Tensor,
        dt: float = 1.0,
        spike_threshold: float | torch.Tensor = 30.0,
        v_init: float = -65.0,
        surrogate_grad_fn: Any = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(["v_mem", "u"])
        self.a = model_parameter(a, "a")
        self.b = model_parameter(b, "b")
        self.c = model_parameter(c, "c")
        self.d = model_parameter(d, "d")
        self.dt = time_step(dt)
        self.spike_threshold = model_parameter(spike_threshold, "spike_threshold", trainable=False)
        self.v_init = finite_number(v_init, "v_init")
        self._init_common(surrogate_grad_fn, Gaussian(sigma=5.0), record_states, backend, shape)

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> Izhikevich:
        """A layer with one of the paper's named parameter sets.

        Args:
            name: ``"RS"`` (regular spiking), ``"IB"`` (intrinsically bursting), ``"CH"``
                (chattering), ``"FS"`` (fast spiking), ``"LTS"`` (low-threshold spiking),
                ``"TC"`` (thalamo-cortical), ``"RZ"`` (resonator), or the long names
                (``"regular_spiking"``, ...).
            **kwargs: the other constructor arguments (``dt``, ``record_states``, ...).
        """
        key = _LONG_NAMES.get(name, name)
        if key not in IZHIKEVICH_PRESETS:
            choices = ", ".join([*IZHIKEVICH_PRESETS, *_LONG_NAMES])
            raise ValueError(f"unknown Izhikevich preset {name!r}; choose one of {choices}")
        a, b, c, d = IZHIKEVICH_PRESETS[key]
        return cls(a=a, b=b, c=c, d=d, **kwargs)

    def _resting(self, name: str, like: torch.Tensor) -> torch.Tensor:
        v = like + self.v_init
        if name == "v_mem":
            return v
        return self.b.detach().to(like.dtype) * v  # u = b v

    def _dynamics_params(self, dtype: torch.dtype) -> IzhikevichParams:
        return IzhikevichParams(
            a=cast(self.a, dtype),
            b=cast(self.b, dtype),
            c=cast(self.c, dtype),
            d=cast(self.d, dtype),
            dt=self.dt,
            spike_threshold=cast(self.spike_threshold, dtype),
            spike_fn=self._spike_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
        )


IzhikevichRecurrent = recurrent_variant(Izhikevich, __name__, after="d")
IzhikevichSqueeze = squeeze_variant(Izhikevich, __name__)
