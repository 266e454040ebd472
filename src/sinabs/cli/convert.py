"""``sinabs convert``: an ANN trained on the 8x8 digits, converted into a spiking
network with ``sinabs.from_model``, and its accuracy against the number of time steps.

The ANN is ``Linear(64, h) -> ReLU -> Linear(h, h) -> ReLU -> Linear(h, 10)`` without
biases. ``sinabs.utils.normalize_weights`` rescales each layer so that the given
percentile of its ReLU's activations on the training images is 1, the spiking
threshold; ``from_model`` then replaces every ReLU by integrate-and-fire neurons
(``IAF``: multi-spike, subtractive reset). The spiking network sees each image as
``T`` steps of Bernoulli spikes (the same encoding as ``sinabs train``) and its class
is the output that accumulated the largest input over the ``T`` steps. Firing rates
approximate the ReLU activations better the longer the network runs, so accuracy
approaches the ANN's as ``T`` grows, and so do the synaptic operations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.utils import normalize_weights

from ._common import (
    FIGURE_DPI,
    Progress,
    Stopwatch,
    adam_cosine,
    figure_class,
    format_table,
    minibatches,
    say,
    seed_everything,
    torch_threads,
    write_results,
)
from ._config import RunConfig, option, plain, positive_ints
from .digits import CLASSES, PIXELS, SPLIT_SEED, Digits, rate_encode, start
from .train import ann_macs, synops_per_sample

COMMAND = "convert"
HELP = "convert a trained ANN into a spiking network and compare accuracies"
DEFAULT_TIMESTEPS = (1, 2, 4, 8, 16, 32, 64, 128)
DESCRIPTION = plain(__doc__)


def build_ann(hidden: int) -> nn.Sequential:
    """The ANN; without biases, so that rescaling a layer rescales its ReLU exactly and
    the normalised network computes the same function up to a positive factor."""
    return nn.Sequential(
        nn.Linear(PIXELS, hidden, bias=False),
        nn.ReLU(),
        nn.Linear(hidden, hidden, bias=False),
        nn.ReLU(),
        nn.Linear(hidden, CLASSES, bias=False),
    )


@dataclass(frozen=True)
class ConvertConfig(RunConfig):
    """``sinabs convert``'s settings (the shared ones: :class:`~sinabs.cli._config.RunConfig`)."""

    epochs: int = option(10, "ANN training epochs")
    timesteps: tuple[int, ...] = option(
        DEFAULT_TIMESTEPS,
        "comma-separated numbers of time steps at which the spiking network is evaluated",
        type=positive_ints,
    )
    hidden: int = option(128, "ReLU units, then IAF neurons, per hidden layer")
    percentile: float = option(
        99.0, "percentile of each layer's activations that normalize_weights scales to 1"
    )


Config = ConvertConfig


def train_ann(
    data: Digits, config: ConvertConfig, device: torch.device, quiet: bool
) -> nn.Sequential:
    """Trains the ANN on the images (intensities in [0, 1])."""
    seed_everything(config.seed)
    ann = build_ann(config.hidden).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    x, y = data.x_train.to(device), data.y_train.to(device)
    batches = -(-len(y) // config.batch_size)
    optimizer, schedule = adam_cosine(ann.parameters(), config.lr, config.epochs * batches)
    progress = Progress(config.epochs * batches, "ANN", quiet, COMMAND)
    try:
        for epoch in range(1, config.epochs + 1):
            for index in minibatches(len(y), config.batch_size, generator, device):
                loss = nn.functional.cross_entropy(ann(x[index]), y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                progress.update(epoch=epoch, loss=f"{loss.item():.3f}")
    finally:
        progress.close()
    return ann


def ann_accuracy(ann: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (ann(images).argmax(1) == labels).float().mean().item()


def snn_accuracy(snn: nn.Module, spikes: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of the converted network on ``(n, T, 64)`` input spikes: the class is
    the output unit with the largest input summed over time."""
    with torch.no_grad():
        sinabs.reset_states(snn)
        evidence = snn(spikes).sum(1)
    return (evidence.argmax(1) == labels).float().mean().item()


def accuracy_figure(rows: list[dict[str, float]], ann_acc: float, ann_mac: int) -> Any:
    """Spiking accuracy and synops against T, with the ANN's accuracy and MACs."""
    fig = figure_class(COMMAND)(figsize=(10, 3.8), layout="constrained")
    ax_acc, ax_ops = fig.subplots(1, 2)
    steps = [row["timesteps"] for row in rows]
    ax_acc.plot(steps, [100 * row["snn_accuracy"] for row in rows], "-o", label="spiking network")
    ax_acc.axhline(100 * ann_acc, color="tab:orange", linestyle="--", label="ANN")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_ylim(0, 100)
    ax_acc.legend(loc="lower right")
    ax_ops.plot(steps, [row["synops_per_sample"] for row in rows], "-o", label="SNN synops")
    ax_ops.axhline(ann_mac, color="tab:orange", linestyle="--", label="ANN MACs")
    ax_ops.set_yscale("log")
    ax_ops.set_ylabel("operations per sample")
    ax_ops.legend(loc="lower right")
    for ax in (ax_acc, ax_ops):
        ax.set_xscale("log", base=2)
        ax.set_xticks(steps, [str(t) for t in steps])
        ax.set_xlabel("time steps T")
        ax.grid(alpha=0.3)
    fig.suptitle("ANN converted to a spiking network: accuracy and cost against time steps")
    return fig


def run(out: str, config: ConvertConfig | None = None, quiet: bool = False) -> dict[str, Any]:
    """Trains the ANN, converts it and evaluates the spiking network at every ``T``;
    writes everything into ``<out>/convert``.

    Args:
        out: the output folder.
        config: the settings (default: ``ConvertConfig()``).
        quiet: no progress bar, nothing printed.

    Returns:
        The results (also written to ``<out>/convert/results.json``).

    Raises:
        sinabs.cli._common.CLIError: a bad device, backend, output folder or sample count.
    """
    config = config or ConvertConfig()
    clock = Stopwatch()
    device, folder, data = start(out, COMMAND, config)
    timesteps = tuple(sorted(set(config.timesteps)))
    say(quiet, f"convert: ANN on {len(data.y_train)} digits for {config.epochs} epochs on {device}")
    with torch_threads(config.threads):
        ann, ann_acc, normalized_acc, rows = _convert_and_evaluate(
            data, config, timesteps, device, quiet
        )
    macs = sum(ann_macs(ann).values())
    torch.save(ann.state_dict(), folder / "ann_normalized.pt")
    accuracy_figure(rows, ann_acc, macs).savefig(
        folder / "accuracy_vs_timesteps.png", dpi=FIGURE_DPI
    )

    columns = [
        "time steps T",
        "SNN accuracy (%)",
        "SNN synops / sample",
        "ANN accuracy (%)",
        "ANN MACs / sample",
    ]
    table_rows: list[list[Any]] = [
        [
            r["timesteps"],
            100 * r["snn_accuracy"],
            round(r["synops_per_sample"]),
            100 * ann_acc,
            macs,
        ]
        for r in rows
    ]
    h = config.hidden
    best = max(rows, key=lambda r: (r["snn_accuracy"], -r["timesteps"]))
    summary = {
        "ann_accuracy": ann_acc,
        "ann_accuracy_normalized": normalized_acc,
        "snn_accuracy_at_max_timesteps": rows[-1]["snn_accuracy"],
        "max_timesteps": rows[-1]["timesteps"],
        "best_snn_accuracy": best["snn_accuracy"],
        "best_timesteps": best["timesteps"],
        "ann_macs_per_sample": macs,
    }
    results = {
        "command": COMMAND,
        "title": "Converting an ANN into a spiking network",
        "description": (
            f"ANN Linear(64, {h}) → ReLU → Linear({h}, {h}) → ReLU → Linear({h}, 10) without "
            f"biases, {config.epochs} epochs of Adam, seed {config.seed}: test accuracy "
            f"{ann_acc:.1%}. normalize_weights (percentile {config.percentile:g}), then "
            f"from_model with IAF neurons (backend {config.backend}, {device}); the test "
            "digits as Bernoulli spike trains."
        ),
        "config": asdict(config),
        "accuracy_by_timesteps": rows,
        "summary": summary,
        "figures": [
            {
                "file": "accuracy_vs_timesteps.png",
                "caption": "Spiking accuracy and synaptic operations per sample against the "
                "number of time steps, with the ANN's accuracy and MACs.",
            }
        ],
        "tables": [
            {
                "title": "Accuracy of the converted network against the number of time steps",
                "columns": columns,
                "rows": table_rows,
            }
        ],
        "files": [{"file": "ann_normalized.pt", "caption": "the normalised ANN's state_dict"}],
        "seconds": clock.seconds(),
    }
    write_results(folder, results)
    say(
        quiet,
        format_table(columns, table_rows),
        f"ANN {ann_acc:.1%}; spiking network {rows[-1]['snn_accuracy']:.1%} at "
        f"T = {rows[-1]['timesteps']} ({results['seconds']:.1f} s); results in {folder}",
    )
    return results


def _convert_and_evaluate(
    data: Digits, config: ConvertConfig, timesteps: tuple[int, ...], device: torch.device,
    quiet: bool,
) -> tuple[nn.Sequential, float, float, list[dict[str, float]]]:  # fmt: skip
    """The ANN (normalised), its accuracy before and after normalisation, and the
    spiking network's accuracy and synops at each number of time steps."""
    ann = train_ann(data, config, device, quiet)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    ann_acc = ann_accuracy(ann, x_test, y_test)
    normalize_weights(
        ann, data.x_train.to(device), ["1", "3"], ["0", "2"], percentile=config.percentile
    )
    normalized_acc = ann_accuracy(ann, x_test, y_test)
    network = sinabs.from_model(
        ann, spike_layer_class=sl.IAF, kwargs_backend={"backend": config.backend}
    )
    snn = network.spiking_model
    assert snn is not None  # from_model always builds one
    # One fixed draw of the longest spike trains; shorter runs use their first T steps.
    spikes = rate_encode(data.x_test, max(timesteps), torch.Generator().manual_seed(SPLIT_SEED + 1))
    spikes = spikes.to(device)
    rows = []
    for steps in timesteps:
        accuracy = snn_accuracy(snn, spikes[:, :steps], y_test)
        synops = sum(synops_per_sample(snn, spikes[:, :steps]).values())
        rows.append({"timesteps": steps, "snn_accuracy": accuracy, "synops_per_sample": synops})
    return ann, ann_acc, normalized_acc, rows
