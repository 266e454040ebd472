r"""Deprecated network statistics: ``SNNAnalyzer`` and ``SynOpCounter``.

Prefer :mod:`sinabs.hooks`. Definitions (as in sinabs 3.x):

* **synops** of a ``Conv2d``/``Linear`` layer for one batch: input events times fan-out,
  summed over time steps and neurons and averaged over the batch,
  :math:`\frac{1}{B}\sum_{b,t,i} x_{bti} F_i`;
* **firing rate** of a spiking layer: mean output (spikes per neuron and time step);
* with ``average=True`` every quantity is averaged over the forward calls since the
  analyzer was created or :meth:`SNNAnalyzer.reset`.

Unlike sinabs 3.x, the analyzer keeps its counters in its own records instead of
writing attributes onto the model's modules, and :meth:`SNNAnalyzer.remove` (or
leaving a ``with`` block, or deleting the analyzer) takes its hooks off the model.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ._fanout import avgpool_scale_factor, conv_connection_map
from .layers.neuromorphic_relu import NeuromorphicReLU
from .layers.reshape import SqueezeMixin
from .layers.stateful_layer import StatefulLayer

__all__ = ["SNNAnalyzer", "SynOpCounter", "spiking_hook", "synops_hook"]


class _Record:
    """Copies and pickles of a record hold detached tensors (a deep copy of a model
    with an analyzer attached, e.g. a ``Network``, must not copy autograd graphs)."""

    def __getstate__(self) -> dict[str, Any]:
        return {
            key: value.detach() if isinstance(value, torch.Tensor) else value
            for key, value in vars(self).items()
        }


@dataclass(eq=False)
class _SpikingRecord(_Record):
    """What the analyzer gathers about one spiking layer."""

    n_batches: int = 0
    n_neurons: int = 0
    input_: torch.Tensor | None = None
    output_: torch.Tensor | None = None
    # Element-wise sum of the outputs of all batches; None once their shapes differ
    # (e.g. a smaller last batch), after which the sums of per-batch means are used.
    acc_output: torch.Tensor | None = field(default_factory=lambda: torch.tensor(0))
    rate_sum: torch.Tensor = field(default_factory=lambda: torch.tensor(0.0))
    # None once the neuron shape changed: per-neuron averages are then undefined.
    rate_per_neuron_sum: torch.Tensor | None = field(default_factory=lambda: torch.tensor(0.0))


@dataclass(eq=False)
class _SynopsRecord(_Record):
    """What the analyzer gathers about one ``Conv2d`` or ``Linear`` layer."""

    squeeze_layer: SqueezeMixin | None = None
    n_batches: int = 0
    synops: torch.Tensor = field(default_factory=lambda: torch.tensor(0))
    accumulated_synops: torch.Tensor = field(default_factory=lambda: torch.tensor(0))
    num_timesteps: int = 0
    connection_map: torch.Tensor | None = None


def _unflatten(tensor: torch.Tensor, batch_size: int, num_timesteps: int) -> torch.Tensor:
    return tensor.reshape(batch_size, num_timesteps, *tensor.shape[1:])


def _missing_record(name: str) -> TypeError:
    return TypeError(
        f"{name} keeps its counts in an SNNAnalyzer; create SNNAnalyzer(model) instead "
        "of registering it yourself"
    )


def spiking_hook(
    self: nn.Module,
    input_: tuple[torch.Tensor, ...],
    output: torch.Tensor,
    record: _SpikingRecord | None = None,
) -> None:
    """Forward hook of :class:`SNNAnalyzer` on a spiking layer.

    Keeps the last input and output (reshaped to ``(B, T, ...)`` for Squeeze layers),
    the number of neurons, and adds the output to the running sum.

    Args:
        self: the spiking layer.
        input_: the hook's inputs.
        output: the layer's output spikes.
        record: the analyzer's record of this layer (bound by the analyzer).

    Raises:
        TypeError: called without a record (not registered by an analyzer).
    """
    if record is None:
        raise _missing_record("spiking_hook")
    x = input_[0]
    if isinstance(self, SqueezeMixin):
        x = _unflatten(x, self.batch_size, self.num_timesteps)
        output = _unflatten(output, self.batch_size, self.num_timesteps)
    record.n_neurons = output[0, 0].numel()
    record.input_ = x
    record.output_ = output
    first = record.n_batches == 0
    if record.acc_output is not None and (first or record.acc_output.shape == output.shape):
        record.acc_output = record.acc_output.detach() + output
    else:
        record.acc_output = None
    record.rate_sum = record.rate_sum.detach() + output.mean()
    per_neuron = record.rate_per_neuron_sum
    if per_neuron is not None and (first or per_neuron.shape == output.shape[2:]):
        record.rate_per_neuron_sum = per_neuron.detach() + output.mean((0, 1))
    else:
        record.rate_per_neuron_sum = None
    record.n_batches += 1


def synops_hook(
    self: nn.Module,
    input_: tuple[torch.Tensor, ...],
    output: torch.Tensor,
    record: _SynopsRecord | None = None,
) -> None:
    r"""Forward hook of :class:`SNNAnalyzer` on a ``Conv2d`` or ``Linear`` layer.

    Input and output are summed over time first (time is the second axis, after
    un-squeezing with the model's Squeeze layer, or of a Linear's ``(B, T, N)`` input;
    without a time axis ``num_timesteps`` is 0). Then

    .. math::
        \text{synops} = \frac{1}{B}\sum_{b}\sum_i x_{bi} F_i

    with :math:`F_i` the fan-out (``out_features`` for Linear, the connection map for
    Conv2d), computed as ``(x * F).mean(0).sum()`` resp. ``x.mean(0).sum() * fanout``.

    Args:
        self: the layer.
        input_: the hook's inputs (exactly one).
        output: the layer's output.
        record: the analyzer's record of this layer (bound by the analyzer).

    Raises:
        TypeError: called without a record (not registered by an analyzer).
        ValueError: the layer got more than one input.
    """
    if record is None:
        raise _missing_record("synops_hook")
    if len(input_) != 1:
        raise ValueError(f"multiple inputs not supported: got {len(input_)} inputs")
    x = input_[0]
    squeeze = record.squeeze_layer
    if squeeze is not None:
        x = _unflatten(x, squeeze.batch_size, squeeze.num_timesteps)
        output = _unflatten(output, squeeze.batch_size, squeeze.num_timesteps)
        record.num_timesteps = x.shape[1]
        x, output = x.sum(1), output.sum(1)
    elif isinstance(self, nn.Linear) and x.dim() >= 3:
        record.num_timesteps = x.shape[1]
        x, output = x.sum(1), output.sum(1)
    else:
        record.num_timesteps = 0

    if isinstance(self, nn.Conv2d):
        # One sample's map, broadcast over the batch (sinabs 3.x built one per sample
        # and rebuilt it whenever the batch size changed; the products are identical).
        connection_map = record.connection_map
        if (
            connection_map is None
            or connection_map.shape[1:] != x.shape[1:]
            or connection_map.device != x.device
        ):
            connection_map = conv_connection_map(self, x.shape[1:], output.shape[1:], x.device)
            record.connection_map = connection_map
        synops = (x * connection_map).mean(0).sum()
    elif isinstance(self, nn.Linear):
        synops = x.mean(0).sum() * self.out_features
    else:
        raise TypeError(f"synops_hook counts nn.Conv2d and nn.Linear layers; got {self}")
    record.synops = synops
    record.accumulated_synops = record.accumulated_synops.detach() + synops
    record.n_batches += 1


class SNNAnalyzer:
    """Synops and firing-rate statistics of a model (deprecated: use :mod:`sinabs.hooks`).

    Hooks every spiking :class:`~sinabs.layers.StatefulLayer` (firing rates) and every
    ``nn.Conv2d`` / ``nn.Linear`` (synops) in ``model``, at any depth. If the model has
    Squeeze layers, the last one's ``batch_size``/``num_timesteps`` (read at every call)
    un-flatten the inputs of all Conv2d/Linear layers so synops are summed over time.

    The analyzer keeps its data itself; the model is left as it was except for the
    hooks, which :meth:`remove` (or leaving ``with SNNAnalyzer(model) as analyzer:``,
    or deleting the analyzer) takes off.

    Args:
        model: the model to analyse.
        dt: duration of one time step, in milliseconds (for ``SynOps/s``).

    Example:
        >>> model = nn.Linear(3, 5)
        >>> analyzer = SNNAnalyzer(model)
        >>> _ = model(torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 5.0]]))
        >>> analyzer.get_model_statistics()["synops"]
        tensor(20.)
    """

    def __init__(self, model: nn.Module, dt: float = 1.0) -> None:
        warnings.warn(
            "SNNAnalyzer is deprecated. Please use `sinabs.hooks` instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.model = model
        self.dt = dt
        self.handles: list[RemovableHandle] = []
        self._spiking: dict[nn.Module, _SpikingRecord] = {}
        self._synops: dict[nn.Module, _SynopsRecord] = {}
        self._setup_hooks()

    def _setup_hooks(self) -> None:
        """Creates fresh records and registers the hooks."""
        squeeze_layers = [m for m in self.model.modules() if isinstance(m, SqueezeMixin)]
        squeeze = squeeze_layers[-1] if squeeze_layers else None
        self._spiking, self._synops = {}, {}
        for module in self.model.modules():
            if isinstance(module, StatefulLayer) and module.does_spike:
                spiking = self._spiking[module] = _SpikingRecord()
                hook = functools.partial(spiking_hook, record=spiking)
                self.handles.append(module.register_forward_hook(hook))
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                synops = self._synops[module] = _SynopsRecord(squeeze_layer=squeeze)
                hook = functools.partial(synops_hook, record=synops)
                self.handles.append(module.register_forward_hook(hook))

    def remove(self) -> None:
        """Takes the analyzer's hooks off the model (idempotent)."""
        for handle in getattr(self, "handles", []):
            handle.remove()
        self.handles = []

    def reset(self) -> None:
        """Forgets everything gathered so far (re-registers the hooks)."""
        self.remove()
        self._setup_hooks()

    def __enter__(self) -> SNNAnalyzer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def __del__(self) -> None:
        self.remove()

    # ---- statistics -----------------------------------------------------------------

    def _scaled_synops(self, average: bool) -> Iterator[tuple[str, torch.Tensor, _SynopsRecord]]:
        """``(name, synops × pending AvgPool areas, record)`` of every layer that ran."""
        scale_factors: list[int] = []
        for name, module in self.model.named_modules():
            if isinstance(module, nn.AvgPool2d):
                scale_factors.append(avgpool_scale_factor(module, repr(name)))
            record = self._synops.get(module)
            if record is None:
                continue
            scale = math.prod(scale_factors)
            scale_factors = []
            if record.n_batches == 0:
                continue
            synops = record.accumulated_synops / record.n_batches if average else record.synops
            yield name, synops * scale, record

    def _firing_rates(
        self, record: _SpikingRecord, name: str, average: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(firing rate, firing rate per neuron)`` of a spiking layer that ran."""
        assert record.output_ is not None
        if not average:
            return record.output_.mean(), record.output_.mean((0, 1))
        n = record.n_batches
        if record.acc_output is not None:
            return record.acc_output.mean() / n, record.acc_output.mean((0, 1)) / n
        if record.rate_per_neuron_sum is None:
            raise ValueError(
                f"layer {name!r} produced outputs of different neuron shapes since the "
                "last reset(); per-neuron averages are undefined (use average=False or "
                "call reset() when the input size changes)"
            )
        return record.rate_sum / n, record.rate_per_neuron_sum / n

    def get_layer_statistics(self, average: bool = False) -> dict[str, dict[str, Any]]:
        """Statistics of every hooked layer that has run, by module name.

        ``"spiking"``: ``{name: {"n_neurons", "input", "output", "firing_rate",
        "firing_rate_per_neuron"}}`` (``input``/``output`` of the last batch as
        ``(B, T, ...)``; with ``average`` the output is the mean over batches, None
        if the batch shapes differed).

        ``"parameter"``: ``{name: {"synops", "num_timesteps", "time_window", "SynOps/s",
        "synops/s"}}`` where synops are multiplied by the kernel areas of the
        ``AvgPool2d`` layers since the previous synaptic layer,
        ``time_window = num_timesteps * dt`` and
        ``SynOps/s = synops / num_timesteps / dt * 1000`` (``inf`` without a time axis).

        Args:
            average: average over all batches since the last reset instead of the last.

        Returns:
            ``{"spiking": {...}, "parameter": {...}}``.
        """
        spiking: dict[str, dict[str, Any]] = {}
        for name, module in self.model.named_modules():
            record = self._spiking.get(module)
            if record is None or record.n_batches == 0:
                continue
            rate, rate_per_neuron = self._firing_rates(record, name, average)
            if average:
                acc = record.acc_output
                output = acc / record.n_batches if acc is not None else None
            else:
                output = record.output_
            spiking[name] = {
                "n_neurons": record.n_neurons,
                "input": record.input_,
                "output": output,
                "firing_rate": rate,
                "firing_rate_per_neuron": rate_per_neuron,
            }
        parameter: dict[str, dict[str, Any]] = {}
        for name, synops, synops_record in self._scaled_synops(average):
            steps = synops_record.num_timesteps
            per_second = synops / steps / self.dt * 1000
            parameter[name] = {
                "synops": synops,
                "num_timesteps": steps,
                "time_window": steps * self.dt,
                "SynOps/s": per_second,
                "synops/s": per_second,
            }
        return {"spiking": spiking, "parameter": parameter}

    def get_model_statistics(self, average: bool = False) -> dict[str, torch.Tensor]:
        """Statistics of the whole model.

        * ``"firing_rate"`` (when the model has spiking layers): the mean over all
          neurons of the layers that ran of their per-neuron firing rates;
        * ``"synops"``: the sum of the layers' synops, AvgPool scaling included, so it
          equals the sum of :meth:`get_layer_statistics`'s values;
        * ``"n_spiking_neurons"``: number of neurons in the spiking layers that ran.

        Args:
            average: average over all batches since the last reset instead of the last.

        Returns:
            A dict of 0-dim tensors.
        """
        stats: dict[str, torch.Tensor] = {}
        if self._spiking:
            rates = [
                self._firing_rates(record, name, average)[1].ravel()
                for name, module in self.model.named_modules()
                if (record := self._spiking.get(module)) is not None and record.n_batches
            ]
            stats["firing_rate"] = torch.cat(rates).mean() if rates else torch.tensor(0.0)
        synops = torch.tensor(0.0)
        for _, layer_synops, _ in self._scaled_synops(average):
            synops = synops + layer_synops
        stats["synops"] = synops
        n_neurons = sum(r.n_neurons for r in self._spiking.values() if r.n_batches)
        stats["n_spiking_neurons"] = (torch.tensor(0.0) + n_neurons).to(synops.device)
        return stats


class SynOpCounter:
    """Sums the ``activity`` of a network's ``NeuromorphicReLU`` layers (deprecated).

    ``activity`` of a :class:`~sinabs.layers.NeuromorphicReLU` is its number of output
    events per sample times its ``fanout``: the synaptic operations it causes. Usable
    as a differentiable loss term.

    Args:
        modules: iterable of modules, e.g. ``model.modules()``; the NeuromorphicReLUs
            with ``fanout > 0`` are collected.
        sum_activations: return the sum (True) or the list of activities.

    Raises:
        ValueError: no NeuromorphicReLU with ``fanout > 0`` was found.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), NeuromorphicReLU(fanout=3))
        >>> counter = SynOpCounter(model.modules())
    """

    def __init__(self, modules: Iterable[nn.Module], sum_activations: bool = True) -> None:
        warnings.warn(
            "SynOpCounter is deprecated. Please use `sinabs.hooks` instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.modules = [m for m in modules if isinstance(m, NeuromorphicReLU) and m.fanout > 0]
        if not self.modules:
            raise ValueError("No NeuromorphicReLU found in module list.")
        self.sum_activations = sum_activations

    def __call__(self) -> torch.Tensor | list[torch.Tensor]:
        """The activity of every collected layer in its last forward call.

        Returns:
            Their sum (``sum_activations``) or the list, in collection order.

        Raises:
            RuntimeError: a collected layer has not run yet.
        """
        activities = []
        for index, module in enumerate(self.modules):
            activity = getattr(module, "activity", None)
            if activity is None:
                raise RuntimeError(
                    f"NeuromorphicReLU number {index} ({module}) has not run yet: call "
                    "the model before the SynOpCounter"
                )
            activities.append(activity)
        if self.sum_activations:
            return torch.stack(activities).sum()
        return activities
