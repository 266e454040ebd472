"""
Spike functions and reset mechanisms
====================================

What a spiking layer does when its membrane potential crosses the threshold is two
choices: the *spike function* decides how many spikes a neuron emits in one step, and
the *reset mechanism* what happens to its membrane potential afterwards. Here one
integrate-and-fire neuron is driven by a ramp of input current that grows to several
times the threshold per step, under each choice.
"""

import matplotlib.pyplot as plt
import torch

import sinabs.activation as sa
import sinabs.layers as sl

T = 60
THRESHOLD = 1.0
ramp = torch.linspace(0.0, 3.5, T).reshape(1, T, 1)  # (B, T, N): input per step

# %%
# Spike functions
# ---------------
#
# ``SingleSpike`` emits at most one spike per step, ``MultiSpike`` (the default) one
# per threshold the membrane potential holds, and ``MaxSpike(n)`` at most ``n``. With
# the subtractive reset each spike removes one threshold from the potential, so a
# neuron limited to fewer spikes than its input calls for accumulates the rest.

spike_fns = {
    "SingleSpike": sa.SingleSpike,
    "MaxSpike(2)": sa.MaxSpike(2),
    "MultiSpike": sa.MultiSpike,
}
fig, axes = plt.subplots(2, 1, sharex=True, figsize=(8, 5), layout="constrained")
for label, spike_fn in spike_fns.items():
    layer = sl.IAF(spike_threshold=THRESHOLD, spike_fn=spike_fn, record_states=True)
    spikes = layer(ramp).detach()[0, :, 0]
    axes[0].plot(layer.recordings["v_mem"][0, :, 0], drawstyle="steps", label=label)
    axes[1].plot(spikes, drawstyle="steps", label=label)
axes[0].axhline(THRESHOLD, color="grey", linestyle="--", label="threshold")
axes[0].set_ylabel("membrane potential\n(after reset)")
axes[0].legend(loc="upper left")
axes[1].set_ylabel("spikes per step")
axes[1].set_xlabel("time step")
axes[0].set_title("IAF neuron on a rising input: spike functions")

# %%
# Reset mechanisms
# ----------------
#
# ``MembraneSubtract`` (the default) subtracts the threshold once per spike, keeping
# the charge above it; ``MembraneReset`` sets the potential of a neuron that spiked to
# ``reset_value`` (0 by default), discarding that charge. With a steady input the
# subtractive reset fires at the input's rate (0.45 per step: 13 spikes in 30
# steps, 13.5 thresholds of charge); the hard reset throws the excess away and fires
# only every third step.

STEPS = 30
current = torch.full((1, STEPS, 1), 0.45)
resets = {
    "MembraneSubtract()": sa.MembraneSubtract(),
    "MembraneReset()": sa.MembraneReset(),
}
fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
for label, reset_fn in resets.items():
    layer = sl.IAF(spike_threshold=THRESHOLD, reset_fn=reset_fn, record_states=True)
    n_spikes = int(layer(current).sum())
    ax.plot(
        layer.recordings["v_mem"][0, :, 0],
        drawstyle="steps",
        marker=".",
        label=f"{label}: {n_spikes} spikes",
    )
ax.axhline(THRESHOLD, color="grey", linestyle="--", label="threshold")
ax.set_ylim(-0.05, 1.45)
ax.set_xlabel("time step")
ax.set_ylabel("membrane potential\n(after reset)")
ax.set_title(
    f"IAF neuron, constant input 0.45 per step, {STEPS} steps: reset mechanisms"
)
ax.legend(loc="upper center", ncols=3, fontsize="small", frameon=False)
plt.show()
