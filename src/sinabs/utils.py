"""Model-wide helpers for stateful layers."""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

from .layers.reshape import SqueezeMixin
from .layers.stateful_layer import StatefulLayer


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


def set_batch_size(model: nn.Module, batch_size: int) -> None:
    """Sets ``batch_size`` of every Squeeze layer in ``model``."""
    for module in model.modules():
        if isinstance(module, SqueezeMixin):
            module.batch_size = batch_size
