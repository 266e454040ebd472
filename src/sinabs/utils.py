"""Model-wide helpers: states, batch/time sizes, activations, weight normalisation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from .layers.reshape import SqueezeMixin
from .layers.stateful_layer import StatefulLayer
from .validate_memory_speck import SpeckMappingError, ValidateMapping

__all__ = [
    "ValidateMapping",
    "collapse_pair",
    "expand_to_pair",
    "get_activations",
    "get_batch_size",
    "get_network_activations",
    "get_new_index",
    "get_num_timesteps",
    "get_smallest_compatible_time_dimension",
    "normalize_weights",
    "reset_states",
    "set_batch_size",
    "validate_memory_mapping_speck",
    "zero_grad",
]

T = TypeVar("T")

#: name of the model input in ``name_list`` arguments
INPUT = "Input"


# ---------------------------------------------------------------------------------------
# states


def _stateful_layers(model: nn.Module) -> Iterator[StatefulLayer]:
    # modules() visits the model itself and every submodule at any depth, so neuron
    # layers inside containers and recurrent layers are all reached.
    return (m for m in model.modules() if isinstance(m, StatefulLayer))


def reset_states(model: nn.Module) -> None:
    """Resets the states of every stateful layer in ``model`` (``model`` included)."""
    for layer in _stateful_layers(model):
        layer.reset_states()


def zero_grad(model: nn.Module) -> None:
    """``zero_grad`` of every stateful layer in ``model``: detaches their states."""
    for layer in _stateful_layers(model):
        layer.zero_grad()


# ---------------------------------------------------------------------------------------
# batch size and number of time steps of Squeeze layers


def set_batch_size(model: nn.Module, batch_size: int) -> None:
    """Sets ``batch_size`` of every Squeeze layer in ``model``."""
    for module in model.modules():
        if isinstance(module, SqueezeMixin):
            module.batch_size = batch_size


def _squeeze_setting(model: nn.Module, attribute: str, what: str) -> int:
    values: set[int] = {
        getattr(module, attribute)
        for module in model.modules()
        if isinstance(module, SqueezeMixin) and getattr(module, attribute, None) is not None
    } - {-1}
    if not values:
        return -1
    if len(values) > 1:
        listed = ", ".join(str(v) for v in sorted(values))
        raise ValueError(f"The model contains layers with different {what}: {listed}.")
    return int(values.pop())


def get_batch_size(model: nn.Module) -> int:
    """The batch size shared by the model's Squeeze layers.

    Args:
        model: the model.

    Returns:
        The batch size, or -1 if no Squeeze layer has one.

    Raises:
        ValueError: Squeeze layers have different batch sizes.
    """
    return _squeeze_setting(model, "batch_size", "batch sizes")


def get_num_timesteps(model: nn.Module) -> int:
    """The number of time steps shared by the model's Squeeze layers.

    Args:
        model: the model.

    Returns:
        The number of time steps, or -1 if no Squeeze layer has one.

    Raises:
        ValueError: Squeeze layers have different numbers of time steps.
    """
    return _squeeze_setting(model, "num_timesteps", "numbers of time steps")


def get_smallest_compatible_time_dimension(model: nn.Module) -> int:
    """Smallest first dimension ``B*T`` that the model's Squeeze layers accept.

    Args:
        model: the model.

    Returns:
        ``|batch_size| * |num_timesteps|``, where an unknown value counts as 1.
    """
    return abs(abs(get_batch_size(model)) * abs(get_num_timesteps(model)))


# ---------------------------------------------------------------------------------------
# small helpers


def get_new_index(existing_indices: Iterable[int]) -> int:
    """Smallest non-negative integer not in ``existing_indices``.

    Args:
        existing_indices: indices in use.

    Returns:
        The new index, e.g. 4 for ``[0, 1, 2, 3]`` and 2 for ``[0, 1, 3]``.
    """
    used = set(existing_indices)
    # Of 0..len(used), at least one is unused (pigeonhole).
    return min(set(range(len(used) + 1)) - used)


def expand_to_pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """``(value, value)`` for an int; anything else is returned unchanged.

    Args:
        value: an int or a pair.

    Returns:
        A pair.
    """
    if isinstance(value, int):
        return (value, value)
    return value


def collapse_pair(pair: Iterable[T] | T) -> T:
    """The common element of a pair (or any iterable); a non-iterable is returned as is.

    Args:
        pair: e.g. ``(3, 3)`` or ``3``.

    Returns:
        The element, e.g. 3.

    Raises:
        ValueError: the elements differ, or the iterable is empty.
    """
    if not isinstance(pair, Iterable):
        return pair
    items = list(pair)
    if not items:
        raise ValueError("`pair` must not be empty")
    if any(item != items[0] for item in items[1:]):
        raise ValueError("All elements of `pair` must be the same")
    return items[0]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# activations


def _module_lookup(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """``{name: module}`` for the non-input entries of ``names``; unknown names raise."""
    modules = dict(model.named_modules())
    lookup: dict[str, nn.Module] = {}
    for name in names:
        if name == INPUT:
            continue
        if name not in modules:
            known = ", ".join(repr(n) for n in modules if n) or "none"
            raise ValueError(
                f"name_list entry {name!r} is not a submodule of the model "
                f"(known names: {known}; use {INPUT!r} for the input)"
            )
        lookup[name] = modules[name]
    return lookup


def _record_outputs(
    model: nn.Module, data: torch.Tensor, names: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Runs ``model(data)`` under no_grad and returns the output of each named module.

    The hooks are removed afterwards, also when the forward pass raises. A module
    called several times keeps the output of its last call.
    """
    lookup = _module_lookup(model, names)
    outputs: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returned {type(output).__name__}, not a tensor; "
                    "its activations cannot be recorded"
                )
            outputs[name] = output.detach()

        return hook

    try:
        for name, module in lookup.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        with torch.no_grad():
            model(data)
    finally:
        for handle in handles:
            handle.remove()
    silent = [name for name in lookup if name not in outputs]
    if silent:
        raise ValueError(
            f"name_list entries {silent} were not called by the model's forward pass, "
            "so they have no activations"
        )
    return outputs


def _default_names(model: nn.Module) -> list[str]:
    return [INPUT] + [name for name, _ in model.named_modules() if name]


def get_activations(
    torchanalog_model: nn.Module,
    tsrData: torch.Tensor,
    name_list: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Activations of named modules of an analog (non-spiking) model for one input.

    The model runs in eval mode under ``torch.no_grad``; the training mode of every
    module is restored afterwards.

    Args:
        torchanalog_model: the model.
        tsrData: its input.
        name_list: names from ``named_modules()``, and ``"Input"`` for the input itself.
            Default: ``"Input"`` followed by every submodule.

    Returns:
        One NumPy array per entry of ``name_list``, in that order.

    Raises:
        ValueError: an entry of ``name_list`` is not a submodule or is never called.
    """
    names = list(name_list) if name_list is not None else _default_names(torchanalog_model)
    modes = {module: module.training for module in torchanalog_model.modules()}
    torchanalog_model.eval()
    try:
        outputs = _record_outputs(torchanalog_model, tsrData, names)
    finally:
        for module, training in modes.items():
            module.training = training
    return [(tsrData if name == INPUT else outputs[name]).detach().cpu().numpy() for name in names]


def get_network_activations(
    model: nn.Module,
    inp: torch.Tensor,
    name_list: Sequence[str] | None = None,
    bRate: bool = False,
) -> list[np.ndarray]:
    """Spike counts (or rates) of named modules of a spiking model, summed over dim 0.

    ``inp`` holds the time steps along its first dimension (``(T, ...)``, or
    ``(B*T, ...)`` for Squeeze layers). The model runs under ``torch.no_grad``; the
    hooks are removed afterwards.

    Args:
        model: the spiking model.
        inp: its input, time along the first dimension.
        name_list: names from ``named_modules()``, and ``"Input"`` for the input itself.
            Default: ``"Input"`` followed by every submodule.
        bRate: return rates in Hz for 1 ms time steps (``count / T * 1000``) instead of
            counts.

    Returns:
        One NumPy array per entry of ``name_list``, in that order: the output summed
        over the first dimension.

    Raises:
        ValueError: an entry of ``name_list`` is not a submodule or is never called.
    """
    names = list(name_list) if name_list is not None else _default_names(model)
    outputs = _record_outputs(model, inp, names)
    num_steps = len(inp)
    result = []
    for name in names:
        counts = (inp if name == INPUT else outputs[name]).detach().float().sum(0).cpu().numpy()
        result.append(counts / num_steps * 1000 if bRate else counts)
    return result


# ---------------------------------------------------------------------------------------
# weight normalisation


def normalize_weights(
    ann: nn.Module,
    sample_data: torch.Tensor,
    output_layers: Sequence[str],
    param_layers: Sequence[str],
    percentile: float = 99,
) -> None:
    """Data-based weight normalisation of an ANN before conversion to an SNN.

    For each pair ``(output_layers[i], param_layers[i])`` in turn: run ``ann`` on
    ``sample_data``, take the ``percentile``-th percentile :math:`s` of all elements
    of the output of ``output_layers[i]`` (typically a ReLU), and scale every parameter
    (weight and bias) of ``param_layers[i]`` by :math:`1/s`. Each pass sees the
    rescalings of the earlier ones. Normalised this way, most activations stay below
    1, i.e. below the default spike threshold, so spiking neurons do not saturate.

    :math:`s` is numpy's default ("linear") percentile of the outputs converted to
    float64, so it is the same float64 number under numpy 1.x and 2.x (given float32
    data, numpy 2 computes the percentile in float32 and numpy 1.x in float64, and
    their scales differ in the last bits often enough to change a converted network's
    spike counts). sinabs 3.1.3 passes float32 data to numpy 1.x, which gives the same
    :math:`s` except where it rounds the difference of the two neighbouring sorted
    values to float32 (neighbours more than a factor of 2 apart).

    Args:
        ann: the analog model; changed in place.
        sample_data: input used to measure the activations.
        output_layers: names (``named_modules()``) of the modules whose outputs are
            measured.
        param_layers: names of the modules whose parameters are scaled, one per entry
            of ``output_layers``.
        percentile: percentile in [0, 100].

    Raises:
        ValueError: the two name lists differ in length, a name is unknown, the
            percentile is out of range, or a measured percentile is not positive
            (the layer never activates on ``sample_data``).
    """
    if len(output_layers) != len(param_layers):
        raise ValueError(
            f"output_layers ({len(output_layers)} names) and param_layers "
            f"({len(param_layers)} names) must have the same length"
        )
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100]; got {percentile!r}")
    modules = dict(ann.named_modules())
    for argument, names in (("output_layers", output_layers), ("param_layers", param_layers)):
        unknown = [name for name in names if name not in modules]
        if unknown:
            raise ValueError(f"{argument} names {unknown} are not submodules of ann")
    for output_name, param_name in zip(output_layers, param_layers, strict=True):
        output = _record_outputs(ann, sample_data, [output_name])[output_name]
        # float64 data: numpy 1.x and 2.x compute the same float64 percentile (see above)
        values = output.detach().to(device="cpu", dtype=torch.float64).numpy()
        scale = float(np.percentile(values, percentile))
        if not scale > 0 or not np.isfinite(scale):
            raise ValueError(
                f"the {percentile}th percentile of the output of {output_name!r} is "
                f"{scale:g}; it must be positive to normalise {param_name!r} (does the "
                "layer activate on sample_data?)"
            )
        with torch.no_grad():
            for param in modules[param_name].parameters():
                param.mul_(1 / scale)


# ---------------------------------------------------------------------------------------
# Speck


def validate_memory_mapping_speck(
    input_feature_size: int,
    output_feature_size: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int],
    padding: int | Sequence[int],
    input_dimension: Sequence[int] = (64, 64),
    conv_2d: bool = True,
) -> str:
    """Checks that a Conv2d layer fits into the memory of a Speck core.

    Args:
        input_feature_size: number of input channels.
        output_feature_size: number of output channels.
        kernel_size: kernel ``(height, width)``.
        stride: stride ``(height, width)``.
        padding: zero padding ``(height, width)``.
        input_dimension: input ``(height, width)``.
        conv_2d: must be True (only Conv2d layers are validated).

    Returns:
        ``"Layer can be mapped successfully. Kernel memory is {K}Ki and neuron memory
        is {N}Ki."``

    Raises:
        ValueError: ``conv_2d`` is False.
        SpeckMappingError: the layer does not fit (a ``ValueError``; the message says
            which memory is too large), or its geometry is not supported.

    Example:
        >>> validate_memory_mapping_speck(2, 64, (3, 3), (1, 1), (1, 1), (8, 8))
        'Layer can be mapped successfully. Kernel memory is 2Ki and neuron memory is 4Ki.'
    """
    if not conv_2d:
        raise ValueError("This function only validates Conv2D layers.")
    if isinstance(input_dimension, int) or len(input_dimension) != 2:
        raise ValueError(f"input_dimension must be (height, width); got {input_dimension!r}")
    mapping = ValidateMapping(
        input_feature_size,
        output_feature_size,
        kernel_size,
        stride,
        padding,
        [input_dimension[0], input_dimension[1]],
        conv_2d,
    )
    kernel, neuron, kernel_msg, neuron_msg = mapping.calculate_total_memory()
    problems = [msg for msg in (kernel_msg, neuron_msg) if msg]
    if problems:
        raise SpeckMappingError(" ".join(problems))
    return (
        f"Layer can be mapped successfully. Kernel memory is {kernel:g}Ki and neuron "
        f"memory is {neuron:g}Ki."
    )
