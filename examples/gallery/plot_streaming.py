"""
Streaming in chunks
===================

Neuron layers keep their state from one call to the next, so a long input can be fed
in chunks: the result is the same as one call on the whole sequence. Here a LIF layer
runs on a 600-step input once whole and once in chunks of 100 steps; the membrane
potential continues across the chunk boundaries (dashed) as if nothing happened. See
:doc:`/how-to/truncated_bptt` for training this way.
"""

import matplotlib.pyplot as plt
import torch

import sinabs.layers as sl

T, CHUNK = 600, 100

torch.manual_seed(0)
drive = 0.08 + 0.06 * torch.sin(torch.arange(T) / 40.0)  # a slowly varying current
stream = (drive + 0.05 * torch.randn(T)).reshape(1, T, 1)  # (B, T, N)

layer = sl.LIF(tau_mem=20.0, norm_input=False, record_states=True)
with torch.no_grad():
    whole = layer(stream)
    v_whole = layer.recordings["v_mem"][0, :, 0].clone()

    layer.reset_states()
    pieces, v_pieces = [], []
    for chunk in stream.split(CHUNK, dim=1):
        pieces.append(layer(chunk))
        v_pieces.append(layer.recordings["v_mem"][0, :, 0].clone())

chunked = torch.cat(pieces, dim=1)
print("identical spikes:", torch.equal(chunked, whole))
print("identical membrane potential:", torch.equal(torch.cat(v_pieces), v_whole))

fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
ax.plot(v_whole, color="lightgrey", linewidth=4, label="one call, 600 steps")
ax.plot(torch.cat(v_pieces), color="tab:blue", linewidth=1, label="six calls of 100")
for boundary in range(CHUNK, T, CHUNK):
    # stops below the legend (the axes run to 1.3)
    ax.axvline(boundary, ymax=0.82, color="black", linestyle="--", linewidth=0.8)
ax.axhline(1.0, color="tab:red", linestyle=":", label="spike threshold")
ax.set_xlabel("time step")
ax.set_ylabel("membrane potential")
ax.set_ylim(-0.05, 1.3)
ax.legend(loc="upper center", ncols=3, fontsize="small", frameon=False)
ax.set_title("LIF neuron: whole sequence and chunks give the same trace")
plt.show()
