"""
Synaptic operations against input activity
==========================================

A spiking network's cost on neuromorphic hardware is counted in synaptic operations
(synops): one per spike and outgoing connection. Unlike an ANN's multiply-accumulates,
which do not depend on the data, synops grow with the network's activity. Here a small
convolutional spiking network is fed input of increasing spike density, and
:mod:`sinabs.hooks` counts the synops of each layer. See :doc:`/how-to/synops_energy`.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs import hooks

# Size of the run: the build of the docs runs it as it stands (a second or two).
B, T = 4, 20
INPUT_RATES = [0.01, 0.02, 0.05, 0.1, 0.2]

torch.manual_seed(0)
snn = nn.Sequential(
    # no biases: every spike is caused by input events
    nn.Conv2d(2, 8, kernel_size=3, padding=1, bias=False),
    sl.IAFSqueeze(batch_size=B),
    nn.AvgPool2d(2),
    nn.Conv2d(8, 16, kernel_size=3, padding=1, bias=False),
    sl.IAFSqueeze(batch_size=B),
    nn.Flatten(),
    nn.Linear(16 * 8 * 8, 10, bias=False),
    sl.IAFSqueeze(batch_size=B),
)
synaptic = {0: "conv 2→8", 3: "conv 8→16", 6: "linear 1024→10"}

per_layer = {index: [] for index in synaptic}
for rate in INPUT_RATES:
    events = (torch.rand(B * T, 2, 16, 16) < rate).float()  # (B*T, C, H, W)
    with torch.no_grad(), hooks.register_synops_hooks(snn):
        snn(events)
        counts = snn.hook_data["synops_per_timestep"]
        for index in synaptic:
            per_layer[index].append(float(counts[index]) * T)  # per sample
    sinabs.reset_states(snn)  # the next input density starts from rest

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
bottom = torch.zeros(len(INPUT_RATES))
positions = range(len(INPUT_RATES))
for index, name in synaptic.items():
    values = torch.tensor(per_layer[index])
    ax.bar(positions, values, bottom=bottom, label=name)
    bottom += values
ax.set_xticks(list(positions), [f"{r:.0%}" for r in INPUT_RATES])
ax.set_xlabel("input events per pixel and step")
ax.set_ylabel(f"synops per sample ({T} steps)")
ax.set_title("Synaptic operations grow with activity")
ax.legend(loc="upper left", title="layer")
print("total synops per sample:", [round(float(v)) for v in bottom])
plt.show()
