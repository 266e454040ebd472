"""Checkpoints load from untrusted files: ``torch.load(weights_only=True)``.

A ``state_dict`` of any network made of our layers holds tensors only (parameters,
thresholds, clamps and neuron states), so it loads without unpickling code. Whole
pickled modules need ``weights_only=False``, which runs code from the file: the docs
(docs/reliability.md) say to share state_dicts.
"""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from torch import nn

import sinabs
import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFSqueeze

N = 4


def network() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, N),
        sl.IAF(tau_syn=5.0, min_v_mem=-1.0, spike_fn=sa.MaxSpike(3)),
        nn.Linear(N, N),
        sl.LIF(tau_mem=torch.linspace(5.0, 20.0, N), train_alphas=True),
        sl.ALIF(tau_mem=10.0, tau_adapt=20.0, spike_threshold=torch.full((N,), 0.8)),
        sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(N, N)),
        sl.ExpLeak(tau_mem=8.0, norm_input=True),
    )


def squeezed() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Linear(3, N),
        sl.IAFSqueeze(batch_size=2),
        sl.LIFSqueeze(num_timesteps=5, tau_mem=10.0),
        ALIFSqueeze(batch_size=2, tau_mem=10.0, tau_adapt=20.0),
        sl.ExpLeakSqueeze(batch_size=2, tau_mem=10.0),
    )


def roundtrip(obj: object, weights_only: bool) -> object:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=weights_only)


@pytest.mark.parametrize(
    ("build", "shape"),
    [(network, (2, 5, 3)), (squeezed, (10, 3))],
    ids=["sequence", "squeeze"],
)
def test_state_dict_loads_with_weights_only(build, shape) -> None:
    g = torch.Generator().manual_seed(2)
    source = build()
    source(torch.rand(shape, generator=g) * 3)  # states in the checkpoint
    saved = roundtrip(source.state_dict(), weights_only=True)
    assert isinstance(saved, dict) and all(isinstance(v, torch.Tensor) for v in saved.values())
    assert "1.v_mem" in saved  # neuron states travel with the weights

    target = build()
    result = target.load_state_dict(saved)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.rand(shape, generator=g) * 3
    assert torch.equal(target(x), source(x))
    sinabs.reset_states(target)
    sinabs.reset_states(source)
    assert torch.equal(target(x), source(x))


def test_whole_pickled_module_needs_weights_only_false() -> None:
    model = network()
    with pytest.raises(pickle.UnpicklingError):
        roundtrip(model, weights_only=True)
    loaded = roundtrip(model, weights_only=False)  # trusted files only: runs code
    assert isinstance(loaded, nn.Sequential)
