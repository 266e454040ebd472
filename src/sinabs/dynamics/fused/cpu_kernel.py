"""Loader of the compiled CPU kernel (placeholder until the C kernel lands)."""

from __future__ import annotations


def available() -> bool:
    return False


def unavailable_reason() -> str:
    return "not built"
