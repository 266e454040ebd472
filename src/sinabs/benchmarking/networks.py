"""The benchmark's networks: their shared weight layers, sinabs and the ReLU twin.

Every framework builds the same network from :func:`weight_stages`: the weight layers
(and pooling) are ordinary torch modules created in one order from one seed, so every
framework starts from the same weights; the frameworks differ only in their neuron
layers and in how those are called (see :mod:`sinabs.benchmarking.peers`).

* ``mlp`` (SHD-like): input ``(32, 100, 700)``, Linear 700-256-256-20, a neuron layer
  after each Linear.
* ``conv`` (N-MNIST-like): input ``(16, 50, 2, 34, 34)``, Conv 2-16 5x5, neurons,
  AvgPool 2, Conv 16-32 5x5, neurons, AvgPool 2, Flatten, Linear 800-10, neurons; the
  weight layers and pooling see time folded into the batch, the neurons ``(B, T, ...)``.
* ``recurrent``: input ``(32, 100, 700)``, Linear 700-256, recurrent neurons whose
  spikes pass through Linear 256-256 into the next step's input, Linear 256-20, neurons.

sinabs runs ``sl.LIF(tau_mem=20)`` with its defaults (``sl.LIFSqueeze`` in the conv
net, ``sl.LIFRecurrent`` in the recurrent one), reset with ``sinabs.reset_states``
before each step. The ReLU twins put ``nn.ReLU`` in place of every neuron layer; the
recurrent twin is ``torch.nn.RNN(nonlinearity="relu")`` with the same weights.

Inputs are Bernoulli spike trains (5% of the entries 1), targets random classes; the
loss is the cross-entropy of the output spikes summed over time, the optimiser Adam.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

#: membrane time constant of every neuron layer (time steps); peers get the same decay
TAU_MEM = 20.0
#: spike threshold of every neuron layer
THRESHOLD = 1.0
#: fraction of input entries that are spikes
INPUT_RATE = 0.05


def alpha_mem() -> float:
    """The membrane decay factor per step, :math:`\\alpha = e^{-1/\\tau}`."""
    return math.exp(-1.0 / TAU_MEM)


@dataclass(frozen=True)
class NetworkSpec:
    """One benchmark network.

    Attributes:
        name: the network's name on the command line.
        batch: batch size B.
        steps: time steps T.
        neurons_in: shape of one input frame (without batch and time).
        classes: outputs of the last layer.
        gains: factors applied to each stage's default-initialised weights and biases
            (then to the recurrent Linear's), chosen so that every neuron layer spikes, at
            5 to 10% of its neurons per step at the start: with torch's default
            initialisation, sparse inputs and normalised input (the membrane follows the
            mean current), no membrane reaches the threshold. The ReLU twins keep torch's
            default initialisation (scaled, their activations grow from layer to layer
            and the recurrent one diverges); the values do not change the work done.
        folded: whether the weight layers take time folded into the batch (conv layers);
            Linear layers act on the last axis of any shape and need no folding.
        recurrent: whether the first neuron layer has a recurrent Linear.
        quick: ``(batch, steps)`` of the smoke size.
        description: the layers, for the report.
    """

    name: str
    batch: int
    steps: int
    neurons_in: tuple[int, ...]
    classes: int
    gains: tuple[float, ...]
    folded: bool = False
    recurrent: bool = False
    quick: tuple[int, int] = (2, 4)
    description: str = field(default="", compare=False)

    def size(self, quick: bool) -> tuple[int, int]:
        """``(batch, steps)`` at the full or the smoke size."""
        return self.quick if quick else (self.batch, self.steps)


NETWORKS: dict[str, NetworkSpec] = {
    "mlp": NetworkSpec(
        "mlp", 32, 100, (700,), 20, gains=(100.0, 50.0, 50.0),
        description="SHD-like MLP: Linear 700-256-256-20, LIF after each",
    ),
    "conv": NetworkSpec(
        "conv", 16, 50, (2, 34, 34), 10, gains=(60.0, 60.0, 60.0), folded=True,
        description="N-MNIST-like: Conv 2-16 5x5, LIF, AvgPool 2, Conv 16-32 5x5, LIF, "
        "AvgPool 2, Linear 800-10, LIF",
    ),
    "recurrent": NetworkSpec(
        "recurrent", 32, 100, (700,), 20, gains=(100.0, 50.0, 25.0), recurrent=True,
        description="Linear 700-256, recurrent LIF (Linear 256-256 from the spikes of the "
        "previous step), Linear 256-20, LIF",
    ),
}  # fmt: skip


def check_network(name: str) -> NetworkSpec:
    """The spec named ``name``; ValueError naming the known networks otherwise."""
    if name not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}; got {name!r}")
    return NETWORKS[name]


@dataclass
class Stages:
    """The weight layers of a network, shared by every framework.

    Attributes:
        stages: per neuron layer, the time-free modules in front of it (weight layer,
            pooling, flattening), as a ``torch.nn.Sequential``.
        recurrent: the recurrent Linear of the first neuron layer, or None.
    """

    stages: list[nn.Sequential]
    recurrent: nn.Linear | None = None


def weight_stages(spec: NetworkSpec, seed: int = 0, scaled: bool = True) -> Stages:
    """The weight layers of ``spec``, initialised from ``seed`` and (``scaled``)
    multiplied by its gains."""
    torch.manual_seed(seed)
    if spec.name == "conv":
        stages = [
            nn.Sequential(nn.Conv2d(2, 16, 5)),
            nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(16, 32, 5)),
            nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32 * 5 * 5, spec.classes)),
        ]
    else:
        (n_in,) = spec.neurons_in
        stages = [
            nn.Sequential(nn.Linear(n_in, 256)),
            nn.Sequential(nn.Linear(256, 256 if not spec.recurrent else spec.classes)),
        ]
        if not spec.recurrent:
            stages.append(nn.Sequential(nn.Linear(256, spec.classes)))
    recurrent = nn.Linear(256, 256) if spec.recurrent else None
    gains = list(spec.gains) if scaled else [1.0] * len(spec.gains)
    with torch.no_grad():
        modules = [*stages, recurrent] if recurrent is not None else stages
        for module, gain in zip(modules, gains, strict=True):
            for p in module.parameters():
                p.mul_(gain)
    return Stages(stages, recurrent)


def inputs(spec: NetworkSpec, quick: bool, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Input spikes ``(B, T, *neurons_in)`` and target classes ``(B,)``."""
    batch, steps = spec.size(quick)
    generator = torch.Generator().manual_seed(seed + 1)
    shape = (batch, steps, *spec.neurons_in)
    x = (torch.rand(shape, generator=generator) < INPUT_RATE).float()
    target = torch.randint(spec.classes, (batch,), generator=generator)
    return x, target


@dataclass
class Workload:
    """A network ready for training steps.

    Attributes:
        model: the network (a ``torch.nn.Module``).
        x: its input, in the framework's own layout.
        time_axis: the time axis of the model's output (summed for the loss).
        reset: called before each step: states back to zero.
        neurons: the neuron modules (for firing rates; their first output is spikes).
        info: what this framework runs (versions, backends), for the report.
    """

    model: nn.Module
    x: torch.Tensor
    time_axis: int
    reset: Callable[[], None]
    neurons: list[nn.Module]
    info: dict[str, Any] = field(default_factory=dict)


def build_sinabs(spec: NetworkSpec, quick: bool, relu: bool = False, seed: int = 0) -> Workload:
    """The sinabs network (``relu``: the same with ReLU in place of every neuron layer).

    Feed-forward layers are ``sl.LIF(tau_mem=TAU_MEM)`` on ``(B, T, ...)``, with their
    defaults (normalised input, MultiSpike, subtractive reset, SingleExponential
    surrogate, backend ``auto``); the conv network folds time into the batch once at its
    start and uses ``sl.LIFSqueeze``; the recurrent layer is ``sl.LIFRecurrent``.
    """
    import sinabs
    import sinabs.layers as sl

    squeeze: Any = sl.LIFSqueeze  # built by a factory: mypy sees StatefulLayer

    stages = weight_stages(spec, seed, scaled=not relu)
    x, _ = inputs(spec, quick, seed)
    batch = x.shape[0]
    if relu and stages.recurrent is not None:
        return _relu_recurrent(stages, x)
    layers: list[nn.Module] = [sl.FlattenTime()] if spec.folded else []
    neurons: list[nn.Module] = []
    for index, stage in enumerate(stages.stages):
        layers.extend(stage)
        neuron: nn.Module
        if relu:
            neuron = nn.ReLU()
        elif index == 0 and stages.recurrent is not None:
            neuron = sl.LIFRecurrent(tau_mem=TAU_MEM, rec_connect=stages.recurrent)
        elif spec.folded:
            neuron = squeeze(tau_mem=TAU_MEM, batch_size=batch)
        else:
            neuron = sl.LIF(tau_mem=TAU_MEM)
        neurons.append(neuron)
        layers.append(neuron)
    if spec.folded:
        layers.append(sl.UnflattenTime(batch_size=batch))
    model = nn.Sequential(*layers)

    def reset() -> None:
        sinabs.reset_states(model)

    return Workload(model, x, 1, reset, neurons, {"framework": "relu" if relu else "sinabs"})


class _RNNOutput(nn.Module):
    """``torch.nn.RNN`` without its final hidden state."""

    def __init__(self, rnn: nn.RNN) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def _relu_recurrent(stages: Stages, x: torch.Tensor) -> Workload:
    r"""The recurrent network's ReLU twin: ``torch.nn.RNN(nonlinearity="relu")`` with the
    first Linear as its input weights and the recurrent Linear as its hidden weights
    (:math:`h_t = \mathrm{relu}(W x_t + b + R h_{t-1} + c)`, the same function as the
    spiking layer's drive; torch runs its time loop in C++), then Linear 256-20, ReLU."""
    first, rec = stages.stages[0][0], stages.recurrent
    assert isinstance(first, nn.Linear) and rec is not None
    rnn = nn.RNN(first.in_features, first.out_features, nonlinearity="relu", batch_first=True)
    weights = {"ih": first, "hh": rec}
    rnn.load_state_dict(
        {
            f"{kind}_{name}_l0": getattr(m, kind)
            for name, m in weights.items()
            for kind in ("weight", "bias")
        }
    )
    recurrent, relu = _RNNOutput(rnn), nn.ReLU()
    model = nn.Sequential(recurrent, *stages.stages[1], relu)
    return Workload(model, x, 1, lambda: None, [recurrent, relu], {"framework": "relu"})
