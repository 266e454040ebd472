"""sinabs: spiking neural networks in PyTorch."""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import (
    activation,
    allocator,
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
from .allocator import allocator_tuning, set_allocator_tuning
from .from_torch import from_model
from .network import Network
from .recording import Recording
from .synopcounter import SNNAnalyzer, SynOpCounter
from .utils import reset_states, set_batch_size, validate_memory_mapping_speck, zero_grad
from .validate_memory_speck import ValidateMapping

if TYPE_CHECKING:  # the lazy names below, for type checkers
    from . import nir, plotting
    from .nir import from_nir, to_nir

try:
    __version__ = version("sinabs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

#: Names imported on first access, because their modules need optional extras:
#: ``name -> "module"`` (the module itself) or ``"module:attribute"``. ``import sinabs``
#: needs neither matplotlib (``sinabs[plot]``) nor nir and nirtorch (``sinabs[nir]``);
#: using a name without its extra raises an ImportError naming the extra.
_LAZY: dict[str, str] = {
    "plotting": "sinabs.plotting",
    "nir": "sinabs.nir",
    "to_nir": "sinabs.nir:to_nir",
    "from_nir": "sinabs.nir:from_nir",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'sinabs' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = importlib.import_module(module_name)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Network",
    "Recording",
    "SNNAnalyzer",
    "SynOpCounter",
    "ValidateMapping",
    "__version__",
    "activation",
    "allocator",
    "allocator_tuning",
    "cnnutils",
    "conversion",
    "dynamics",
    "from_model",
    "from_nir",
    "from_torch",
    "layers",
    "network",
    "nir",
    "plotting",
    "reset_states",
    "set_allocator_tuning",
    "set_batch_size",
    "synopcounter",
    "to_nir",
    "utils",
    "validate_memory_mapping_speck",
    "validate_memory_speck",
    "zero_grad",
]
