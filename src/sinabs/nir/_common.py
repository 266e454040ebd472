"""Pieces shared by export and import: the optional dependency, metadata keys, arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import torch

#: Key of sinabs's entries in a NIR node's (and the graph's) ``metadata``.
META = "sinabs"
#: ``metadata["sinabs"]["role"]`` of nodes that belong to one sinabs layer.
ROLE_SYNAPSE = "synapse"
ROLE_REC = "rec_connect"


def import_nir() -> ModuleType:
    """The ``nir`` package, or an ImportError naming the extra that provides it."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise ImportError(
            'sinabs.nir needs the packages nir and nirtorch: pip install "sinabs[nir]"'
        ) from err
    return nir


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy copy of ``tensor`` (detached, on the CPU), keeping its dtype."""
    return tensor.detach().cpu().numpy().copy()


def expand(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` (a tensor, array or number) broadcast to the neuron ``shape``, float64."""
    array = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else value
    array = np.asarray(array, dtype=np.float64)
    try:
        return np.broadcast_to(array, shape).copy()
    except ValueError as err:
        raise ValueError(
            f"{what} of shape {array.shape} does not broadcast to the neurons' shape {shape}"
        ) from err


def expand32(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """As :func:`expand`, keeping float32 values float32 (thresholds, resets, bounds)."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.float32:
        return np.broadcast_to(to_numpy(value), shape).copy()
    return expand(value, shape, what)


@dataclass
class Piece:
    """The NIR nodes that one module becomes, with its internal edges.

    Attributes:
        nodes: NIR nodes by name.
        edges: edges among ``nodes`` (and cycles of a recurrent layer).
        entry: the node that receives the module's input.
        exit: the node that gives its output.
    """

    nodes: dict[str, Any]
    entry: str
    exit: str
    edges: list[tuple[str, str]] = field(default_factory=list)


def single(name: str, node: Any) -> Piece:
    """A one-node piece."""
    return Piece({name: node}, name, name)
