"""sinabs: spiking neural networks in PyTorch."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import (
    activation,
    cnnutils,
    conversion,
    dynamics,
    from_torch,
    layers,
    network,
    synopcounter,
    utils,
    validate_memory_speck,
)
from .from_torch import from_model
from .network import Network
from .recording import Recording
from .synopcounter import SNNAnalyzer, SynOpCounter
from .utils import reset_states, set_batch_size, validate_memory_mapping_speck, zero_grad
from .validate_memory_speck import ValidateMapping

try:
    __version__ = version("sinabs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Network",
    "Recording",
    "SNNAnalyzer",
    "SynOpCounter",
    "ValidateMapping",
    "__version__",
    "activation",
    "cnnutils",
    "conversion",
    "dynamics",
    "from_model",
    "from_torch",
    "layers",
    "network",
    "reset_states",
    "set_batch_size",
    "synopcounter",
    "utils",
    "validate_memory_mapping_speck",
    "validate_memory_speck",
    "zero_grad",
]
