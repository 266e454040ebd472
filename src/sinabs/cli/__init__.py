"""The ``sinabs`` command line: ``sinabs gallery|train|convert|bench|demo`` (also
``python -m sinabs``).

Run ``sinabs <command> --help`` for a command's options. Every command writes into
``--out`` (default ``out``): its files in ``<out>/<command>/`` and the page
``<out>/index.html`` that shows every figure and table there. Bad arguments (an
unknown backend, a device this machine lacks, an output folder that cannot be
written) end the command with one line on stderr and exit status 2; a missing
optional package (``pip install "sinabs[demo]"``) with exit status 1.

Example:
    >>> from sinabs.cli import main
    >>> main(["gallery", "--out", "results", "--quiet"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sinabs.dynamics.registry import BACKENDS

from . import bench, convert, demo, gallery, report, train
from ._common import CLIError, MissingExtraError, RunConfig, positive_int

DEFAULT = RunConfig()

__all__ = ["build_parser", "main"]


def _parents() -> dict[str, argparse.ArgumentParser]:
    """The option groups shared by several commands."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--out", default="out", help="output folder; results go to OUT/<command>/ (%(default)s)"
    )
    output.add_argument(
        "--quiet", action="store_true", help="no progress bars and no report on the terminal"
    )
    runtime = argparse.ArgumentParser(add_help=False)
    runtime.add_argument(
        "--device",
        default=DEFAULT.device,
        help="where to run: cpu, cuda, cuda:N or mps (%(default)s)",
    )
    runtime.add_argument(
        "--backend",
        default=DEFAULT.backend,
        choices=["auto", *BACKENDS],
        help="backend of the neuron layers; auto takes the fastest that can run (%(default)s)",
    )
    runtime.add_argument(
        "--threads",
        type=positive_int,
        default=DEFAULT.threads,
        help="torch threads; these small networks and layers run fastest on one (%(default)s)",
    )
    seed = argparse.ArgumentParser(add_help=False)
    seed.add_argument(
        "--seed",
        type=int,
        default=DEFAULT.seed,
        help="seed of weights, batch order and spike trains; the same seed gives the same "
        "results (%(default)s)",
    )
    training = argparse.ArgumentParser(add_help=False)
    training.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT.batch_size, help="(%(default)s)"
    )
    training.add_argument(
        "--lr",
        type=float,
        default=DEFAULT.lr,
        help="Adam learning rate, cosine decay (%(default)s)",
    )
    training.add_argument(
        "--samples",
        type=positive_int,
        default=DEFAULT.samples,
        help="use only this many of the 1797 digits (all)",
    )
    return {"output": output, "runtime": runtime, "seed": seed, "training": training}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sinabs`` command."""
    parser = argparse.ArgumentParser(
        prog="sinabs",
        description="Spiking neural networks in PyTorch: train, convert, draw and time.",
        epilog="Run 'sinabs COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = _parents()
    gallery.add_parser(subparsers, [p["output"]])
    train.add_parser(subparsers, [p["output"], p["runtime"], p["seed"], p["training"]])
    convert.add_parser(subparsers, [p["output"], p["runtime"], p["seed"], p["training"]])
    bench.add_parser(subparsers, [p["output"], p["runtime"]])
    demo.add_parser(subparsers, [p["output"], p["runtime"], p["seed"]])
    return parser


def _version() -> str:
    import sinabs

    return sinabs.__version__


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 1 when an optional package is missing, 2 for bad arguments.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        args.handler(args)
        index = report.write_index(args.out)
    except CLIError as error:
        print(f"sinabs {args.command}: error: {error}", file=sys.stderr)
        return 2
    except MissingExtraError as error:
        print(f"sinabs {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sinabs {args.command}: interrupted", file=sys.stderr)
        return 130
    if not args.quiet and args.command != "demo":
        print(f"page of all results: {index}")
    return 0
