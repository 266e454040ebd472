r"""sinabs neuron layers as NIR neuron nodes (the time-step rules are in ``_units``).

==============================================  =======================================
layer                                            NIR node(s)
==============================================  =======================================
``IAF`` (no leak)                                ``IF`` (``r = 1/dt``)
``LIF``                                          ``LIF``
``LIF`` with ``tau_syn``                         ``CubaLIF``
``IAF`` with ``tau_syn``                         ``LI`` (the synapse, ``<name>.synapse``)
                                                 then ``IF``
``ExpLeak`` (no spikes)                          ``LI``
``LIFRecurrent``/``IAFRecurrent``                the above and ``<name>.rec``
                                                 (``Linear``/``Affine``) in a cycle
==============================================  =======================================

A decay :math:`\alpha = e^{-1/\tau}` becomes the NIR time constant that gives the same
:math:`\alpha` under the chosen discretisation, and the input gain of the layer
(:math:`1-\alpha` with ``norm_input``, else 1; :math:`\alpha_{syn}` into the synaptic
current) becomes ``r`` and ``w_in``:

* ``r = 1`` with ``norm_input``, else :math:`r = 1/(1-\alpha)`; IF: ``r = 1/dt``;
* ``w_in`` (and the synapse ``LI``'s ``r``) :math:`= \alpha_{syn}/(1-\alpha_{syn})`.

What NIR's node fields cannot state is written to ``metadata["sinabs"]`` (and makes
``portable=True`` raise): ``spike_fn`` other than a single spike, the subtractive reset,
``min_v_mem``, trained decay factors (``train_alphas``), a recurrent bias.

How the layer trains is written there too, and does not make ``portable=True`` raise
(it changes no output, only gradients): a surrogate gradient other than the default
``SingleExponential()`` (``surrogate`` with the class name of a
:mod:`sinabs.activation` surrogate, ``surrogate.<field>`` with each of its settings)
and ``train_threshold``. A surrogate of the user's own cannot be
written: the export warns and the import gives the layer's default.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch

from ..activation import (
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiSpike,
    SingleExponential,
    SingleSpike,
)
from ..dynamics.fused.config import SURROGATE_CLASSES
from ..layers.alif import ALIF
from ..layers.lif import LIF
from ..layers.stateful_layer import StatefulLayer
from . import _units
from ._common import META, ROLE_REC, ROLE_SYNAPSE, Piece, expand, expand32, import_nir, to_numpy
from ._modules import StrictSpike


class _Options:
    """Export settings and the list of what only sinabs's metadata can say."""

    def __init__(self, dt: float, discretization: str, portable: bool) -> None:
        self.dt = dt
        self.discretization = discretization
        self.portable = portable

    def lossy(self, name: str, layer: Any, field: str, why: str) -> None:
        """A setting NIR cannot state: an error when ``portable``, else kept in metadata."""
        if self.portable:
            raise ValueError(
                f"to_nir(portable=True): layer {name!r} ({type(layer).__name__}) has "
                f"{field} that NIR cannot express: {why}. Without portable=True it is kept "
                f'in the node\'s metadata["{META}"], which only sinabs reads.'
            )


def _taus(layer: LIF, name: str, which: str, shape: tuple[int, ...], opts: _Options) -> np.ndarray:
    """NIR time constants of ``layer``'s ``which`` ("mem" or "syn") decay, per neuron."""
    if layer.train_alphas:
        alpha = expand(getattr(layer, f"alpha_{which}"), shape, f"alpha_{which}")
        bad = ~((alpha > 0) & (alpha < 1))
        tau = _units.alpha_to_nir(np.where(bad, 0.5, alpha), opts.dt, opts.discretization)
    else:
        steps = expand(getattr(layer, f"tau_{which}"), shape, f"tau_{which}")
        bad = ~(np.isfinite(steps) & (steps > 0))
        tau = _units.tau_to_nir(np.where(bad, 1.0, steps), opts.dt, opts.discretization)
    if bad.any() or not np.all(np.isfinite(tau)):
        raise ValueError(
            f"layer {name!r} ({type(layer).__name__}): {which} decay factor 1 (no leak) or "
            "outside (0, 1) has no finite NIR time constant; use IAF for neurons without leak"
        )
    return tau


def _spike_and_reset(
    layer: LIF, name: str, shape: tuple[int, ...], extras: dict[str, Any], opts: _Options
) -> tuple[np.ndarray, np.ndarray]:
    """``(v_threshold, v_reset)``; records the sinabs-only spike and reset settings."""
    spike_fn, reset_fn = layer.spike_fn, layer.reset_fn
    if spike_fn is MultiSpike or isinstance(spike_fn, MaxSpike):
        limit = spike_fn.max_num_spikes_per_bin if isinstance(spike_fn, MaxSpike) else None
        extras["spike_fn"] = "MultiSpike" if limit is None else "MaxSpike"
        if limit is not None:
            extras["max_num_spikes_per_bin"] = int(limit)
        opts.lossy(
            name, layer, f"spike_fn={extras['spike_fn']}",
            "it emits floor(v / threshold) spikes per step, NIR neurons at most one",
        )  # fmt: skip
    elif spike_fn is SingleSpike:
        # fires at v == threshold too; NIR's spike condition is v > threshold
        extras["spike_fn"] = "SingleSpike"
    elif spike_fn is not StrictSpike:
        raise ValueError(
            f"layer {name!r} ({type(layer).__name__}): spike_fn {spike_fn!r} has no NIR "
            "equivalent (supported: SingleSpike, MultiSpike, MaxSpike)"
        )
    threshold = expand32(layer.spike_threshold, shape, "spike_threshold")
    if isinstance(reset_fn, MembraneReset):
        # a Python float stays float64, a tensor keeps its dtype: both come back as given
        return threshold, expand32(reset_fn.reset_value, shape, "reset_value")
    if isinstance(reset_fn, MembraneSubtract):
        extras["reset"] = "subtract"
        if reset_fn.subtract_value is not None:
            extras["subtract_value"] = expand32(
                torch.as_tensor(reset_fn.subtract_value), shape, "subtract_value"
            )
        opts.lossy(
            name, layer, "reset_fn=MembraneSubtract",
            "NIR (from nir 1.0.6) resets the membrane to v_reset; it cannot subtract",
        )  # fmt: skip
        return threshold, np.zeros_like(threshold)
    raise ValueError(
        f"layer {name!r} ({type(layer).__name__}): reset_fn {reset_fn!r} has no NIR "
        "equivalent (supported: MembraneReset, MembraneSubtract)"
    )


def _training(layer: LIF, name: str, extras: dict[str, Any]) -> None:
    """Records how a spiking layer trains: its surrogate gradient and train_threshold."""
    surrogate = layer.surrogate_grad_fn
    if surrogate == SingleExponential():
        pass  # the layers' default (what from_nir gives without an entry)
    elif type(surrogate) in SURROGATE_CLASSES.values() and dataclasses.is_dataclass(surrogate):
        extras["surrogate"] = type(surrogate).__name__
        for f in dataclasses.fields(surrogate):
            extras[f"surrogate.{f.name}"] = float(getattr(surrogate, f.name))
    else:
        warnings.warn(
            f"to_nir: layer {name!r} ({type(layer).__name__}) has surrogate_grad_fn "
            f"{surrogate!r}, which is not a sinabs.activation surrogate and cannot be "
            "written; the outputs are exported exactly, and from_nir gives the layer its "
            "default surrogate",
            stacklevel=4,
        )
    if getattr(layer, "train_threshold", False):
        extras["train_threshold"] = True


def _rec_piece(layer: Any, name: str, shape: tuple[int, ...], opts: _Options) -> tuple[str, Any]:
    """The recurrent connection of a Recurrent layer: ``(node name, Linear/Affine node)``."""
    nir = import_nir()
    rec = layer.rec_connect
    if not isinstance(rec, torch.nn.Linear) or len(shape) != 1 or rec.weight.shape[1] != shape[0]:
        raise NotImplementedError(
            f"layer {name!r} ({type(layer).__name__}): only a torch.nn.Linear rec_connect "
            f"on 1-D neurons exports to NIR; got {type(rec).__name__} on neurons {shape}"
        )
    meta = {"metadata": {META: {"role": ROLE_REC}}}
    weight = to_numpy(rec.weight)
    if rec.bias is None:
        return f"{name}.rec", nir.Linear(weight, **meta)
    if torch.any(rec.bias != 0):
        opts.lossy(
            name, layer, "a rec_connect bias",
            "sinabs adds the feedback from the second step on, a NIR cycle from the first",
        )  # fmt: skip
    return f"{name}.rec", nir.Affine(weight, to_numpy(rec.bias), **meta)


def neuron_piece(layer: StatefulLayer, name: str, shape: tuple[int, ...], opts: _Options) -> Piece:
    """The NIR nodes of one neuron layer with neurons of ``shape``."""
    nir = import_nir()
    if isinstance(layer, ALIF):
        raise NotImplementedError(
            f"layer {name!r} ({type(layer).__name__}): NIR has no adaptive-threshold neuron, "
            "so tau_adapt and adapt_scale (the threshold adaptation) cannot be exported"
        )
    if not isinstance(layer, LIF):
        raise NotImplementedError(f"layer {name!r}: {type(layer).__name__} has no NIR equivalent")
    dt, disc = opts.dt, opts.discretization
    extras: dict[str, Any] = {}
    if layer.min_v_mem is not None:
        extras["min_v_mem"] = expand32(layer.min_v_mem, shape, "min_v_mem")
        opts.lossy(name, layer, "min_v_mem", "NIR neurons have no lower bound")
    if layer.train_alphas:
        extras["train_alphas"] = True
    spiking = layer.spike_fn is not None
    leaky = not layer._leak_free
    has_syn = layer.tau_syn_calculated is not None
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry = name
    if spiking:
        v_threshold, v_reset = _spike_and_reset(layer, name, shape, extras, opts)
        _training(layer, name, extras)
    if has_syn:
        tau_syn = _taus(layer, name, "syn", shape, opts)
        a_syn = _units.alpha_from_nir(tau_syn, dt, disc)
        w_in = a_syn / _units.one_minus_alpha(tau_syn, dt, disc)  # gain alpha_syn into i_syn
    meta = {"metadata": {META: extras}} if extras else {}
    if leaky:
        tau = _taus(layer, name, "mem", shape, opts)
        if layer.norm_input:
            r = np.ones(shape)
        else:
            r = 1.0 / _units.one_minus_alpha(tau, dt, disc)
        zeros = np.zeros(shape)
        if not spiking and has_syn:
            raise NotImplementedError(
                f"layer {name!r} ({type(layer).__name__}): a leaky integrator with a "
                "synaptic current (tau_syn without spikes) is not exported"
            )
        if not spiking:
            nodes[name] = nir.LI(tau=tau, r=r, v_leak=zeros, **meta)
        elif has_syn:
            nodes[name] = nir.CubaLIF(
                tau_syn=tau_syn, tau_mem=tau, r=r, v_leak=zeros, v_threshold=v_threshold,
                v_reset=v_reset, w_in=w_in, **meta,
            )  # fmt: skip
        else:
            nodes[name] = nir.LIF(
                tau=tau, r=r, v_leak=zeros, v_threshold=v_threshold, v_reset=v_reset, **meta
            )
    else:
        if not spiking:
            raise NotImplementedError(
                f"layer {name!r} ({type(layer).__name__}): an integrator without leak and "
                "without spikes is not exported"
            )
        if has_syn:
            entry = f"{name}.synapse"
            nodes[entry] = nir.LI(
                tau=tau_syn, r=w_in, v_leak=np.zeros(shape), metadata={META: {"role": ROLE_SYNAPSE}}
            )
            edges.append((entry, name))
        nodes[name] = nir.IF(
            r=np.full(shape, 1.0 / dt), v_threshold=v_threshold, v_reset=v_reset, **meta
        )
    if hasattr(layer, "rec_connect"):
        rec_name, rec_node = _rec_piece(layer, name, shape, opts)
        nodes[rec_name] = rec_node
        edges += [(name, rec_name), (rec_name, entry)]
    return Piece(nodes, entry, name, edges)
