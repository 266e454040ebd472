"""Img2SpikeLayer and Sig2SpikeLayer (layers.md; quirk Q42)."""

from __future__ import annotations

import doctest

import pytest
import torch

import sinabs.layers.to_spike as module
from sinabs.layers import Img2SpikeLayer, Sig2SpikeLayer

# ---------------------------------------------------------------- Img2SpikeLayer


def test_img2spike_pinned_shape():
    out = Img2SpikeLayer(image_shape=(2, 64, 64), tw=10)(torch.rand(2, 64, 64) * 255)
    assert out.shape == (10, 2, 64, 64)


def test_img2spike_rate_reproduces_the_image():
    torch.manual_seed(0)
    img = torch.rand(2, 8, 8) * 255
    out = Img2SpikeLayer(image_shape=(2, 8, 8), tw=10000)(img)
    assert torch.allclose(out.mean(0), img / 255, atol=0.025)


def test_img2spike_negative_spikes_reproduce_signed_inputs():
    torch.manual_seed(1)
    img = torch.rand(3, 6) * 2 - 1
    out = Img2SpikeLayer(None, tw=10000, norm=1, negative_spikes=True)(img)
    assert torch.allclose(out.mean(0), img, atol=0.025)
    assert not (torch.signbit(out) & (out == 0)).any()  # no -0.0


@pytest.mark.parametrize(
    ("max_rate", "norm", "negative_spikes"),
    [(1000, 255.0, False), (500, 255.0, False), (1000, 1.0, True)],
    ids=["default", "half-rate", "negative"],
)
def test_img2spike_uses_the_global_cpu_generator(max_rate, norm, negative_spikes):
    # y_t = [r_t < |x| / norm * max_rate / 1000] * sign(x), r from torch.rand(tw, *shape)
    img = torch.tensor([[0.0, 0.25 * norm], [-0.5 * norm, norm]])
    layer = Img2SpikeLayer(
        None, tw=50, max_rate=max_rate, norm=norm, negative_spikes=negative_spikes
    )
    torch.manual_seed(5)
    out = layer(img)
    torch.manual_seed(5)
    random = torch.rand(50, 2, 2)
    probability = img.abs() / norm * (max_rate / 1000)
    expected = (random < probability).float()
    if negative_spikes:
        expected = expected * torch.sign(img) + 0.0
    else:
        expected = expected * (img > 0)
    assert torch.equal(out, expected)
    assert layer.spikes_number == expected.abs().sum()


def test_img2spike_squeeze_and_output_shape():
    layer = Img2SpikeLayer((1, 4, 1), tw=3, squeeze=True)
    assert layer(torch.ones(1, 4, 1)).shape == (3, 4)
    assert layer.get_output_shape((1, 4, 1)) == (1, 4, 1)


def test_img2spike_full_pixel_spikes_every_step():
    out = Img2SpikeLayer(None, tw=20)(torch.full((3,), 255.0))
    assert (out == 1).all()


# ---------------------------------------------------------------- Sig2SpikeLayer


def test_sig2spike_pinned_shape():
    layer = Sig2SpikeLayer(channels_in=4, tw=5)
    assert layer(torch.rand(4, 3)).shape == (15, 4)
    assert layer.get_output_shape((4, 3)) == (15, 4)


def test_sig2spike_holds_each_sample_for_tw_steps():
    signal = torch.tensor([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    out = Sig2SpikeLayer(2, tw=2, spk_out=False)(signal)
    expected = torch.tensor(
        [[0.1, 1.0], [0.1, 1.0], [0.2, 2.0], [0.2, 2.0], [0.3, 3.0], [0.3, 3.0]]
    )
    assert torch.equal(out, expected)


def test_sig2spike_spikes_from_the_global_cpu_generator():
    signal = torch.tensor([[0.2, 0.9], [0.5, 0.0]])
    layer = Sig2SpikeLayer(2, tw=3, norm_level=2.0)
    torch.manual_seed(11)
    out = layer(signal)
    torch.manual_seed(11)
    held = signal.repeat_interleave(3, dim=1).T  # (6, 2)
    expected = (torch.rand(6, 2) * 2.0 < held).float()
    assert torch.equal(out, expected)
    assert layer.spikes_number == expected.sum()


def test_sig2spike_signal_at_norm_level_always_spikes():
    out = Sig2SpikeLayer(3, tw=4, norm_level=0.5)(torch.full((3, 2), 0.5))
    assert (out == 1).all()


def test_sig2spike_needs_channels_by_time():
    with pytest.raises(ValueError, match="signal"):
        Sig2SpikeLayer(2)(torch.zeros(2, 3, 4))


def test_docstring_examples():
    assert doctest.testmod(module).failed == 0
