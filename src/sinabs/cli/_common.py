"""What every ``sinabs`` command shares: argument checks that fail with one clear line,
optional imports that name the extra to install, progress bars, seeding and the
layout of the output folder.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ._config import DeviceConfig

#: the pip requirement that brings every optional package the commands need
DEMO_EXTRA = 'pip install "sinabs[demo]"'

#: the file each command writes into its folder of the output; ``sinabs.cli.report``
#: reads these to build ``index.html``
RESULTS_FILE = "results.json"
#: resolution of the figures written by ``train`` and ``convert`` (``gallery --dpi``)
FIGURE_DPI = 110


def adam_cosine(
    params: Any, lr: float, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam with a learning rate that decays to 0 along a cosine over ``steps`` steps:
    the last epochs settle instead of jumping between minima of a noisy loss."""
    optimizer = torch.optim.Adam(params, lr=lr)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)


def minibatches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    """The indices of one epoch's batches, in an order drawn from ``generator``."""
    order = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


class CLIError(Exception):
    """A bad argument or environment, reported as one line and exit status 2."""


class MissingExtraError(ImportError):
    """An optional package of the ``demo`` extra is not installed."""


def require(module: str, package: str, command: str) -> ModuleType:
    """Imports an optional module of the ``demo`` extra.

    Args:
        module: the module to import (``"sklearn.datasets"``).
        package: the distribution that provides it (``"scikit-learn"``), for the message.
        command: the command that needs it, for the message.

    Returns:
        The module.

    Raises:
        MissingExtraError: the module cannot be imported; the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"sinabs {command} needs {package}, which is not installed; install the demo "
            f"extra with: {DEMO_EXTRA}"
        ) from error


def figure_class(command: str) -> Any:
    """``matplotlib.figure.Figure``: figures drawn without pyplot (no global state, no
    GUI backend, nothing left open), saved with the Agg renderer."""
    return require("matplotlib.figure", "matplotlib", command).Figure


def resolve_device(spec: str) -> torch.device:
    """The device named by ``--device``, checked to exist.

    Raises:
        CLIError: not a device name, or a device this machine does not have.
    """
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise CLIError(
            f"--device {spec!r} is not a device name (expected cpu, cuda, cuda:N or mps)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "none found"
            raise CLIError(
                f"--device {spec}: no CUDA device is available ({why}); use --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CLIError(f"--device {spec}: there are only {count} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise CLIError(f"--device {spec}: MPS is not available on this machine")
    elif device.type != "cpu":
        raise CLIError(f"--device {spec}: only cpu, cuda[:N] and mps are supported")
    return device


def check_backend(backend: str, device: torch.device) -> str:
    """Checks that the neuron layers can run on ``backend`` on ``device`` by running a
    one-neuron LIF layer there, so that an unsuitable choice fails before any work,
    with the registry's reason.

    Raises:
        CLIError: the backend cannot run there.
    """
    import sinabs.layers as sl
    from sinabs.dynamics.registry import BackendError

    try:
        layer = sl.LIF(tau_mem=10.0, backend=backend).to(device)
        layer(torch.zeros(1, 1, 1, device=device))
    except (BackendError, ValueError) as error:
        raise CLIError(f"--backend {backend} on {device}: {error}") from None
    return backend


def prepare_run(
    out: str | os.PathLike[str], section: str, config: DeviceConfig
) -> tuple[torch.device, Path]:
    """The checks a computing command starts with, in this order so that nothing is
    written before a bad device or backend is reported: the device, the backend on it,
    the output folder.

    Returns:
        ``(device, <out>/<section>)``.

    Raises:
        CLIError: one of them is unusable.
    """
    device = resolve_device(config.device)
    check_backend(config.backend, device)
    return device, prepare_out(out, section)


def prepare_out(out: str | os.PathLike[str], section: str) -> Path:
    """Creates ``<out>/<section>`` and checks that files can be written there.

    Returns:
        The section folder.

    Raises:
        CLIError: the folder cannot be created or written to.
    """
    folder = Path(out) / section
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CLIError(f"--out {out}: cannot write results there ({reason})") from None
    return folder


def seed_everything(seed: int) -> None:
    """Seeds the global generators (weights, dropout); data use their own generators."""
    random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Runs the block with ``torch.set_num_threads(threads)`` (None: unchanged) and
    restores the previous count, so that calling a command from Python leaves the
    process as it was."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def quiet_deprecations() -> Iterator[None]:
    """``SNNAnalyzer`` is deprecated in favour of ``sinabs.hooks`` but is what users of
    sinabs 3.x know; its warning is noise in a command's output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class Progress:
    """A tqdm progress bar on stderr, or nothing with ``--quiet``.

    Args:
        total: number of steps.
        desc: the bar's label.
        quiet: draw nothing.
        command: the command, for the missing-extra message.
    """

    def __init__(self, total: int, desc: str, quiet: bool, command: str) -> None:
        self._bar: Any = None
        if not quiet:
            tqdm = require("tqdm", "tqdm", command).tqdm
            self._bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, **postfix: Any) -> None:
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def say(quiet: bool, *lines: str) -> None:
    """Prints unless ``--quiet``."""
    if not quiet:
        for line in lines:
            print(line, flush=True)


def format_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table with right-aligned columns (see :func:`format_cell`)."""
    cells = [[format_cell(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def format_cell(value: Any) -> str:
    """A table cell: floats below 100 with 3 significant digits, larger numbers as whole
    numbers with thousands separators."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_results(folder: Path, results: dict[str, Any]) -> Path:
    """Writes a command's ``results.json`` (what the report page shows)."""
    path = folder / RESULTS_FILE
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


class Stopwatch:
    """Seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
