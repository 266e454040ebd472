"""``sinabs train``: a spiking network trained with backpropagation through time (BPTT)
on scikit-learn's 8x8 digits, presented as spike trains.

The network is ``Linear(64, hidden) -> LIF -> Linear(hidden, 10) -> LIF``; each image
becomes ``T`` steps of Bernoulli spikes (a pixel of intensity ``p`` spikes with
probability ``p`` at every step, freshly drawn every epoch) and the class is the output
neuron that spikes most. The loss is the cross-entropy of the output spike counts;
gradients flow back through the time steps and, at the spikes, through the surrogate
gradient of the spike function.

Reports the test accuracy, and the synaptic operations per sample (``SNNAnalyzer``:
one per input spike and outgoing connection) next to the multiply-accumulates the
same architecture needs as an ANN with ReLUs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

import sinabs
import sinabs.activation as sa
import sinabs.layers as sl

from ._common import (
    FIGURE_DPI,
    Progress,
    Stopwatch,
    adam_cosine,
    figure_class,
    format_table,
    minibatches,
    quiet_deprecations,
    say,
    seed_everything,
    torch_threads,
    write_results,
)
from ._config import RunConfig, option, plain
from .digits import CLASSES, PIXELS, SPLIT_SEED, Digits, rate_encode, start

COMMAND = "train"
HELP = "train a spiking network with BPTT on the 8x8 digits"
DESCRIPTION = plain(__doc__)
OPERATIONS_COLUMNS = ["layer", "SNN synops", "ANN MACs", "synops / MAC"]
TAU_MEM = 20.0


def build_snn(hidden: int, backend: str) -> nn.Sequential:
    """The spiking network: two fully connected layers, each followed by LIF neurons.

    Args:
        hidden: number of hidden neurons.
        backend: the neuron layers' backend.

    Returns:
        The network; it maps ``(batch, time, 64)`` spikes to ``(batch, time, 10)``.
    """
    return nn.Sequential(
        nn.Linear(PIXELS, hidden),
        sl.LIF(tau_mem=TAU_MEM, spike_fn=sa.SingleSpike, norm_input=False, backend=backend),
        nn.Linear(hidden, CLASSES),
        sl.LIF(tau_mem=TAU_MEM, spike_fn=sa.MultiSpike, norm_input=False, backend=backend),
    )


def ann_macs(model: nn.Module) -> dict[str, int]:
    """Multiply-accumulates per sample of each ``nn.Linear`` of ``model`` run as an ANN
    (one pass, every connection used once), by module name."""
    return {
        name: module.in_features * module.out_features
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
    }


def operations_table(model: nn.Module, synops: dict[str, float]) -> list[list[Any]]:
    """Rows ``[layer, SNN synops, ANN MACs, synops / MAC]`` per ``nn.Linear`` and total."""
    macs = ann_macs(model)
    modules = dict(model.named_modules())
    rows: list[list[Any]] = []
    for name, mac in macs.items():
        layer = modules[name]
        label = f"{name}: Linear({layer.in_features}, {layer.out_features})"
        rows.append([label, round(synops[name]), mac, synops[name] / mac])
    total_synops, total_macs = sum(synops.values()), sum(macs.values())
    rows.append(["total", round(total_synops), total_macs, total_synops / total_macs])
    return rows


def evaluate(model: nn.Module, spikes: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """``(cross-entropy loss, accuracy)`` of the network on encoded samples."""
    with torch.no_grad():
        sinabs.reset_states(model)
        counts = model(spikes).sum(1)
        loss = nn.functional.cross_entropy(counts, labels).item()
        accuracy = (counts.argmax(1) == labels).float().mean().item()
    return loss, accuracy


def synops_per_sample(model: nn.Module, spikes: torch.Tensor) -> dict[str, float]:
    """Synaptic operations per sample of each ``nn.Linear``, measured by
    :class:`sinabs.SNNAnalyzer` over one pass of ``spikes`` (all in one batch)."""
    with quiet_deprecations():
        analyzer = sinabs.SNNAnalyzer(model)
    with analyzer, torch.no_grad():
        sinabs.reset_states(model)
        model(spikes)
        layers = analyzer.get_layer_statistics()["parameter"]
        return {name: float(stats["synops"]) for name, stats in layers.items()}


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    """``sinabs train``'s settings (the shared ones: :class:`~sinabs.cli._config.RunConfig`)."""

    epochs: int = option(10, "passes over the training digits")
    timesteps: int = option(10, "time steps T per digit")
    hidden: int = option(128, "hidden LIF neurons")


Config = TrainConfig


def train(
    data: Digits, config: TrainConfig, device: torch.device, quiet: bool
) -> tuple[nn.Sequential, list[dict[str, float]], torch.Tensor]:
    """Trains the network; returns it, the per-epoch history and the encoded test set
    (drawn once with a fixed seed: every run is tested on the same spikes)."""
    seed_everything(config.seed)
    model = build_snn(config.hidden, config.backend).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    n_train = len(data.y_train)
    batches = -(-n_train // config.batch_size)
    optimizer, schedule = adam_cosine(model.parameters(), config.lr, config.epochs * batches)
    test_spikes = rate_encode(
        data.x_test, config.timesteps, torch.Generator().manual_seed(SPLIT_SEED + 1)
    ).to(device)
    y_train, y_test = data.y_train.to(device), data.y_test.to(device)
    progress = Progress(config.epochs * batches, "train", quiet, COMMAND)
    history = []
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            spikes = rate_encode(data.x_train, config.timesteps, generator).to(device)
            loss_sum = correct = seen = 0.0
            for index in minibatches(n_train, config.batch_size, generator, device):
                sinabs.reset_states(model)
                counts = model(spikes[index]).sum(1)  # (B, 10) output spike counts
                loss = nn.functional.cross_entropy(counts, y_train[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum += loss.item() * len(index)
                correct += (counts.argmax(1) == y_train[index]).sum().item()
                seen += len(index)
                progress.update(
                    epoch=epoch, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.1%}"
                )
            model.eval()
            test_loss, test_accuracy = evaluate(model, test_spikes, y_test)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": loss_sum / n_train,
                    "train_accuracy": correct / n_train,
                    "test_loss": test_loss,
                    "test_accuracy": test_accuracy,
                }
            )
            progress.update(
                0,
                epoch=epoch,
                loss=f"{loss_sum / n_train:.3f}",
                acc=f"{correct / n_train:.1%}",
                test=f"{test_accuracy:.1%}",
            )
    finally:
        progress.close()
    return model, history, test_spikes


def curve_figure(history: list[dict[str, float]]) -> Any:
    """Loss and accuracy per epoch, training and test set."""
    fig = figure_class(COMMAND)(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for split, style in (("train", "-o"), ("test", "--s")):
        ax_loss.plot(epochs, [row[f"{split}_loss"] for row in history], style, label=split)
        ax_acc.plot(epochs, [100 * row[f"{split}_accuracy"] for row in history], style, label=split)
    ax_acc.axhline(90, color="gray", linestyle=":", linewidth=1, label="90%")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(0, 100)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.legend(loc="center right")
        ax.grid(alpha=0.3)
    fig.suptitle("BPTT training of a spiking network on the 8x8 digits")
    return fig


def raster_figure(
    model: nn.Sequential, image: torch.Tensor, spikes: torch.Tensor, label: int
) -> Any:
    """One test digit: the image, its input spikes, the hidden and the output spikes."""
    with torch.no_grad():
        sinabs.reset_states(model)
        hidden = model[1](model[0](spikes[None]))[0].cpu()  # (T, hidden)
        output = model[3](model[2](hidden[None].to(spikes.device)))[0].cpu()  # (T, 10)
    predicted = int(output.sum(0).argmax())
    fig = figure_class(COMMAND)(figsize=(11, 7), layout="constrained")
    grid = fig.add_gridspec(3, 2, width_ratios=[1, 4], height_ratios=[2, 3, 2])
    ax_image = fig.add_subplot(grid[0, 0])
    ax_image.imshow(image.reshape(8, 8).cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax_image.set_title(f"input digit (label {label})", fontsize=10)
    ax_image.set_xticks([])
    ax_image.set_yticks([])
    panels = [
        (grid[0, 1], spikes.cpu(), "input pixel"),
        (grid[1, 1], hidden, "hidden neuron"),
        (grid[2, 1], output, "output class"),
    ]
    axes: list[Any] = []
    for cell, train_spikes, what in panels:
        ax = fig.add_subplot(cell, sharex=axes[0] if axes else None)
        times, neurons = train_spikes.nonzero(as_tuple=True)
        ax.scatter(times.numpy(), neurons.numpy(), marker="|", s=40, color="black", linewidths=1.2)
        ax.set_ylabel(what)
        ax.set_ylim(-0.5, train_spikes.shape[1] - 0.5)
        axes.append(ax)
    axes[2].set_yticks(range(CLASSES))
    axes[2].set_xlabel("time step")
    axes[2].set_xlim(-0.5, spikes.shape[0] - 0.5)
    axes[0].set_title(
        f"spike raster: {int(spikes.sum())} input, {int(hidden.sum())} hidden and "
        f"{int(output.sum())} output spikes; predicted class {predicted}",
        fontsize=10,
    )
    # The spike counts per class, next to the output raster they sum up.
    ax_counts = fig.add_subplot(grid[2, 0], sharey=axes[2])
    colors = ["tab:green" if c == predicted else "tab:gray" for c in range(CLASSES)]
    ax_counts.barh(range(CLASSES), output.sum(0).numpy(), color=colors)
    ax_counts.set_xlabel("output spikes")
    ax_counts.set_ylabel("output class")
    ax_counts.invert_xaxis()
    return fig


def run(out: str, config: TrainConfig | None = None, quiet: bool = False) -> dict[str, Any]:
    """Trains, evaluates and writes everything into ``<out>/train``.

    Args:
        out: the output folder.
        config: the settings (default: ``TrainConfig()``).
        quiet: no progress bar, nothing printed.

    Returns:
        The results (also written to ``<out>/train/results.json``).

    Raises:
        sinabs.cli._common.CLIError: a bad device, backend, output folder or sample count.
    """
    config = config or TrainConfig()
    clock = Stopwatch()
    device, folder, data = start(out, COMMAND, config)
    say(
        quiet,
        f"train: {len(data.y_train)} training and {len(data.y_test)} test digits, "
        f"{config.timesteps} time steps, {config.epochs} epochs on {device}",
    )
    with torch_threads(config.threads):
        model, history, test_spikes = train(data, config, device, quiet)
        train_seconds = clock.seconds()
        synops = synops_per_sample(model, test_spikes)
    rows = operations_table(model, synops)
    sinabs.reset_states(model)
    torch.save(model.state_dict(), folder / "model.pt")
    curve_figure(history).savefig(folder / "training_curve.png", dpi=FIGURE_DPI)
    raster_figure(model, data.x_test[0], test_spikes[0], int(data.y_test[0])).savefig(
        folder / "spike_raster.png", dpi=FIGURE_DPI
    )

    final = history[-1]
    hidden = config.hidden
    results = {
        "command": COMMAND,
        "title": "Training a spiking network with BPTT",
        "description": (
            f"Linear(64, {hidden}) → LIF → Linear({hidden}, 10) → LIF, τ_mem = {TAU_MEM:g}; "
            f"8x8 digits as {config.timesteps} steps of Bernoulli spikes; {config.epochs} "
            f"epochs of Adam (lr {config.lr:g}, cosine decay, batch {config.batch_size}), "
            f"seed {config.seed}, backend {config.backend}, {device}. Test accuracy "
            f"{final['test_accuracy']:.1%} on {len(data.y_test)} digits."
        ),
        "config": asdict(config),
        "history": history,
        "summary": {
            "test_accuracy": final["test_accuracy"],
            "train_accuracy": final["train_accuracy"],
            "synops_per_sample": sum(synops.values()),
            "ann_macs_per_sample": rows[-1][2],
            "train_seconds": train_seconds,
        },
        "figures": [
            {"file": "training_curve.png", "caption": "Loss and accuracy per epoch."},
            {
                "file": "spike_raster.png",
                "caption": "The first test digit: its input spikes, the hidden layer's and "
                "the output layer's spikes (a mark for each step in which a neuron spiked; "
                "output neurons may spike more than once per step); the class that spikes "
                "most wins.",
            },
        ],
        "tables": [
            {
                "title": "Synaptic operations per sample (SNN, all time steps) against the "
                "multiply-accumulates of the same architecture as an ANN with ReLUs",
                "columns": OPERATIONS_COLUMNS,
                "rows": rows,
            }
        ],
        "files": [{"file": "model.pt", "caption": "the trained state_dict"}],
        "seconds": clock.seconds(),
    }
    write_results(folder, results)
    say(
        quiet,
        f"test accuracy {final['test_accuracy']:.1%} (train {final['train_accuracy']:.1%}) "
        f"after {config.epochs} epochs in {train_seconds:.1f} s",
        format_table(OPERATIONS_COLUMNS, rows),
        f"saved the model, training_curve.png and spike_raster.png in {folder}",
    )
    return results
