"""The benchmark's networks in the peer frameworks: snnTorch, SpikingJelly, Norse.

Each peer builds the networks of :mod:`sinabs.benchmarking.networks` from the same
weight layers (same seed, same values) and its own neuron layers, called the fastest
way its documentation shows, on its own layout (time first, ``(T, B, ...)``; the input
is transposed once, outside the timed steps). Weight layers run on the whole sequence
at once (time folded into the batch for the convolutions), as in sinabs; only the
neurons step through time.

The neurons match sinabs's ``LIF(tau_mem=20)`` as far as each peer allows:
decay :math:`\\alpha = e^{-1/20}` per step, threshold 1, subtractive reset in the step
that spikes, a surrogate gradient (each peer's default). One difference stays: sinabs
trains ``tau_mem`` (an ``nn.Parameter``, as in sinabs 3.x), the peers keep their decay
fixed (their default).

* **snnTorch** (``snntorch.Leaky``; recurrent: ``snntorch.RLeaky`` with its own
  Linear 256-256, which gets the shared recurrent weights): ``beta=α``,
  ``reset_mechanism="subtract"``, ``reset_delay=False`` (the reset in the spiking step,
  as sinabs), ATan surrogate; one call per time step from Python (the way snnTorch is
  used). snnTorch has no input normalisation, so the weights feeding its neurons are
  multiplied by :math:`1-\\alpha` once at construction: its membrane then sees the drive
  that sinabs's normalised input gives, at no cost per step. It fires a single spike
  per step (sinabs's default MultiSpike can fire several).
* **SpikingJelly** (``spikingjelly.activation_based.neuron.LIFNode``, multi-step mode
  ``"m"``): ``tau=1/(1-α)``, ``decay_input=True`` (:math:`v \\leftarrow \\alpha v +
  (1-\\alpha) x`, sinabs's normalised input exactly), ``v_reset=None`` (subtractive),
  Sigmoid surrogate. SpikingJelly 2.0 has no backend argument: on the CPU its
  ``lif_multi_step`` runs its registered operator, whose forward and hand-written
  backward are loops over time of torch operations (its only CPU implementation; the
  CUDA/Triton ones are GPU-only). Recurrent: ``LIFNode`` in single-step mode
  ``"s"``, one call per step, with the recurrent Linear added to its input (SpikingJelly
  has no recurrent LIF layer of this form).
* **Norse** (``norse.torch`` ``LIFBox`` equations: no synaptic current, as sinabs's
  LIF without ``tau_syn``): Norse's sequence wrapper ``SNN`` over
  ``lif_box_feed_forward_step`` (how Norse's own ``LIF`` module is built) with
  ``tau_mem_inv=(1-α)/dt`` (:math:`v \\leftarrow v + (1-\\alpha)(x - v)`, the same
  normalised input), ``reset_method=reset_subtract``, SuperSpike surrogate
  (``method="super"``); recurrent: ``LIFBoxCell`` called per step with the recurrent
  Linear added to its input.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .networks import TAU_MEM, THRESHOLD, NetworkSpec, Workload, alpha_mem, inputs, weight_stages

#: the peer frameworks: name -> the module to import
PEERS: dict[str, str] = {"snntorch": "snntorch", "spikingjelly": "spikingjelly", "norse": "norse"}


def _fold(stage: nn.Module, x: torch.Tensor, folded: bool) -> torch.Tensor:
    """``stage`` on a ``(T, B, ...)`` sequence, time folded into the batch if needed."""
    if not folded:
        return stage(x)
    steps, batch = x.shape[:2]
    return stage(x.flatten(0, 1)).unflatten(0, (steps, batch))


class _TimeMajorNet(nn.Module):
    """Stages of weight layers, each followed by a neuron layer that ``neuron_fn`` runs
    over a ``(T, B, ...)`` current; ``recurrent_fn`` runs the first one when given."""

    def __init__(
        self,
        stages: list[nn.Sequential],
        neurons: list[nn.Module],
        folded: bool,
        neuron_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor],
        recurrent: nn.Module | None = None,
        recurrent_fn: Callable[[nn.Module, nn.Module | None, torch.Tensor], torch.Tensor]
        | None = None,
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.neurons = nn.ModuleList(neurons)
        self.recurrent = recurrent
        self.folded = folded
        self.neuron_fn = neuron_fn
        self.recurrent_fn = recurrent_fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, (stage, neuron) in enumerate(zip(self.stages, self.neurons, strict=True)):
            current = _fold(stage, x, self.folded)
            if index == 0 and self.recurrent_fn is not None:
                x = self.recurrent_fn(neuron, self.recurrent, current)
            else:
                x = self.neuron_fn(neuron, current)
        return x


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---- snnTorch ---------------------------------------------------------------------------


def _snntorch_steps(neuron: nn.Module, current: torch.Tensor) -> torch.Tensor:
    mem = neuron.reset_mem()  # type: ignore[operator]
    spikes = []
    for t in range(current.shape[0]):
        spk, mem = neuron(current[t], mem)
        spikes.append(spk)
    return torch.stack(spikes)


def _snntorch_recurrent(neuron: nn.Module, _: nn.Module | None, current: torch.Tensor) -> Any:
    spk, mem = neuron.reset_mem()  # type: ignore[operator]
    spikes = []
    for t in range(current.shape[0]):
        spk, mem = neuron(current[t], spk, mem)
        spikes.append(spk)
    return torch.stack(spikes)


def _build_snntorch(spec: NetworkSpec, stages: list[nn.Sequential], rec: nn.Linear | None) -> Any:
    import snntorch

    beta = alpha_mem()
    with torch.no_grad():  # no input normalisation in snnTorch: scale the drive instead
        for module in [*stages, *([rec] if rec is not None else [])]:
            for p in module.parameters():
                p.mul_(1.0 - beta)
    options = {"threshold": THRESHOLD, "reset_mechanism": "subtract", "reset_delay": False}
    neurons: list[nn.Module] = []
    for index in range(len(stages)):
        if index == 0 and rec is not None:
            neuron = snntorch.RLeaky(beta=beta, linear_features=rec.in_features, **options)
            with torch.no_grad():
                neuron.recurrent.weight.copy_(rec.weight)
                neuron.recurrent.bias.copy_(rec.bias)
        else:
            neuron = snntorch.Leaky(beta=beta, **options)
        neurons.append(neuron)
    model = _TimeMajorNet(
        stages,
        neurons,
        spec.folded,
        _snntorch_steps,
        recurrent_fn=_snntorch_recurrent if rec is not None else None,
    )
    return model, neurons, lambda: None  # states start from zero in every forward


# ---- SpikingJelly -----------------------------------------------------------------------


def _spikingjelly_recurrent(neuron: nn.Module, rec: nn.Module | None, current: torch.Tensor) -> Any:
    assert rec is not None
    spk = torch.zeros_like(current[0])
    spikes = []
    for t in range(current.shape[0]):
        spk = neuron(current[t] + rec(spk))
        spikes.append(spk)
    return torch.stack(spikes)


def _build_spikingjelly(
    spec: NetworkSpec, stages: list[nn.Sequential], rec: nn.Linear | None
) -> Any:
    from spikingjelly.activation_based import functional, neuron

    tau = 1.0 / (1.0 - alpha_mem())
    neurons: list[nn.Module] = [
        neuron.LIFNode(
            tau=tau,
            decay_input=True,
            v_threshold=THRESHOLD,
            v_reset=None,
            step_mode="s" if index == 0 and rec is not None else "m",
        )
        for index in range(len(stages))
    ]
    model = _TimeMajorNet(
        stages,
        neurons,
        spec.folded,
        lambda layer, current: layer(current),
        recurrent=rec,
        recurrent_fn=_spikingjelly_recurrent if rec is not None else None,
    )
    return model, neurons, lambda: functional.reset_net(model)


# ---- Norse ------------------------------------------------------------------------------


def _build_norse(spec: NetworkSpec, stages: list[nn.Sequential], rec: nn.Linear | None) -> Any:
    from norse.torch import LIFBoxCell, LIFBoxParameters
    from norse.torch.functional.lif_box import LIFBoxFeedForwardState, lif_box_feed_forward_step
    from norse.torch.functional.reset import reset_subtract
    from norse.torch.module.snn import SNN

    dt = 1e-3
    params = LIFBoxParameters(
        tau_mem_inv=torch.as_tensor((1.0 - alpha_mem()) / dt),
        v_th=torch.as_tensor(THRESHOLD),
        reset_method=reset_subtract,
    )

    def zero_state(x: torch.Tensor) -> Any:
        return LIFBoxFeedForwardState(v=torch.zeros_like(x[0]))

    def recurrent_fn(cell: nn.Module, rec: nn.Module | None, current: torch.Tensor) -> Any:
        assert rec is not None
        state = zero_state(current)
        spk = torch.zeros_like(current[0])
        spikes = []
        for t in range(current.shape[0]):
            spk, state = cell(current[t] + rec(spk), state)
            spikes.append(spk)
        return torch.stack(spikes)

    neurons: list[nn.Module] = [
        LIFBoxCell(params, dt=dt)
        if index == 0 and rec is not None
        else SNN(lif_box_feed_forward_step, zero_state, params, dt=dt)
        for index in range(len(stages))
    ]
    model = _TimeMajorNet(
        stages,
        neurons,
        spec.folded,
        lambda layer, current: layer(current)[0],
        recurrent=rec,
        recurrent_fn=recurrent_fn if rec is not None else None,
    )
    return model, neurons, lambda: None  # the states start from zero in every call


_BUILDERS = {
    "snntorch": _build_snntorch,
    "spikingjelly": _build_spikingjelly,
    "norse": _build_norse,
}


def build_peer(framework: str, spec: NetworkSpec, quick: bool, seed: int = 0) -> Workload:
    """The network ``spec`` in the peer ``framework`` (see the module docstring).

    Raises:
        ValueError: ``framework`` is not a peer.
        ImportError: the peer is not installed (``pip install "sinabs[bench]"``).
    """
    if framework not in _BUILDERS:
        raise ValueError(f"framework must be one of {sorted(_BUILDERS)}; got {framework!r}")
    shared = weight_stages(spec, seed)
    x, _ = inputs(spec, quick, seed)
    model, neurons, reset = _BUILDERS[framework](spec, shared.stages, shared.recurrent)
    info = {"framework": framework, "version": _version(PEERS[framework]), "tau_mem": TAU_MEM}
    return Workload(model, x.transpose(0, 1).contiguous(), 0, reset, neurons, info)
