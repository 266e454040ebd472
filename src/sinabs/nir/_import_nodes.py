r"""NIR nodes as torch modules: stateless nodes and neurons (sinabs layers).

An imported neuron is the sinabs layer whose step is the node's equation discretised
with ``dt`` (see ``_units``): decay :math:`\alpha`, and in front of the layer, only
where needed, an element-wise :class:`~sinabs.nir._modules.Scale` for the input gain
and the leak voltage that the layer's step does not contain:

* LIF / LI: :math:`v_t = \alpha v_{t-1} + g\,x_t + (1-\alpha) v_{leak}` with
  :math:`g = (1-\alpha) r`. With ``r == 1`` the layer is ``norm_input=True`` and needs no
  scale; with :math:`g = 1` (within float32 resolution) it is ``norm_input=False``.
* CubaLIF: :math:`I_t = \alpha_{syn} I_{t-1} + g_{syn} x_t` with
  :math:`g_{syn} = (1-\alpha_{syn}) w_{in}`, then the membrane as above with :math:`r I_t`;
  sinabs's synapse is :math:`i_t = \alpha_{syn}(i_{t-1} + x_t)`, so the input is scaled by
  :math:`k\, g_{syn}/\alpha_{syn}` and ``i_syn`` holds :math:`k I` (:math:`k = r` with
  ``norm_input``, else 1). A non-zero ``v_leak`` cannot be placed in front of a synaptic
  current and raises.
* IF: :math:`v_t = v_{t-1} + dt\, r\, x_t`.

Spikes: one spike where :math:`v > v_{threshold}`
(:class:`~sinabs.nir._modules.StrictSpike`), then :math:`v \leftarrow v_{reset}`; files
written before nir 1.0.6 (no ``v_reset``) meant subtracting the threshold. Nodes written
by sinabs carry ``metadata["sinabs"]`` with the settings NIR has no field for, and come
back as the layer that was exported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..activation import MaxSpike, MembraneReset, MembraneSubtract, MultiSpike, SingleSpike
from ..dynamics.fused.config import SURROGATE_CLASSES
from ..layers import (
    IAF,
    LIF,
    ExpLeak,
    ExpLeakSqueeze,
    IAFRecurrent,
    IAFSqueeze,
    LIFRecurrent,
    LIFSqueeze,
    Repeat,
    SumPool2d,
)
from . import _units
from ._common import META, import_nir
from ._modules import Scale, ScaledNeuron, Squeezed, StrictSpike


class Context:
    """Import settings shared by every node."""

    def __init__(
        self,
        dt: float,
        discretization: str,
        batch_size: int | None,
        num_timesteps: int | None,
        legacy_reset: bool,
    ) -> None:
        self.dt = dt
        self.discretization = discretization
        self.batch_size = batch_size
        self.num_timesteps = num_timesteps
        self.squeeze = batch_size is not None or num_timesteps is not None
        #: leading (batch, time) axes of every tensor: (B*T, ...) or (B, T, ...)
        self.lead = 1 if self.squeeze else 2
        self.legacy_reset = legacy_reset


def node_error(name: str, node: Any, message: str) -> ValueError:
    return ValueError(f"NIR node {name!r} ({type(node).__name__}): {message}")


def sinabs_meta(node: Any) -> dict[str, Any]:
    """The node's ``metadata["sinabs"]`` entries (empty for nodes from elsewhere)."""
    metadata = getattr(node, "metadata", None)
    entries = metadata.get(META) if isinstance(metadata, dict) else None
    return entries if isinstance(entries, dict) else {}


def field(
    node: Any, name: str, key: str, shape: tuple[int, ...] | None = None, *, positive: bool = False
) -> np.ndarray:
    """Field ``key`` of ``node`` as float64, checked: present, numeric, finite (a time
    constant may be +inf), of the neurons' ``shape`` (a scalar is broadcast)."""
    value = getattr(node, key, None)
    if value is None:
        raise node_error(name, node, f"field {key!r} is missing")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise node_error(name, node, f"field {key!r} is not numeric: {value!r}") from err
    if shape is not None and array.shape != shape:
        if array.ndim:
            raise node_error(
                name, node, f"field {key!r} has shape {array.shape}, the neurons {shape}"
            )
        array = np.broadcast_to(array, shape).copy()
    if positive:
        if np.any(np.isnan(array)) or np.any(array <= 0):
            raise node_error(name, node, f"field {key!r} must be positive; got {array}")
    elif not np.all(np.isfinite(array)):
        raise node_error(name, node, f"field {key!r} must be finite; got {array}")
    return array


def compact(array: np.ndarray) -> torch.Tensor:
    """float32 tensor in its smallest broadcasting form: NIR stores one value per neuron,
    sinabs layers keep a scalar (or a per-channel ``(C, 1, 1)``) where values repeat.
    Every axis along which the values are constant shrinks to 1, then leading 1s go."""
    values = np.asarray(array)
    for axis in range(values.ndim):
        first = np.take(values, [0], axis=axis)
        if values.shape[axis] > 1 and np.all(values == first):
            values = first
    while values.ndim and values.shape[0] == 1:
        values = values[0]
    return torch.tensor(values, dtype=torch.float32)


def _ints(value: Any, count: int, name: str, node: Any, key: str) -> Any:
    """``count`` integers (a tuple) from a NIR field; a single number is repeated."""
    array = np.atleast_1d(np.asarray(value))
    if array.size == 1:
        array = np.repeat(array, count)
    if array.shape != (count,) or not np.all(array == np.round(array)):
        raise node_error(name, node, f"field {key!r} must be {count} integers; got {value!r}")
    return tuple(int(v) for v in array)


def _weight(node: Any, name: str, key: str, ndim: int) -> torch.Tensor:
    array = field(node, name, key)
    if array.ndim != ndim:
        raise node_error(
            name, node, f"field {key!r} must have {ndim} dimensions; got {array.shape}"
        )
    return torch.tensor(array, dtype=torch.float32)


def _per_step(module: nn.Module, ctx: Context) -> nn.Module:
    """A layer without time (convolution, pooling) on ``(B, T, ...)`` inputs."""
    return module if ctx.squeeze else Repeat(module)


def stateless_module(node: Any, name: str, ctx: Context) -> nn.Module:
    """The module of a node without state."""
    nir = import_nir()
    if isinstance(node, (nir.Input, nir.Output)):
        return nn.Identity()
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = _weight(node, name, "weight", 2)
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine))
        layer.weight.data = weight
        if isinstance(node, nir.Affine):
            bias = _weight(node, name, "bias", 1)
            if bias.shape[0] != weight.shape[0]:
                raise node_error(
                    name, node, f"bias {tuple(bias.shape)} for weight {tuple(weight.shape)}"
                )
            layer.bias.data = bias
        return layer
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        dims = 1 if isinstance(node, nir.Conv1d) else 2
        weight = _weight(node, name, "weight", dims + 2)
        bias = _weight(node, name, "bias", 1)
        if bias.shape[0] != weight.shape[0]:
            raise node_error(
                name, node, f"bias {tuple(bias.shape)} for weight {tuple(weight.shape)}"
            )
        padding = node.padding
        if not isinstance(padding, str):
            padding = _ints(padding, dims, name, node, "padding")
        conv_type = nn.Conv1d if dims == 1 else nn.Conv2d
        groups = int(np.asarray(node.groups))
        keep_bias = sinabs_meta(node).get("bias", True)
        kernel = _ints(weight.shape[2:], dims, name, node, "weight")
        conv = conv_type(
            weight.shape[1] * groups, weight.shape[0], kernel,
            stride=_ints(node.stride, dims, name, node, "stride"), padding=padding,
            dilation=_ints(node.dilation, dims, name, node, "dilation"), groups=groups,
            bias=bool(keep_bias),
        )  # fmt: skip
        conv.weight.data = weight
        if conv.bias is not None:
            conv.bias.data = bias
        elif torch.any(bias != 0):
            raise node_error(name, node, "marked as without bias but has a non-zero bias")
        return _per_step(conv, ctx)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        kernel = _ints(node.kernel_size, 2, name, node, "kernel_size")
        stride = _ints(node.stride, 2, name, node, "stride")
        padding = _ints(node.padding, 2, name, node, "padding")
        if isinstance(node, nir.AvgPool2d):
            return _per_step(nn.AvgPool2d(kernel, stride, padding), ctx)
        if any(padding):
            raise node_error(name, node, f"padding {padding} is not supported by SumPool2d")
        return _per_step(SumPool2d(kernel, stride), ctx)
    if isinstance(node, nir.Flatten):
        start, end = (int(np.asarray(getattr(node, k))) for k in ("start_dim", "end_dim"))
        # NIR counts the axes of one sample; negative axes count from the end either way
        return nn.Flatten(
            start + ctx.lead if start >= 0 else start, end + ctx.lead if end >= 0 else end
        )
    if isinstance(node, nir.Scale):
        return Scale(torch.tensor(field(node, name, "scale"), dtype=torch.float32))
    raise NotImplementedError(
        f"NIR node {name!r}: {type(node).__name__} nodes are not supported by "
        "sinabs.from_nir (supported: Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, "
        "SumPool2d, AvgPool2d, Flatten, IF, LIF, CubaLIF, LI)"
    )


# ---- neurons ----------------------------------------------------------------------------


def _decay(node: Any, name: str, tau: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha, sinabs time constant)`` of NIR time constants ``tau``."""
    alpha = _units.alpha_from_nir(tau, ctx.dt, ctx.discretization)
    if np.any(alpha <= 0):
        raise node_error(
            name, node, f"forward Euler with dt={ctx.dt} >= tau (tau {tau.min()}) gives a "
            "decay 1 - dt/tau <= 0; use discretization='exact' or a smaller dt",
        )  # fmt: skip
    return alpha, _units.tau_from_nir(tau, ctx.dt, ctx.discretization)


def _membrane(node: Any, name: str, tau: np.ndarray, r: np.ndarray, ctx: Context) -> dict[str, Any]:
    """Decay, ``norm_input`` form and the factor ``k`` of the state (see module docs)."""
    alpha, tau_steps = _decay(node, name, tau, ctx)
    gain = _units.one_minus_alpha(tau, ctx.dt, ctx.discretization) * r
    if np.all(r == 1):
        norm_input, k = True, np.ones_like(r)
    elif _units.is_unit(gain):
        norm_input, k = False, np.ones_like(r)
    else:
        norm_input, k = True, r
    return {"alpha": alpha, "tau": tau_steps, "norm_input": norm_input, "k": k}


def _spiking(
    node: Any, name: str, shape: tuple[int, ...], meta: dict[str, Any], ctx: Context
) -> dict[str, Any]:
    threshold = field(node, name, "v_threshold", shape)
    kind = str(meta.get("spike_fn", "strict"))
    spike_fn: Any = {
        "MultiSpike": MultiSpike,
        "SingleSpike": SingleSpike,
        "strict": StrictSpike,
    }.get(kind)
    if kind == "MaxSpike":
        spike_fn = MaxSpike(int(meta.get("max_num_spikes_per_bin", 1)))
    if spike_fn is None:
        raise node_error(name, node, f'unknown metadata["{META}"]["spike_fn"] {kind!r}')
    reset_fn: Any
    if str(meta.get("reset", "")) == "subtract" or ctx.legacy_reset:
        value = meta.get("subtract_value")
        reset_fn = MembraneSubtract(None if value is None else compact(np.asarray(value)))
    else:
        v_reset = field(node, name, "v_reset", shape)
        uniform = v_reset.size and np.all(v_reset == v_reset.flat[0])
        # one value: a float, as MembraneReset takes it; else a per-neuron tensor
        reset_fn = MembraneReset(float(v_reset.flat[0]) if uniform else compact(v_reset))  # type: ignore[arg-type]
    cfg = {"spike_threshold": compact(threshold), "spike_fn": spike_fn, "reset_fn": reset_fn}
    cfg.update(_training(node, name, meta))
    return cfg


def _training(node: Any, name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The surrogate gradient and ``train_threshold`` that sinabs wrote (none: the
    layer's defaults)."""
    cfg: dict[str, Any] = {}
    if "surrogate" in meta:
        kind = str(meta["surrogate"])
        classes = {cls.__name__: cls for cls in SURROGATE_CLASSES.values()}
        if kind not in classes:
            raise node_error(name, node, f'unknown metadata["{META}"]["surrogate"] {kind!r}')
        prefix = "surrogate."
        values = {k[len(prefix) :]: float(v) for k, v in meta.items() if k.startswith(prefix)}
        try:
            cfg["surrogate_grad_fn"] = classes[kind](**values)
        except TypeError as err:
            raise node_error(name, node, f"surrogate {kind} settings {values}: {err}") from err
    if bool(meta.get("train_threshold", False)):
        cfg["train_threshold"] = True
    return cfg


def neuron_shape(node: Any, name: str) -> tuple[int, ...]:
    nir = import_nir()
    key = "tau_mem" if isinstance(node, nir.CubaLIF) else "r"
    return tuple(np.shape(field(node, name, key, None, positive=key == "tau_mem")))


def neuron_module(
    node: Any,
    name: str,
    ctx: Context,
    *,
    synapse: Any = None,
    rec: tuple[Any, bool] | None = None,
) -> nn.Module:
    """The sinabs layer of a neuron node (and of its fused synapse / recurrent node).

    Args:
        node: an IF, LIF, CubaLIF or LI node.
        name: its name (for errors).
        ctx: import settings.
        synapse: an LI node that sinabs exported as the synaptic current of ``node`` (IF).
        rec: ``(Affine/Linear node, written by sinabs)`` closing a cycle onto ``node``.
    """
    nir = import_nir()
    meta = sinabs_meta(node)
    shape = neuron_shape(node, name)
    cfg: dict[str, Any] = {}
    scale = np.ones(shape)
    bias = np.zeros(shape)
    alphas: dict[str, np.ndarray] = {}
    spiking = not isinstance(node, nir.LI)
    if spiking:
        cfg.update(_spiking(node, name, shape, meta, ctx))
    if isinstance(node, nir.IF):
        scale = ctx.dt * field(node, name, "r", shape)
        if synapse is not None:
            syn_name = f"{name}.synapse"
            tau_syn = field(synapse, syn_name, "tau", shape, positive=True)
            syn_alpha, cfg["tau_syn"] = _decay(synapse, syn_name, tau_syn, ctx)
            if np.any(field(synapse, syn_name, "v_leak", shape) != 0):
                raise node_error(syn_name, synapse, "a synapse with v_leak != 0 is not supported")
            g_syn = _units.one_minus_alpha(tau_syn, ctx.dt, ctx.discretization)
            g_syn = g_syn * field(synapse, syn_name, "r", shape)
            # i_syn holds dt*r*I, the synapse LI's output times the IF's gain
            scale = scale * g_syn / syn_alpha
            alphas["alpha_syn"] = syn_alpha
    else:
        cuba = isinstance(node, nir.CubaLIF)
        tau = field(node, name, "tau_mem" if cuba else "tau", shape, positive=True)
        r = field(node, name, "r", shape)
        v_leak = field(node, name, "v_leak", shape)
        mem = _membrane(node, name, tau, r, ctx)
        cfg.update(tau_mem=mem["tau"], norm_input=mem["norm_input"])
        alphas["alpha_mem"] = mem["alpha"]
        leak_gain = _units.one_minus_alpha(tau, ctx.dt, ctx.discretization)
        bias = v_leak if mem["norm_input"] else leak_gain * v_leak
        scale = mem["k"] if mem["norm_input"] else np.ones(shape)
        if cuba:
            if np.any(v_leak != 0):
                raise node_error(
                    name, node, "v_leak != 0 is not supported on a CubaLIF: sinabs's LIF has "
                    "no leak voltage, and it cannot enter through the synaptic current",
                )  # fmt: skip
            tau_syn = field(node, name, "tau_syn", shape, positive=True)
            w_in = field(node, name, "w_in", shape)
            syn_alpha, cfg["tau_syn"] = _decay(node, name, tau_syn, ctx)
            g_syn = _units.one_minus_alpha(tau_syn, ctx.dt, ctx.discretization) * w_in
            scale = mem["k"] * g_syn / syn_alpha
            alphas["alpha_syn"] = syn_alpha
    if "min_v_mem" in meta:
        cfg["min_v_mem"] = compact(np.asarray(meta["min_v_mem"], dtype=np.float32))
    train_alphas = bool(meta.get("train_alphas", False)) and not isinstance(node, nir.IF)
    for key in ("tau_mem", "tau_syn"):
        if key in cfg:
            cfg[key] = compact(cfg[key])
    if train_alphas:
        cfg["train_alphas"] = True
    rec_module: nn.Module | None = None
    if rec is not None:
        rec_node, from_sinabs = rec
        linear = stateless_module(rec_node, f"{name}.rec", ctx)
        assert isinstance(linear, nn.Linear)
        rec_module = linear
        if not from_sinabs:
            # NIR's feedback node adds its bias from the first step on and its output is
            # scaled like any other input: the bias joins the input, the scale the weight
            fold = np.ones(shape) if _units.is_unit(scale) else scale
            if linear.bias is not None:
                bias = bias + fold * linear.bias.detach().double().numpy()
            rec_module = nn.Linear(linear.in_features, linear.out_features, bias=False)
            rec_module.weight.data = (
                torch.tensor(fold, dtype=torch.float32)[:, None] * linear.weight.detach()
            )
    layer = _layer(node, cfg, spiking, rec_module, ctx)
    if train_alphas:
        inner = layer.module if isinstance(layer, Squeezed) else layer
        for key, alpha in alphas.items():
            getattr(inner, key).data = compact(alpha)
    transform = None
    if not _units.is_unit(scale) or np.any(bias != 0):
        transform = Scale(
            None if _units.is_unit(scale) else torch.tensor(scale, dtype=torch.float32),
            torch.tensor(bias, dtype=torch.float32) if np.any(bias != 0) else None,
        )
    if transform is not None:
        return ScaledNeuron(transform, layer)
    return layer


def _layer(
    node: Any, cfg: dict[str, Any], spiking: bool, rec: nn.Module | None, ctx: Context
) -> nn.Module:
    nir = import_nir()
    squeeze: dict[str, Any] = {"batch_size": ctx.batch_size, "num_timesteps": ctx.num_timesteps}
    if isinstance(node, nir.IF):
        if rec is not None:
            layer: nn.Module = IAFRecurrent(rec_connect=rec, **cfg)
        else:
            return IAFSqueeze(**squeeze, **cfg) if ctx.squeeze else IAF(**cfg)
    elif spiking or rec is not None:
        if not spiking:
            cfg.update(spike_fn=None, spike_threshold=None, reset_fn=None)
        if rec is not None:
            layer = LIFRecurrent(rec_connect=rec, **cfg)
        else:
            return LIFSqueeze(**squeeze, **cfg) if ctx.squeeze else LIF(**cfg)
    else:
        return ExpLeakSqueeze(**squeeze, **cfg) if ctx.squeeze else ExpLeak(**cfg)
    return Squeezed(layer, ctx.batch_size, ctx.num_timesteps) if ctx.squeeze else layer
