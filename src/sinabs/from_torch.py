"""``from_model``: turn a ReLU network into a spiking network (rate coding)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from . import layers as sl
from .activation import MembraneSubtract, MultiSpike, SingleExponential
from .conversion import replace_module
from .layers.neuromorphic_relu import NeuromorphicReLU
from .layers.reshape import SqueezeMixin
from .network import Network

__all__ = ["from_model"]

#: types replaced by spiking layers (exact type matches)
_CONVERTED = (nn.ReLU, NeuromorphicReLU)

#: nonlinearities that from_model leaves analog (it warns about them)
_UNCONVERTED_ACTIVATIONS = (
    nn.ReLU, nn.Hardtanh, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.LogSigmoid, nn.Tanh, nn.Hardswish,
    nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Threshold,
)  # fmt: skip


def _spike_layer_backends() -> dict[str, Any]:
    backends: dict[str, Any] = {"sinabs": sl}
    try:
        backends["exodus"] = importlib.import_module("sinabs.exodus.layers")
    except ImportError:
        pass
    return backends


def _resolve_backend(backend: str) -> type[nn.Module]:
    warnings.warn(
        "The `backend` argument of from_model is deprecated; pass the spiking layer "
        "class instead, e.g. spike_layer_class=sinabs.layers.IAFSqueeze.",
        UserWarning,
        stacklevel=3,
    )
    backends = _spike_layer_backends()
    if backend not in backends:
        raise KeyError(
            f"backend={backend!r} is not available; choose one of {sorted(backends)} "
            "(or pass spike_layer_class)"
        )
    layer_class: type[nn.Module] = backends[backend].IAFSqueeze
    return layer_class


def _check_input_shape(input_shape: Sequence[int] | None) -> tuple[int, ...] | None:
    if input_shape is None:
        return None
    if isinstance(input_shape, int | torch.Tensor) or not isinstance(input_shape, Sequence):
        raise TypeError(
            f"input_shape must be a sequence of ints without the batch dimension, e.g. "
            f"(1, 28, 28); got {input_shape!r}"
        )
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in input_shape):
        raise ValueError(f"input_shape must contain positive ints; got {input_shape!r}")
    return tuple(input_shape)


def _ends_in_relu(model: nn.Module) -> bool:
    children = list(model.children())
    last = children[-1] if children else model
    return type(last) in _CONVERTED


def _warn_unconverted(model: nn.Module) -> None:
    left = sorted(
        {
            type(module).__name__
            for module in model.modules()
            if isinstance(module, _UNCONVERTED_ACTIVATIONS) and type(module) not in _CONVERTED
        }
    )
    if left:
        warnings.warn(
            "from_model replaces only nn.ReLU and NeuromorphicReLU modules (exact types); "
            f"these activations stay analog in the spiking model: {', '.join(left)}",
            UserWarning,
            stacklevel=3,
        )


def from_model(
    model: nn.Module,
    input_shape: Sequence[int] | None = None,
    spike_threshold: float | torch.Tensor = 1.0,
    spike_fn: Any = MultiSpike,
    reset_fn: Any = None,
    surrogate_grad_fn: Any = None,
    min_v_mem: float | None = -1.0,
    bias_rescaling: float = 1.0,
    batch_size: int | None = None,
    num_timesteps: int | None = None,
    synops: bool = False,
    add_spiking_output: bool = False,
    spike_layer_class: type[nn.Module] = sl.IAFSqueeze,
    backend: str | None = None,
    kwargs_backend: Mapping[str, Any] | None = None,
) -> Network:
    """Converts an ANN into a spiking network by replacing its ReLUs by spiking layers.

    Every ``nn.ReLU`` and ``NeuromorphicReLU`` (exact types, at any depth) of a deep copy
    of ``model`` is replaced by a new ``spike_layer_class`` layer (integrate-and-fire
    neurons by default). Fed the input repeatedly over time, the spiking neurons' firing
    rates approximate the ReLU activations, the better the more time steps are used
    (see :func:`sinabs.utils.normalize_weights` to keep activations below threshold).
    Other activations (sigmoid, tanh, ...) stay analog; a ``UserWarning`` names them.

    Args:
        model: the ANN; it is not changed and becomes ``analog_model`` of the result.
        input_shape: input shape without the batch dimension; if given, the network is
            run once on zeros to record each module's ``out_shape`` (this initialises
            the spiking layers' states: call ``reset_states()`` before use).
        spike_threshold: θ of every spiking layer (each gets its own copy).
        spike_fn: spike function, e.g. ``MultiSpike`` (default) or ``SingleSpike``.
        reset_fn: reset mechanism; default ``MembraneSubtract()``.
        surrogate_grad_fn: surrogate gradient; default ``SingleExponential()``.
        min_v_mem: lower bound of the membrane potential (default -1.0), or None.
        bias_rescaling: the biases of every ``nn.Linear`` and ``nn.Conv2d`` of the
            spiking model are divided by this.
        batch_size: batch size for Squeeze layers (input ``(batch*time, ...)``).
        num_timesteps: number of time steps for Squeeze layers (one of the two is
            needed with a Squeeze ``spike_layer_class``).
        synops: attach a (deprecated) ``SNNAnalyzer`` as ``synops_counter``.
        add_spiking_output: append a spiking layer named ``spike_output`` if the model
            does not end in a ReLU.
        spike_layer_class: the spiking layer class, default ``IAFSqueeze``.
        backend: deprecated: ``"sinabs"`` (or ``"exodus"`` if installed) selects that
            package's ``IAFSqueeze``; emits a ``UserWarning``.
        kwargs_backend: more keyword arguments for ``spike_layer_class`` (not changed).

    Returns:
        A :class:`sinabs.network.Network` holding ``model`` as ``analog_model`` and
        the converted copy as ``spiking_model``.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, ``spike_layer_class`` is not a
            module class, or a Squeeze class gets neither ``batch_size`` nor
            ``num_timesteps``.
        KeyError: unknown ``backend``.
        ValueError: ``input_shape`` or ``bias_rescaling`` is invalid, or ``input_shape``
            does not fit the model.

    Example:
        >>> ann = nn.Sequential(
        ...     nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)
        ... )
        >>> net = from_model(ann, input_shape=(1, 28, 28), batch_size=8)
        >>> x = torch.rand(8, 1, 28, 28)
        >>> net.reset_states()
        >>> rates = net(x.repeat_interleave(100, dim=0)).unflatten(0, (8, 100)).mean(1)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module (e.g. an nn.Sequential); got {type(model).__name__}"
        )
    if backend is not None:
        spike_layer_class = _resolve_backend(backend)
    if not (isinstance(spike_layer_class, type) and issubclass(spike_layer_class, nn.Module)):
        raise TypeError(
            "spike_layer_class must be a spiking layer class such as sinabs.layers.IAFSqueeze; "
            f"got {spike_layer_class!r}"
        )
    input_shape = _check_input_shape(input_shape)
    if isinstance(bias_rescaling, bool) or not isinstance(bias_rescaling, int | float):
        raise TypeError(f"bias_rescaling must be a number; got {bias_rescaling!r}")
    if bias_rescaling == 0:
        raise ValueError("bias_rescaling must not be 0 (biases are divided by it)")

    first_param = next(model.parameters(), None)
    device = first_param.device if first_param is not None else torch.device("cpu")

    layer_kwargs: dict[str, Any] = dict(kwargs_backend or {})  # never the caller's dict
    squeeze = issubclass(spike_layer_class, SqueezeMixin)
    if squeeze:
        layer_kwargs["batch_size"] = batch_size
        layer_kwargs["num_timesteps"] = num_timesteps
    reset = reset_fn if reset_fn is not None else MembraneSubtract()
    surrogate = surrogate_grad_fn if surrogate_grad_fn is not None else SingleExponential()

    def make_spiking_layer(_: nn.Module | None = None) -> nn.Module:
        if squeeze and batch_size is None and num_timesteps is None:
            raise TypeError(
                f"from_model with spike_layer_class={spike_layer_class.__name__} needs "
                "batch_size or num_timesteps (its input has batch and time merged)"
            )
        layer = spike_layer_class(
            spike_threshold=spike_threshold,
            spike_fn=spike_fn,
            reset_fn=reset,
            surrogate_grad_fn=surrogate,
            min_v_mem=min_v_mem,
            **layer_kwargs,
        )
        return layer.to(device)

    _warn_unconverted(model)
    snn = replace_module(model, nn.ReLU, make_spiking_layer)
    snn = replace_module(snn, NeuromorphicReLU, make_spiking_layer)

    if add_spiking_output:
        if isinstance(model, nn.Sequential) and not _ends_in_relu(model):
            snn.add_module("spike_output", make_spiking_layer())
        elif not _ends_in_relu(model):
            snn.add_module("spike_output", make_spiking_layer())
            warnings.warn(
                f"spike_output was added to the spiking {type(model).__name__}, but only "
                "an nn.Sequential calls it: make the model's forward use it",
                UserWarning,
                stacklevel=2,
            )
        else:
            warnings.warn(
                "Spiking output can only be added to sequential models that do not end in "
                "a ReLU; no spiking output layer was added.",
                UserWarning,
                stacklevel=2,
            )

    if bias_rescaling != 1.0:
        with torch.no_grad():
            for module in snn.modules():
                if isinstance(module, nn.Linear | nn.Conv2d) and module.bias is not None:
                    module.bias /= bias_rescaling

    return Network(
        model,
        snn,
        input_shape=input_shape,
        synops=synops,
        batch_size=batch_size,
        num_timesteps=num_timesteps,
    )
