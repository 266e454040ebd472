"""Squeeze variants: neuron layers that take ``(batch*time, ...)`` instead of ``(batch, time, ...)``."""

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

        def forward(self, input_data: torch.Tensor) -> torch.Tensor:
            return self.squeeze_forward(input_data, super().forward)

        def _live_config(self) -> dict[str, Any]:
            return self.squeeze_param_dict(super()._live_config())

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
