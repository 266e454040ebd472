"""
Neuron models: Izhikevich, AdEx, resonate-and-fire
==================================================

Besides sinabs's integrate-and-fire family, :mod:`sinabs.layers` has three point-neuron
models with two state variables each: :class:`~sinabs.layers.Izhikevich` (2003),
:class:`~sinabs.layers.AdEx` (Brette and Gerstner 2005) and
:class:`~sinabs.layers.ResonateAndFire` (Izhikevich 2001, with the balanced form of
Higuchi et al. 2024). Each is driven here by a current and its membrane is drawn from
the layer's recordings. The equations and their discretisation are on the page
"Neuron models" of the documentation.
"""

import math

import matplotlib.pyplot as plt
import torch

import sinabs.layers as sl

# %%
# Izhikevich: the paper's named parameter sets
# --------------------------------------------
# One layer per preset, driven by a step current of 10 from 20 ms on (dt = 1 ms, as in
# the paper's code). The recordings hold the post-reset potential; as in the paper's
# figures, the spikes are drawn at the 30 mV cut-off.

STEPS, ONSET = 300, 20
current = torch.zeros(1, STEPS, 1)
current[:, ONSET:] = 10.0
presets = ["RS", "IB", "CH", "FS", "LTS", "TC", "RZ"]

fig, axes = plt.subplots(
    len(presets), 1, figsize=(8, 10), sharex=True, layout="constrained"
)
for ax, name in zip(axes, presets, strict=True):
    layer = sl.Izhikevich.from_preset(name, record_states=True)
    spikes = layer(current)[0, :, 0].detach()
    v = layer.recordings["v_mem"][0, :, 0].detach().clone()
    v[spikes > 0] = 30.0
    ax.plot(v, linewidth=1)
    ax.set_ylabel(f"{name}\nv (mV)")
    ax.set_ylim(-90, 40)
    print(
        f"{name}: {int(spikes.sum())} spikes, first at step {int(spikes.nonzero()[0])}"
    )
axes[-1].set_xlabel("time step (1 ms)")
fig.suptitle("Izhikevich (2003) presets, step current I = 10")

# %%
# AdEx: adaptation
# ----------------
# The paper's regular-spiking cell (its default parameters) with 1 nA for 100 ms,
# dt = 0.1 ms: the adaptation current ``w`` grows with every spike, so the intervals
# lengthen.

adex = sl.AdEx(record_states=True)
drive = torch.zeros(1, 1400, 1)
drive[:, 200:1200] = 1000.0  # pA
spikes = adex(drive)[0, :, 0].detach()
v = adex.recordings["v_mem"][0, :, 0].detach().clone()
v[spikes > 0] = 20.0  # the spike cut-off V_peak
time = torch.arange(1400) * 0.1

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(8, 5), sharex=True, layout="constrained"
)
top.plot(time, v)
top.set_ylabel("V (mV)")
bottom.plot(time, adex.recordings["w"][0, :, 0].detach())
bottom.set_ylabel("w (pA)")
bottom.set_xlabel("time (ms)")
fig.suptitle("AdEx (Brette and Gerstner 2005), 1 nA from 20 to 120 ms")

# %%
# Resonate-and-fire: frequency selectivity
# ----------------------------------------
# Brief pulses of current, each too weak to make the neuron fire, add up when they
# arrive at the neuron's eigenfrequency (ω = 10 rad per unit of time) and cancel when
# they arrive out of phase. The balanced form raises its threshold and its damping
# after each spike (the refractory variable ``q``).

OMEGA, DT, T = 10.0, 0.01, 1500
period = round(2 * math.pi / OMEGA / DT)


def pulses(every: int, level: float) -> torch.Tensor:
    """Pulses of ``level`` for 3 steps, every ``every`` steps, shape (1, T, 1)."""
    x = torch.zeros(1, T, 1)
    for start in range(0, T, every):
        x[:, start : start + 3] = level
    return x


fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True, layout="constrained")
runs = [
    (
        "plain, pulses at the eigenfrequency",
        sl.ResonateAndFire(OMEGA, b=-1.0, dt=DT),
        period,
    ),
    (
        "plain, pulses out of phase",
        sl.ResonateAndFire(OMEGA, b=-1.0, dt=DT),
        period // 2 + 7,
    ),
    (
        "balanced, pulses at the eigenfrequency",
        sl.ResonateAndFire(OMEGA, dt=DT, balanced=True, b_offset=0.5),
        period,
    ),
]
for ax, (title, layer, every) in zip(axes, runs, strict=True):
    layer.record_states = True
    spikes = layer(pulses(every, 20.0))[0, :, 0].detach()
    t = torch.arange(T) * DT
    ax.plot(
        t, layer.recordings["z_re"][0, :, 0].detach(), label="x = Re z", linewidth=1
    )
    ax.plot(
        t, layer.recordings["z_im"][0, :, 0].detach(), label="y = Im z", linewidth=1
    )
    ax.plot(
        t[spikes > 0],
        torch.ones(int(spikes.sum())) * 1.5,
        "|",
        color="k",
        label="spikes",
    )
    ax.set_title(f"{title}: {int(spikes.sum())} spikes", fontsize="medium")
axes[0].legend(loc="upper right", fontsize="small")
axes[-1].set_xlabel("time")
plt.show()
