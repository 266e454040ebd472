"""The commands' settings, declared once as frozen dataclasses whose fields are also the
command-line flags: a field ``batch_size`` is the flag ``--batch-size`` with the
field's default and help text, so a setting has one default, used by Python callers
and the command line alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, TypeVar

from sinabs.dynamics.registry import BACKENDS


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text}")
    return value


def positive_ints(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive integers (``1,2,4``)."""
    return tuple(positive_int(part) for part in text.split(","))


def option(default: Any, help: str, **argparse_kwargs: Any) -> Any:
    """A settings field that is also the flag ``--<name>``.

    Args:
        default: the default value.
        help: the flag's help text (the default is appended).
        **argparse_kwargs: more ``add_argument`` arguments (``type``, ``choices``,
            ``nargs``, ``metavar``); ``type`` defaults to :func:`positive_int` for an
            integer default and to the default's type otherwise (give it for tuples
            and None defaults).
    """
    return dataclasses.field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclasses.dataclass(frozen=True)
class DeviceConfig:
    """Where the neuron layers run."""

    device: str = option("cpu", "where to run: cpu, cuda, cuda:N or mps")
    backend: str = option(
        "auto",
        "backend of the neuron layers; auto takes the fastest that can run",
        choices=["auto", *BACKENDS],
    )
    # One thread by default: these networks and layers are small, and on a busy 2-core
    # machine two threads made a training step 12 times slower (8 against 100 ms):
    # the threads spin waiting for each other.
    threads: int = option(1, "torch threads; the small networks here run fastest on one")


@dataclasses.dataclass(frozen=True)
class RunConfig(DeviceConfig):
    """The settings that ``train``, ``convert`` and ``demo`` share."""

    seed: int = option(
        0,
        "seeds the weights, the batch order and the training spike trains; the same seed "
        "gives the same results",
        type=int,
    )
    batch_size: int = option(32, "samples per optimiser step")
    lr: float = option(5e-3, "Adam's learning rate, decayed to 0 along a cosine")
    samples: int | None = option(
        None, "use only this many of the 1797 digits (default: all)", type=positive_int
    )


Config = TypeVar("Config")


def add_options(parser: argparse.ArgumentParser, cls: type[Any]) -> None:
    """Adds a flag for every field of the settings class ``cls``."""
    for field in dataclasses.fields(cls):
        kwargs = dict(field.metadata)
        help_text = kwargs.pop("help")
        default = field.default
        if type(default) is bool:  # a switch: the flag turns it on
            kwargs.setdefault("action", "store_true")
            parser.add_argument("--" + field.name.replace("_", "-"), help=help_text, **kwargs)
            continue
        if isinstance(default, tuple):  # shown as it is typed
            joiner = " " if "nargs" in kwargs else ","
            help_text += f" (default: {joiner.join(str(v) for v in default)})"
        elif default is not None:
            help_text += " (default: %(default)s)"
        if "type" not in kwargs:
            # every setting without a type of its own has a default of the right type
            kwargs["type"] = positive_int if type(default) is int else type(default)
        parser.add_argument(
            "--" + field.name.replace("_", "-"), default=field.default, help=help_text, **kwargs
        )


def plain(docstring: str | None, paragraphs: int = 2) -> str | None:
    """The first paragraphs of a docstring as plain text for ``--help`` (reST roles
    and literal quotes removed)."""
    if not docstring:
        return None
    text = "\n\n".join(docstring.split("\n\n")[:paragraphs])
    return re.sub(r":\w+:`~?([^`]*)`", r"\1", text).replace("``", "")


def config_from_args(cls: type[Config], args: argparse.Namespace) -> Config:
    """The settings of ``cls`` from the parsed flags (lists from ``nargs`` as tuples)."""
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(args, field.name)
        values[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)
