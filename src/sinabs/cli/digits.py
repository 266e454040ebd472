"""The 8x8 handwritten digits that scikit-learn ships (1797 images, 10 classes; no
download), split into training and test sets, and their encoding as spike trains.

The split is fixed (the same test digits for every seed, so that runs are comparable);
``--seed`` only changes the weights, the order of the batches and the spike trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ._common import CLIError, prepare_run, require
from ._config import RunConfig

#: seed of the train/test split (not the run's seed: the test set never changes)
SPLIT_SEED = 0
TEST_FRACTION = 0.2
PIXELS = 64
CLASSES = 10


@dataclass(frozen=True)
class Digits:
    """Images as ``(n, 64)`` float32 in [0, 1] and their labels as int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(command: str, samples: int | None = None) -> Digits:
    """Loads the digits and splits them 80/20 (the split is seeded by
    :data:`SPLIT_SEED`).

    Args:
        command: the command that loads them, for the missing-extra message.
        samples: use only this many images (a random subset, the same every time), or
            all of them.

    Returns:
        The split data set.

    Raises:
        sinabs.cli._common.MissingExtraError: scikit-learn is not installed.
        sinabs.cli._common.CLIError: ``samples`` is below 10 or above the 1797 images.
    """
    datasets = require("sklearn.datasets", "scikit-learn", command)
    data = datasets.load_digits()
    images = torch.as_tensor(data.data, dtype=torch.float32) / 16.0  # pixel values 0..16
    labels = torch.as_tensor(data.target, dtype=torch.int64)
    total = len(labels)
    if samples is not None and not 10 <= samples <= total:
        raise CLIError(f"--samples must be between 10 and {total}; got {samples}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(SPLIT_SEED))
    order = order[: samples or total]
    n_test = max(1, round(len(order) * TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return Digits(images[train], labels[train], images[test], labels[test])


def start(out: str, command: str, config: RunConfig) -> tuple[torch.device, Path, Digits]:
    """What ``train`` and ``convert`` start with: :func:`~sinabs.cli._common.prepare_run`'s
    checks (device, backend, output folder), then the digits.

    Returns:
        ``(device, <out>/<command>, digits)``.
    """
    device, folder = prepare_run(out, command, config)
    return device, folder, load_digits(command, config.samples)


def rate_encode(
    images: torch.Tensor, timesteps: int, generator: torch.Generator, max_rate: float = 1.0
) -> torch.Tensor:
    """Bernoulli rate coding: every pixel spikes at each step with probability
    ``max_rate * intensity``.

    Args:
        images: ``(n, 64)`` intensities in [0, 1].
        timesteps: number of time steps ``T``.
        generator: the random source (seeded by the caller: same seed, same spikes).
        max_rate: spike probability per step of a full-intensity pixel.

    Returns:
        ``(n, T, 64)`` float32 spikes (0 or 1).
    """
    probability = (images * max_rate).unsqueeze(1).expand(-1, timesteps, -1)
    draws = torch.rand(probability.shape, generator=generator)
    return (draws < probability).float()
