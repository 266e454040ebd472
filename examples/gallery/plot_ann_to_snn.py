"""
Converting an ANN: accuracy against time steps
==============================================

A small ReLU network is trained as an ANN, its weights are normalised with
:func:`sinabs.utils.normalize_weights`, and :func:`sinabs.from_model` turns it into a
spiking network of integrate-and-fire neurons. The spiking network sees each input as
a constant current for ``T`` steps; the more steps, the finer its rate code and the
closer its accuracy to the ANN's. See :doc:`/how-to/ann_to_snn`.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

import sinabs
from sinabs.utils import normalize_weights

# Size of the run: the build of the docs runs it as it stands (a few seconds).
TRAIN_STEPS = 300
TIME_STEPS = [1, 2, 4, 8, 16, 32, 64]
N_TEST = 500

torch.manual_seed(0)
centres = torch.randn(4, 16) * 0.7  # overlapping clusters: the ANN errs too


def make_data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``(n, 16)`` from four Gaussian clusters, and their labels."""
    labels = torch.randint(0, 4, (n,))
    return centres[labels] + torch.randn(n, 16), labels


ann = nn.Sequential(
    nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4)
)
optimizer = torch.optim.Adam(ann.parameters(), lr=1e-2)
for _ in range(TRAIN_STEPS):
    x, y = make_data(64)
    optimizer.zero_grad()
    nn.functional.cross_entropy(ann(x), y).backward()
    optimizer.step()

x_test, y_test = make_data(N_TEST)
with torch.no_grad():
    ann_accuracy = (ann(x_test).argmax(1) == y_test).float().mean().item()
    normalize_weights(ann, x_test, ["1", "3"], ["0", "2"], percentile=99.0)

accuracies = []
for steps in TIME_STEPS:
    snn = sinabs.from_model(ann, input_shape=(16,), batch_size=N_TEST)
    snn.reset_states()
    with torch.no_grad():
        out = snn(x_test.repeat_interleave(steps, dim=0))  # (N_TEST * steps, 4)
    scores = out.unflatten(0, (N_TEST, steps)).sum(1)
    accuracies.append((scores.argmax(1) == y_test).float().mean().item())
    print(f"T = {steps:3d}: spiking accuracy {accuracies[-1]:.3f}")
print(f"ANN accuracy {ann_accuracy:.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.plot(TIME_STEPS, accuracies, marker="o", label="spiking network")
ax.axhline(ann_accuracy, color="black", linestyle="--", label="ANN")
ax.set_xscale("log", base=2)
ax.set_xticks(TIME_STEPS, [str(steps) for steps in TIME_STEPS])
ax.set_xlabel("time steps T per input")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1.05)
ax.legend(loc="lower right")
ax.set_title("ANN converted to an SNN of IAF neurons")
plt.show()
