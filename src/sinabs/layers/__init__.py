"""Neuron layers (and, from later issues, the other sinabs layers)."""

from __future__ import annotations

from . import functional
from .alif import ALIF, ALIFRecurrent
from .exp_leak import ExpLeak, ExpLeakSqueeze
from .iaf import IAF, IAFRecurrent, IAFSqueeze
from .lif import LIF, LIFRecurrent, LIFSqueeze
from .reshape import SqueezeMixin
from .stateful_layer import InputShapeError, StatefulLayer

__all__ = [
    "ALIF",
    "IAF",
    "ALIFRecurrent",
    "ExpLeak",
    "ExpLeakSqueeze",
    "IAFRecurrent",
    "IAFSqueeze",
    "InputShapeError",
    "LIFRecurrent",
    "LIFSqueeze",
    "LIF",
    "SqueezeMixin",
    "StatefulLayer",
    "functional",
]
