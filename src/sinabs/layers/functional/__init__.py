"""sinabs 3.x functional forward loops (adapters to :mod:`sinabs.dynamics`)."""

from __future__ import annotations

from .alif import alif_forward, alif_forward_single, alif_recurrent
from .lif import lif_forward, lif_forward_single, lif_recurrent

__all__ = [
    "alif_forward",
    "alif_forward_single",
    "alif_recurrent",
    "lif_forward",
    "lif_forward_single",
    "lif_recurrent",
]
