"""Tuning of the process's memory allocator for CPU training with the fused kernels.

PyTorch takes the memory of large CPU tensors from the C library's ``malloc``. glibc
serves every block above its mmap threshold (dynamic, at most 32 MiB) with fresh pages
from the operating system and returns them on ``free``. A layer's output and its
input gradient are such blocks at the usual sizes (one ``(32, 100, 4096)`` float32
tensor is 52 MB), so every training step page-faults them in again (25,600 faults at
that size), and the operating system zeroes each page before the neuron kernel writes
it: that costs more than the fused kernel's own work (``benchmarks/bench_cpu_env.py``
on 2 cores: a LIF layer's forward+backward about 3 times slower untuned).

So the first use of the compiled CPU kernel (``sinabs.dynamics.fused.cpu_kernel``)
tunes glibc once, with ``mallopt``:

* ``M_MMAP_THRESHOLD`` = 1 GiB: blocks up to 1 GiB come from the heap, and a freed
  block is reused by the next allocation of its size instead of being unmapped;
* ``M_TRIM_THRESHOLD`` = 1 GiB: the heap keeps up to 1 GiB of free memory at its top
  instead of returning it to the OS after every step.

The process then keeps the memory of its largest step resident (as PyTorch's CUDA
caching allocator does on the GPU). Setting ``M_MMAP_THRESHOLD`` switches off glibc's
own dynamic threshold for the rest of the process. Nothing changes results: only
where the bytes live (tested bitwise).

Nothing is tuned when

* the C library is not glibc (musl, macOS, Windows), or
* the environment variable ``SINABS_NO_ALLOCATOR_TUNING`` is set to anything but
  ``""`` or ``"0"`` when the kernel is first used, or
* :func:`set_allocator_tuning` was called with ``False`` before that, or
* a threshold was set already through ``GLIBC_TUNABLES``
  (``glibc.malloc.mmap_threshold``, ``glibc.malloc.trim_threshold``): that one is left
  as it is (the other is still tuned).

Example:
    >>> import sinabs
    >>> sinabs.set_allocator_tuning(False)  # before the first layer call: no tuning
    >>> sinabs.allocator_tuning()["enabled"]
    False
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading
from typing import Any

__all__ = ["allocator_tuning", "set_allocator_tuning"]

#: the environment variable that switches the tuning off
OPT_OUT_VARIABLE = "SINABS_NO_ALLOCATOR_TUNING"
#: the thresholds set (bytes); mallopt takes an int, so at most 2 GiB - 1
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = 1 << 30
# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's static defaults, restored by set_allocator_tuning(False) after tuning
_GLIBC_DEFAULT = 128 * 1024

_lock = threading.Lock()
_state: dict[str, Any] = {"enabled": None, "applied": False, "settings": {}}


def _opted_out_by_environment() -> bool:
    return os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0")


def _libc() -> Any | None:
    """glibc's handle with ``mallopt``, or None on other C libraries."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has mallopt
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return libc


def _set_by_tunables() -> set[str]:
    """The thresholds the process set at start-up through ``GLIBC_TUNABLES``."""
    names = {"glibc.malloc.mmap_threshold": "mmap", "glibc.malloc.trim_threshold": "trim"}
    text = os.environ.get("GLIBC_TUNABLES", "")
    given = {part.split("=", 1)[0].strip() for part in text.replace(";", ":").split(":")}
    return {short for name, short in names.items() if name in given}


def _apply(libc: Any) -> dict[str, int]:
    """Sets the thresholds that the process did not set itself; returns them."""
    done: dict[str, int] = {}
    skip = _set_by_tunables()
    for short, param, value in (
        ("mmap", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ("trim", _M_TRIM_THRESHOLD, TRIM_THRESHOLD),
    ):
        if short not in skip and libc.mallopt(param, value) == 1:
            done[short] = value
    return done


def tune_for_kernels() -> bool:
    """Tunes the allocator unless opted out or done already; True if tuned now.

    Called by the CPU kernel's loader on its first use; safe to call again (it tunes
    once per process).
    """
    with _lock:
        if _state["applied"] or _state["enabled"] is False:
            return False
        if _state["enabled"] is None and _opted_out_by_environment():
            _state["enabled"] = False
            return False
        libc = _libc()
        if libc is None:
            return False
        _state["settings"] = _apply(libc)
        _state["applied"] = True
        _state["enabled"] = True
        return True


def set_allocator_tuning(enabled: bool) -> None:
    """Switches sinabs's tuning of the C library's allocator on or off for this process.

    ``False`` before the first use of the CPU kernel: it is never tuned (as with
    ``SINABS_NO_ALLOCATOR_TUNING=1``). ``False`` after the tuning: glibc's static default
    thresholds (128 KiB) are set again and free heap memory is returned to the OS
    (glibc's dynamic mmap threshold does not come back). ``True``: tune now, even if
    the environment variable is set.

    Args:
        enabled: whether the allocator should be tuned.

    Raises:
        TypeError: ``enabled`` is not a bool.

    Example:
        >>> import sinabs
        >>> sinabs.set_allocator_tuning(False)
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    if enabled:
        with _lock:
            _state["enabled"] = True
        tune_for_kernels()
        return
    with _lock:
        _state["enabled"] = False
        if not _state["applied"]:
            return
        libc = _libc()
        if libc is not None:
            params = {"mmap": _M_MMAP_THRESHOLD, "trim": _M_TRIM_THRESHOLD}
            for short in _state["settings"]:
                libc.mallopt(params[short], _GLIBC_DEFAULT)
            libc.malloc_trim(ctypes.c_size_t(0))
        _state["applied"] = False
        _state["settings"] = {}


def allocator_tuning() -> dict[str, Any]:
    """Whether the allocator is tuned, and how.

    Returns:
        ``{"enabled": bool | None, "applied": bool, "settings": {name: bytes}}``:
        ``enabled`` is None until the kernel's first use or a call of
        :func:`set_allocator_tuning` decided it; ``settings`` holds the thresholds set
        (``"mmap"``, ``"trim"``).
    """
    with _lock:
        return {
            "enabled": _state["enabled"],
            "applied": _state["applied"],
            "settings": dict(_state["settings"]),
        }
