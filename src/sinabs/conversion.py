"""Replacing modules of one type inside a model (used to turn ReLUs into spiking layers)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

from torch import nn

__all__ = ["replace_module", "replace_module_"]

Mapper = Callable[[nn.Module], nn.Module]


def _check_arguments(model: object, source_class: object, mapper_fn: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(source_class, type):
        raise TypeError(f"source_class must be a class such as nn.ReLU; got {source_class!r}")
    if not callable(mapper_fn):
        raise TypeError(f"mapper_fn must be callable (old module -> new); got {mapper_fn!r}")


def replace_module(model: nn.Module, source_class: type, mapper_fn: Mapper) -> nn.Module:
    """A copy of ``model`` in which every module of type ``source_class`` is replaced.

    Only modules whose type is exactly ``source_class`` are replaced (subclasses are
    not). ``model`` itself is left untouched: it is deep-copied first, unless it is
    itself of type ``source_class``, in which case ``mapper_fn(model)`` is returned.

    Args:
        model: the model.
        source_class: the type to replace, e.g. ``nn.ReLU``.
        mapper_fn: called with each old module; returns its replacement.

    Returns:
        The new model.

    Example:
        >>> snn = replace_module(ann, nn.ReLU, lambda m: sl.IAF())  # doctest: +SKIP
    """
    _check_arguments(model, source_class, mapper_fn)
    if type(model) is source_class:
        return mapper_fn(model)
    new = copy.deepcopy(model)
    replace_module_(new, source_class, mapper_fn)
    return new


def replace_module_(model: nn.Module, source_class: type, mapper_fn: Mapper) -> None:
    """Replaces, in place, every submodule of type ``source_class`` at any depth.

    Children are visited in order; a child's own submodules are replaced before the
    child itself is considered. Only exact type matches are replaced. A model that is
    itself of type ``source_class`` cannot be replaced in place: a ``UserWarning`` is
    emitted and nothing changes (use :func:`replace_module` or call the mapper).

    Args:
        model: the model, changed in place.
        source_class: the type to replace, e.g. ``nn.ReLU``.
        mapper_fn: called with each old module; returns its replacement.

    Returns:
        None.
    """
    _check_arguments(model, source_class, mapper_fn)
    if type(model) is source_class:
        warnings.warn(
            f"The provided model is of type {source_class.__name__} and cannot be "
            "converted in place unless it is part of another module. Apply mapper_fn to "
            "it directly or use replace_module.",
            UserWarning,
            stacklevel=2,
        )
    _replace_children(model, source_class, mapper_fn)


def _replace_children(model: nn.Module, source_class: type, mapper_fn: Mapper) -> None:
    for name, child in list(model.named_children()):
        if next(child.children(), None) is not None:
            _replace_children(child, source_class, mapper_fn)
        if type(child) is source_class:
            setattr(model, name, mapper_fn(child))
