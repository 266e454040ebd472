"""Plots of neuron dynamics (needs the ``plot`` extra: ``pip install 'sinabs[plot]'``).

matplotlib is imported only when a function here is called, so ``import sinabs`` and
``import sinabs.plotting`` work without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Recordable", "plot_dynamics"]


class Recordable(Protocol):
    """What :func:`plot_dynamics` needs of a layer: the sinabs stateful-layer interface."""

    record_states: bool

    @property
    def recordings(self) -> Mapping[str, torch.Tensor]: ...

    def __call__(self, input: torch.Tensor, /) -> torch.Tensor: ...


def _import_pyplot() -> ModuleType:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "sinabs.plotting needs matplotlib, which is not installed; "
            "install the plot extra with: pip install 'sinabs[plot]'"
        ) from error
    return plt


def _first_trace(values: torch.Tensor, num_timesteps: int) -> torch.Tensor:
    """Trace of sample 0, neuron 0 of a ``(batch, time, *neurons)`` tensor, as ``(T,)``."""
    values = values.detach().cpu()
    return values[0].reshape(num_timesteps, -1)[:, 0]


def plot_dynamics(
    layer: Recordable,
    input: torch.Tensor,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Run a stateful layer on ``input`` and plot its states, output and threshold.

    The layer is called once with recording switched on (its ``record_states`` flag is
    restored afterwards, also when the forward pass raises). Drawn over time, as step
    lines: every entry of ``layer.recordings`` (``v_mem``, ``i_syn``, ``b``, ...) under
    its own name, the output in black labelled ``"output"``, and a ``"spike_threshold"``
    line. The threshold is taken from ``recordings["spike_threshold"]`` where the layer
    records it (ALIF), else from ``layer.spike_threshold`` held constant over time; a
    layer without a threshold (``ExpLeak``, whose ``spike_threshold`` is ``None``) gets
    no threshold line.

    Only one trace per quantity is drawn: batch sample 0 and the first neuron of the
    flattened neuron dimensions. Pass a batch of one with a single neuron, shape
    ``(1, T, 1)``, to plot exactly what you feed in; other neurons are ignored.

    Like any forward call, this advances the layer's states (``v_mem``, ...) and
    replaces ``layer.recordings``; call ``layer.reset_states()`` first for a run from
    rest.

    Args:
        layer: a layer that takes ``(batch, time, *neurons)`` input and has
            ``record_states`` and ``recordings`` (``IAF``, ``LIF``, ``ExpLeak``,
            ``ALIF``, their recurrent variants). Squeeze layers, whose input has batch
            and time merged, are not supported.
        input: input current of shape ``(batch, time, *neurons)``.
        ax: axes to draw into; by default a new ``(10, 3)``-inch figure is created with
            ``matplotlib.pyplot`` (constrained layout).
        title: axes title; defaults to ``"<LayerClass> neuron dynamics"``.

    Returns:
        The figure that holds the axes (``ax.figure`` when ``ax`` is given).

    Raises:
        ImportError: matplotlib is not installed (``pip install 'sinabs[plot]'``).
        ValueError: ``input`` has fewer than two dimensions (batch and time).

    Example:
        >>> import torch
        >>> import sinabs.layers as sl
        >>> from sinabs.plotting import plot_dynamics
        >>> current = torch.full((1, 100, 1), 0.03)
        >>> fig = plot_dynamics(sl.LIF(tau_mem=40.0, norm_input=False), current)
        >>> fig.savefig("lif.png")  # doctest: +SKIP
    """
    plt = _import_pyplot()
    if input.ndim < 2:
        raise ValueError(
            f"input must have shape (batch, time, *neurons), got shape {tuple(input.shape)}"
        )
    num_timesteps = input.shape[1]

    was_recording = layer.record_states
    layer.record_states = True
    try:
        output = layer(input)
    finally:
        layer.record_states = was_recording
    recordings = dict(layer.recordings)

    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 3), layout="constrained")
    else:
        fig = ax.figure

    steps = range(num_timesteps)
    for name, recording in recordings.items():
        ax.plot(steps, _first_trace(recording, num_timesteps), drawstyle="steps", label=name)
    ax.plot(
        steps,
        _first_trace(output, num_timesteps),
        drawstyle="steps",
        color="black",
        label="output",
    )
    if "spike_threshold" not in recordings:
        threshold = getattr(layer, "spike_threshold", None)
        if threshold is not None:
            threshold = torch.as_tensor(threshold).detach().cpu()
            # A per-neuron threshold: take the plotted neuron's value.
            value = threshold.broadcast_to(input.shape[2:]).reshape(-1)[0]
            ax.plot(steps, [float(value)] * num_timesteps, label="spike_threshold")

    ax.set_title(title if title is not None else f"{type(layer).__name__} neuron dynamics")
    ax.set_xlabel("time step")
    ax.legend()
    return fig
