"""Squeeze variants: neuron layers fed ``(batch*time, ...)`` instead of ``(batch, time, ...)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .stateful_layer import InputShapeError, StatefulLayer, check_input


class SqueezeMixin:
    """Reshapes ``(B*T, ...)`` inputs (row ``b*T + t``) to ``(B, T, ...)`` and back.

    One of ``batch_size`` and ``num_timesteps`` must be given; the other is inferred
    (stored as -1). When both are known, an input with another number of rows raises
    :class:`InputShapeError` instead of being split wrongly.
    """

    batch_size: int
    num_timesteps: int

    def squeeze_init(self, batch_size: int | None, num_timesteps: int | None) -> None:
        known = [v for v in (batch_size, num_timesteps) if v is not None and v > 0]
        if not known:
            raise TypeError("You need to specify either batch_size or num_timesteps.")
        self.batch_size = int(batch_size) if batch_size and batch_size > 0 else -1
        self.num_timesteps = int(num_timesteps) if num_timesteps and num_timesteps > 0 else -1

    def squeeze_forward(
        self, input_data: torch.Tensor, forward_method: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        x = check_input(input_data, min_dims=1)
        rows, batch, steps = x.shape[0], self.batch_size, self.num_timesteps
        if batch > 0 and steps > 0:
            if rows != batch * steps:
                raise InputShapeError(
                    f"input_data has {rows} rows but batch_size={batch} and "
                    f"num_timesteps={steps} need {batch * steps}"
                )
        elif rows % max(batch, steps):
            which = "batch_size" if batch > 0 else "num_timesteps"
            raise InputShapeError(
                f"input_data has {rows} rows, which does not split into {which}="
                f"{max(batch, steps)} (first dimension must be batch*time)"
            )
        unsqueezed = x.reshape(batch, steps, *x.shape[1:])
        return forward_method(unsqueezed).flatten(0, 1)

    def squeeze_param_dict(self, param_dict: dict[str, Any]) -> dict[str, Any]:
        return {**param_dict, "batch_size": self.batch_size, "num_timesteps": self.num_timesteps}


def squeeze_variant(base: type[StatefulLayer], module: str) -> type[StatefulLayer]:
    """Builds ``<base>Squeeze``: ``base`` fed with ``(batch*time, ...)`` inputs."""

    class Squeeze(base, SqueezeMixin):  # type: ignore[valid-type,misc]
        def __init__(
            self, batch_size: int | None = None, num_timesteps: int | None = None, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.squeeze_init(batch_size, num_timesteps)

        _repr_keys = (*base._repr_keys, "batch_size", "num_timesteps")

        def forward(self, input_data: torch.Tensor) -> torch.Tensor:
            return self.squeeze_forward(input_data, super().forward)

    name = f"{base.__name__}Squeeze"
    Squeeze.__name__ = Squeeze.__qualname__ = name
    Squeeze.__module__ = module
    Squeeze.__doc__ = (
        f"{base.__name__} for inputs of shape ``(batch*time, ...)`` (row ``b*T + t``).\n\n"
        f"Args:\n    batch_size: number of samples B, or None if num_timesteps is given.\n"
        f"    num_timesteps: number of time steps T, or None if batch_size is given.\n"
        f"    **kwargs: arguments of :class:`{base.__name__}`.\n"
    )
    return Squeeze


# ---------------------------------------------------------------------------------------
# Moving the time axis in and out of the batch axis, for layers without time.


class FlattenTime(torch.nn.Flatten):
    """Merges batch and time: ``(B, T, ...)`` → ``(B*T, ...)`` (row ``b*T + t``).

    It is :class:`torch.nn.Flatten` with ``start_dim=0, end_dim=1``.

    Example:
        >>> FlattenTime()(torch.zeros(2, 5, 3)).shape
        torch.Size([10, 3])
    """

    def __init__(self) -> None:
        super().__init__(start_dim=0, end_dim=1)


class UnflattenTime(torch.nn.Module):
    """Splits the first axis into batch and time: ``(B*T, ...)`` → ``(B, T, ...)``.

    ``T = rows // batch_size``.

    Args:
        batch_size: number of samples B.

    Raises:
        InputShapeError: the number of rows is not a multiple of ``batch_size``.

    Example:
        >>> UnflattenTime(batch_size=2)(torch.zeros(10, 3)).shape
        torch.Size([2, 5, 3])
    """

    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 1 or x.shape[0] % self.batch_size:
            raise InputShapeError(
                f"input has shape {tuple(x.shape)}; its first dimension must be a multiple "
                f"of batch_size={self.batch_size} (batch*time rows)"
            )
        return x.unflatten(0, (self.batch_size, x.shape[0] // self.batch_size))

    def extra_repr(self) -> str:
        return f"batch_size={self.batch_size}"


class Repeat(torch.nn.Module):
    r"""Applies ``module`` to every time step: ``(B, T, ...)`` → ``(B, T, ...)``.

    .. math::
        y = \mathrm{unflatten}_{0}(\mathrm{module}(\mathrm{flatten}_{0,1}(x)), (B, T))

    so a layer without a time axis (``nn.Conv2d``, ``nn.AvgPool2d``, ...) can sit between
    neuron layers that take ``(B, T, ...)``.

    Args:
        module: the module applied to the ``(B*T, ...)`` input.

    Example:
        >>> conv = Repeat(torch.nn.Conv2d(2, 4, 3))
        >>> conv(torch.zeros(8, 10, 2, 16, 16)).shape
        torch.Size([8, 10, 4, 14, 14])
    """

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise InputShapeError(f"input must have shape (batch, time, ...); got {tuple(x.shape)}")
        batch, steps = x.shape[:2]
        return self.module(x.flatten(0, 1)).unflatten(0, (batch, steps))

    def __repr__(self) -> str:
        return "Repeated " + repr(self.module)
