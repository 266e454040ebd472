"""sinabs: spiking neural networks in PyTorch."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import activation, dynamics, layers
from .recording import Recording
from .utils import reset_states, set_batch_size, zero_grad

try:
    __version__ = version("sinabs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Recording",
    "__version__",
    "activation",
    "dynamics",
    "layers",
    "reset_states",
    "set_batch_size",
    "zero_grad",
]
