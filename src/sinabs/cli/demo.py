"""``sinabs demo``: ``gallery``, ``train`` and ``convert`` with their defaults, one page
of results (``<out>/index.html``) and a short summary. ``make demo`` runs this."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import convert, gallery, report, train
from ._common import Stopwatch, check_backend, prepare_out, resolve_device, say
from ._config import RunConfig

COMMAND = "demo"
HELP = "gallery, train and convert with their defaults, and the page of all results"
DESCRIPTION = (
    "Runs gallery, train and convert into OUT with their defaults but for the flags "
    "below, which both train and convert take; writes OUT/index.html (every figure and "
    "table on one page) and prints a summary."
)
Config = RunConfig


def run(out: str, config: RunConfig | None = None, quiet: bool = False) -> dict[str, Any]:
    """Runs the three commands into ``out``, writes the page and prints the summary.

    Args:
        out: the output folder.
        config: the settings that ``train`` and ``convert`` share (their others keep
            their defaults).
        quiet: no progress bars, nothing printed.

    Returns:
        ``{"gallery": ..., "train": ..., "convert": ..., "index": path, "seconds": s}``.

    Raises:
        sinabs.cli._common.CLIError: a bad device, backend or output folder (checked
            before anything runs).
    """
    shared = asdict(config or RunConfig())
    clock = Stopwatch()
    check_backend(shared["backend"], resolve_device(shared["device"]))
    prepare_out(out, "")
    results: dict[str, Any] = {
        "gallery": gallery.run(out, quiet=quiet),
        "train": train.run(out, train.TrainConfig(**shared), quiet),
        "convert": convert.run(out, convert.ConvertConfig(**shared), quiet),
    }
    results["index"] = report.write_index(out)
    results["seconds"] = clock.seconds()
    say(quiet, summary(results))
    return results


def summary(results: dict[str, Any]) -> str:
    """The closing lines: where the results are, accuracies, synops and times."""
    index = Path(results["index"]).resolve()
    shown, trained, converted = (results[k] for k in ("gallery", "train", "convert"))
    t, c = trained["summary"], converted["summary"]
    return "\n".join(
        [
            "",
            f"Done in {results['seconds']:.1f} s. Results in {index.parent}/",
            f"Open {index} in a browser to see every figure and table.",
            f"  gallery {shown['seconds']:6.1f} s  {shown['summary']['figures']} figures: neuron "
            "models, spike functions, resets, surrogate gradients",
            f"  train   {trained['seconds']:6.1f} s  BPTT spiking network: test accuracy "
            f"{t['test_accuracy']:.1%}; {t['synops_per_sample']:,.0f} synops per sample "
            f"(the same network as an ANN: {t['ann_macs_per_sample']:,} MACs)",
            f"  convert {converted['seconds']:6.1f} s  ANN {c['ann_accuracy']:.1%} -> spiking "
            f"network {c['snn_accuracy_at_max_timesteps']:.1%} at T = {c['max_timesteps']}",
        ]
    )
