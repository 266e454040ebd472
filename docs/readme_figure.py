"""Draws the README's figure, ``docs/_static/lif_neuron.png``.

A LIF neuron driven by a noisy current: its membrane potential, the threshold and its
spikes. Regenerate it after a change that alters the dynamics or the look::

    python docs/readme_figure.py            # writes docs/_static/lif_neuron.png
    python docs/readme_figure.py out.png    # anywhere else
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # off-screen; before pyplot is imported

import matplotlib.pyplot as plt
import torch

import sinabs.layers as sl

DEFAULT_OUT = Path(__file__).resolve().parent / "_static" / "lif_neuron.png"
T = 200


def draw(out: Path) -> Path:
    """Runs the neuron and saves the figure as a PNG at ``out``; returns the path."""
    generator = torch.Generator().manual_seed(3)
    current = 0.06 + 0.05 * torch.randn(1, T, 1, generator=generator)  # (B, T, N)
    layer = sl.LIF(tau_mem=20.0, norm_input=False, record_states=True, backend="reference")
    spikes = layer(current).detach()[0, :, 0]
    v_mem = layer.recordings["v_mem"][0, :, 0]

    fig, (ax_v, ax_s) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(8, 3),
        dpi=100,
        height_ratios=(3, 1),
        layout="constrained",
    )
    ax_v.plot(current[0, :, 0], color="tab:grey", linewidth=0.8, label="input current")
    ax_v.plot(v_mem, drawstyle="steps", color="tab:blue", label="membrane potential")
    ax_v.axhline(1.0, color="tab:red", linestyle="--", linewidth=1, label="threshold")
    ax_v.set_ylabel("potential")
    ax_v.legend(loc="upper left", ncols=3, fontsize="small", frameon=False)
    ax_v.set_ylim(-0.15, 1.35)
    ax_v.set_title("sinabs.layers.LIF(tau_mem=20.0): one neuron, 200 time steps")
    steps = spikes.nonzero().flatten()
    ax_s.vlines(steps, 0, 1, color="black")
    ax_s.set_yticks([])
    ax_s.set_ylabel("spikes")
    ax_s.set_xlabel("time step")
    ax_s.set_xlim(0, T)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="PNG path")
    print(draw(parser.parse_args().out))
