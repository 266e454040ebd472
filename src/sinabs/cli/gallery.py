"""``sinabs gallery``: figures of the neuron models, spike functions, reset mechanisms
and surrogate gradients, as PNG files.

The neuron-model figures are the six situations of the "Choosing a neuron model"
tutorial (``examples/choosing_a_neuron_model.py``), drawn so that they can stand on
their own: the input current above, the membrane potential with the threshold it is
compared against in the middle, the output spikes below, axes labelled with their
units, legends outside the data and a title and file name that say what is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import sinabs.activation as sa
import sinabs.layers as sl

from ._common import FIGURE_DPI, Stopwatch, figure_class, prepare_out, say, write_results
from ._config import option

COMMAND = "gallery"
HELP = "draw the neuron models, spike functions, resets and surrogate gradients"
DESCRIPTION = (
    "Draws the neuron-model figures of the 'Choosing a neuron model' tutorial (IAF, LIF, "
    "ExpLeak, ALIF, with and without synaptic current) and galleries of the spike "
    "functions, reset mechanisms and surrogate gradients, as PNG files in OUT/gallery."
)
STEPS = 100
TIME_LABEL = "time step"
CURRENT_LABEL = "current\n(a.u. per step)"
VMEM_LABEL = "membrane potential\n(a.u.)"
#: legends sit right of the axes, never over the data
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}


@dataclass(frozen=True)
class NeuronCase:
    """One neuron-model figure: a layer, its input and what the figure shows."""

    file: str
    title: str
    caption: str
    layer: Callable[[], sl.StatefulLayer]
    current: Callable[[], torch.Tensor]


def constant_current(value: float) -> Callable[[], torch.Tensor]:
    return lambda: torch.full((1, STEPS, 1), value)


def single_pulse(value: float) -> Callable[[], torch.Tensor]:
    def make() -> torch.Tensor:
        current = torch.zeros(1, STEPS, 1)
        current[:, 0] = value
        return current

    return make


NEURON_CASES = (
    NeuronCase(
        "neuron_iaf_constant_input.png",
        "IAF: integrate-and-fire, constant input 0.03 per step",
        "Without leak the membrane potential rises by the input at every step and is "
        "reduced by the threshold at each spike: one spike about every 33 steps.",
        lambda: sl.IAF(record_states=True),
        constant_current(0.03),
    ),
    NeuronCase(
        "neuron_iaf_synaptic_pulse.png",
        "IAF with a synaptic current (τ_syn = 15): one input pulse at step 0",
        "The pulse enters the synaptic current i_syn, which decays and keeps charging "
        "the membrane for many steps after the input has stopped.",
        lambda: sl.IAF(tau_syn=15.0, record_states=True),
        single_pulse(0.1),
    ),
    NeuronCase(
        "neuron_lif_constant_input.png",
        "LIF: leaky integrate-and-fire (τ_mem = 40), constant input 0.03 per step",
        "The leak pulls the membrane potential back towards zero, so the same input as "
        "for IAF charges it more slowly and the spikes come later.",
        lambda: sl.LIF(tau_mem=40.0, norm_input=False, record_states=True),
        constant_current(0.03),
    ),
    NeuronCase(
        "neuron_lif_synaptic_pulse.png",
        "LIF with a synaptic current (τ_mem = 40, τ_syn = 30): one input pulse at step 0",
        "The synaptic current spreads the pulse over time; the leaky membrane integrates "
        "it and returns to rest.",
        lambda: sl.LIF(tau_mem=40.0, tau_syn=30.0, norm_input=False, record_states=True),
        single_pulse(0.1),
    ),
    NeuronCase(
        "neuron_exp_leak_constant_input.png",
        "ExpLeak: leaky integrator (τ_mem = 60), constant input 0.03 per step",
        "A leaky integrator has no threshold and emits no spikes: its output is its "
        "membrane potential, which approaches a steady state where leak equals input.",
        lambda: sl.ExpLeak(tau_mem=60.0, record_states=True),
        constant_current(0.03),
    ),
    NeuronCase(
        "neuron_alif_adaptive_threshold.png",
        "ALIF: adaptive threshold (τ_mem = 40, τ_adapt = 40, adapt_scale = 20), "
        "input 0.12 per step",
        "Each spike raises the threshold b0 + adapt_scale·b, which then relaxes with "
        "τ_adapt: under constant input the neuron fires less and less often.",
        lambda: sl.ALIF(
            tau_mem=40.0, tau_adapt=40.0, adapt_scale=20, norm_input=False, record_states=True
        ),
        constant_current(0.12),
    ),
)


def _trace(values: torch.Tensor) -> Any:
    """Sample 0, neuron 0 of a ``(1, T, 1)`` recording, as a NumPy array."""
    return values.detach().reshape(values.shape[0], values.shape[1], -1)[0, :, 0].cpu().numpy()


def _draw_spikes(ax: Any, spikes: Any) -> None:
    steps = spikes.nonzero()[0]
    ax.vlines(steps, 0, spikes[steps], color="black", linewidth=1.5, label="output spikes")
    top = max(1.0, float(spikes.max()))
    ax.set_ylim(0, top * 1.25)
    ax.set_yticks(range(int(top) + 1))
    ax.set_ylabel("spikes\nper step")
    ax.legend(**LEGEND)


def neuron_figure(case: NeuronCase) -> Any:
    """The figure of one neuron model (see the module docstring)."""
    figure_cls = figure_class(COMMAND)
    layer, current = case.layer(), case.current()
    with torch.no_grad():
        output = layer(current)
    recordings = {name: _trace(value) for name, value in layer.recordings.items()}
    steps = range(current.shape[1])
    spiking = layer.does_spike
    extra = [name for name in recordings if name not in ("v_mem", "i_syn", "spike_threshold")]
    rows = 2 + len(extra) + int(spiking)
    ratios = [1.0, 2.2] + [1.0] * (rows - 2)
    fig = figure_cls(figsize=(9, 1.6 + 1.3 * rows), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    fig.suptitle(case.title, fontsize=11)

    ax_in, ax_v = axes[0], axes[1]
    ax_in.plot(steps, _trace(current), drawstyle="steps-post", color="tab:gray", label="input")
    if "i_syn" in recordings:
        ax_in.plot(steps, recordings["i_syn"], drawstyle="steps-post", label="i_syn")
    ax_in.set_ylim(0, 1.3 * float(current.max()))  # a constant input looks constant
    ax_in.set_ylabel(CURRENT_LABEL)
    ax_in.legend(**LEGEND)

    ax_v.plot(steps, recordings["v_mem"], drawstyle="steps-post", color="tab:blue", label="v_mem")
    if "spike_threshold" in recordings:
        ax_v.plot(
            steps,
            recordings["spike_threshold"],
            drawstyle="steps-post",
            color="tab:red",
            linestyle="--",
            label="adaptive threshold",
        )
    elif spiking:
        threshold = float(torch.as_tensor(layer.spike_threshold))
        ax_v.axhline(
            threshold, color="tab:red", linestyle="--", label=f"threshold θ = {threshold:g}"
        )
    else:
        ax_v.plot([], [], " ", label="output = v_mem\n(no threshold)")
    ax_v.set_ylabel(VMEM_LABEL)
    ax_v.legend(**LEGEND)

    for ax, name in zip(axes[2 : 2 + len(extra)], extra, strict=True):
        ax.plot(steps, recordings[name], drawstyle="steps-post", color="tab:purple", label=name)
        ax.set_ylabel(f"{name}\n(adaptation)" if name == "b" else name)
        ax.legend(**LEGEND)
    if spiking:
        _draw_spikes(axes[-1], _trace(output))
    axes[-1].set_xlabel(TIME_LABEL)
    axes[-1].set_xlim(0, current.shape[1])
    return fig


def spike_function_figure() -> Any:
    """Spikes per step against the membrane potential for the three spike functions."""
    fig = figure_class(COMMAND)(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    v = torch.linspace(-0.5, 4.5, 2001)
    threshold = torch.tensor(1.0)
    surrogate = sa.SingleExponential()
    functions: list[tuple[str, Any]] = [
        ("SingleSpike: one spike where v ≥ θ", sa.SingleSpike),
        ("MultiSpike: ⌊v / θ⌋ spikes", sa.MultiSpike),
        ("MaxSpike(2): at most 2 spikes", sa.MaxSpike(2)),
    ]
    for ax, (title, function) in zip(axes, functions, strict=True):
        spikes = function.apply(v, threshold, surrogate)
        ax.plot(v.numpy(), spikes.numpy(), color="black")
        for multiple in range(1, 5):
            ax.axvline(multiple, color="tab:red", linestyle=":", linewidth=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("membrane potential v (a.u.)")
    axes[0].set_ylabel("spikes emitted in the step")
    axes[0].plot([], [], color="tab:red", linestyle=":", label="multiples of θ = 1")
    axes[0].legend(loc="upper left")
    fig.suptitle("Spike functions: how many spikes a membrane potential emits (θ = 1)")
    return fig


def reset_figure() -> Any:
    """The same neuron and input with a subtractive reset and a reset to zero.

    Within a step an IAF neuron first adds its input (``v + x``), then spikes and
    resets; the recorded ``v_mem`` holds the value after the reset. The figure draws
    both: a ramp from the last step's value up to ``v + x`` and the drop to the reset
    value, so the threshold crossing is visible.
    """
    fig = figure_class(COMMAND)(figsize=(9, 5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    steps, drive = 30, 0.45
    current = torch.full((1, steps, 1), drive)
    mechanisms = [
        ("MembraneSubtract(): v ← v − θ after a spike", sa.MembraneSubtract()),
        ("MembraneReset(): v ← 0 after a spike", sa.MembraneReset()),
    ]
    for ax, (title, reset) in zip(axes, mechanisms, strict=True):
        layer = sl.IAF(spike_fn=sa.SingleSpike, reset_fn=reset, record_states=True)
        with torch.no_grad():
            spikes = _trace(layer(current))
        after = _trace(layer.recordings["v_mem"])
        times, values, before = [0.0], [0.0], 0.0
        for t in range(steps):
            times += [t + 1, t + 1]
            values += [before + drive, after[t]]
            before = after[t]
        ax.plot(times, values, color="tab:blue", label="v_mem: integrate,\nthen reset")
        ax.axhline(1.0, color="tab:red", linestyle="--", label="threshold θ = 1")
        spike_times = spikes.nonzero()[0] + 1
        ax.plot(spike_times, [1.55] * len(spike_times), "|", color="black", markersize=10)
        ax.plot([], [], "|", color="black", markersize=10, label="spike")
        ax.set_title(f"{title}: {int(spikes.sum())} spikes in {steps} steps", fontsize=10)
        ax.set_ylabel(VMEM_LABEL)
        ax.set_ylim(-0.1, 1.7)
        ax.legend(**LEGEND)
    axes[-1].set_xlabel(TIME_LABEL)
    fig.suptitle(f"Reset mechanisms: an IAF neuron with constant input {drive} per step")
    return fig


def surrogate_figure() -> Any:
    """The forward step function and the ten surrogate gradients around θ = 1."""
    fig = figure_class(COMMAND)(figsize=(13, 8), layout="constrained")
    axes = fig.subplots(3, 4, sharex=True).ravel()
    v = torch.linspace(-1.0, 3.5, 1801)
    threshold = torch.tensor(1.0)
    axes[0].plot(v.numpy(), (v >= threshold).float().numpy(), color="black")
    axes[0].set_title(
        "forward: SingleSpike step [v ≥ θ]\n(derivative 0 almost everywhere)", fontsize=9
    )
    axes[0].set_ylabel("spikes")
    surrogates: list[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = [
        sa.Heaviside(),
        sa.Gaussian(),
        sa.MultiGaussian(),
        sa.SingleExponential(),
        sa.PeriodicExponential(),
        sa.ATan(),
        sa.FastSigmoid(),
        sa.Sigmoid(),
        sa.Triangle(),
        sa.StraightThrough(),
    ]
    axes[-1].set_axis_off()  # 11 panels on a 3 x 4 grid
    for ax, surrogate in zip(axes[1:-1], surrogates, strict=True):
        ax.plot(v.numpy(), surrogate(v, threshold).numpy(), color="tab:green")
        ax.set_title(repr(surrogate).replace(", ", ",\n", 1), fontsize=9)
        ax.set_ylabel("surrogate ∂s/∂v")
    for ax in axes[:-1]:
        ax.axvline(1.0, color="tab:red", linestyle="--", linewidth=0.8)
    axes[7].xaxis.set_tick_params(labelbottom=True)  # above the empty panel
    for ax in axes[7:-1]:
        ax.set_xlabel("membrane potential v (a.u.)")
    axes[0].plot([], [], color="tab:red", linestyle="--", label="threshold θ = 1")
    axes[0].legend(loc="center right")
    fig.suptitle("Surrogate gradients: what the backward pass uses as ∂spikes/∂v (θ = 1)")
    return fig


#: the other figures: (file, caption, drawing function)
OTHER_FIGURES: tuple[tuple[str, str, Callable[[], Any]], ...] = (
    (
        "spike_functions.png",
        "SingleSpike, MultiSpike and MaxSpike: spikes per step against the membrane "
        "potential (θ = 1).",
        spike_function_figure,
    ),
    (
        "reset_mechanisms.png",
        "MembraneSubtract keeps what exceeded the threshold, MembraneReset drops it: the "
        "same input gives more spikes with the subtractive reset.",
        reset_figure,
    ),
    (
        "surrogate_gradients.png",
        "The surrogate gradients of sinabs.activation (default arguments) that replace "
        "the derivative of the spike function in training.",
        surrogate_figure,
    ),
)


@dataclass(frozen=True)
class Config:
    """``sinabs gallery``'s settings."""

    dpi: int = option(FIGURE_DPI, "resolution of the PNG files, in dots per inch")


def run(out: str | Path, config: Config | None = None, quiet: bool = False) -> dict[str, Any]:
    """Draws every gallery figure into ``<out>/gallery``.

    Args:
        out: the output folder.
        config: the settings (default: ``Config()``).
        quiet: print nothing.

    Returns:
        The results (also written to ``<out>/gallery/results.json``).
    """
    config = config or Config()
    clock = Stopwatch()
    folder = prepare_out(out, COMMAND)
    drawings: list[tuple[str, str, Callable[[], Any]]] = [
        (case.file, case.caption, functools.partial(neuron_figure, case)) for case in NEURON_CASES
    ]
    drawings += OTHER_FIGURES
    figures = []
    for file, caption, draw in drawings:
        draw().savefig(folder / file, dpi=config.dpi)
        figures.append({"file": file, "caption": caption})
        say(quiet, f"  {folder / file}")
    results = {
        "command": COMMAND,
        "title": "Gallery: neuron models, spike functions, resets and surrogate gradients",
        "figures": figures,
        "tables": [],
        "summary": {"figures": len(figures)},
        "seconds": clock.seconds(),
    }
    write_results(folder, results)
    say(quiet, f"gallery: {len(figures)} figures in {folder} ({results['seconds']:.1f} s)")
    return results
