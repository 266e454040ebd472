r"""Forward hooks that measure synaptic operations and firing rates.

A *synaptic operation* (synop) is one input event travelling over one outgoing
connection: for an input :math:`x` (spike counts or analog values) and the fan-out
:math:`F` of every input element,

.. math::
    \text{synops} = \sum_i x_i F_i .

Each hook stores its result in the dictionary ``module.hook_data`` of the module it is
registered on (created by :func:`get_hook_data_dict`), as sinabs 3.x does, so code
written for sinabs reads ``model[0].hook_data["layer_synops_per_timestep"]`` unchanged.
:func:`register_synops_hooks` returns a handle whose ``remove()`` takes its hooks off
again **and** removes the data they left, so nothing stays behind on the model: read the
results before removing.

All results are torch tensors that keep their autograd history (usable as loss terms).
This module is not imported by ``import sinabs``; use ``from sinabs import hooks``.

Example:
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    >>> handle = register_synops_hooks(model)
    >>> _ = model(torch.tensor([[1.0, 0.0, 2.0]]))
    >>> model.hook_data["total_synops_per_timestep"]
    tensor(12.)
    >>> handle.remove()
    >>> hasattr(model, "hook_data")
    False
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ._fanout import avgpool_scale_factor, conv_connection_map
from .layers.reshape import SqueezeMixin

__all__ = [
    "ModelSynopsHook",
    "SynopsHooksHandle",
    "conv_connection_map",
    "conv_layer_synops_hook",
    "firing_rate_hook",
    "firing_rate_per_neuron_hook",
    "get_hook_data_dict",
    "input_diff_hook",
    "linear_layer_synops_hook",
    "register_synops_hooks",
]

# Normalisation layers have a ``weight`` but no synapses: they do not consume the
# average-pooling scale factors meant for the next synaptic layer (sinabs 3.x: they do).
_NORMALISATION: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
)


def _extract_single_input(input_data: Sequence[Any]) -> Any:
    """The only positional input a forward hook received.

    Args:
        input_data: the ``input_`` tuple passed to a forward hook.

    Returns:
        ``input_data[0]``.

    Raises:
        ValueError: there is not exactly one input (multiple inputs not supported).
    """
    if len(input_data) != 1:
        raise ValueError(
            f"multiple inputs not supported: the hook got {len(input_data)} inputs, "
            "expected exactly one"
        )
    return input_data[0]


def get_hook_data_dict(module: nn.Module) -> dict[str, Any]:
    """The dictionary ``module.hook_data`` where hooks store their results.

    Args:
        module: any module.

    Returns:
        The existing ``module.hook_data``, or a new empty dict set as ``module.hook_data``.
    """
    data: Any = getattr(module, "hook_data", None)
    if data is None:
        data = {}
        module.hook_data = data  # type: ignore[assignment]
    return data


def input_diff_hook(module: nn.Module, input_: Sequence[Any], output: torch.Tensor) -> None:
    r"""Stores how much the layer's output falls short of the output with ``|W|``.

    .. math::
        \text{diff\_output} = f(x; |W|) - |f(x; W, b)|

    where :math:`f(x; |W|)` is the layer applied with the absolute weights and **no
    bias** (a convolution keeps its stride, padding, dilation, groups and padding mode).
    Without a bias the result is non-negative; with one it can be negative, since the
    real output includes the bias (as in sinabs 3.x).

    Stored as ``hook_data["diff_output"]``. Register on ``nn.Conv1d/2d/3d`` or
    ``nn.Linear``.

    Args:
        module: the layer.
        input_: the hook's inputs (exactly one).
        output: the layer's output.
    """
    x = _extract_single_input(input_)
    abs_weight = module.weight.abs()  # type: ignore[operator]
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # sinabs 3.x ignored dilation and padding_mode here; _conv_forward honours both
        # and equals conv2d(x, |W|, stride, padding, groups) otherwise.
        abs_output = module._conv_forward(x, abs_weight, None)
    else:
        abs_output = nn.functional.linear(x, abs_weight)
    get_hook_data_dict(module)["diff_output"] = abs_output - output.abs()


def firing_rate_hook(module: nn.Module, input_: Sequence[Any], output: torch.Tensor) -> None:
    """Stores the mean output, ``hook_data["firing_rate"] = output.mean()``.

    For a spiking layer this is the number of spikes per neuron and time step, averaged
    over batch, time and neurons.

    Args:
        module: the spiking layer.
        input_: the hook's inputs (unused).
        output: the layer's output.
    """
    get_hook_data_dict(module)["firing_rate"] = output.mean()


def firing_rate_per_neuron_hook(
    module: nn.Module, input_: Sequence[Any], output: torch.Tensor
) -> None:
    """Stores the firing rate of every neuron, averaged over batch and time.

    ``output.mean(0)`` for Squeeze layers (``(B*T, ...)`` outputs), else
    ``output.mean((0, 1))`` (``(B, T, ...)``); stored as
    ``hook_data["firing_rate_per_neuron"]`` with the neuron shape.

    Args:
        module: the spiking layer.
        input_: the hook's inputs (unused).
        output: the layer's output.
    """
    rate = output.mean(0) if isinstance(module, SqueezeMixin) else output.mean((0, 1))
    get_hook_data_dict(module)["firing_rate_per_neuron"] = rate


def conv_layer_synops_hook(module: nn.Conv2d, input_: Sequence[Any], output: torch.Tensor) -> None:
    r"""Stores the synops of an ``nn.Conv2d`` per sample and time step.

    .. math::
        \text{layer\_synops\_per\_timestep} = \sum_{c,i,j} \frac{1}{N}\sum_{n} x_{ncij} F_{cij}

    with :math:`F` from :func:`conv_connection_map` and :math:`N` the size of dimension 0
    (batch, or batch·time for squeezed data), computed as ``(x * F).mean(0).sum()``.
    The map is cached in ``hook_data["connection_map"]`` and rebuilt when the input's
    sample shape or device changes.

    Args:
        module: the convolution.
        input_: the hook's inputs (exactly one, ``(N, C, H, W)``).
        output: the convolution's output.
    """
    x = _extract_single_input(input_)
    data = get_hook_data_dict(module)
    connection_map = data.get("connection_map")
    if (
        connection_map is None
        or connection_map.shape[1:] != x.shape[1:]
        or connection_map.device != x.device
    ):
        connection_map = conv_connection_map(module, x.shape[1:], output.shape[1:], x.device)
        data["connection_map"] = connection_map
    data["layer_synops_per_timestep"] = (x * connection_map).mean(0).sum()


def linear_layer_synops_hook(
    module: nn.Linear, input_: Sequence[Any], output: torch.Tensor
) -> None:
    r"""Stores the synops of an ``nn.Linear`` per sample and time step.

    Every input drives ``out_features`` connections:

    .. math::
        \text{layer\_synops\_per\_timestep} = \Big(\sum \frac{1}{N}\sum_n x_n\Big)
        \cdot \text{out\_features}

    computed as ``x.mean(0).sum() * out_features`` (only dimension 0 is averaged; any
    further dimensions are summed).

    Args:
        module: the linear layer.
        input_: the hook's inputs (exactly one).
        output: the layer's output (unused).
    """
    x = _extract_single_input(input_)
    get_hook_data_dict(module)["layer_synops_per_timestep"] = x.mean(0).sum() * module.out_features


def _is_synaptic(layer: nn.Module) -> bool:
    """A layer with a weight tensor that is not a normalisation layer."""
    return isinstance(getattr(layer, "weight", None), torch.Tensor) and not isinstance(
        layer, _NORMALISATION
    )


@dataclass
class ModelSynopsHook:
    r"""Forward hook for an ``nn.Sequential`` that collects its layers' synops.

    Reads ``hook_data["layer_synops_per_timestep"]`` of every top-level layer (put there
    by :func:`conv_layer_synops_hook` / :func:`linear_layer_synops_hook`), scales it by
    the kernel area of every ``nn.AvgPool2d`` since the previous synaptic layer (an
    average pool divides the events a window sums by its area, hardware does not), and
    stores, with integer layer positions as keys,

    .. math::
        \text{synops\_per\_timestep}[i] = s_i \prod_{\text{pools before } i} k^2,\qquad
        \text{synops\_per\_second}[i] = \text{synops\_per\_timestep}[i] / dt

    in the model's ``hook_data`` (``synops_per_timestep``, ``total_synops_per_timestep``
    and, with ``dt``, ``synops_per_second``, ``total_synops_per_second``) and in each
    layer's ``hook_data``. Totals stay the float ``0.0`` when nothing was counted.
    ``SumPool2d`` does not scale. A ``UserWarning`` is emitted for an average pool whose
    kernel size differs from its stride.

    Args:
        dt: duration of one time step in seconds; None for no per-second values.
    """

    dt: float | None = None

    def __call__(self, module: nn.Sequential, input_: Sequence[Any], output: Any) -> None:
        data = get_hook_data_dict(module)
        data["total_synops_per_timestep"] = 0.0
        data["synops_per_timestep"] = {}
        if self.dt is not None:
            data["total_synops_per_second"] = 0.0
            data["synops_per_second"] = {}
        scale_factors: list[int] = []
        for idx, layer in enumerate(module):
            if isinstance(layer, nn.AvgPool2d):
                scale_factors.append(avgpool_scale_factor(layer, f"at index {idx}"))
            if not hasattr(layer, "weight"):
                continue
            layer_data: Any = getattr(layer, "hook_data", None)
            counted = isinstance(layer_data, dict) and "layer_synops_per_timestep" in layer_data
            if counted:
                synops = layer_data["layer_synops_per_timestep"] * math.prod(scale_factors)
                layer_data["synops_per_timestep"] = synops
                data["synops_per_timestep"][idx] = synops
                data["total_synops_per_timestep"] += synops
                if self.dt is not None:
                    per_second = synops / self.dt
                    layer_data["synops_per_second"] = per_second
                    data["synops_per_second"][idx] = per_second
                    data["total_synops_per_second"] += per_second
            if counted or _is_synaptic(layer):
                scale_factors = []


class SynopsHooksHandle:
    """Removes the hooks of :func:`register_synops_hooks` and the data they left.

    ``remove()`` takes every hook off and restores each module's ``hook_data`` to what it
    was at registration: deleted if the module had none, otherwise the earlier entries.
    Also a context manager (hooks removed on exit).

    Attributes:
        handles: the underlying ``torch`` hook handles.
    """

    def __init__(self, handles: list[RemovableHandle], modules: Sequence[nn.Module]) -> None:
        self.handles = handles
        self._saved: list[tuple[nn.Module, dict[str, Any] | None]] = []
        for module in modules:
            data: Any = getattr(module, "hook_data", None)
            self._saved.append((module, dict(data) if isinstance(data, dict) else None))

    def remove(self) -> None:
        """Removes the hooks and the ``hook_data`` they created (idempotent)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        for module, saved in self._saved:
            data: Any = getattr(module, "hook_data", None)
            if saved is None:
                if "hook_data" in module.__dict__:
                    del module.hook_data
            elif isinstance(data, dict):
                data.clear()
                data.update(saved)
        self._saved = []

    def __iter__(self) -> Iterator[RemovableHandle]:
        return iter(self.handles)

    def __len__(self) -> int:
        return len(self.handles)

    def __enter__(self) -> SynopsHooksHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def register_synops_hooks(module: nn.Sequential, dt: float | None = None) -> SynopsHooksHandle:
    """Registers synops hooks on a Sequential's ``Conv2d``/``Linear`` layers and itself.

    :func:`conv_layer_synops_hook` goes on every top-level ``nn.Conv2d``,
    :func:`linear_layer_synops_hook` on every top-level ``nn.Linear`` and
    :class:`ModelSynopsHook` on ``module``. Layers nested in sub-containers are not
    counted.

    Args:
        module: the model.
        dt: duration of one time step in seconds, for per-second values.

    Returns:
        A handle whose ``remove()`` takes the hooks and their ``hook_data`` off again
        (sinabs 3.x returned None and left both behind).

    Raises:
        TypeError: ``module`` is not an ``nn.Sequential``.
    """
    if not isinstance(module, nn.Sequential):
        raise TypeError(
            "register_synops_hooks needs an nn.Sequential (its top-level layers are "
            f"counted); got module of type {type(module).__name__}"
        )
    layers = list(module)
    handle = SynopsHooksHandle([], [module, *layers])
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            handle.handles.append(layer.register_forward_hook(conv_layer_synops_hook))
        elif isinstance(layer, nn.Linear):
            handle.handles.append(layer.register_forward_hook(linear_layer_synops_hook))
    handle.handles.append(module.register_forward_hook(ModelSynopsHook(dt)))
    return handle
