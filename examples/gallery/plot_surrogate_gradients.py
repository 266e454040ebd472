"""
Surrogate gradients
===================

A spike is a step function of the membrane potential: its derivative is zero almost
everywhere, which stops gradient descent. Spiking layers therefore use a *surrogate*
in the backward pass, a smooth bump around the threshold that stands in for the
derivative. Each surrogate of :mod:`sinabs.activation` is plotted here as a function
of the membrane potential, for a threshold of 1, and checked against the gradient a
layer actually back-propagates.
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

fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
for label, surrogate in surrogates.items():
    ax.plot(v_mem, surrogate(v_mem, THRESHOLD), label=label)
ax.axvline(float(THRESHOLD), color="grey", linestyle="--", label="threshold")
ax.set_xlabel("membrane potential v")
ax.set_ylabel("d spikes / d v (surrogate)")
ax.set_title("Surrogate gradients of the spike function")
fig.legend(loc="outside right upper", fontsize="small")

# %%
# The layer's backward pass uses exactly this function: the gradient of the spikes of
# an IAF neuron with respect to its input, for one step from rest, is the surrogate
# evaluated at the membrane potential (which, after one step, is the input).

x = v_mem.reshape(-1, 1, 1).clone().requires_grad_(True)  # (B, T=1, N=1)
layer = sl.IAF(surrogate_grad_fn=sa.SingleExponential(), spike_fn=sa.SingleSpike)
layer(x).sum().backward()
expected = sa.SingleExponential()(v_mem, THRESHOLD)
print("largest difference:", (x.grad.flatten() - expected).abs().max().item())

fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
ax.plot(v_mem, expected, label="SingleExponential()(v, 1)", linewidth=4, alpha=0.4)
ax.plot(v_mem, x.grad.flatten(), label="gradient through sl.IAF", linestyle="--")
ax.set_xlabel("input = membrane potential after one step")
ax.set_ylabel("d spikes / d input")
ax.legend(loc="upper right")
plt.show()
