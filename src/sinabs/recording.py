"""Recorded neuron states that stay in the autograd graph and plot without ``.detach()``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class Recording(torch.Tensor):
    """A state recording ``(B, T, ...)``: a tensor that is still part of the autograd graph.

    It behaves like any tensor (``layer.recordings["v_mem"].sum().backward()`` reaches
    the time constants), and in addition converts to NumPy, and so to matplotlib,
    without an explicit ``.detach().cpu()``: ``plt.plot(recording.flatten())`` works.
    Results of operations on a recording are recordings too.
    """

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.detach().cpu().as_subclass(torch.Tensor).numpy()
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        # A fresh array when asked for a copy: writing to it must not change the recording.
        return array.copy() if copy and np.shares_memory(array, self.numpy()) else array

    def numpy(self, *, force: bool = False) -> np.ndarray:  # type: ignore[override]
        """The detached data as a NumPy array (moved to the CPU; shares memory on the CPU)."""
        return self.detach().cpu().as_subclass(torch.Tensor).numpy()

    def __reduce_ex__(self, proto: Any) -> Any:
        # Pickle as a plain detached tensor wrapped back into a Recording.
        return (_rebuild, (self.detach().as_subclass(torch.Tensor),))


def _rebuild(tensor: torch.Tensor) -> Recording:
    return tensor.as_subclass(Recording)


def as_recording(tensor: torch.Tensor) -> Recording:
    """Wraps ``tensor`` as a :class:`Recording` without copying or leaving the graph."""
    return tensor.as_subclass(Recording)
