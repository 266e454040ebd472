"""The compiled CPU kernel of the fused scan (``csrc/scan.c``), loaded with ctypes.

The C library depends on libc, libm and pthreads only, never on torch's C++ ABI, so it
keeps working across torch versions. The package build compiles it as the (never
imported) extension module ``sinabs.dynamics.fused._scan``; when that failed or was
skipped, :func:`available` is False and :func:`unavailable_reason` says why (the CPU
backend then reports itself unsupported with that reason, and ``backend="auto"`` runs
the next backend, see :mod:`sinabs.dynamics.registry`).

:func:`scan_forward` and :func:`scan_backward` take the neutral form of :mod:`.config`:
the forward is bit-identical to the tests' plain PyTorch oracle
(``tests/dynamics/fused/torch_impl.py``), the gradients agree to rounding
(the parameter gradients are summed in float64 over chunks of 16 steps and over the
batch, in a fixed order: results do not depend on the thread count). The backward
recomputes the forward; for long sequences it does so in segments, from checkpoints,
so that its scratch stays within a few MiB per thread (same bits;
:func:`scan_backward_report` says what a call used). The hot loops are
compiled for AVX-512, AVX2 and baseline x86-64; :func:`isa` names the one this CPU
runs. The thread count is ``torch.get_num_threads()``; small calls run on one thread.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from dataclasses import dataclass
from typing import Any

import torch

from ...allocator import tune_for_kernels
from ..families import CONFIG_FIELDS, N_KERNEL_CONSTS, PARAM_ROWS, STATES
from .config import KernelConfig, kernel_constants

Tensors = tuple[torch.Tensor, ...]

#: instruction sets in the order of the C library's levels
ISAS = ("baseline", "avx2", "avx512")
_ERRORS = {1: "invalid arguments", 2: "out of memory", 3: "instruction set not supported"}
_DTYPES = {torch.float32: 0, torch.float64: 1}
#: neurons of one slot, the unit of the kernel's vectorised loops (``BLOCK_F32`` and
#: ``BLOCK_F64`` in ``csrc/scan_common.h``, 256 bytes of a row): a row of fewer neurons
#: runs padded to a slot, on the kernel's slower partial-slot code
SLOT_LANES = {torch.float32: 64, torch.float64: 32}

_p = ctypes.c_void_p
_i64 = ctypes.c_int64
# dtype, isa, threads, B, T, N, config, consts, then the tensors (scan.c)
_HEAD: list[Any] = [ctypes.c_int, ctypes.c_int, ctypes.c_int, _i64, _i64, _i64, _p, _p]
_S = len(STATES)
# x, the initial states, params; out, the final states, the recordings; out_sum
_FORWARD_ARGS = _HEAD + [_p] * (1 + _S + 1 + 1 + _S + _S + 1)
# g_out, the states' and recordings' gradients; x, the initial states, params; the
# gradients of x, of the initial states and of params
_BACKWARD_ARGS = _HEAD + [_p] * (1 + _S + _S + 1 + _S + 1 + 1 + _S + 1)
# sinabs_scan_backward_ex: then the segments' steps and the report (4 int64)
_BACKWARD_EX_ARGS = [*_BACKWARD_ARGS, _i64, _p]
_REPORT_LEN = 4


@functools.cache
def _library() -> ctypes.CDLL | str:
    """The loaded library, or the reason it is unavailable."""
    name = f"{__package__}._scan"
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as err:  # pragma: no cover - broken installation
        return f"cannot locate {name}: {err}"
    if spec is None or spec.origin is None:
        return f"the extension {name} was not built (no C compiler at install time?)"
    try:
        lib = ctypes.CDLL(spec.origin)
        forward, backward = lib.sinabs_scan_forward, lib.sinabs_scan_backward
        backward_ex = lib.sinabs_scan_backward_ex
        best = lib.sinabs_scan_isa
        exp = lib.sinabs_scan_exp_f32
    except (OSError, AttributeError) as err:
        return f"cannot load {spec.origin}: {err}"
    forward.argtypes, forward.restype = _FORWARD_ARGS, ctypes.c_int
    backward.argtypes, backward.restype = _BACKWARD_ARGS, ctypes.c_int
    backward_ex.argtypes, backward_ex.restype = _BACKWARD_EX_ARGS, ctypes.c_int
    best.argtypes, best.restype = [], ctypes.c_int
    lib.sinabs_scan_threading.argtypes = [ctypes.c_int]
    lib.sinabs_scan_threading.restype = ctypes.c_int
    exp.argtypes, exp.restype = [ctypes.c_int, _i64, _p, _p], ctypes.c_int
    tune_for_kernels()  # once per process, opt-out: see sinabs.allocator
    return lib


def available() -> bool:
    """Whether the compiled kernel is loaded."""
    return not isinstance(_library(), str)


def unavailable_reason() -> str:
    """Why :func:`available` is False (empty when it is True)."""
    lib = _library()
    return lib if isinstance(lib, str) else ""


def _lib() -> ctypes.CDLL:
    lib = _library()
    if isinstance(lib, str):
        raise RuntimeError(f"sinabs: the compiled CPU kernel is not available: {lib}")
    return lib


def isa() -> str:
    """The instruction set the kernel runs on this CPU ("avx512", "avx2" or "baseline")."""
    return ISAS[_lib().sinabs_scan_isa()]


#: thread pools of the C library, by its codes
POOLS = ("openmp", "threads")


def thread_pool(use: str | None = None) -> str:
    """The thread pool the kernel runs its work items on; ``use`` changes it.

    ``"openmp"`` is the OpenMP runtime torch has loaded (its threads are already
    running, so a call starts nothing); ``"threads"`` starts threads per call. The
    default is ``"openmp"`` when such a runtime is loaded, and always ``"threads"`` in
    a process forked after the kernel was used. Results do not depend on the pool.
    """
    if use is not None and use not in POOLS:
        raise ValueError(f"use must be one of {POOLS} or None, got {use!r}")
    code = _lib().sinabs_scan_threading(-1 if use is None else POOLS.index(use))
    return POOLS[code]


@functools.lru_cache(maxsize=256)
def _consts(cfg: KernelConfig) -> ctypes.Array[ctypes.c_double]:
    """MaxSpike cap and the surrogate's constants (:func:`.config.kernel_constants`)."""
    return (ctypes.c_double * (1 + N_KERNEL_CONSTS))(*kernel_constants(cfg))


@functools.lru_cache(maxsize=256)
def _ints(cfg: KernelConfig) -> ctypes.Array[ctypes.c_int32]:
    """The configuration's ints (``CFG_*`` in the C header)."""
    return (ctypes.c_int32 * len(CONFIG_FIELDS))(*cfg.ints())


def _ptr(t: torch.Tensor) -> int | None:
    return t.data_ptr() if t.numel() else None


def _check(name: str, t: torch.Tensor, shape: tuple[int, ...] | None, dtype: torch.dtype) -> None:
    """``t`` must be a contiguous CPU tensor of ``dtype``; of ``shape``, or empty if None."""
    if not t.is_cpu:
        raise ValueError(f"{name} is on {t.device}; the CPU kernel needs CPU tensors")
    if shape is None:
        if t.numel():
            raise ValueError(f"{name} must be empty for this configuration, got {tuple(t.shape)}")
        return
    if t.shape != shape:
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {shape}")
    if t.dtype != dtype:
        raise ValueError(f"{name} has dtype {t.dtype}, expected {dtype}")
    if not t.is_contiguous():
        raise ValueError(f"{name} is not contiguous")


def _optional(name: str, t: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """A gradient input: empty (absent, counts as zero) or of ``shape``."""
    if t.numel():
        _check(name, t, shape, dtype)


def _check_inputs(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
) -> tuple[int, int, int]:
    if x.dtype not in _DTYPES:
        raise ValueError(f"dtype {x.dtype}: the CPU kernel runs float32 and float64")
    if x.dim() != 3:
        raise ValueError(f"x must be (B, T, N), got shape {tuple(x.shape)}")
    batch, steps, n = x.shape
    state = (batch, n)
    _check("x", x, (batch, steps, n), x.dtype)
    _check("v0", v0, state, x.dtype)
    _check("i0", i0, state if cfg.has_syn else None, x.dtype)
    _check("b0", b0, state if cfg.adaptive else None, x.dtype)
    _check("u0", u0, state if cfg.has_state("u") else None, x.dtype)
    _check("params", params, (len(PARAM_ROWS), n), x.dtype)
    return batch, steps, n


def _raise(code: int, what: str) -> None:
    if code:
        message = f"sinabs CPU kernel ({what}): {_ERRORS.get(code, f'error {code}')}"
        raise MemoryError(message) if code == 2 else RuntimeError(message)


def _isa_level(isa_name: str | None) -> int:
    return -1 if isa_name is None else ISAS.index(isa_name)


def surrogate_exp(x: torch.Tensor, *, isa_name: str | None = None) -> torch.Tensor:
    """The float32 exp that the kernel's surrogate gradients use, on instruction set
    ``isa_name`` (or the best one), of a float32 CPU tensor: for tests."""
    if x.dtype != torch.float32 or x.device.type != "cpu":
        raise TypeError(f"x must be a float32 CPU tensor; got {x.dtype} on {x.device}")
    src = x.contiguous()
    out = torch.empty_like(src)
    code = _lib().sinabs_scan_exp_f32(_isa_level(isa_name), src.numel(), _ptr(src), _ptr(out))
    _raise(code, "exp")
    return out


def scan_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
    *,
    isa_name: str | None = None,
) -> Tensors:
    """Forward in neutral form; returns ``(out, v, i, b, u, rec_v, rec_i, rec_b, rec_u,
    out_sum)``.

    ``out_sum`` (0-dim) is the sum of ``out``: 16 running sums per block of neurons over
    chunks of 16 steps, then float64 in a fixed order. ``isa_name`` forces a lower
    instruction set than the best one (for tests).
    """
    batch, steps, n = _check_inputs(x, v0, i0, b0, u0, params, cfg)

    def state(present: bool) -> torch.Tensor:
        return x.new_empty((batch, n) if present else (0,))

    def seq(present: bool) -> torch.Tensor:
        return x.new_empty(x.shape if present and cfg.record else (0,))

    syn, adaptive, has_u = cfg.has_syn, cfg.adaptive, cfg.has_state("u")
    out, v, i, b = torch.empty_like(x), state(True), state(syn), state(adaptive)
    rec_v, rec_i, rec_b = seq(True), seq(syn), seq(adaptive)
    u, rec_u = state(has_u), seq(has_u)
    out_sum = x.new_empty(())
    ints, consts = _ints(cfg), _consts(cfg)  # held for the call (the cache may evict them)
    code = _lib().sinabs_scan_forward(
        _DTYPES[x.dtype], _isa_level(isa_name), torch.get_num_threads(), batch, steps, n,
        ctypes.addressof(ints), ctypes.addressof(consts),
        _ptr(x), _ptr(v0), _ptr(i0), _ptr(b0), _ptr(u0), _ptr(params),
        _ptr(out), _ptr(v), _ptr(i), _ptr(b), _ptr(u),
        _ptr(rec_v), _ptr(rec_i), _ptr(rec_b), _ptr(rec_u),
        out_sum.data_ptr(),
    )  # fmt: skip
    _raise(code, "forward")
    return out, v, i, b, u, rec_v, rec_i, rec_b, rec_u, out_sum


@dataclass(frozen=True)
class BackwardReport:
    """What one backward call of the kernel used (:func:`scan_backward_report`)."""

    #: scratch memory per thread, in bytes (besides the inputs and outputs)
    scratch_bytes: int
    #: time steps per segment of the recomputation (T when there is one segment)
    segment_steps: int
    #: segments (1 unless the sequence is long)
    segments: int
    #: threads the work items ran on
    threads: int


def scan_backward(
    g_out: torch.Tensor,
    g_v: torch.Tensor,
    g_i: torch.Tensor,
    g_b: torch.Tensor,
    g_u: torch.Tensor,
    g_rec_v: torch.Tensor,
    g_rec_i: torch.Tensor,
    g_rec_b: torch.Tensor,
    g_rec_u: torch.Tensor,
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
    *,
    isa_name: str | None = None,
) -> Tensors:
    """Gradients ``(g_x, g_v0, g_i0, g_b0, g_u0, g_params (P, N))``; empty ``g_*`` count
    as zero."""
    grads, _ = scan_backward_report(
        g_out, g_v, g_i, g_b, g_u, g_rec_v, g_rec_i, g_rec_b, g_rec_u, x, v0, i0, b0, u0,
        params, cfg,
        isa_name=isa_name,
    )  # fmt: skip
    return grads


def scan_backward_report(
    g_out: torch.Tensor,
    g_v: torch.Tensor,
    g_i: torch.Tensor,
    g_b: torch.Tensor,
    g_u: torch.Tensor,
    g_rec_v: torch.Tensor,
    g_rec_i: torch.Tensor,
    g_rec_b: torch.Tensor,
    g_rec_u: torch.Tensor,
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
    *,
    isa_name: str | None = None,
    segment_steps: int = 0,
) -> tuple[Tensors, BackwardReport]:
    """:func:`scan_backward`, and what the call used (scratch, segments, threads).

    ``segment_steps`` > 0 makes the recomputation run in segments of that many steps
    (0: the kernel's choice, one segment unless the sequence is long); results are the
    same bits either way. For tests and benchmarks.

    Example:
        ``grads, report = scan_backward_report(*upstream, *args, segment_steps=64)``
        recomputes the forward in ``report.segments == ceil(T / 64)`` segments.
    """
    if isinstance(segment_steps, bool) or not isinstance(segment_steps, int) or segment_steps < 0:
        raise ValueError(f"segment_steps must be an int >= 0, got {segment_steps!r}")
    batch, steps, n = _check_inputs(x, v0, i0, b0, u0, params, cfg)
    dtype, state, seq = x.dtype, (batch, n), (batch, steps, n)
    syn, adaptive, has_u = cfg.has_syn, cfg.adaptive, cfg.has_state("u")
    _optional("g_out", g_out, seq, dtype)
    _optional("g_v", g_v, state, dtype)
    _optional("g_i", g_i, state, dtype)
    _optional("g_b", g_b, state, dtype)
    _optional("g_u", g_u, state, dtype)
    rec = cfg.record
    recs = (("g_rec_v", g_rec_v), ("g_rec_i", g_rec_i), ("g_rec_b", g_rec_b), ("g_rec_u", g_rec_u))
    for name, g in recs:
        _optional(name, g, seq, dtype)
    g_x = torch.empty_like(x)
    g_v0 = x.new_empty(state)
    g_i0 = x.new_empty(state if syn else (0,))
    g_b0 = x.new_empty(state if adaptive else (0,))
    g_u0 = x.new_empty(state if has_u else (0,))
    g_params = x.new_empty((len(PARAM_ROWS), n))
    ints, consts = _ints(cfg), _consts(cfg)  # held for the call (the cache may evict them)
    report = (ctypes.c_int64 * _REPORT_LEN)()
    code = _lib().sinabs_scan_backward_ex(
        _DTYPES[dtype], _isa_level(isa_name), torch.get_num_threads(), batch, steps, n,
        ctypes.addressof(ints), ctypes.addressof(consts),
        _ptr(g_out), _ptr(g_v), _ptr(g_i) if syn else None, _ptr(g_b) if adaptive else None,
        _ptr(g_u) if has_u else None,
        _ptr(g_rec_v) if rec else None, _ptr(g_rec_i) if rec and syn else None,
        _ptr(g_rec_b) if rec and adaptive else None, _ptr(g_rec_u) if rec and has_u else None,
        _ptr(x), _ptr(v0), _ptr(i0), _ptr(b0), _ptr(u0), _ptr(params),
        _ptr(g_x), _ptr(g_v0), _ptr(g_i0), _ptr(g_b0), _ptr(g_u0), _ptr(g_params),
        segment_steps, ctypes.addressof(report),
    )  # fmt: skip
    _raise(code, "backward")
    return (g_x, g_v0, g_i0, g_b0, g_u0, g_params), BackwardReport(*report)


class Stepper:
    """One-step calls of the kernel on tensors the caller provides, for a loop that calls
    the kernel once per time step (the recurrent layers' loop,
    :mod:`.recurrent`): the checks, the configuration and the fixed arguments are set up
    once here, so that a step costs one ctypes call and no allocation.

    Every tensor passed to :meth:`forward` and :meth:`backward` must be a contiguous CPU
    ``(B, N)`` tensor of the table's dtype (the caller allocates them once, or has them
    checked with :meth:`check_state`), or, for a state the configuration does not
    carry, anything (it is not read). ``table`` is the ``(P, N)`` parameter table and
    stays alive and unchanged while the stepper is used. Results are the bits of
    :func:`scan_forward` and :func:`scan_backward` on ``(B, 1, N)`` inputs.
    """

    def __init__(self, table: torch.Tensor, cfg: KernelConfig, batch: int, n: int) -> None:
        if table.dtype not in _DTYPES:
            raise ValueError(f"dtype {table.dtype}: the CPU kernel runs float32 and float64")
        _check("params", table, (len(PARAM_ROWS), n), table.dtype)
        if cfg.record:
            raise ValueError("a Stepper records nothing: give it cfg.with_record(False)")
        self.dtype, self.shape = table.dtype, (batch, n)
        self._table = table
        self._ints, self._consts = _ints(cfg), _consts(cfg)  # held while the stepper lives
        self._head = (
            _DTYPES[table.dtype], -1, torch.get_num_threads(), batch, 1, n,
            ctypes.addressof(self._ints), ctypes.addressof(self._consts),
        )  # fmt: skip
        self._present = tuple(cfg.has_state(s.name) for s in STATES)
        self._carried = [k for k, here in enumerate(self._present) if here]
        lib = _lib()
        self._forward, self._backward = lib.sinabs_scan_forward, lib.sinabs_scan_backward

    def check_state(self, name: str, t: torch.Tensor, present: bool) -> None:
        """A state the caller did not allocate (the initial states): a contiguous CPU
        ``(B, N)`` tensor of the dtype where the configuration carries it."""
        if present:
            _check(name, t, self.shape, self.dtype)

    def _ptrs(self, tensors: Tensors | list[torch.Tensor]) -> list[int | None]:
        ptrs: list[int | None] = [None] * _S
        for k in self._carried:
            ptrs[k] = tensors[k].data_ptr()
        return ptrs

    def forward(
        self,
        x: torch.Tensor,
        states: Tensors | list[torch.Tensor],
        out: torch.Tensor,
        new_states: Tensors | list[torch.Tensor],
    ) -> None:
        """One step: ``out`` and ``new_states`` from ``x`` and ``states`` (one per kernel
        state, in :data:`~sinabs.dynamics.families.STATES` order)."""
        code = self._forward(
            *self._head, x.data_ptr(), *self._ptrs(states), self._table.data_ptr(),
            out.data_ptr(), *self._ptrs(new_states), None, None, None, None, None,
        )  # fmt: skip
        _raise(code, "forward")

    def backward(
        self,
        g_out: torch.Tensor,
        g_states: list[torch.Tensor | None],
        x: torch.Tensor,
        states: Tensors | list[torch.Tensor],
        g_x: torch.Tensor,
        g_states0: list[torch.Tensor],
        g_params: torch.Tensor,
    ) -> None:
        """The gradients of one step: ``g_x``, ``g_states0`` (of ``states``) and
        ``g_params`` ``(P, N)`` from ``g_out`` and the gradients of the step's new states
        (None: zero)."""
        g_in: list[int | None] = [None] * _S
        for k in self._carried:
            g = g_states[k]
            g_in[k] = g.data_ptr() if g is not None else None
        code = self._backward(
            *self._head, g_out.data_ptr(), *g_in, None, None, None, None,
            x.data_ptr(), *self._ptrs(states), self._table.data_ptr(),
            g_x.data_ptr(), *self._ptrs(g_states0), g_params.data_ptr(),
        )  # fmt: skip
        _raise(code, "backward")
