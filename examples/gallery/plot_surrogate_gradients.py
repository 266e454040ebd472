"""
Surrogate gradients
===================

A spike is a step function of the membrane potential: its derivative is zero almost
everywhere, which stops gradient descent. Spiking layers therefore use a *surrogate*
in the backward pass, a smooth bump around the threshold that stands in for the
derivative. Each surrogate of :mod:`sinabs.activation` is plotted here as a function
of the membrane potential, for a threshold of 1: sinabs's five, then the five of
snnTorch 1.0 (``ATan``, snnTorch's default, ``FastSigmoid`` of SuperSpike,
``Sigmoid``, ``Triangle`` and the straight-through estimator). Then one is checked
against the gradient a layer actually back-propagates.
"""

import matplotlib.pyplot as plt
import torch

import sinabs.activation as sa
import sinabs.layers as sl

THRESHOLD = torch.tensor(1.0)
v_mem = torch.linspace(-1.0, 3.0, 801)

surrogates = {
    "SingleExponential() (default)": sa.SingleExponential(),
    "Heaviside(window=0.5)": sa.Heaviside(window=0.5),
    "Gaussian()": sa.Gaussian(),
    "MultiGaussian()": sa.MultiGaussian(),
    "PeriodicExponential()": sa.PeriodicExponential(),
}
snntorch_surrogates = {
    "ATan(alpha=2)": sa.ATan(),
    "FastSigmoid(slope=25)": sa.FastSigmoid(),
    "Sigmoid(slope=25) / 6.25": sa.Sigmoid(),
    "Triangle(width=1)": sa.Triangle(),
    "StraightThrough()": sa.StraightThrough(),
}

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(9, 7), sharex=True, layout="constrained"
)
for label, surrogate in surrogates.items():
    top.plot(v_mem, surrogate(v_mem, THRESHOLD), label=label)
for label, surrogate in snntorch_surrogates.items():
    # Sigmoid peaks at slope / 4 = 6.25: scaled to share the axis with the others
    scale = 6.25 if isinstance(surrogate, sa.Sigmoid) else 1.0
    bottom.plot(v_mem, surrogate(v_mem, THRESHOLD) / scale, label=label)
for ax, title in ((top, "sinabs"), (bottom, "snnTorch 1.0")):
    ax.axvline(float(THRESHOLD), color="grey", linestyle="--", label="threshold")
    ax.set_ylabel("d spikes / d v (surrogate)")
    ax.set_title(f"Surrogate gradients of the spike function: {title}'s")
    ax.legend(loc="upper right", fontsize="small")
bottom.set_xlabel("membrane potential v")

# %%
# The layer's backward pass uses exactly this function: the gradient of the spikes of
# an IAF neuron with respect to its input, for one step from rest, is the surrogate
# evaluated at the membrane potential (which, after one step, is the input). Any
# surrogate goes into any spiking layer as ``surrogate_grad_fn``; here snnTorch's
# default, ``ATan``.

x = v_mem.reshape(-1, 1, 1).clone().requires_grad_(True)  # (B, T=1, N=1)
layer = sl.IAF(surrogate_grad_fn=sa.ATan(), spike_fn=sa.SingleSpike)
layer(x).sum().backward()
expected = sa.ATan()(v_mem, THRESHOLD)
print("largest difference:", (x.grad.flatten() - expected).abs().max().item())

fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
ax.plot(v_mem, expected, label="ATan()(v, 1)", linewidth=4, alpha=0.4)
ax.plot(v_mem, x.grad.flatten(), label="gradient through sl.IAF", linestyle="--")
ax.set_xlabel("input = membrane potential after one step")
ax.set_ylabel("d spikes / d input")
ax.legend(loc="upper right")
plt.show()
