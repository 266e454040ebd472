"""What ``sinabs.layers`` exports and where each class lives (api.md)."""

from __future__ import annotations

import importlib

import pytest

import sinabs.layers as sl

API_NAMES = {
    "ALIF", "ALIFRecurrent", "ChannelShift", "Cropping2dLayer", "ExpLeak", "ExpLeakSqueeze",
    "IAF", "IAFRecurrent", "IAFSqueeze", "LIF", "LIFRecurrent", "LIFSqueeze", "Merge",
    "NeuromorphicReLU", "SpikingMaxPooling2dLayer", "SumPool2d", "QuantizeLayer",
    "FlattenTime", "Repeat", "SqueezeMixin", "UnflattenTime", "StatefulLayer",
    "Img2SpikeLayer", "Sig2SpikeLayer",
}  # fmt: skip


def test_every_api_name_is_exported():
    assert API_NAMES <= set(sl.__all__)
    assert all(hasattr(sl, name) for name in sl.__all__)


@pytest.mark.parametrize(
    ("name", "submodule"),
    [
        ("ChannelShift", "channel_shift"),
        ("Cropping2dLayer", "crop2d"),
        ("Merge", "merge"),
        ("NeuromorphicReLU", "neuromorphic_relu"),
        ("SpikingMaxPooling2dLayer", "pool2d"),
        ("SumPool2d", "pool2d"),
        ("QuantizeLayer", "quantize"),
        ("FlattenTime", "reshape"),
        ("UnflattenTime", "reshape"),
        ("Repeat", "reshape"),
        ("Img2SpikeLayer", "to_spike"),
        ("Sig2SpikeLayer", "to_spike"),
    ],
    ids=lambda v: v,
)
def test_class_lives_in_its_submodule(name, submodule):
    # pickles refer to classes by module path
    cls = getattr(sl, name)
    assert cls.__module__ == f"sinabs.layers.{submodule}"
    assert getattr(importlib.import_module(cls.__module__), name) is cls
