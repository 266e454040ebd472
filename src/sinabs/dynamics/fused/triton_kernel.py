r"""Triton GPU kernels of the fused neuron scan.

The contract of the tests' plain PyTorch oracle (``tests/dynamics/fused/torch_impl.py``,
whose docstring states the math): the forward is bit-identical to it, the backward
agrees within rounding. Each program owns one batch row and ``BLOCK`` neurons and runs
the time loop inside; per-neuron parameters are loaded once per program. Every field
of :class:`~.config.KernelConfig` is a ``tl.constexpr``, so each configuration compiles
to code without dead branches; the parameter rows' offsets and the codes of the
families and options are constexprs taken from :mod:`sinabs.dynamics.families`.

**Latency.** A step depends on the one before, so a program cannot run ahead of its
loads: the time loops are ``tl.range(..., num_stages=STAGES)`` loops, which Triton's
software pipeliner turns into asynchronous copies of the next ``STAGES - 1`` steps'
inputs into shared memory (:data:`PIPELINE_STAGES`, reduced where the loads of a step
would take more than :data:`PIPELINE_SHARED_BYTES`). The forward also sums each lane's
outputs over time in float64 (the layers' ``firing_rate``), so no second pass over
``out`` is needed.

**Exactness.** Every launch passes ``enable_fp_fusion=False`` (:data:`LAUNCH_OPTIONS`:
a keyword of the launch ``kernel[grid](..., enable_fp_fusion=False)``, not of the
``@triton.jit`` decorator, in Triton 3.0 to 3.9). Triton's default contracts
``a * b + c`` into an FMA, which rounds once instead of twice and changes spikes.
Float32 division in the spike count is IEEE round-to-nearest (``tl.div_rn``), since
``/`` lowers to ``div.full.f32`` (2 ulp) on NVIDIA GPUs. The test suite compiles the
kernels for sm_90 without a GPU and checks the PTX for both, and runs them on CPU
tensors under ``TRITON_INTERPRET=1`` (numpy) against that oracle and the reference.
The surrogate gradients use Triton's fast ``exp`` and division: gradients agree with
the oracle to about 1e-7 relative in float32, not bit for bit.

**Backward.** Only the input, the initial states and the parameters are saved by the
forward. The backward kernel first recomputes the forward in the same program and
writes the states *before* each step to scratch: ``v`` goes into the ``g_x`` output
itself (the reverse loop reads ``v`` of step ``t`` just before it overwrites that slot
with the gradient of step ``t``), ``i`` and ``b`` into scratch tensors only when the
configuration has them. The reverse loop then applies the chain rule of the oracle's
``scan_backward`` in the same order. Parameter gradients are
accumulated per program (in the input dtype, over time) into a ``(B, P, N)`` buffer
that is summed over the batch afterwards: deterministic, no atomics.

Triton is an optional dependency (the ``gpu`` extra). This module imports without it;
:func:`available` says whether the kernels can run, and the entry points raise an
error naming the extra otherwise.
"""

# No `from __future__ import annotations` here: the interpreter of Triton 3.0 compares
# the `tl.constexpr` annotations as objects and would miss them as strings.

import contextlib
import functools

import torch

from ..families import ROW, Family, Reset, Spike, Surrogate
from ..models import EXP_CONSTANTS
from .config import PARAM_ROWS, KernelConfig, surrogate_derived

try:
    import triton
    import triton.language as tl
except ImportError as error:  # the `gpu` extra is not installed
    triton = None  # type: ignore[assignment]
    _IMPORT_ERROR: str | None = str(error)
else:
    _IMPORT_ERROR = None

Tensors = tuple[torch.Tensor, ...]

N_PARAMS = len(PARAM_ROWS)

if triton is not None:
    # The layout and codes of families.py as the kernels' compile-time constants (jit
    # functions read module globals only when they are constexprs).
    _N_ROWS = tl.constexpr(N_PARAMS)
    _ALPHA_MEM = tl.constexpr(ROW["alpha_mem"])
    _ALPHA_SYN = tl.constexpr(ROW["alpha_syn"])
    _THRESHOLD = tl.constexpr(ROW["threshold"])
    _MIN_V_MEM = tl.constexpr(ROW["min_v_mem"])
    _ALPHA_ADAPT = tl.constexpr(ROW["alpha_adapt"])
    _ADAPT_SCALE = tl.constexpr(ROW["adapt_scale"])
    _RESET_AMOUNT = tl.constexpr(ROW["reset_amount"])
    _LEAKY = tl.constexpr(int(Family.LEAKY))
    _ADAPTIVE = tl.constexpr(int(Family.ADAPTIVE))
    _SINGLE = tl.constexpr(int(Spike.SINGLE))
    _MAX = tl.constexpr(int(Spike.MAX))
    _SUBTRACT = tl.constexpr(int(Reset.SUBTRACT))
    _TO_VALUE = tl.constexpr(int(Reset.TO_VALUE))
    _HEAVISIDE = tl.constexpr(int(Surrogate.HEAVISIDE))
    _SINGLE_EXPONENTIAL = tl.constexpr(int(Surrogate.SINGLE_EXPONENTIAL))
    _PERIODIC_EXPONENTIAL = tl.constexpr(int(Surrogate.PERIODIC_EXPONENTIAL))
    _GAUSSIAN = tl.constexpr(int(Surrogate.GAUSSIAN))
    _MULTI_GAUSSIAN = tl.constexpr(int(Surrogate.MULTI_GAUSSIAN))
    _ATAN = tl.constexpr(int(Surrogate.ATAN))
    _FAST_SIGMOID = tl.constexpr(int(Surrogate.FAST_SIGMOID))
    _SIGMOID = tl.constexpr(int(Surrogate.SIGMOID))
    _TRIANGLE = tl.constexpr(int(Surrogate.TRIANGLE))
    # --- Izhikevich
    _IZH_A = tl.constexpr(ROW["izh_a"])
    _IZH_B = tl.constexpr(ROW["izh_b"])
    _IZH_C = tl.constexpr(ROW["izh_c"])
    _IZH_D = tl.constexpr(ROW["izh_d"])
    _DT = tl.constexpr(ROW["dt"])
    # --- AdEx
    _ADEX_C = tl.constexpr(ROW["adex_C"])
    _ADEX_G_L = tl.constexpr(ROW["adex_g_L"])
    _ADEX_E_L = tl.constexpr(ROW["adex_E_L"])
    _ADEX_V_T = tl.constexpr(ROW["adex_V_T"])
    _ADEX_DELTA_T = tl.constexpr(ROW["adex_Delta_T"])
    _ADEX_TAU_W = tl.constexpr(ROW["adex_tau_w"])
    _ADEX_A = tl.constexpr(ROW["adex_a"])
    _ADEX_B = tl.constexpr(ROW["adex_b"])
    _ADEX_V_R = tl.constexpr(ROW["adex_V_r"])
    # --- resonate-and-fire
    _RF_OMEGA = tl.constexpr(ROW["rf_omega"])
    _RF_DAMPING = tl.constexpr(ROW["rf_damping"])
    _RF_X_RESET = tl.constexpr(ROW["rf_x_reset"])
    _RF_Y_RESET = tl.constexpr(ROW["rf_y_reset"])
    _RF_GAMMA = tl.constexpr(ROW["rf_gamma"])
#: largest neuron block of one program
MAX_BLOCK = 1024
#: smallest neuron block (one warp)
MIN_BLOCK = 32


def available() -> bool:
    """Whether Triton is installed (the kernels still need a CUDA device or the interpreter)."""
    return triton is not None


def unavailable_reason() -> str | None:
    """Why the Triton kernels cannot run, or None."""
    if triton is None:
        return f"triton is not installed ({_IMPORT_ERROR}); pip install 'sinabs[gpu]'"
    return None


def _require_triton() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"sinabs: the Triton kernels cannot run: {reason}")


if triton is not None:

    @triton.jit
    def _div(a, b, IS_F32: tl.constexpr):
        # IEEE division: `/` on float32 may lower to an approximate instruction.
        if IS_F32:
            q = tl.div_rn(a, b)
        else:
            q = a / b
        return q

    @triton.jit
    def _step(
        x, v, i, b, a_mem, a_syn, theta, m, a_ad, beta, amount,
        FAMILY: tl.constexpr, HAS_SYN: tl.constexpr, HAS_LEAK: tl.constexpr,
        NORM_INPUT: tl.constexpr, HAS_MIN: tl.constexpr, SPIKE: tl.constexpr,
        RESET: tl.constexpr, BY_AMOUNT: tl.constexpr, CAP: tl.constexpr, IS_F32: tl.constexpr,
    ):  # fmt: skip
        """One step; the float operations in the order of the oracle's _Step."""
        if HAS_SYN:
            cur = a_syn * (i + x)
        else:
            cur = x
        if HAS_LEAK:
            if NORM_INPUT:
                drive = (1 - a_mem) * cur
            else:
                drive = cur
            v1 = a_mem * v + drive
        else:
            v1 = v + cur
        v2 = v1
        th = theta
        s = v1  # placeholder, unused without spikes
        b_new = b
        if FAMILY != _LEAKY:
            if FAMILY == _ADAPTIVE:
                th = theta + beta * b
            if SPIKE == _SINGLE:
                s = ((v1 - th) >= 0).to(v1.dtype)
            else:
                q = _div(v1, th, IS_F32)
                count = tl.where(q < 0, tl.ceil(q), tl.floor(q))  # trunc
                s = tl.where(v1 > 0, count, 0.0)
                if SPIKE == _MAX:
                    s = tl.minimum(s, CAP)
            s = s + (v1 - v1)  # NaN where v1 is not finite, +0 elsewhere
            if RESET == _SUBTRACT:
                if BY_AMOUNT:
                    v2 = v1 - s * amount
                else:
                    v2 = v1 - s * th
            elif RESET == _TO_VALUE:
                v2 = tl.where(s == 0, v1, amount)
            if FAMILY == _ADAPTIVE:
                b_new = a_ad * b + (1 - a_ad) * s
        if HAS_MIN:
            v_new = tl.maximum(v2 - m, 0.0, propagate_nan=tl.PropagateNan.ALL) + m
        else:
            v_new = v2
        if HAS_SYN:
            i_new = cur
        else:
            i_new = i
        return cur, v1, th, s, v2, v_new, i_new, b_new

    @triton.jit
    def _gaussian(x, MU: tl.constexpr, TWO_VAR: tl.constexpr, NORM: tl.constexpr):
        d = x - MU
        return tl.exp(-(d * d) / TWO_VAR) / NORM

    @triton.jit
    def _surrogate(
        v, th, KIND: tl.constexpr, C0: tl.constexpr, C1: tl.constexpr, C2: tl.constexpr,
        C3: tl.constexpr, C4: tl.constexpr, K0: tl.constexpr, K1: tl.constexpr,
        K2: tl.constexpr, K3: tl.constexpr,
    ):  # fmt: skip
        """d spikes / d v; C* are the fconfig fields, K* constants derived on the host
        (``config.surrogate_derived``); each in the order of operations of its class's
        ``__call__`` (``scalar / tensor`` is torch's reciprocal times the scalar)."""
        if KIND == _HEAVISIDE:  # Heaviside(window=C0)
            g = (v >= (th - C0)).to(v.dtype) / th
        elif KIND == _SINGLE_EXPONENTIAL:  # SingleExponential(grad_width=C0, grad_scale=C1)
            width = th * C0
            g = (C1 / width) * tl.exp(-tl.abs(v - th) / width)
        elif KIND == _PERIODIC_EXPONENTIAL:  # PeriodicExponential(grad_width=C0, grad_scale=C1)
            n = v / th - 0.5
            frac = n - tl.floor(n)
            periodic = th * (2 * frac - 1)
            below = (v - th) * (v < th).to(v.dtype)
            above = periodic * (v >= th).to(v.dtype)
            g = C1 * tl.exp(-tl.abs(above + below) / C0)
        elif KIND == _GAUSSIAN:  # Gaussian(mu=C0, sigma=C1, grad_scale=C2); K0 = 2σ², K1 = norm
            g = _gaussian(v - th, C0, K0, K1) * C2
        elif KIND == _MULTI_GAUSSIAN:  # MultiGaussian(mu=C0, sigma=C1, h=C2, s=C3, grad_scale=C4)
            # K0 = 2σ², K1 = its norm, K2 = 2(sσ)², K3 = the side lobes' norm
            x = v - th
            g = (
                (1 + C2) * _gaussian(x, C0, K0, K1)
                - C2 * _gaussian(x, C1, K2, K3)
                - C2 * _gaussian(x, -C1, K2, K3)
            ) * C4
        elif KIND == _ATAN:  # ATan(alpha=C0); K0 = alpha / 2, K1 = pi * alpha / 2
            y = K1 * (v - th)
            g = (1.0 / (1.0 + y * y)) * K0
        elif KIND == _FAST_SIGMOID:  # FastSigmoid(slope=C0)
            z = 1.0 + C0 * tl.abs(v - th)
            g = 1.0 / (z * z)
        elif KIND == _SIGMOID:  # Sigmoid(slope=C0): slope σ(kx) σ(-kx), σ(a) = 1 / (1 + e^-a)
            kx = C0 * (v - th)
            g = C0 * (1.0 / (1.0 + tl.exp(-kx))) * (1.0 / (1.0 + tl.exp(kx)))
        elif KIND == _TRIANGLE:  # Triangle(width=C0)
            r = 1.0 - tl.abs(v - th) / C0
            g = tl.maximum(r, 0.0, propagate_nan=tl.PropagateNan.ALL) / C0
        else:  # StraightThrough
            g = tl.zeros_like(v) + 1.0
        return g

    @triton.jit
    def _forward_kernel(
        x_ptr, v0_ptr, i0_ptr, b0_ptr, p_ptr,
        out_ptr, v_ptr, i_ptr, b_ptr, rec_v_ptr, rec_i_ptr, rec_b_ptr, sum_ptr,
        T, N, N_BLOCKS,
        FAMILY: tl.constexpr, HAS_SYN: tl.constexpr, HAS_LEAK: tl.constexpr,
        NORM_INPUT: tl.constexpr, HAS_MIN: tl.constexpr, SPIKE: tl.constexpr,
        RESET: tl.constexpr, BY_AMOUNT: tl.constexpr, CAP: tl.constexpr,
        RECORD: tl.constexpr, IS_F32: tl.constexpr, BLOCK: tl.constexpr,
        STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)  # 64-bit offsets: B * T * N may exceed 2**31
        state = row64 * N + offs  # (B, N) index
        a_mem = tl.load(p_ptr + _ALPHA_MEM * N + offs, mask=mask, other=1.0)
        a_syn = tl.load(p_ptr + _ALPHA_SYN * N + offs, mask=mask, other=0.0)
        theta = tl.load(p_ptr + _THRESHOLD * N + offs, mask=mask, other=1.0)
        m = tl.load(p_ptr + _MIN_V_MEM * N + offs, mask=mask, other=0.0)
        a_ad = tl.load(p_ptr + _ALPHA_ADAPT * N + offs, mask=mask, other=0.0)
        beta = tl.load(p_ptr + _ADAPT_SCALE * N + offs, mask=mask, other=0.0)
        amount = tl.load(p_ptr + _RESET_AMOUNT * N + offs, mask=mask, other=0.0)
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        i = v
        b = v
        if HAS_SYN:
            i = tl.load(i0_ptr + state, mask=mask, other=0.0)
        if FAMILY == _ADAPTIVE:
            b = tl.load(b0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N  # the step stride in 64 bits (T * N may exceed 2**31)
        base = row64 * T * N  # (B, T, N) index of (row, 0, 0)
        # num_stages: Triton's pipeliner issues the loads of the next STAGES - 1 steps
        # ahead (asynchronous copies): the time loop is bound by memory latency otherwise
        total = tl.zeros([BLOCK], dtype=tl.float64)  # this lane's sum of out, over time
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            _, _, _, s, _, v, i, b = _step(
                x, v, i, b, a_mem, a_syn, theta, m, a_ad, beta, amount,
                FAMILY, HAS_SYN, HAS_LEAK, NORM_INPUT, HAS_MIN, SPIKE, RESET, BY_AMOUNT,
                CAP, IS_F32,
            )  # fmt: skip
            if FAMILY == _LEAKY:
                y = v
            else:
                y = s
            tl.store(out_ptr + at, y, mask=mask)
            total += y.to(tl.float64)
            if RECORD:
                tl.store(rec_v_ptr + at, v, mask=mask)
                if HAS_SYN:
                    tl.store(rec_i_ptr + at, i, mask=mask)
                if FAMILY == _ADAPTIVE:
                    tl.store(rec_b_ptr + at, b, mask=mask)
        tl.store(v_ptr + state, v, mask=mask)
        if HAS_SYN:
            tl.store(i_ptr + state, i, mask=mask)
        if FAMILY == _ADAPTIVE:
            tl.store(b_ptr + state, b, mask=mask)
        tl.store(sum_ptr + state, total, mask=mask)

    @triton.jit
    def _backward_kernel(
        g_out_ptr, g_v_ptr, g_i_ptr, g_b_ptr, g_rv_ptr, g_ri_ptr, g_rb_ptr,
        x_ptr, v0_ptr, i0_ptr, b0_ptr, p_ptr,
        g_x_ptr, g_v0_ptr, g_i0_ptr, g_b0_ptr, g_p_ptr, i_scratch_ptr, b_scratch_ptr,
        T, N, N_BLOCKS,
        FAMILY: tl.constexpr, HAS_SYN: tl.constexpr, HAS_LEAK: tl.constexpr,
        NORM_INPUT: tl.constexpr, HAS_MIN: tl.constexpr, SPIKE: tl.constexpr,
        RESET: tl.constexpr, BY_AMOUNT: tl.constexpr, CAP: tl.constexpr,
        TH_GRAD: tl.constexpr, TRAIN: tl.constexpr, HAS_GV: tl.constexpr, HAS_GI: tl.constexpr,
        HAS_GB: tl.constexpr, HAS_GRV: tl.constexpr, HAS_GRI: tl.constexpr,
        HAS_GRB: tl.constexpr, SURROGATE: tl.constexpr, C0: tl.constexpr,
        C1: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr, C4: tl.constexpr,
        K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, K3: tl.constexpr,
        IS_F32: tl.constexpr, BLOCK: tl.constexpr, STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)  # 64-bit offsets: B * T * N may exceed 2**31
        state = row64 * N + offs  # (B, N) index
        a_mem = tl.load(p_ptr + _ALPHA_MEM * N + offs, mask=mask, other=1.0)
        a_syn = tl.load(p_ptr + _ALPHA_SYN * N + offs, mask=mask, other=0.0)
        theta = tl.load(p_ptr + _THRESHOLD * N + offs, mask=mask, other=1.0)
        m = tl.load(p_ptr + _MIN_V_MEM * N + offs, mask=mask, other=0.0)
        a_ad = tl.load(p_ptr + _ALPHA_ADAPT * N + offs, mask=mask, other=0.0)
        beta = tl.load(p_ptr + _ADAPT_SCALE * N + offs, mask=mask, other=0.0)
        amount = tl.load(p_ptr + _RESET_AMOUNT * N + offs, mask=mask, other=0.0)

        # Phase 1: recompute the forward; keep the states before each step
        # (v in the g_x output, i and b in scratch).
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        i = v
        b = v
        if HAS_SYN:
            i = tl.load(i0_ptr + state, mask=mask, other=0.0)
        if FAMILY == _ADAPTIVE:
            b = tl.load(b0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N  # the step stride in 64 bits (T * N may exceed 2**31)
        base = row64 * T * N  # (B, T, N) index of (row, 0, 0)
        for t in tl.range(0, T, num_stages=STAGES):  # pipelined as in the forward kernel
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            tl.store(g_x_ptr + at, v, mask=mask)
            if HAS_SYN:
                tl.store(i_scratch_ptr + at, i, mask=mask)
            if FAMILY == _ADAPTIVE:
                tl.store(b_scratch_ptr + at, b, mask=mask)
            _, _, _, _, _, v, i, b = _step(
                x, v, i, b, a_mem, a_syn, theta, m, a_ad, beta, amount,
                FAMILY, HAS_SYN, HAS_LEAK, NORM_INPUT, HAS_MIN, SPIKE, RESET, BY_AMOUNT,
                CAP, IS_F32,
            )  # fmt: skip
        # Each thread reads back only what it wrote; the barrier makes that hold for
        # any layout the compiler picks.
        tl.debug_barrier()

        # Phase 2: the chain rule, backwards in time.
        zero = tl.zeros([BLOCK], dtype=x_ptr.dtype.element_ty)
        gv = zero
        gi = zero
        gb = zero
        if HAS_GV:
            gv = tl.load(g_v_ptr + state, mask=mask, other=0.0)
        if HAS_GI:
            gi = tl.load(g_i_ptr + state, mask=mask, other=0.0)
        if HAS_GB:
            gb = tl.load(g_b_ptr + state, mask=mask, other=0.0)
        gp_mem = zero
        gp_syn = zero
        gp_th = zero
        gp_min = zero
        gp_ad = zero
        gp_beta = zero
        gp_amount = zero
        last = (row64 * T + T - 1) * N  # (B, T, N) index of (row, T - 1, 0)
        # the loads of the STAGES - 1 earlier steps are issued ahead; they read slots
        # of g_x that this loop overwrites only when it reaches them
        for k in tl.range(0, T, num_stages=STAGES):
            at = last - k * n64 + offs
            v_prev = tl.load(g_x_ptr + at, mask=mask, other=0.0)
            i_prev = v_prev
            b_prev = v_prev
            if HAS_SYN:
                i_prev = tl.load(i_scratch_ptr + at, mask=mask, other=0.0)
            if FAMILY == _ADAPTIVE:
                b_prev = tl.load(b_scratch_ptr + at, mask=mask, other=0.0)
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            cur, v1, th, s, v2, _, _, _ = _step(
                x, v_prev, i_prev, b_prev, a_mem, a_syn, theta, m, a_ad, beta, amount,
                FAMILY, HAS_SYN, HAS_LEAK, NORM_INPUT, HAS_MIN, SPIKE, RESET, BY_AMOUNT,
                CAP, IS_F32,
            )  # fmt: skip
            g_vt = gv
            if HAS_GRV:
                g_vt = gv + tl.load(g_rv_ptr + at, mask=mask, other=0.0)
            if FAMILY == _LEAKY:
                g_vt = g_vt + tl.load(g_out_ptr + at, mask=mask, other=0.0)
            if HAS_MIN:
                g_v2 = tl.where((v2 - m) > 0, g_vt, 0.0)
                gp_min += g_vt - g_v2
            else:
                g_v2 = g_vt
            g_v1 = g_v2
            if FAMILY != _LEAKY:
                g_s = tl.load(g_out_ptr + at, mask=mask, other=0.0)
                g_th = zero
                if RESET == _SUBTRACT:
                    if BY_AMOUNT:
                        g_s = g_s - amount * g_v2
                        gp_amount += -s * g_v2
                    else:
                        g_s = g_s - th * g_v2
                        g_th = -s * g_v2
                elif RESET == _TO_VALUE:
                    g_v1 = tl.where(s == 0, g_v2, 0.0)
                    gp_amount += g_v2 - g_v1
                if FAMILY == _ADAPTIVE:
                    g_bt = gb
                    if HAS_GRB:
                        g_bt = gb + tl.load(g_rb_ptr + at, mask=mask, other=0.0)
                    g_s = g_s + (1 - a_ad) * g_bt
                    gp_ad += (b_prev - s) * g_bt
                    gb = a_ad * g_bt
                    if TH_GRAD:
                        gb = gb + beta * g_th
                        gp_th += g_th
                        gp_beta += b_prev * g_th
                elif TH_GRAD:
                    gp_th += g_th
                sg = _surrogate(v1, th, SURROGATE, C0, C1, C2, C3, C4, K0, K1, K2, K3)
                g_sv = g_s * sg  # the spike function's gradient of v1
                if TRAIN:  # train_threshold: d s / d threshold = -surrogate
                    gp_th -= g_sv
                g_v1 = g_v1 + g_sv
            if HAS_LEAK:
                gv = a_mem * g_v1
                gp_mem += v_prev * g_v1
                if NORM_INPUT:
                    g_cur = (1 - a_mem) * g_v1
                    gp_mem -= cur * g_v1
                else:
                    g_cur = g_v1
            else:
                gv = g_v1
                g_cur = g_v1
            if HAS_SYN:
                g_it = gi
                if HAS_GRI:
                    g_it = gi + tl.load(g_ri_ptr + at, mask=mask, other=0.0)
                g_c = g_it + g_cur
                g_xt = a_syn * g_c
                gi = a_syn * g_c
                gp_syn += (i_prev + x) * g_c
            else:
                g_xt = g_cur
            tl.store(g_x_ptr + at, g_xt, mask=mask)
        tl.store(g_v0_ptr + state, gv, mask=mask)
        if HAS_SYN:
            tl.store(g_i0_ptr + state, gi, mask=mask)
        if FAMILY == _ADAPTIVE:
            tl.store(g_b0_ptr + state, gb, mask=mask)
        # per-program partial parameter gradients, (B, P, N)
        gp = g_p_ptr + row64 * _N_ROWS * N + offs
        tl.store(gp + _ALPHA_MEM * N, gp_mem, mask=mask)
        tl.store(gp + _ALPHA_SYN * N, gp_syn, mask=mask)
        tl.store(gp + _THRESHOLD * N, gp_th, mask=mask)
        tl.store(gp + _MIN_V_MEM * N, gp_min, mask=mask)
        tl.store(gp + _ALPHA_ADAPT * N, gp_ad, mask=mask)
        tl.store(gp + _ADAPT_SCALE * N, gp_beta, mask=mask)
        tl.store(gp + _RESET_AMOUNT * N, gp_amount, mask=mask)


# ---------------------------------------------------------------- Izhikevich
# Kernels of their own (the family shares no state or row with the others): the
# reference's step (models.izhikevich_step) in its order of operations, and its chain
# rule; recomputation and scratch as in the kernels above (v before each step in g_x,
# u in a scratch tensor).

if triton is not None:

    @triton.jit
    def _izh_rhs(v, u, x):
        return 0.04 * (v * v) + 5 * v + 140 - u + x

    @triton.jit
    def _izh_step(x, v, u, th, b, c, d, half, ka):
        v1 = v + half * _izh_rhs(v, u, x)
        v2 = v1 + half * _izh_rhs(v1, u, x)
        u1 = u + ka * (b * v2 - u)
        s = ((v2 - th) >= 0).to(v2.dtype) + (v2 - v2)
        fired = v2 >= th
        return v1, v2, u1, s, fired, tl.where(fired, c, v2), tl.where(fired, u1 + d, u1)

    @triton.jit
    def _izh_params(p_ptr, N, offs, mask):
        th = tl.load(p_ptr + _THRESHOLD * N + offs, mask=mask, other=1.0)
        a = tl.load(p_ptr + _IZH_A * N + offs, mask=mask, other=0.0)
        b = tl.load(p_ptr + _IZH_B * N + offs, mask=mask, other=0.0)
        c = tl.load(p_ptr + _IZH_C * N + offs, mask=mask, other=0.0)
        d = tl.load(p_ptr + _IZH_D * N + offs, mask=mask, other=0.0)
        dt = tl.load(p_ptr + _DT * N + offs, mask=mask, other=1.0)
        return th, b, c, d, 0.5 * dt, dt * a, dt

    @triton.jit
    def _izh_forward_kernel(
        x_ptr, v0_ptr, u0_ptr, p_ptr, out_ptr, v_ptr, u_ptr, rec_v_ptr, rec_u_ptr, sum_ptr,
        T, N, N_BLOCKS, RECORD: tl.constexpr, BLOCK: tl.constexpr, STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, b, c, d, half, ka, _ = _izh_params(p_ptr, N, offs, mask)
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        u = tl.load(u0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        total = tl.zeros([BLOCK], dtype=tl.float64)
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            _, _, _, s, _, v, u = _izh_step(x, v, u, th, b, c, d, half, ka)
            tl.store(out_ptr + at, s, mask=mask)
            total += s.to(tl.float64)
            if RECORD:
                tl.store(rec_v_ptr + at, v, mask=mask)
                tl.store(rec_u_ptr + at, u, mask=mask)
        tl.store(v_ptr + state, v, mask=mask)
        tl.store(u_ptr + state, u, mask=mask)
        tl.store(sum_ptr + state, total, mask=mask)

    @triton.jit
    def _izh_backward_kernel(
        g_out_ptr, g_v_ptr, g_u_ptr, g_rv_ptr, g_ru_ptr, x_ptr, v0_ptr, u0_ptr, p_ptr,
        g_x_ptr, g_v0_ptr, g_u0_ptr, g_p_ptr, u_scratch_ptr, T, N, N_BLOCKS,
        HAS_GV: tl.constexpr, HAS_GU: tl.constexpr, HAS_GRV: tl.constexpr,
        HAS_GRU: tl.constexpr, SURROGATE: tl.constexpr, C0: tl.constexpr,
        C1: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr, C4: tl.constexpr,
        K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, K3: tl.constexpr,
        BLOCK: tl.constexpr, STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, b, c, d, half, ka, dt = _izh_params(p_ptr, N, offs, mask)
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        u = tl.load(u0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            tl.store(g_x_ptr + at, v, mask=mask)
            tl.store(u_scratch_ptr + at, u, mask=mask)
            _, _, _, _, _, v, u = _izh_step(x, v, u, th, b, c, d, half, ka)
        tl.debug_barrier()

        zero = tl.zeros([BLOCK], dtype=x_ptr.dtype.element_ty)
        gv = zero
        gu = zero
        if HAS_GV:
            gv = tl.load(g_v_ptr + state, mask=mask, other=0.0)
        if HAS_GU:
            gu = tl.load(g_u_ptr + state, mask=mask, other=0.0)
        gp_a = zero
        gp_b = zero
        gp_c = zero
        gp_d = zero
        last = (row64 * T + T - 1) * N
        for k in tl.range(0, T, num_stages=STAGES):
            at = last - k * n64 + offs
            v0 = tl.load(g_x_ptr + at, mask=mask, other=0.0)
            u0 = tl.load(u_scratch_ptr + at, mask=mask, other=0.0)
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            v1, v2, _, _, fired, _, _ = _izh_step(x, v0, u0, th, b, c, d, half, ka)
            g_vn = gv
            if HAS_GRV:
                g_vn = gv + tl.load(g_rv_ptr + at, mask=mask, other=0.0)
            g_u1 = gu
            if HAS_GRU:
                g_u1 = gu + tl.load(g_ru_ptr + at, mask=mask, other=0.0)
            gp_c += tl.where(fired, g_vn, 0.0)
            gp_d += tl.where(fired, g_u1, 0.0)
            g_s = tl.load(g_out_ptr + at, mask=mask, other=0.0)
            sg = _surrogate(v2, th, SURROGATE, C0, C1, C2, C3, C4, K0, K1, K2, K3)
            g_v2 = tl.where(fired, 0.0, g_vn) + g_s * sg
            # u1 = u + ka (b v2 - u)
            gp_a += dt * (b * v2 - u0) * g_u1
            gp_b += ka * v2 * g_u1
            g_v2 = g_v2 + ka * b * g_u1
            g_u = g_u1 - ka * g_u1
            # the two half steps of v
            g_r1 = half * g_v2
            g_v1 = g_v2 + g_r1 * (0.04 * (v1 + v1) + 5)
            g_r0 = half * g_v1
            gv = g_v1 + g_r0 * (0.04 * (v0 + v0) + 5)
            gu = g_u - g_r1 - g_r0
            tl.store(g_x_ptr + at, g_r1 + g_r0, mask=mask)
        tl.store(g_v0_ptr + state, gv, mask=mask)
        tl.store(g_u0_ptr + state, gu, mask=mask)
        gp = g_p_ptr + row64 * _N_ROWS * N + offs
        tl.store(gp + _IZH_A * N, gp_a, mask=mask)
        tl.store(gp + _IZH_B * N, gp_b, mask=mask)
        tl.store(gp + _IZH_C * N, gp_c, mask=mask)
        tl.store(gp + _IZH_D * N, gp_d, mask=mask)


def _izh_forward(
    x: torch.Tensor, v0: torch.Tensor, u0: torch.Tensor, params: torch.Tensor,
    cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    out, v, u = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(u0)
    rec_v = torch.empty_like(x) if cfg.record else empty
    rec_u = torch.empty_like(x) if cfg.record else empty
    if steps == 0 or batch * n == 0:
        v.copy_(v0), u.copy_(u0)
        return out, v, empty, empty, u, rec_v, empty, empty, rec_u, x.new_zeros(())
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    lane_sums = torch.empty(v0.shape, dtype=torch.float64, device=x.device)
    with _on_device(x):
        _izh_forward_kernel[(batch * n_blocks,)](
            x, v0, u0, params, out, v, u, rec_v if cfg.record else x,
            rec_u if cfg.record else x, lane_sums, steps, n, n_blocks,
            RECORD=cfg.record, BLOCK=block,
            STAGES=pipeline_stages(stages, block, x.dtype.itemsize, 1),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return out, v, empty, empty, u, rec_v, empty, empty, rec_u, lane_sums.sum().to(x.dtype)


def _izh_backward(
    g_out: torch.Tensor, g_v: torch.Tensor, g_u: torch.Tensor, g_rec_v: torch.Tensor,
    g_rec_u: torch.Tensor, x: torch.Tensor, v0: torch.Tensor, u0: torch.Tensor,
    params: torch.Tensor, cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    g_x, g_v0, g_u0 = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(u0)
    if steps == 0 or batch * n == 0:
        g_v0.copy_(g_v) if g_v.numel() else g_v0.zero_()
        g_u0.copy_(g_u) if g_u.numel() else g_u0.zero_()
        return g_x, g_v0, empty, empty, g_u0, params.new_zeros(params.shape)
    g_partial = x.new_zeros((batch, N_PARAMS, n))  # rows Izhikevich does not write: 0
    u_scratch = torch.empty_like(x)
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    has_grv = cfg.record and g_rec_v.numel() > 0
    has_gru = cfg.record and g_rec_u.numel() > 0

    def ptr(t: torch.Tensor) -> torch.Tensor:
        return t if t.numel() else x

    with _on_device(x):
        _izh_backward_kernel[(batch * n_blocks,)](
            g_out, ptr(g_v), ptr(g_u), ptr(g_rec_v), ptr(g_rec_u), x, v0, u0, params,
            g_x, g_v0, g_u0, g_partial, u_scratch, steps, n, n_blocks,
            HAS_GV=g_v.numel() > 0, HAS_GU=g_u.numel() > 0, HAS_GRV=has_grv,
            HAS_GRU=has_gru, **_surrogate_constexprs(cfg), BLOCK=block,
            STAGES=pipeline_stages(stages, block, x.dtype.itemsize, 3 + has_grv + has_gru),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return g_x, g_v0, empty, empty, g_u0, g_partial.sum(0)


# ---------------------------------------------------------------- AdEx
# Kernels of their own, as Izhikevich's: the reference's step (models.adex_step) in its
# order of operations with models.fixed_exp (its constants loaded from a table in the
# tensors' dtype: a Python float in a Triton expression is a float32 constant), IEEE
# divisions (_div), and its chain rule; w rides in the kernels' u.

if triton is not None:

    @triton.jit
    def _fixed_exp(x, e_ptr, IS_F32: tl.constexpr, DEGREE: tl.constexpr):
        # models.fixed_exp: table = log2e, ln2_hi, ln2_lo, then 1/k! from k = DEGREE down
        n = tl.floor(x * tl.load(e_ptr) + 0.5)
        r = (x - n * tl.load(e_ptr + 1)) - n * tl.load(e_ptr + 2)
        p = r * tl.load(e_ptr + 3) + tl.load(e_ptr + 4)
        for k in tl.static_range(5, DEGREE + 4):
            p = p * r + tl.load(e_ptr + k)
        if IS_F32:
            scale = ((n.to(tl.int32) + 127) << 23).to(tl.float32, bitcast=True)
        else:
            scale = ((n.to(tl.int64) + 1023) << 52).to(tl.float64, bitcast=True)
        return p * scale

    @triton.jit
    def _adex_step(
        x, v, w, th, C, gL, EL, VT, DT, tw, a, dt, gD, e_ptr, IS_F32: tl.constexpr,
        DEGREE: tl.constexpr,
    ):  # fmt: skip
        m = tl.where(v > th, th, v)  # torch.minimum (NaN stays NaN)
        er = _div(m - VT, DT, IS_F32)
        e = tl.where(er < -80.0, -80.0, er)
        e = tl.where(e > 80.0, 80.0, e)
        ex = _fixed_exp(e, e_ptr, IS_F32, DEGREE)
        dvl = v - EL
        dv = _div((((-gL) * dvl + gD * ex) - w) + x, C, IS_F32)
        dw = _div(a * dvl - w, tw, IS_F32)
        v1 = v + dt * dv
        w1 = w + dt * dw
        return dvl, er, ex, dv, dw, v1, w1

    @triton.jit
    def _adex_params(p_ptr, N, offs, mask):
        th = tl.load(p_ptr + _THRESHOLD * N + offs, mask=mask, other=1.0)
        C = tl.load(p_ptr + _ADEX_C * N + offs, mask=mask, other=1.0)
        gL = tl.load(p_ptr + _ADEX_G_L * N + offs, mask=mask, other=0.0)
        EL = tl.load(p_ptr + _ADEX_E_L * N + offs, mask=mask, other=0.0)
        VT = tl.load(p_ptr + _ADEX_V_T * N + offs, mask=mask, other=0.0)
        DT = tl.load(p_ptr + _ADEX_DELTA_T * N + offs, mask=mask, other=1.0)
        tw = tl.load(p_ptr + _ADEX_TAU_W * N + offs, mask=mask, other=1.0)
        a = tl.load(p_ptr + _ADEX_A * N + offs, mask=mask, other=0.0)
        b = tl.load(p_ptr + _ADEX_B * N + offs, mask=mask, other=0.0)
        Vr = tl.load(p_ptr + _ADEX_V_R * N + offs, mask=mask, other=0.0)
        dt = tl.load(p_ptr + _DT * N + offs, mask=mask, other=1.0)
        return th, C, gL, EL, VT, DT, tw, a, b, Vr, dt, gL * DT

    @triton.jit
    def _adex_forward_kernel(
        x_ptr, v0_ptr, w0_ptr, p_ptr, e_ptr, out_ptr, v_ptr, w_ptr, rec_v_ptr, rec_w_ptr,
        sum_ptr, T, N, N_BLOCKS, RECORD: tl.constexpr, IS_F32: tl.constexpr,
        DEGREE: tl.constexpr, BLOCK: tl.constexpr, STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, C, gL, EL, VT, DT, tw, a, b, Vr, dt, gD = _adex_params(p_ptr, N, offs, mask)
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        w = tl.load(w0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        total = tl.zeros([BLOCK], dtype=tl.float64)
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            _, _, _, _, _, v1, w1 = _adex_step(
                x, v, w, th, C, gL, EL, VT, DT, tw, a, dt, gD, e_ptr, IS_F32, DEGREE
            )
            s = ((v1 - th) >= 0).to(v1.dtype) + (v1 - v1)
            fired = v1 >= th
            v = tl.where(fired, Vr, v1)
            w = tl.where(fired, w1 + b, w1)
            tl.store(out_ptr + at, s, mask=mask)
            total += s.to(tl.float64)
            if RECORD:
                tl.store(rec_v_ptr + at, v, mask=mask)
                tl.store(rec_w_ptr + at, w, mask=mask)
        tl.store(v_ptr + state, v, mask=mask)
        tl.store(w_ptr + state, w, mask=mask)
        tl.store(sum_ptr + state, total, mask=mask)

    @triton.jit
    def _adex_backward_kernel(
        g_out_ptr, g_v_ptr, g_w_ptr, g_rv_ptr, g_rw_ptr, x_ptr, v0_ptr, w0_ptr, p_ptr, e_ptr,
        g_x_ptr, g_v0_ptr, g_w0_ptr, g_p_ptr, w_scratch_ptr, T, N, N_BLOCKS,
        HAS_GV: tl.constexpr, HAS_GW: tl.constexpr, HAS_GRV: tl.constexpr,
        HAS_GRW: tl.constexpr, SURROGATE: tl.constexpr, C0: tl.constexpr,
        C1: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr, C4: tl.constexpr,
        K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, K3: tl.constexpr,
        IS_F32: tl.constexpr, DEGREE: tl.constexpr, BLOCK: tl.constexpr,
        STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, C, gL, EL, VT, DT, tw, a, b, Vr, dt, gD = _adex_params(p_ptr, N, offs, mask)
        v = tl.load(v0_ptr + state, mask=mask, other=0.0)
        w = tl.load(w0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            tl.store(g_x_ptr + at, v, mask=mask)
            tl.store(w_scratch_ptr + at, w, mask=mask)
            _, _, _, _, _, v1, w1 = _adex_step(
                x, v, w, th, C, gL, EL, VT, DT, tw, a, dt, gD, e_ptr, IS_F32, DEGREE
            )
            fired = v1 >= th
            v = tl.where(fired, Vr, v1)
            w = tl.where(fired, w1 + b, w1)
        tl.debug_barrier()

        zero = tl.zeros([BLOCK], dtype=x_ptr.dtype.element_ty)
        gv = zero
        gw = zero
        if HAS_GV:
            gv = tl.load(g_v_ptr + state, mask=mask, other=0.0)
        if HAS_GW:
            gw = tl.load(g_w_ptr + state, mask=mask, other=0.0)
        gp_th = zero
        gp_c = zero
        gp_gl = zero
        gp_el = zero
        gp_vt = zero
        gp_dt = zero
        gp_tw = zero
        gp_a = zero
        gp_b = zero
        gp_vr = zero
        last = (row64 * T + T - 1) * N
        for k in tl.range(0, T, num_stages=STAGES):
            at = last - k * n64 + offs
            v0 = tl.load(g_x_ptr + at, mask=mask, other=0.0)
            w0 = tl.load(w_scratch_ptr + at, mask=mask, other=0.0)
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            dvl, er, ex, dv, dw, v1, _ = _adex_step(
                x, v0, w0, th, C, gL, EL, VT, DT, tw, a, dt, gD, e_ptr, IS_F32, DEGREE
            )
            fired = v1 >= th
            g_vn = gv
            if HAS_GRV:
                g_vn = gv + tl.load(g_rv_ptr + at, mask=mask, other=0.0)
            g_wn = gw
            if HAS_GRW:
                g_wn = gw + tl.load(g_rw_ptr + at, mask=mask, other=0.0)
            gp_vr += tl.where(fired, g_vn, 0.0)
            gp_b += tl.where(fired, g_wn, 0.0)
            g_s = tl.load(g_out_ptr + at, mask=mask, other=0.0)
            sg = _surrogate(v1, th, SURROGATE, C0, C1, C2, C3, C4, K0, K1, K2, K3)
            g_v1 = tl.where(fired, 0.0, g_vn) + g_s * sg
            # v1 = v + dt dv, w1 = w + dt dw; dw = (a (v - E_L) - w) / tau_w
            g_dv = dt * g_v1
            g_nw = _div(dt * g_wn, tw, IS_F32)
            gp_tw += -(g_nw * dw)
            gp_a += dvl * g_nw
            g_v = g_v1 + a * g_nw
            g_el = -(a * g_nw)
            g_w = g_wn - g_nw
            # dv = (-g_L (v - E_L) + g_L Delta_T e - w + x) / C
            g_nv = _div(g_dv, C, IS_F32)
            gp_c += -(g_nv * dv)
            g_w = g_w - g_nv
            gp_gl += (DT * ex - dvl) * g_nv
            gp_dt += gL * ex * g_nv
            g_v = g_v - gL * g_nv
            g_el = g_el + gL * g_nv
            gp_el += g_el
            # e = clamp((min(v, V_peak) - V_T) / Delta_T), d e^x = e^x
            g_e = gD * g_nv * ex
            g_e = tl.where((er >= -80.0) & (er <= 80.0), g_e, 0.0)
            g_m = _div(g_e, DT, IS_F32)
            gp_vt += -g_m
            gp_dt += -(g_m * er)
            # torch.minimum: the gradient to the smaller, halved at a tie
            share = tl.where(v0 < th, 1.0, tl.where(v0 > th, 0.0, 0.5))
            gv = g_v + share * g_m
            gp_th += (1.0 - share) * g_m
            gw = g_w
            tl.store(g_x_ptr + at, g_nv, mask=mask)
        tl.store(g_v0_ptr + state, gv, mask=mask)
        tl.store(g_w0_ptr + state, gw, mask=mask)
        gp = g_p_ptr + row64 * _N_ROWS * N + offs
        tl.store(gp + _THRESHOLD * N, gp_th, mask=mask)
        tl.store(gp + _ADEX_C * N, gp_c, mask=mask)
        tl.store(gp + _ADEX_G_L * N, gp_gl, mask=mask)
        tl.store(gp + _ADEX_E_L * N, gp_el, mask=mask)
        tl.store(gp + _ADEX_V_T * N, gp_vt, mask=mask)
        tl.store(gp + _ADEX_DELTA_T * N, gp_dt, mask=mask)
        tl.store(gp + _ADEX_TAU_W * N, gp_tw, mask=mask)
        tl.store(gp + _ADEX_A * N, gp_a, mask=mask)
        tl.store(gp + _ADEX_B * N, gp_b, mask=mask)
        tl.store(gp + _ADEX_V_R * N, gp_vr, mask=mask)


def _exp_table(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """models.fixed_exp's constants as a tensor in ``x``'s dtype and on its device, and
    the degree of its polynomial."""
    return _exp_table_on(x.dtype, x.device)


@functools.lru_cache(maxsize=16)
def _exp_table_on(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, int]:
    # cached: one copy to the device per dtype, not one per call (the kernels only read it)
    c = EXP_CONSTANTS[dtype]
    return torch.tensor(c.values, dtype=dtype, device=device), len(c.coefficients) - 1


def _adex_forward(
    x: torch.Tensor, v0: torch.Tensor, w0: torch.Tensor, params: torch.Tensor,
    cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    out, v, w = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(w0)
    rec_v = torch.empty_like(x) if cfg.record else empty
    rec_w = torch.empty_like(x) if cfg.record else empty
    if steps == 0 or batch * n == 0:
        v.copy_(v0), w.copy_(w0)
        return out, v, empty, empty, w, rec_v, empty, empty, rec_w, x.new_zeros(())
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    lane_sums = torch.empty(v0.shape, dtype=torch.float64, device=x.device)
    table, degree = _exp_table(x)
    with _on_device(x):
        _adex_forward_kernel[(batch * n_blocks,)](
            x, v0, w0, params, table, out, v, w, rec_v if cfg.record else x,
            rec_w if cfg.record else x, lane_sums, steps, n, n_blocks,
            RECORD=cfg.record, IS_F32=x.dtype == torch.float32, DEGREE=degree, BLOCK=block,
            STAGES=pipeline_stages(stages, block, x.dtype.itemsize, 1),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return out, v, empty, empty, w, rec_v, empty, empty, rec_w, lane_sums.sum().to(x.dtype)


def _adex_backward(
    g_out: torch.Tensor, g_v: torch.Tensor, g_w: torch.Tensor, g_rec_v: torch.Tensor,
    g_rec_w: torch.Tensor, x: torch.Tensor, v0: torch.Tensor, w0: torch.Tensor,
    params: torch.Tensor, cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    g_x, g_v0, g_w0 = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(w0)
    if steps == 0 or batch * n == 0:
        g_v0.copy_(g_v) if g_v.numel() else g_v0.zero_()
        g_w0.copy_(g_w) if g_w.numel() else g_w0.zero_()
        return g_x, g_v0, empty, empty, g_w0, params.new_zeros(params.shape)
    g_partial = x.new_zeros((batch, N_PARAMS, n))  # rows AdEx does not write: 0
    w_scratch = torch.empty_like(x)
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    has_grv = cfg.record and g_rec_v.numel() > 0
    has_grw = cfg.record and g_rec_w.numel() > 0
    table, degree = _exp_table(x)

    def ptr(t: torch.Tensor) -> torch.Tensor:
        return t if t.numel() else x

    with _on_device(x):
        _adex_backward_kernel[(batch * n_blocks,)](
            g_out, ptr(g_v), ptr(g_w), ptr(g_rec_v), ptr(g_rec_w), x, v0, w0, params, table,
            g_x, g_v0, g_w0, g_partial, w_scratch, steps, n, n_blocks,
            HAS_GV=g_v.numel() > 0, HAS_GW=g_w.numel() > 0, HAS_GRV=has_grv,
            HAS_GRW=has_grw, **_surrogate_constexprs(cfg),
            IS_F32=x.dtype == torch.float32, DEGREE=degree, BLOCK=block,
            STAGES=pipeline_stages(stages, block, x.dtype.itemsize, 3 + has_grv + has_grw),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return g_x, g_v0, empty, empty, g_w0, g_partial.sum(0)


# ---------------------------------------------------------------- resonate-and-fire
# Kernels of their own, one pair for both forms (BALANCED: the balanced form, its q in
# the kernels' b): the reference's step (models.resonate_step) in its order of
# operations, and its chain rule. z_re, z_im (and q) before each step are kept for the
# reverse pass: z_re in g_x (overwritten by the input's gradient), z_im and q in
# scratch tensors.

if triton is not None:

    @triton.jit
    def _rf_step(x, re, im, q, th, dt, om, damp, xr, yr, gam, BALANCED: tl.constexpr):
        """``(new_re, new_im, spikes, the spiking part, its threshold, re, im, q)``
        after the step (the last three after the plain form's reset)."""
        if BALANCED:
            b = damp - q
        else:
            b = damp
        nre = re + dt * (b * re - om * im + x)
        nim = im + dt * (om * re + b * im)
        if BALANCED:
            th_q = th + q
            s = ((nre - th_q) >= 0).to(nre.dtype) + (nre - nre)
            spv = nre
            out_re = nre
            out_im = nim
            out_q = gam * q + s
        else:
            th_q = th
            s = ((nim - th) >= 0).to(nim.dtype) + (nim - nim) + (nre - nre)
            spv = nim
            fired = nim >= th
            out_re = tl.where(fired, xr, nre)
            out_im = tl.where(fired, yr, nim)
            out_q = q
        return nre, nim, s, spv, th_q, out_re, out_im, out_q

    @triton.jit
    def _rf_params(p_ptr, N, offs, mask):
        th = tl.load(p_ptr + _THRESHOLD * N + offs, mask=mask, other=1.0)
        dt = tl.load(p_ptr + _DT * N + offs, mask=mask, other=1.0)
        om = tl.load(p_ptr + _RF_OMEGA * N + offs, mask=mask, other=0.0)
        damp = tl.load(p_ptr + _RF_DAMPING * N + offs, mask=mask, other=0.0)
        xr = tl.load(p_ptr + _RF_X_RESET * N + offs, mask=mask, other=0.0)
        yr = tl.load(p_ptr + _RF_Y_RESET * N + offs, mask=mask, other=0.0)
        gam = tl.load(p_ptr + _RF_GAMMA * N + offs, mask=mask, other=0.0)
        return th, dt, om, damp, xr, yr, gam

    @triton.jit
    def _rf_forward_kernel(
        x_ptr, re0_ptr, im0_ptr, q0_ptr, p_ptr, out_ptr, re_ptr, im_ptr, q_ptr,
        rec_re_ptr, rec_im_ptr, rec_q_ptr, sum_ptr, T, N, N_BLOCKS,
        BALANCED: tl.constexpr, RECORD: tl.constexpr, BLOCK: tl.constexpr,
        STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, dt, om, damp, xr, yr, gam = _rf_params(p_ptr, N, offs, mask)
        re = tl.load(re0_ptr + state, mask=mask, other=0.0)
        im = tl.load(im0_ptr + state, mask=mask, other=0.0)
        q = tl.zeros_like(re)
        if BALANCED:
            q = tl.load(q0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        total = tl.zeros([BLOCK], dtype=tl.float64)
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            _, _, s, _, _, re, im, q = _rf_step(
                x, re, im, q, th, dt, om, damp, xr, yr, gam, BALANCED
            )
            tl.store(out_ptr + at, s, mask=mask)
            total += s.to(tl.float64)
            if RECORD:
                tl.store(rec_re_ptr + at, re, mask=mask)
                tl.store(rec_im_ptr + at, im, mask=mask)
                if BALANCED:
                    tl.store(rec_q_ptr + at, q, mask=mask)
        tl.store(re_ptr + state, re, mask=mask)
        tl.store(im_ptr + state, im, mask=mask)
        if BALANCED:
            tl.store(q_ptr + state, q, mask=mask)
        tl.store(sum_ptr + state, total, mask=mask)

    @triton.jit
    def _rf_backward_kernel(
        g_out_ptr, g_re_ptr, g_im_ptr, g_q_ptr, g_rre_ptr, g_rim_ptr, g_rq_ptr, x_ptr,
        re0_ptr, im0_ptr, q0_ptr, p_ptr, g_x_ptr, g_re0_ptr, g_im0_ptr, g_q0_ptr, g_p_ptr,
        im_scratch_ptr, q_scratch_ptr, T, N, N_BLOCKS,
        BALANCED: tl.constexpr, HAS_GRE: tl.constexpr, HAS_GIM: tl.constexpr,
        HAS_GQ: tl.constexpr, HAS_GRRE: tl.constexpr, HAS_GRIM: tl.constexpr,
        HAS_GRQ: tl.constexpr, SURROGATE: tl.constexpr, C0: tl.constexpr,
        C1: tl.constexpr, C2: tl.constexpr, C3: tl.constexpr, C4: tl.constexpr,
        K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, K3: tl.constexpr,
        BLOCK: tl.constexpr, STAGES: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        row = pid // N_BLOCKS
        offs = (pid % N_BLOCKS) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < N
        row64 = row.to(tl.int64)
        state = row64 * N + offs
        th, dt, om, damp, xr, yr, gam = _rf_params(p_ptr, N, offs, mask)
        re = tl.load(re0_ptr + state, mask=mask, other=0.0)
        im = tl.load(im0_ptr + state, mask=mask, other=0.0)
        q = tl.zeros_like(re)
        if BALANCED:
            q = tl.load(q0_ptr + state, mask=mask, other=0.0)
        n64 = row64 * 0 + N
        base = row64 * T * N
        for t in tl.range(0, T, num_stages=STAGES):
            at = base + t * n64 + offs
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            tl.store(g_x_ptr + at, re, mask=mask)
            tl.store(im_scratch_ptr + at, im, mask=mask)
            if BALANCED:
                tl.store(q_scratch_ptr + at, q, mask=mask)
            _, _, _, _, _, re, im, q = _rf_step(
                x, re, im, q, th, dt, om, damp, xr, yr, gam, BALANCED
            )
        tl.debug_barrier()

        zero = tl.zeros([BLOCK], dtype=x_ptr.dtype.element_ty)
        g_re_s = zero
        g_im_s = zero
        g_q_s = zero
        if HAS_GRE:
            g_re_s = tl.load(g_re_ptr + state, mask=mask, other=0.0)
        if HAS_GIM:
            g_im_s = tl.load(g_im_ptr + state, mask=mask, other=0.0)
        if HAS_GQ:
            g_q_s = tl.load(g_q_ptr + state, mask=mask, other=0.0)
        gp_om = zero
        gp_damp = zero
        gp_xr = zero
        gp_yr = zero
        gp_gam = zero
        last = (row64 * T + T - 1) * N
        for k in tl.range(0, T, num_stages=STAGES):
            at = last - k * n64 + offs
            re = tl.load(g_x_ptr + at, mask=mask, other=0.0)
            im = tl.load(im_scratch_ptr + at, mask=mask, other=0.0)
            q = zero
            if BALANCED:
                q = tl.load(q_scratch_ptr + at, mask=mask, other=0.0)
            x = tl.load(x_ptr + at, mask=mask, other=0.0)
            _, nim, _, spv, th_q, _, _, _ = _rf_step(
                x, re, im, q, th, dt, om, damp, xr, yr, gam, BALANCED
            )
            g_re = g_re_s
            if HAS_GRRE:
                g_re = g_re + tl.load(g_rre_ptr + at, mask=mask, other=0.0)
            g_im = g_im_s
            if HAS_GRIM:
                g_im = g_im + tl.load(g_rim_ptr + at, mask=mask, other=0.0)
            g_s = tl.load(g_out_ptr + at, mask=mask, other=0.0)
            sg = _surrogate(spv, th_q, SURROGATE, C0, C1, C2, C3, C4, K0, K1, K2, K3)
            g_q = zero
            if BALANCED:  # q' = gamma q + s; s feeds z_re's gradient
                g_qn = g_q_s
                if HAS_GRQ:
                    g_qn = g_qn + tl.load(g_rq_ptr + at, mask=mask, other=0.0)
                gp_gam += q * g_qn
                g_re = g_re + (g_s + g_qn) * sg
                g_q = gam * g_qn
                bq = damp - q
            else:  # the reset, then the spike's gradient at z_im
                fired = nim >= th
                gp_xr += tl.where(fired, g_re, 0.0)
                gp_yr += tl.where(fired, g_im, 0.0)
                g_re = tl.where(fired, 0.0, g_re)
                g_im = tl.where(fired, 0.0, g_im) + g_s * sg
                bq = damp
            # the Euler step (e, f: the gradients of the two brackets)
            e = dt * g_re
            f = dt * g_im
            g_b = re * e + im * f
            gp_damp += g_b
            gp_om += re * f - im * e
            g_re_s = g_re + bq * e + om * f
            g_im_s = g_im - om * e + bq * f
            if BALANCED:
                g_q_s = g_q - g_b  # b = damping - q
            tl.store(g_x_ptr + at, e, mask=mask)
        tl.store(g_re0_ptr + state, g_re_s, mask=mask)
        tl.store(g_im0_ptr + state, g_im_s, mask=mask)
        gp = g_p_ptr + row64 * _N_ROWS * N + offs
        tl.store(gp + _RF_OMEGA * N, gp_om, mask=mask)
        tl.store(gp + _RF_DAMPING * N, gp_damp, mask=mask)
        if BALANCED:
            tl.store(g_q0_ptr + state, g_q_s, mask=mask)
            tl.store(gp + _RF_GAMMA * N, gp_gam, mask=mask)
        else:
            tl.store(gp + _RF_X_RESET * N, gp_xr, mask=mask)
            tl.store(gp + _RF_Y_RESET * N, gp_yr, mask=mask)


def _rf_forward(
    x: torch.Tensor, re0: torch.Tensor, im0: torch.Tensor, q0: torch.Tensor,
    params: torch.Tensor, cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    """Resonate-and-fire's forward; z_re, z_im, q are the kernels' v, u, b."""
    balanced = cfg.family == Family.RESONATE_BALANCED
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    out, re, im = torch.empty_like(x), torch.empty_like(re0), torch.empty_like(im0)
    q = torch.empty_like(q0) if balanced else empty
    rec_re = torch.empty_like(x) if cfg.record else empty
    rec_im = torch.empty_like(x) if cfg.record else empty
    rec_q = torch.empty_like(x) if cfg.record and balanced else empty
    if steps == 0 or batch * n == 0:
        re.copy_(re0), im.copy_(im0), q.copy_(q0)
        return out, re, empty, q, im, rec_re, empty, rec_q, rec_im, x.new_zeros(())
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    lane_sums = torch.empty(re0.shape, dtype=torch.float64, device=x.device)

    def ptr(t: torch.Tensor) -> torch.Tensor:  # absent tensors: any valid pointer
        return t if t.numel() else x

    with _on_device(x):
        _rf_forward_kernel[(batch * n_blocks,)](
            x, re0, im0, ptr(q0), params, out, re, im, ptr(q), ptr(rec_re), ptr(rec_im),
            ptr(rec_q), lane_sums, steps, n, n_blocks,
            BALANCED=balanced, RECORD=cfg.record, BLOCK=block,
            STAGES=pipeline_stages(stages, block, x.dtype.itemsize, 1),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return out, re, empty, q, im, rec_re, empty, rec_q, rec_im, lane_sums.sum().to(x.dtype)


def _rf_backward(
    g_out: torch.Tensor, g_re: torch.Tensor, g_im: torch.Tensor, g_q: torch.Tensor,
    g_rec_re: torch.Tensor, g_rec_im: torch.Tensor, g_rec_q: torch.Tensor, x: torch.Tensor,
    re0: torch.Tensor, im0: torch.Tensor, q0: torch.Tensor, params: torch.Tensor,
    cfg: KernelConfig, block: int | None, stages: int,
) -> Tensors:  # fmt: skip
    balanced = cfg.family == Family.RESONATE_BALANCED
    batch, steps, n = x.shape
    empty = x.new_empty(0)
    g_x, g_re0, g_im0 = torch.empty_like(x), torch.empty_like(re0), torch.empty_like(im0)
    g_q0 = torch.empty_like(q0) if balanced else empty
    if steps == 0 or batch * n == 0:
        for g, out in ((g_re, g_re0), (g_im, g_im0), (g_q, g_q0)):
            out.copy_(g) if g.numel() and out.numel() else out.zero_()
        return g_x, g_re0, empty, g_q0, g_im0, params.new_zeros(params.shape)
    g_partial = x.new_zeros((batch, N_PARAMS, n))  # rows resonate-and-fire does not write: 0
    im_scratch = torch.empty_like(x)
    q_scratch = torch.empty_like(x) if balanced else empty
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    rec = cfg.record
    has = {
        "HAS_GRE": g_re.numel() > 0,
        "HAS_GIM": g_im.numel() > 0,
        "HAS_GQ": balanced and g_q.numel() > 0,
        "HAS_GRRE": rec and g_rec_re.numel() > 0,
        "HAS_GRIM": rec and g_rec_im.numel() > 0,
        "HAS_GRQ": rec and balanced and g_rec_q.numel() > 0,
    }

    def ptr(t: torch.Tensor) -> torch.Tensor:
        return t if t.numel() else x

    with _on_device(x):
        _rf_backward_kernel[(batch * n_blocks,)](
            g_out, ptr(g_re), ptr(g_im), ptr(g_q), ptr(g_rec_re), ptr(g_rec_im),
            ptr(g_rec_q), x, re0, im0, ptr(q0), params, g_x, g_re0, g_im0, ptr(g_q0),
            g_partial, im_scratch, ptr(q_scratch), steps, n, n_blocks,
            BALANCED=balanced, **has, **_surrogate_constexprs(cfg), BLOCK=block,
            STAGES=pipeline_stages(
                stages, block, x.dtype.itemsize, 3 + balanced + has["HAS_GRRE"]
                + has["HAS_GRIM"] + has["HAS_GRQ"]
            ),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return g_x, g_re0, empty, g_q0, g_im0, g_partial.sum(0)


def launch_shape(batch: int, n: int, device: torch.device) -> tuple[int, int]:
    """``(BLOCK, num_warps)`` for ``batch`` rows of ``n`` neurons.

    The largest power-of-two block up to :data:`MAX_BLOCK` that covers the neurons,
    halved (down to :data:`MIN_BLOCK`) while there are fewer than four programs per
    streaming multiprocessor; four elements per thread.
    """
    block = max(MIN_BLOCK, min(MAX_BLOCK, triton.next_power_of_2(max(n, 1))))
    sms = (
        torch.cuda.get_device_properties(device).multi_processor_count
        if device.type == "cuda"
        else 1
    )
    while block > MIN_BLOCK and batch * triton.cdiv(n, block) < 4 * sms:
        block //= 2
    return block, max(1, min(8, block // 128))


#: ``num_stages`` of the time loops: Triton's software pipeliner keeps the loads of
#: this many steps minus one in flight (asynchronous copies to shared memory).
PIPELINE_STAGES = 4
#: shared memory per program that pipelining may take: the stages are reduced (down to
#: none) where ``(stages - 1) * loads per step * BLOCK * itemsize`` would exceed it
PIPELINE_SHARED_BYTES = 64 * 1024


def pipeline_stages(requested: int, block: int, itemsize: int, loads: int) -> int:
    """The ``num_stages`` within :data:`PIPELINE_SHARED_BYTES` (1 means no pipelining)."""
    if requested < 1:
        raise ValueError(f"stages must be at least 1, got {requested}")
    return max(1, min(requested, 1 + PIPELINE_SHARED_BYTES // (loads * block * itemsize)))


#: Triton launch options of every kernel: no contraction of ``a * b + c`` into an FMA
#: (Triton's default is to contract; the option is a launch keyword).
LAUNCH_OPTIONS: dict[str, object] = {"enable_fp_fusion": False}


def forward_constexprs(
    cfg: KernelConfig, dtype: torch.dtype, block: int, stages: int = PIPELINE_STAGES
) -> dict[str, object]:
    """The ``tl.constexpr`` arguments of the forward kernel for ``cfg``; ``stages`` is
    cut to what fits (:func:`pipeline_stages`, one load per step)."""
    return {
        "FAMILY": int(cfg.family),
        "HAS_SYN": cfg.has_syn,
        "HAS_LEAK": cfg.has_leak,
        "NORM_INPUT": cfg.norm_input,
        "HAS_MIN": cfg.has_min,
        "SPIKE": int(cfg.spike),
        "RESET": int(cfg.reset),
        "BY_AMOUNT": cfg.reset_by_amount,
        "CAP": float(cfg.fconfig[0]) if cfg.spike == Spike.MAX else 0.0,
        "RECORD": cfg.record,
        "IS_F32": dtype == torch.float32,
        "BLOCK": block,
        "STAGES": pipeline_stages(stages, block, dtype.itemsize, 1),
    }


def backward_constexprs(
    cfg: KernelConfig,
    dtype: torch.dtype,
    block: int,
    upstream: tuple[bool, ...],
    stages: int = PIPELINE_STAGES,
) -> dict[str, object]:
    """The ``tl.constexpr`` arguments of the backward kernel for ``cfg``.

    ``upstream``: whether ``(g_v, g_i, g_b, g_rec_v, g_rec_i, g_rec_b)`` are present.
    ``stages`` is cut to what the reverse loop's loads per step leave room for.
    """
    has = dict(zip(("GV", "GI", "GB", "GRV", "GRI", "GRB"), upstream, strict=True))
    adaptive = cfg.adaptive
    constexprs = forward_constexprs(cfg, dtype, block)
    del constexprs["RECORD"]
    constexprs |= {
        "TH_GRAD": cfg.reset == Reset.SUBTRACT and not cfg.reset_by_amount,
        "TRAIN": cfg.train_threshold,
        "HAS_GV": has["GV"],
        "HAS_GI": cfg.has_syn and has["GI"],
        "HAS_GB": adaptive and has["GB"],
        "HAS_GRV": cfg.record and has["GRV"],
        "HAS_GRI": cfg.record and cfg.has_syn and has["GRI"],
        "HAS_GRB": cfg.record and adaptive and has["GRB"],
        **_surrogate_constexprs(cfg),
    }
    # loads per step of the reverse loop: v, x and g_out, and those present
    optional = ("HAS_SYN", "HAS_GRV", "HAS_GRI", "HAS_GRB")
    loads = 3 + adaptive + sum(bool(constexprs[k]) for k in optional)
    constexprs["STAGES"] = pipeline_stages(stages, block, dtype.itemsize, loads)
    return constexprs


def _surrogate_constexprs(cfg: KernelConfig) -> dict[str, object]:
    c = [float(f) for f in cfg.fconfig[1:6]]
    k = surrogate_derived(cfg)
    return {
        "SURROGATE": int(cfg.surrogate),
        **{f"C{j}": c[j] for j in range(5)},
        **{f"K{j}": k[j] for j in range(4)},
    }


def _on_device(x: torch.Tensor) -> contextlib.AbstractContextManager[object]:
    # Triton launches on the current CUDA device; make it the tensors' device.
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


def _check(x: torch.Tensor, params: torch.Tensor) -> None:
    _require_triton()
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the Triton kernels run float32 and float64, not {x.dtype}")
    if params.shape != (N_PARAMS, x.shape[2]):
        raise ValueError(f"params of shape {tuple(params.shape)} for input {tuple(x.shape)}")


def scan_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
    *,
    block: int | None = None,
    stages: int = PIPELINE_STAGES,
) -> Tensors:
    """Forward in neutral form; returns ``(out, v, i, b, u, rec_v, rec_i, rec_b, rec_u,
    out_sum)``.

    The contract of the oracle's ``scan_forward``; all tensors contiguous, on one
    device. ``block`` overrides the neurons per program (a power of two), ``stages``
    the pipelining of the time loop (:data:`PIPELINE_STAGES`; 1: none).
    """
    _check(x, params)
    x, v0, i0, b0, u0, params = (t.contiguous() for t in (x, v0, i0, b0, u0, params))
    if cfg.family == Family.IZHIKEVICH:
        return _izh_forward(x, v0, u0, params, cfg, block, stages)
    if cfg.family == Family.ADEX:  # w in the kernels' u
        return _adex_forward(x, v0, u0, params, cfg, block, stages)
    if cfg.family in (Family.RESONATE, Family.RESONATE_BALANCED):
        return _rf_forward(x, v0, u0, b0, params, cfg, block, stages)
    batch, steps, n = x.shape
    adaptive = cfg.adaptive
    out = torch.empty_like(x)
    v = torch.empty_like(v0)
    i = torch.empty_like(v0) if cfg.has_syn else x.new_empty(0)
    b = torch.empty_like(v0) if adaptive else x.new_empty(0)

    def seq(present: bool) -> torch.Tensor:
        return torch.empty_like(x) if cfg.record and present else x.new_empty(0)

    rec_v, rec_i, rec_b = seq(True), seq(cfg.has_syn), seq(adaptive)
    e = x.new_empty(0)  # u: Izhikevich's only
    if steps == 0:  # the kernels assume T >= 1
        v, i, b = v.copy_(v0), i.copy_(i0), b.copy_(b0)
        return out, v, i, b, e, rec_v, rec_i, rec_b, e, x.new_zeros(())
    if batch * n == 0:
        return out, v, i, b, e, rec_v, rec_i, rec_b, e, x.new_zeros(())
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)

    def ptr(t: torch.Tensor) -> torch.Tensor:  # absent tensors: any valid pointer
        return t if t.numel() else x

    # per (row, neuron) sums of the outputs over time, in float64, written by the kernel
    # (summing `out` afterwards took longer than the kernel at large sizes)
    lane_sums = torch.empty(v0.shape, dtype=torch.float64, device=x.device)
    with _on_device(x):
        _forward_kernel[(batch * n_blocks,)](
            x, v0, ptr(i0), ptr(b0), params,
            out, v, ptr(i), ptr(b), ptr(rec_v), ptr(rec_i), ptr(rec_b), lane_sums,
            steps, n, n_blocks,
            **forward_constexprs(cfg, x.dtype, block, stages), num_warps=warps,
            **LAUNCH_OPTIONS,
        )  # fmt: skip
    # the sum of the outputs (the layers' firing_rate)
    return out, v, i, b, e, rec_v, rec_i, rec_b, e, lane_sums.sum().to(x.dtype)


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
    block: int | None = None,
    stages: int = PIPELINE_STAGES,
) -> Tensors:
    """Gradients ``(g_x, g_v0, g_i0, g_b0, g_u0, g_params (P, N))`` of :func:`scan_forward`.

    The contract of the oracle's ``scan_backward``; empty gradient tensors mean
    zero. ``block`` and ``stages`` as in :func:`scan_forward`.
    """
    _check(x, params)
    g_out, g_v, g_i, g_b, g_u, g_rec_v, g_rec_i, g_rec_b, g_rec_u = (
        t.contiguous() for t in (g_out, g_v, g_i, g_b, g_u, g_rec_v, g_rec_i, g_rec_b, g_rec_u)
    )
    x, v0, i0, b0, u0, params = (t.contiguous() for t in (x, v0, i0, b0, u0, params))
    if cfg.family == Family.IZHIKEVICH:
        return _izh_backward(g_out, g_v, g_u, g_rec_v, g_rec_u, x, v0, u0, params, cfg,
                             block, stages)  # fmt: skip
    if cfg.family == Family.ADEX:
        return _adex_backward(g_out, g_v, g_u, g_rec_v, g_rec_u, x, v0, u0, params, cfg,
                              block, stages)  # fmt: skip
    if cfg.family in (Family.RESONATE, Family.RESONATE_BALANCED):
        return _rf_backward(g_out, g_v, g_u, g_b, g_rec_v, g_rec_u, g_rec_b, x, v0, u0, b0,
                            params, cfg, block, stages)  # fmt: skip
    batch, steps, n = x.shape
    adaptive = cfg.adaptive
    g_x = torch.empty_like(x)
    g_v0 = torch.empty_like(v0)
    g_i0 = torch.empty_like(v0) if cfg.has_syn else x.new_empty(0)
    g_b0 = torch.empty_like(v0) if adaptive else x.new_empty(0)
    if steps == 0 or batch * n == 0:  # the kernels assume T >= 1

        def passed(g: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
            return out.copy_(g) if g.numel() and out.numel() else out.zero_()

        return (
            g_x,
            passed(g_v, g_v0),
            passed(g_i, g_i0),
            passed(g_b, g_b0),
            x.new_empty(0),
            params.new_zeros(params.shape),
        )
    # (zeros: the rows of other families, Izhikevich's, are not written)
    g_partial = x.new_zeros((batch, N_PARAMS, n))
    i_scratch = torch.empty_like(x) if cfg.has_syn else x.new_empty(0)
    b_scratch = torch.empty_like(x) if adaptive else x.new_empty(0)
    auto_block, warps = launch_shape(batch, n, x.device)
    block = block or auto_block
    n_blocks = triton.cdiv(n, block)
    upstream = tuple(g.numel() > 0 for g in (g_v, g_i, g_b, g_rec_v, g_rec_i, g_rec_b))

    def ptr(t: torch.Tensor) -> torch.Tensor:  # absent tensors: any valid pointer
        return t if t.numel() else x

    with _on_device(x):
        _backward_kernel[(batch * n_blocks,)](
            g_out, ptr(g_v), ptr(g_i), ptr(g_b), ptr(g_rec_v), ptr(g_rec_i), ptr(g_rec_b),
            x, v0, ptr(i0), ptr(b0), params,
            g_x, g_v0, ptr(g_i0), ptr(g_b0), g_partial, ptr(i_scratch), ptr(b_scratch),
            steps, n, n_blocks,
            **backward_constexprs(cfg, x.dtype, block, upstream, stages),
            num_warps=warps, **LAUNCH_OPTIONS,
        )  # fmt: skip
    return g_x, g_v0, g_i0, g_b0, x.new_empty(0), g_partial.sum(0)
