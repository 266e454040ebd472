"""What the registry and its backends exchange: a call
(:class:`~sinabs.dynamics.interface.Call`) and the backend interface
(:class:`~sinabs.dynamics.interface.Backend`: ``supports``, ``prepare``, ``run``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..activation.reset_mechanism import State
from .params import LeakyParams
from .reference import RecConnect

__all__ = ["Backend", "BackendError", "Call", "ScanResult"]

#: ``(output, new state, recordings, output.sum())``
ScanResult = tuple[torch.Tensor, State, dict[str, torch.Tensor], torch.Tensor]


class BackendError(ValueError):
    """An explicitly requested backend cannot run the given configuration."""


class Call:
    """One call of a family's dynamics, as the backends see it when they decide.

    Attributes:
        family: ``"leaky"``, ``"spiking"`` or ``"adaptive"``.
        x: the input ``(B, T, ...)``.
        params: the family's parameter bundle.
        rec_connect: the recurrent connection of a recurrent layer, or None.
        recurrent: whether the layer feeds its output back (``rec_connect`` is set; or
            given without the module, to ask which backend would run it).
        record: whether the states of every step are recorded.
    """

    __slots__ = ("_memo", "family", "params", "rec_connect", "record", "recurrent", "x")

    def __init__(
        self,
        family: str,
        x: torch.Tensor,
        params: LeakyParams,
        *,
        rec_connect: RecConnect | None = None,
        recurrent: bool | None = None,
        record: bool = False,
    ) -> None:
        self.family, self.x, self.params = family, x, params
        self.rec_connect = rec_connect
        self.recurrent = rec_connect is not None if recurrent is None else recurrent
        self.record = record
        self._memo: dict[str, object] = {}

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per call and ``key``: what backends share about a call
        (the fused backends' support check, which the chosen one's ``prepare`` reuses).
        It lives and dies with the call: nothing is cached across calls."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


class Backend:
    """An implementation of the neuron dynamics.

    A subclass implements the three methods; what ``prepare`` returns is the backend's
    own business, ``run`` takes it.
    """

    #: the name users pass as ``backend=``
    name: str = ""

    def supports(self, call: Call) -> str | None:
        """None if this backend can run ``call``, else the reason why not."""
        raise NotImplementedError

    def prepare(self, call: Call, state: State) -> Any:
        """``call`` from the initial kernel ``state`` in the form ``run`` takes.

        Raises:
            ValueError: a state does not fit the call (checked here, not in
                :meth:`supports`, which sees no state).
        """
        raise NotImplementedError

    def run(self, prepared: Any) -> ScanResult:
        """Runs a prepared call: the output ``(B, T, ...)``, the new kernel states, the
        recordings (empty unless the call records) and the sum of the output (0-dim,
        in the graph: the layers' ``firing_rate``)."""
        raise NotImplementedError
