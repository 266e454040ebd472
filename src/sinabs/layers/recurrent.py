"""Recurrent variants: neuron layers whose spikes feed back through ``rec_connect``."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .stateful_layer import StatefulLayer, check_input


class RecurrentMixin:
    """Feeds the spikes of step t through ``rec_connect`` into the input of step t+1.

    ``rec_connect`` is any module (or callable) mapping ``(B, *neurons)`` to something
    reshapeable to it, e.g. ``nn.Sequential(nn.Flatten(), nn.Linear(N, N))``.
    """

    rec_connect: nn.Module

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        layer: Any = self
        x = check_input(input_data)
        return layer._run_dynamics(layer._family, x, layer._dynamics_params, self.rec_connect)


def recurrent_variant(base: type[StatefulLayer], module: str, after: str | None) -> type:
    """Builds ``<base>Recurrent``: ``base`` with a ``rec_connect`` argument.

    Args:
        base: the neuron layer.
        module: the module the class belongs to (for pickling and docs).
        after: the constructor argument of ``base`` that ``rec_connect`` follows, or None
            for the first position (sinabs's signatures differ: ``LIFRecurrent(tau_mem,
            rec_connect, ...)``, ``IAFRecurrent(rec_connect, ...)``,
            ``ALIFRecurrent(tau_mem, tau_adapt, rec_connect, ...)``).
    """
    base_signature = inspect.signature(base.__init__)
    parameters = list(base_signature.parameters.values())  # self first
    position = 1 if after is None else [p.name for p in parameters].index(after) + 1
    rec = inspect.Parameter(
        "rec_connect", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="nn.Module"
    )
    signature = base_signature.replace(
        parameters=[*parameters[:position], rec, *parameters[position:]]
    )

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        arguments = signature.bind(self, *args, **kwargs).arguments
        arguments.pop("self")
        rec_connect = arguments.pop("rec_connect")
        base.__init__(self, **arguments)
        if not callable(rec_connect):
            raise TypeError(f"rec_connect must be a module or callable; got {rec_connect!r}")
        self.rec_connect = rec_connect

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    name = f"{base.__name__}Recurrent"
    doc = (
        f"{base.__name__} neurons with a recurrent connection.\n\n"
        f"The spikes of step t pass through ``rec_connect`` (any module mapping\n"
        f"``(B, *neurons)`` to something reshapeable to it, e.g.\n"
        f"``nn.Sequential(nn.Flatten(), nn.Linear(N, N))``) and are added to the input\n"
        f"of step t+1. With ``rec_connect`` one ``nn.Linear`` (or ``nn.Sequential(\n"
        f"nn.Flatten(), nn.Linear(N, N))``) the fused kernels run the layer, one kernel\n"
        f"step and one matrix product per time step; any other module runs on the\n"
        f"reference backend.\n\n"
        f"Args:\n"
        f"    rec_connect: the recurrent connection module.\n"
        f"    **others: as :class:`{base.__name__}`.\n"
    )
    cls = type(
        name,
        (RecurrentMixin, base),
        {"__init__": __init__, "__doc__": doc, "__module__": module, "__qualname__": name},
    )
    return cls
