"""``Network``: an ANN and its spiking counterpart side by side."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from .layers.stateful_layer import StatefulLayer
from .utils import INPUT, get_activations, get_network_activations

__all__ = ["Network"]


def _import_pyplot() -> ModuleType:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Network.plot_comparison needs matplotlib, which is not installed; install "
            'the plot extra with: pip install "sinabs[plot]"'
        ) from error
    return plt


class Network(nn.Module):
    """A spiking model together with the analog (ANN) model it was converted from.

    Usually built by :func:`sinabs.from_model`. Calling the network runs the spiking
    model. Both models are registered submodules (both appear in ``parameters()`` and
    ``state_dict()``).

    Args:
        analog_model: the ANN.
        spiking_model: the SNN.
        input_shape: input shape without the batch dimension; if given, the network is
            run once on zeros of shape ``(batch_size * num_timesteps, *input_shape)``
            (autograd on) and each module of the spiking model gets an ``out_shape``
            attribute (its output shape without the first dimension). This pass
            initialises the spiking layers' states (non-zero where there are biases);
            call :meth:`reset_states` before use.
        synops: attach a (deprecated) :class:`sinabs.synopcounter.SNNAnalyzer` to the
            spiking model as ``synops_counter``.
        batch_size: batch size of the shape pass (None counts as 1).
        num_timesteps: number of time steps of the shape pass (None counts as 1).

    Raises:
        ValueError: ``input_shape`` does not fit the spiking model.
    """

    def __init__(
        self,
        analog_model: nn.Module | None = None,
        spiking_model: nn.Module | None = None,
        input_shape: Sequence[int] | None = None,
        synops: bool = False,
        batch_size: int | None = 1,
        num_timesteps: int | None = 1,
    ) -> None:
        super().__init__()
        self.spiking_model = spiking_model
        self.analog_model = analog_model
        self.input_shape = input_shape
        self.synops = synops
        if synops:
            if spiking_model is None:
                raise ValueError("synops=True needs a spiking_model to analyse")
            from .synopcounter import SNNAnalyzer

            self.synops_counter = SNNAnalyzer(spiking_model)
        if input_shape is not None and spiking_model is not None:
            self._compute_shapes(input_shape, batch_size, num_timesteps)

    def _compute_shapes(
        self,
        input_shape: Sequence[int],
        batch_size: int | None = 1,
        num_timesteps: int | None = 1,
    ) -> None:
        """Runs the spiking model once on zeros and stores each module's ``out_shape``."""
        if self.spiking_model is None:
            raise RuntimeError("the network has no spiking_model to compute shapes of")

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                module.out_shape = output.shape[1:]  # type: ignore[assignment]

        first_param = next(self.parameters(), None)
        device = first_param.device if first_param is not None else torch.device("cpu")
        rows = (batch_size or 1) * (num_timesteps or 1)
        dummy = torch.zeros([rows, *input_shape], device=device)
        handles = [m.register_forward_hook(hook) for m in self.spiking_model.modules()]
        try:
            self(dummy)
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"input_shape={tuple(input_shape)} does not fit the spiking model "
                f"(dummy input of shape {tuple(dummy.shape)}, i.e. batch_size*num_timesteps "
                f"rows): {err}"
            ) from err
        finally:
            for handle in handles:
                handle.remove()

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """``(name, module)`` of the spiking model's children."""
        if self.spiking_model is None:
            return []
        return list(self.spiking_model.named_children())

    def forward(self, tsrInput: torch.Tensor) -> torch.Tensor:
        """Runs the spiking model.

        Args:
            tsrInput: input of the spiking model.

        Returns:
            Its output.
        """
        if self.spiking_model is None:
            raise RuntimeError("the network has no spiking_model to run")
        out: torch.Tensor = self.spiking_model(tsrInput)
        return out

    def _stateful_names(self) -> list[str]:
        assert self.spiking_model is not None
        analog = dict(self.analog_model.named_modules()) if self.analog_model else {}
        return [
            name
            for name, module in self.spiking_model.named_modules()
            if name and isinstance(module, StatefulLayer) and name in analog
        ]

    def compare_activations(
        self,
        data: torch.Tensor,
        name_list: Sequence[str] | None = None,
        compute_rate: bool = False,
        verbose: bool = False,
    ) -> tuple[list[np.ndarray], list[np.ndarray], Sequence[str]]:
        """Activations of the analog model next to spike counts of the spiking model.

        The analog model sees the input summed (or, with ``compute_rate``, averaged)
        over the time dimension ``data``'s first dimension; the spiking model sees
        ``data``.

        Args:
            data: spiking input, time along the first dimension.
            name_list: module names (present in both models), and ``"Input"``. Default:
                ``"Input"`` and every spiking layer that has an analog counterpart.
            compute_rate: compare rates (Hz for 1 ms steps) instead of counts.
            verbose: print the names.

        Returns:
            ``(analog activations, spike counts or rates, names)``, index-aligned;
            ``names`` is ``name_list`` itself when one is given.
        """
        if self.analog_model is None or self.spiking_model is None:
            raise RuntimeError("compare_activations needs both an analog and a spiking model")
        # the caller's own list comes back (code that appends to it sees it), as in sinabs
        names = name_list if name_list is not None else [INPUT, *self._stateful_names()]
        if verbose:
            print("Comparing activations of: " + ", ".join(names))
        analog_input = data.mean(0).unsqueeze(0) if compute_rate else data.sum(0).unsqueeze(0)
        with torch.no_grad():
            analog = get_activations(self.analog_model, analog_input, names)
        rates = get_network_activations(self.spiking_model, data, names, bRate=compute_rate)
        return analog, rates, names

    def plot_comparison(
        self,
        data: torch.Tensor,
        name_list: Sequence[str] | None = None,
        compute_rate: bool = False,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Scatter plot of analog activations against spike counts (needs matplotlib).

        Args:
            data: spiking input, time along the first dimension.
            name_list: as :meth:`compare_activations`.
            compute_rate: compare rates instead of counts.

        Returns:
            ``(analog activations, spike counts or rates)``.

        Raises:
            ImportError: matplotlib is not installed (``pip install "sinabs[plot]"``).
        """
        plt = _import_pyplot()
        analog, rates, names = self.compare_activations(
            data, name_list=name_list, compute_rate=compute_rate
        )
        for spiking_values, analog_values, name in zip(rates, analog, names, strict=True):
            plt.scatter(np.ravel(spiking_values), np.ravel(analog_values), label=name)
        plt.xlabel("Spike rates (Hz)" if compute_rate else "# Spike count")
        plt.ylabel("Analog activations")
        plt.legend()
        return analog, rates

    def reset_states(
        self,
        randomize: bool = False,
        value_ranges: Sequence[dict[str, tuple[float, float]] | None] | None = None,
    ) -> None:
        """Resets every stateful layer (spiking model first, then analog model).

        Args:
            randomize: draw states uniformly instead of setting them to zero.
            value_ranges: one ``{state name: (low, high)}`` (or None) per stateful layer,
                in ``modules()`` order.

        Raises:
            TypeError: ``value_ranges`` has another length than there are stateful
                layers.
        """
        layers = [m for m in self.modules() if isinstance(m, StatefulLayer)]
        if value_ranges and len(value_ranges) != len(layers):
            raise TypeError(
                f"value_ranges has {len(value_ranges)} entries but the network has "
                f"{len(layers)} stateful layers; give one entry (or None) per layer"
            )
        for i, layer in enumerate(layers):
            layer.reset_states(randomize, (value_ranges[i] or None) if value_ranges else None)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zeroes the parameter gradients and detaches the states of every stateful layer.

        Args:
            set_to_none: set gradients to None instead of zero (torch's default).
        """
        super().zero_grad(set_to_none=set_to_none)
        for module in self.modules():
            if isinstance(module, StatefulLayer):
                module.detach_states()

    def get_synops(self, num_evs_in: Any = None) -> dict[str, dict[str, Any]]:
        """Synaptic operations per weight layer, from the network's ``SNNAnalyzer``.

        Args:
            num_evs_in: ignored (deprecated).

        Returns:
            ``{layer name: {"synops", "num_timesteps", "time_window", "SynOps/s",
            "synops/s"}}`` from the latest forward call.

        Raises:
            RuntimeError: the network was built without ``synops=True``.
        """
        if num_evs_in is not None:
            warnings.warn("num_evs_in is ignored and will be removed", UserWarning, stacklevel=2)
        counter = getattr(self, "synops_counter", None)
        if counter is None:
            raise RuntimeError(
                "get_synops needs a synops counter: build the network with synops=True "
                "(or use sinabs.hooks)"
            )
        stats: dict[str, dict[str, Any]] = counter.get_layer_statistics()["parameter"]
        return stats
