"""Fixtures of the layer tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def spy_backend_choice(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Call it to record, from then on, the name of every backend that
    ``sinabs.dynamics.choose`` (the one dispatch point) picks; returns that list."""

    def start() -> list[str]:
        import sinabs.dynamics as dynamics

        chosen: list[str] = []
        choose = dynamics.choose

        def spy(*args: Any, **kwargs: Any) -> Any:
            backend = choose(*args, **kwargs)
            chosen.append(backend.name)
            return backend

        monkeypatch.setattr(dynamics, "choose", spy)
        return chosen

    return start
