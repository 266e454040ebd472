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
import shutil
import sys
import textwrap
from collections.abc import Sequence

from . import bench, convert, demo, gallery, report, train
from ._common import CLIError, MissingExtraError
from ._config import add_options, config_from_args

__all__ = ["COMMANDS", "build_parser", "main"]

#: the command modules; each has ``COMMAND`` (its name), ``HELP`` (one line),
#: ``DESCRIPTION``, ``Config`` (its settings, one flag per field) and
#: ``run(out, config, quiet)``
COMMANDS = (gallery, train, convert, bench, demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sinabs`` command."""
    parser = argparse.ArgumentParser(
        prog="sinabs",
        description="Spiking neural networks in PyTorch: train, convert, draw and time.",
        epilog="Run 'sinabs COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--out",
        default="out",
        help="output folder: files go to OUT/<command>/, the page of all results to "
        "OUT/index.html (default: %(default)s)",
    )
    output.add_argument(
        "--quiet", action="store_true", help="no progress bars and no report on the terminal"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        command = subparsers.add_parser(
            module.COMMAND,
            parents=[output],
            help=module.HELP,
            description=_paragraphs(module.DESCRIPTION),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_options(command, module.Config)
        command.set_defaults(module=module)
    return parser


def _paragraphs(text: str | None) -> str | None:
    """Text wrapped to the terminal paragraph by paragraph (argparse would run the
    paragraphs together)."""
    if text is None:
        return None
    width = min(shutil.get_terminal_size().columns, 100) - 2
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in text.split("\n\n"))


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
        module = args.module
        module.run(args.out, config_from_args(module.Config, args), args.quiet)
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
