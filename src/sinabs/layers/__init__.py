"""All sinabs layers: neuron layers (sinabs 3.x's and the point-neuron models),
pooling, cropping, reshaping, merging, encoders."""

from __future__ import annotations

from . import functional
from .adex import AdEx, AdExRecurrent, AdExSqueeze
from .alif import ALIF, ALIFRecurrent
from .channel_shift import ChannelShift
from .crop2d import Cropping2dLayer
from .exp_leak import ExpLeak, ExpLeakSqueeze
from .iaf import IAF, IAFRecurrent, IAFSqueeze
from .izhikevich import IZHIKEVICH_PRESETS, Izhikevich, IzhikevichRecurrent, IzhikevichSqueeze
from .lif import LIF, LIFRecurrent, LIFSqueeze
from .merge import Merge
from .neuromorphic_relu import NeuromorphicReLU
from .pool2d import SpikingMaxPooling2dLayer, SumPool2d
from .quantize import QuantizeLayer
from .reshape import FlattenTime, Repeat, SqueezeMixin, UnflattenTime
from .resonate import ResonateAndFire, ResonateAndFireRecurrent, ResonateAndFireSqueeze
from .stateful_layer import InputShapeError, StatefulLayer
from .to_spike import Img2SpikeLayer, Sig2SpikeLayer

__all__ = [
    "ALIF",
    "IAF",
    "IZHIKEVICH_PRESETS",
    "LIF",
    "ALIFRecurrent",
    "AdEx",
    "AdExRecurrent",
    "AdExSqueeze",
    "ChannelShift",
    "Cropping2dLayer",
    "ExpLeak",
    "ExpLeakSqueeze",
    "FlattenTime",
    "IAFRecurrent",
    "IAFSqueeze",
    "Img2SpikeLayer",
    "InputShapeError",
    "Izhikevich",
    "IzhikevichRecurrent",
    "IzhikevichSqueeze",
    "LIFRecurrent",
    "LIFSqueeze",
    "Merge",
    "NeuromorphicReLU",
    "QuantizeLayer",
    "Repeat",
    "ResonateAndFire",
    "ResonateAndFireRecurrent",
    "ResonateAndFireSqueeze",
    "Sig2SpikeLayer",
    "SpikingMaxPooling2dLayer",
    "SqueezeMixin",
    "StatefulLayer",
    "SumPool2d",
    "UnflattenTime",
    "functional",
]
