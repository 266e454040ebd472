"""sinabs: spiking neural networks in PyTorch."""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

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


def __getattr__(name: str) -> Any:
    """Lazy names: ``sinabs.nir``, ``sinabs.to_nir`` and ``sinabs.from_nir`` load the NIR
    module on first use, so that ``import sinabs`` needs neither nir nor nirtorch (the
    ``sinabs[nir]`` extra); calling them without it raises an ImportError naming it."""
    if name in ("nir", "to_nir", "from_nir"):
        module = importlib.import_module(".nir", __name__)
        return module if name == "nir" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "from_nir",
    "from_torch",
    "layers",
    "network",
    "nir",
    "reset_states",
    "set_batch_size",
    "synopcounter",
    "to_nir",
    "utils",
    "validate_memory_mapping_speck",
    "validate_memory_speck",
    "zero_grad",
]
