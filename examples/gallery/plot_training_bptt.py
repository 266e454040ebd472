"""
Training with BPTT
==================

A two-layer spiking network learns to tell two kinds of spike trains apart, trained
by backpropagation through time with the default surrogate gradient. Class 0 fires
mostly on the first half of the input channels, class 1 on the second; the network's
answer is the output neuron that spikes most. The how-to
:doc:`/how-to/training_bptt` explains the loop step by step.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

import sinabs
import sinabs.layers as sl

# Size of the run: the build of the docs runs it as it stands (a few seconds).
STEPS = 80
BATCH = 32
T, N_IN, N_HIDDEN = 40, 20, 32

torch.manual_seed(0)


def make_batch(batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike trains ``(B, T, N_IN)`` and their labels ``(B,)``."""
    labels = torch.randint(0, 2, (batch_size,))
    rates = torch.full((batch_size, N_IN), 0.05)
    rates[labels == 0, : N_IN // 2] = 0.3
    rates[labels == 1, N_IN // 2 :] = 0.3
    return (torch.rand(batch_size, T, N_IN) < rates[:, None, :]).float(), labels


model = nn.Sequential(
    nn.Linear(N_IN, N_HIDDEN),
    sl.LIF(tau_mem=10.0),
    nn.Linear(N_HIDDEN, 2),
    sl.LIF(tau_mem=10.0),
)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

losses, accuracies = [], []
for _ in range(STEPS):
    x, y = make_batch(BATCH)
    sinabs.reset_states(model)  # every batch starts from rest
    optimizer.zero_grad()
    counts = model(x).sum(dim=1)  # (B, 2) output spikes per class
    loss = nn.functional.cross_entropy(counts, y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    accuracies.append((counts.argmax(dim=1) == y).float().mean().item())

x_test, y_test = make_batch(500)
with torch.no_grad():
    sinabs.reset_states(model)
    test_accuracy = (model(x_test).sum(1).argmax(1) == y_test).float().mean().item()
print(f"test accuracy after {STEPS} steps: {test_accuracy:.3f}")

# %%
# The learning curve: cross-entropy of the spike counts and the accuracy on each
# training batch.

fig, (ax_loss, ax_acc) = plt.subplots(
    1, 2, figsize=(9, 3), layout="constrained", sharex=True
)
ax_loss.plot(losses)
ax_loss.set_xlabel("training step")
ax_loss.set_ylabel("loss (cross-entropy)")
ax_acc.plot(accuracies, label="training batch")
ax_acc.axhline(
    test_accuracy, color="black", linestyle="--", label="test set, at the end"
)
ax_acc.set_xlabel("training step")
ax_acc.set_ylabel("accuracy")
ax_acc.set_ylim(0, 1.05)
ax_acc.legend(loc="lower right")

# %%
# What the trained network does with one sample of each class: the input spikes and
# the output neurons' spikes over time.

fig, axes = plt.subplots(2, 2, figsize=(9, 4), layout="constrained", sharex=True)
for column, label in enumerate((0, 1)):
    sample = x_test[y_test == label][:1]
    sinabs.reset_states(model)
    with torch.no_grad():
        out = model(sample)[0]  # (T, 2)
    steps, channels = sample[0].nonzero(as_tuple=True)
    axes[0, column].scatter(steps, channels, marker="|", color="black")
    axes[0, column].set_title(f"a sample of class {label}")
    axes[0, column].set_ylabel("input channel")
    for neuron in range(2):
        spike_steps = out[:, neuron].nonzero().flatten()
        axes[1, column].scatter(
            spike_steps, [neuron] * len(spike_steps), marker="|", s=200
        )
    axes[1, column].set_yticks([0, 1], ["class 0", "class 1"])
    axes[1, column].set_ylim(-0.5, 1.5)
    axes[1, column].set_ylabel("output neuron")
    axes[1, column].set_xlabel("time step")
plt.show()
