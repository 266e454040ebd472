r"""The fused scan in plain PyTorch: forward without a graph, hand-written backward.

The test oracle of the kernels in neutral form (``kernel_checks``, ``test_cpu_kernel``,
``benchmarks/gpu_check.py``), and the array-form statement of the math every kernel
implements. It differs from :func:`sinabs.dynamics.reference.reference_scan`, the
oracle of the layers, in what it checks: the kernels' own contract (the ``(P, N)``
parameter table, absent states as empty tensors, the parameter gradients per row, the
C kernel's forward bit for bit) rather than the layers' semantics. Per step (all tensors ``(B, N)``,
parameters ``(N,)``, see :mod:`.config`):

.. code-block:: text

    c  = a_syn * (i + x)       if syn  else x            (i <- c)
    v1 = a_mem * v + (1 - a_mem) * c   if norm_input
       = a_mem * v + c                 if leak
       = v + c                         otherwise
    th = b0 + beta * b         (adaptive)  else threshold
    s  = spike(v1, th)                                   (spiking, adaptive)
    v2 = v1 - s * (amount or th)   (subtract)  |  s == 0 ? v1 : amount   (reset to value)
    b  <- a_adapt * b + (1 - a_adapt) * s                (adaptive)
    v  <- relu(v2 - m) + m     if min_v_mem  else v2
    out = s  (spiking, adaptive)  |  v  (leaky)

The backward walks time in reverse. It first recomputes the forward from the saved
input and initial state (only the per-step states ``v``, ``i``, ``b`` before each
step are kept while it runs), then applies the chain rule of the lines above, with
``d s / d v1 = surrogate(v1, th)`` and no gradient into ``th`` through the spike, but
with ``train_threshold``: then the threshold row (ALIF's base ``b0``) also receives
``d s / d threshold = -surrogate(v1, th)`` (the reference's ``threshold_path``).
"""

from __future__ import annotations

import torch

from sinabs.dynamics.families import Family, Reset, Spike
from sinabs.dynamics.fused.config import ROW, KernelConfig, surrogate_object
from sinabs.dynamics.models import ADEX_EXP_CAP, ADEX_EXP_FLOOR, fixed_exp

Tensors = tuple[torch.Tensor, ...]


def _spike(v: torch.Tensor, th: torch.Tensor, cfg: KernelConfig) -> torch.Tensor:
    if cfg.spike == Spike.SINGLE:
        spikes = ((v - th) >= 0).to(v.dtype)
    else:
        count = torch.div(v, th, rounding_mode="trunc")
        spikes = torch.where(v > 0, count, torch.zeros((), dtype=v.dtype))
        if cfg.spike == Spike.MAX:
            spikes = torch.clamp(spikes, max=cfg.fconfig[0])
        assert cfg.spike in (Spike.MULTI, Spike.MAX)
    return spikes + (v - v)  # NaN where v is not finite (see activation.spike_generation)


class _Step:
    """One step of the neutral-form dynamics; keeps the intermediates for the backward."""

    def __init__(self, p: torch.Tensor, cfg: KernelConfig) -> None:
        self.cfg = cfg
        self.a_mem, self.a_syn = p[ROW["alpha_mem"]], p[ROW["alpha_syn"]]
        self.theta, self.m = p[ROW["threshold"]], p[ROW["min_v_mem"]]
        self.a_ad, self.beta = p[ROW["alpha_adapt"]], p[ROW["adapt_scale"]]
        self.amount = p[ROW["reset_amount"]]

    def __call__(
        self, x: torch.Tensor, v: torch.Tensor, i: torch.Tensor, b: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        cfg, r = self.cfg, {}
        cur = self.a_syn * (i + x) if cfg.has_syn else x
        if cfg.has_leak:
            drive = (1 - self.a_mem) * cur if cfg.norm_input else cur
            v1 = self.a_mem * v + drive
        else:
            v1 = v + cur
        r["cur"], r["v1"] = cur, v1
        v2, b_new = v1, b
        if cfg.spikes:
            th = self.theta + self.beta * b if cfg.adaptive else self.theta
            s = _spike(v1, th, cfg)
            if cfg.reset == Reset.SUBTRACT:
                v2 = v1 - s * (self.amount if cfg.reset_by_amount else th)
            elif cfg.reset == Reset.TO_VALUE:
                v2 = torch.where(s == 0, v1, self.amount)
            if cfg.adaptive:
                b_new = self.a_ad * b + (1 - self.a_ad) * s
            r["th"], r["s"] = th, s
        r["v2"] = v2
        r["v"] = torch.relu(v2 - self.m) + self.m if cfg.has_min else v2
        r["i"], r["b"] = cur if cfg.has_syn else i, b_new
        r["out"] = r["s"] if cfg.spikes else r["v"]
        return r


@torch.no_grad()
def scan_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    i0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
) -> Tensors:
    """Forward in neutral form; returns ``(out, v, i, b, u, rec_v, rec_i, rec_b, rec_u,
    out_sum)``.

    ``out_sum`` is the sum of ``out`` (0-dim, accumulated in float64), from which the
    layers take their ``firing_rate``.
    """
    if cfg.family in _POINT_RUNS:
        return _point_forward(x, v0, u0, params, cfg)
    if cfg.family in (Family.RESONATE, Family.RESONATE_BALANCED):
        return _rf_forward(x, v0, u0, b0, params, cfg)
    step = _Step(params, cfg)
    v, i, b = v0, i0, b0
    outs, rec_v, rec_i, rec_b = [], [], [], []
    for x_t in x.unbind(1):
        r = step(x_t, v, i, b)
        v, i, b = r["v"], r["i"], r["b"]
        outs.append(r["out"])
        if cfg.record:
            rec_v.append(v)
            rec_i.append(i)
            rec_b.append(b)

    def stacked(items: list[torch.Tensor], present: bool) -> torch.Tensor:
        if not (cfg.record and present):
            return x.new_empty(0)
        return torch.stack(items, 1) if items else torch.empty_like(x)  # T == 0: (B, 0, N)

    out = torch.stack(outs, 1) if outs else torch.empty_like(x)
    return (
        out,
        v.clone(),
        i.clone() if cfg.has_syn else x.new_empty(0),
        b.clone() if cfg.adaptive else x.new_empty(0),
        x.new_empty(0),
        stacked(rec_v, True),
        stacked(rec_i, cfg.has_syn),
        stacked(rec_b, cfg.adaptive),
        x.new_empty(0),
        out.sum(dtype=torch.float64).to(x.dtype),
    )


def _or_zero(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return g if g.numel() else torch.zeros_like(like)


@torch.no_grad()
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
) -> Tensors:
    """Gradients ``(g_x, g_v0, g_i0, g_b0, g_u0, g_params (P, N))`` of the forward above."""
    if cfg.family in _POINT_RUNS:
        return _point_backward(g_out, g_v, g_u, g_rec_v, g_rec_u, x, v0, u0, params, cfg)
    if cfg.family in (Family.RESONATE, Family.RESONATE_BALANCED):
        return _rf_backward(
            g_out, g_v, g_b, g_u, g_rec_v, g_rec_b, g_rec_u, x, v0, b0, u0, params, cfg
        )
    step = _Step(params, cfg)
    surrogate = surrogate_object(cfg) if cfg.spikes else None
    # Recompute the states before every step.
    before: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    v, i, b = v0, i0, b0
    xs = x.unbind(1)
    for x_t in xs:
        before.append((v, i, b))
        r = step(x_t, v, i, b)
        v, i, b = r["v"], r["i"], r["b"]

    gv = _or_zero(g_v, v0)
    gi = _or_zero(g_i, v0) if cfg.has_syn else None
    gb = _or_zero(g_b, v0) if cfg.adaptive else None
    g_rv = g_rec_v.unbind(1) if cfg.record and g_rec_v.numel() else None
    g_ri = g_rec_i.unbind(1) if cfg.record and g_rec_i.numel() else None
    g_rb = g_rec_b.unbind(1) if cfg.record and g_rec_b.numel() else None
    g_outs = g_out.unbind(1)
    # Parameter gradients sum over time and batch: accumulate them in float64.
    gp = {name: torch.zeros_like(v0, dtype=torch.float64) for name in ROW}
    gx: list[torch.Tensor] = [v0] * len(xs)
    for t in range(len(xs) - 1, -1, -1):
        v_prev, i_prev, b_prev = before[t]
        r = step(xs[t], v_prev, i_prev, b_prev)
        g_vt = gv if g_rv is None else gv + g_rv[t]
        if not cfg.spikes:
            g_vt = g_vt + g_outs[t]
        if cfg.has_min:
            mask = (r["v2"] - step.m) > 0
            g_v2 = torch.where(mask, g_vt, 0.0)
            gp["min_v_mem"] += g_vt - g_v2
        else:
            g_v2 = g_vt
        g_v1 = g_v2
        g_b_prev = None
        if cfg.spikes:
            s, th = r["s"], r["th"]
            g_s = g_outs[t]
            g_th = None
            if cfg.reset == Reset.SUBTRACT:
                amount = step.amount if cfg.reset_by_amount else th
                g_s = g_s - amount * g_v2
                g_reset = -s * g_v2
                if cfg.reset_by_amount:
                    gp["reset_amount"] += g_reset
                else:
                    g_th = g_reset
            elif cfg.reset == Reset.TO_VALUE:
                g_v1 = torch.where(s == 0, g_v2, 0.0)
                gp["reset_amount"] += g_v2 - g_v1
            if cfg.adaptive:
                assert gb is not None
                g_bt = gb if g_rb is None else gb + g_rb[t]
                g_s = g_s + (1 - step.a_ad) * g_bt
                gp["alpha_adapt"] += (b_prev - s) * g_bt
                g_b_prev = step.a_ad * g_bt
                if g_th is not None:
                    g_b_prev = g_b_prev + step.beta * g_th
                    gp["threshold"] += g_th
                    gp["adapt_scale"] += b_prev * g_th
            elif g_th is not None:
                gp["threshold"] += g_th
            assert surrogate is not None
            g_sv = g_s * surrogate(r["v1"], th)
            if cfg.train_threshold:
                gp["threshold"] -= g_sv
            g_v1 = g_v1 + g_sv
        if cfg.has_leak:
            gv = step.a_mem * g_v1
            gp["alpha_mem"] += v_prev * g_v1
            if cfg.norm_input:
                g_cur = (1 - step.a_mem) * g_v1
                gp["alpha_mem"] -= r["cur"] * g_v1
            else:
                g_cur = g_v1
        else:
            gv, g_cur = g_v1, g_v1
        if cfg.has_syn:
            assert gi is not None
            g_it = gi if g_ri is None else gi + g_ri[t]
            g_c = g_it + g_cur
            gx[t] = step.a_syn * g_c
            gi = step.a_syn * g_c
            gp["alpha_syn"] += (i_prev + xs[t]) * g_c
        else:
            gx[t] = g_cur
        if g_b_prev is not None:
            gb = g_b_prev
    g_params = torch.stack([gp[name].sum(0) for name in ROW]).to(params.dtype)
    g_x = torch.stack(gx, 1) if gx else torch.zeros_like(x)
    return (
        g_x,
        gv.clone() if gv is g_v else gv,
        gi.clone() if gi is g_i else (gi if gi is not None else x.new_empty(0)),
        gb.clone() if gb is g_b else (gb if gb is not None else x.new_empty(0)),
        x.new_empty(0),
        g_params,
    )


# --- Izhikevich: the step in the reference's order (models.izhikevich_step); its
# backward by autograd, an independent check of the kernels' hand-written chain rule


class _IzhSpike(torch.autograd.Function):
    """The spike with the configuration's surrogate as its gradient."""

    @staticmethod
    def forward(ctx, v, th, cfg):  # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(v, th)
        ctx.cfg = cfg
        return ((v - th) >= 0).to(v.dtype) + (v - v)

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def, override]
        v, th = ctx.saved_tensors
        return g * surrogate_object(ctx.cfg)(v, th), None, None


def _izh_run(
    x: torch.Tensor, v: torch.Tensor, u: torch.Tensor, p: torch.Tensor, cfg: KernelConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    outs, rec_v, rec_u = [], [], []
    th = p[ROW["threshold"]]
    for x_t in x.unbind(1):
        half = 0.5 * p[ROW["dt"]]
        w = v + half * (0.04 * (v * v) + 5 * v + 140 - u + x_t)
        w = w + half * (0.04 * (w * w) + 5 * w + 140 - u + x_t)
        u1 = u + p[ROW["dt"]] * p[ROW["izh_a"]] * (p[ROW["izh_b"]] * w - u)
        fired = (w >= th).detach()
        outs.append(_IzhSpike.apply(w, th, cfg))
        v = torch.where(fired, p[ROW["izh_c"]], w)
        u = torch.where(fired, u1 + p[ROW["izh_d"]], u1)
        rec_v.append(v)
        rec_u.append(u)
    return torch.stack(outs, 1), v, u, torch.stack(rec_v, 1), torch.stack(rec_u, 1)


def _adex_run(
    x: torch.Tensor, v: torch.Tensor, w: torch.Tensor, p: torch.Tensor, cfg: KernelConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """AdEx (models.adex_step) on the rows, w in the kernels' u; V_peak is the threshold
    row (its gradient comes through min(v, V_peak) only, as in the reference)."""
    outs, rec_v, rec_w = [], [], []
    th = p[ROW["threshold"]]
    C, g_L, E_L = p[ROW["adex_C"]], p[ROW["adex_g_L"]], p[ROW["adex_E_L"]]
    V_T, Delta_T, tau_w = p[ROW["adex_V_T"]], p[ROW["adex_Delta_T"]], p[ROW["adex_tau_w"]]
    a, b, V_r, dt = p[ROW["adex_a"]], p[ROW["adex_b"]], p[ROW["adex_V_r"]], p[ROW["dt"]]
    for x_t in x.unbind(1):
        exponent = ((torch.minimum(v, th) - V_T) / Delta_T).clamp(
            min=ADEX_EXP_FLOOR, max=ADEX_EXP_CAP
        )
        dv = (-g_L * (v - E_L) + g_L * Delta_T * fixed_exp(exponent) - w + x_t) / C
        dw = (a * (v - E_L) - w) / tau_w
        v1 = v + dt * dv
        w1 = w + dt * dw
        fired = (v1 >= th).detach()
        outs.append(_IzhSpike.apply(v1, th, cfg))
        v = torch.where(fired, V_r, v1)
        w = torch.where(fired, w1 + b, w1)
        rec_v.append(v)
        rec_w.append(w)
    return torch.stack(outs, 1), v, w, torch.stack(rec_v, 1), torch.stack(rec_w, 1)


#: the point-neuron families: their run and the rows the kernels give a gradient
#: (dt is a constant of the layer; Izhikevich's v_peak too, AdEx's V_peak gets one
#: through min(v, V_peak))
_POINT_RUNS = {Family.IZHIKEVICH: _izh_run, Family.ADEX: _adex_run}
_POINT_TRAINED = {
    Family.IZHIKEVICH: ("izh_a", "izh_b", "izh_c", "izh_d"),
    Family.ADEX: (
        "threshold",
        "adex_C",
        "adex_g_L",
        "adex_E_L",
        "adex_V_T",
        "adex_Delta_T",
        "adex_tau_w",
        "adex_a",
        "adex_b",
        "adex_V_r",
    ),
}


@torch.no_grad()
def _point_forward(
    x: torch.Tensor, v0: torch.Tensor, u0: torch.Tensor, p: torch.Tensor, cfg: KernelConfig
) -> Tensors:
    if x.shape[1] == 0:
        out, v, u = torch.empty_like(x), v0.clone(), u0.clone()
        rec_v, rec_u = torch.empty_like(x), torch.empty_like(x)
    else:
        out, v, u, rec_v, rec_u = _POINT_RUNS[cfg.family](x, v0, u0, p, cfg)
    empty = x.new_empty(0)
    return (
        out, v.clone(), empty, empty, u.clone(),
        rec_v if cfg.record else empty, empty, empty, rec_u if cfg.record else empty,
        out.sum(dtype=torch.float64).to(x.dtype),
    )  # fmt: skip


def _point_backward(
    g_out: torch.Tensor,
    g_v: torch.Tensor,
    g_u: torch.Tensor,
    g_rec_v: torch.Tensor,
    g_rec_u: torch.Tensor,
    x: torch.Tensor,
    v0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
) -> Tensors:
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in (x, v0, u0, params)]
        xl, vl, ul, pl = leaves
        if x.shape[1] == 0:
            out, v, u, rec_v, rec_u = xl * 0, vl * 1, ul * 1, xl * 0, xl * 0
        else:
            out, v, u, rec_v, rec_u = _POINT_RUNS[cfg.family](xl, vl, ul, pl, cfg)
        pairs = [(out, g_out), (v, g_v), (u, g_u)]
        if cfg.record:
            pairs += [(rec_v, g_rec_v), (rec_u, g_rec_u)]
        outs = [o for o, g in pairs if g.numel()]
        grads = [g for _, g in pairs if g.numel()]
        got = torch.autograd.grad(outs, leaves, grads, allow_unused=True)
    g_x, g_v0, g_u0, g_p = (
        torch.zeros_like(t) if g is None else g for g, t in zip(got, leaves, strict=True)
    )
    # the kernels give gradients to the family's trained rows only
    keep = [ROW[k] for k in _POINT_TRAINED[cfg.family]]
    mask = params.new_zeros(len(ROW), 1)
    mask[keep] = 1
    empty = x.new_empty(0)
    return g_x, g_v0, empty, empty, g_u0, g_p * mask


# --- resonate-and-fire: the step in the reference's order (models.resonate_step), the
# plain form's z_re, z_im in the kernels' v, u and the balanced form's q in b; its
# backward by autograd (also through q, the damping and the threshold + q)


def _rf_run(
    x: torch.Tensor,
    re: torch.Tensor,
    im: torch.Tensor,
    q: torch.Tensor,
    p: torch.Tensor,
    cfg: KernelConfig,
) -> tuple[torch.Tensor, ...]:
    """``(out, re, im, q, rec_re, rec_im, rec_q)``; ``q`` is unused by the plain form."""
    balanced = cfg.family == Family.RESONATE_BALANCED
    dt, omega, damping = p[ROW["dt"]], p[ROW["rf_omega"]], p[ROW["rf_damping"]]
    th = p[ROW["threshold"]]
    outs, recs = [], []
    for x_t in x.unbind(1):
        b = damping - q if balanced else damping
        new_re = re + dt * (b * re - omega * im + x_t)
        new_im = im + dt * (omega * re + b * im)
        if balanced:
            s = _IzhSpike.apply(new_re, th + q, cfg)
            q = p[ROW["rf_gamma"]] * q + s
        else:
            s = _IzhSpike.apply(new_im, th, cfg) + (new_re - new_re)
            fired = (new_im >= th).detach()
            new_re = torch.where(fired, p[ROW["rf_x_reset"]], new_re)
            new_im = torch.where(fired, p[ROW["rf_y_reset"]], new_im)
        re, im = new_re, new_im
        outs.append(s)
        recs.append((re, im, q))
    rec_re, rec_im, rec_q = (torch.stack(r, 1) for r in zip(*recs, strict=True))
    return torch.stack(outs, 1), re, im, q, rec_re, rec_im, rec_q


@torch.no_grad()
def _rf_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    u0: torch.Tensor,
    b0: torch.Tensor,
    p: torch.Tensor,
    cfg: KernelConfig,
) -> Tensors:
    balanced = cfg.family == Family.RESONATE_BALANCED
    q0 = b0 if balanced else torch.zeros_like(v0)
    if x.shape[1] == 0:
        out, re, im, q = torch.empty_like(x), v0, u0, q0
        rec_re = rec_im = rec_q = torch.empty_like(x)
    else:
        out, re, im, q, rec_re, rec_im, rec_q = _rf_run(x, v0, u0, q0, p, cfg)
    empty = x.new_empty(0)
    rec = cfg.record
    return (
        out, re.clone(), empty, q.clone() if balanced else empty, im.clone(),
        rec_re if rec else empty, empty, rec_q if rec and balanced else empty,
        rec_im if rec else empty, out.sum(dtype=torch.float64).to(x.dtype),
    )  # fmt: skip


def _rf_backward(
    g_out: torch.Tensor,
    g_v: torch.Tensor,
    g_b: torch.Tensor,
    g_u: torch.Tensor,
    g_rec_v: torch.Tensor,
    g_rec_b: torch.Tensor,
    g_rec_u: torch.Tensor,
    x: torch.Tensor,
    v0: torch.Tensor,
    b0: torch.Tensor,
    u0: torch.Tensor,
    params: torch.Tensor,
    cfg: KernelConfig,
) -> Tensors:
    balanced = cfg.family == Family.RESONATE_BALANCED
    with torch.enable_grad():
        q0 = b0 if balanced else torch.zeros_like(v0)
        leaves = [t.detach().requires_grad_() for t in (x, v0, u0, q0, params)]
        xl, rl, il, ql, pl = leaves
        if x.shape[1] == 0:
            out, re, im, q = xl * 0, rl * 1, il * 1, ql * 1
            rec_re = rec_im = rec_q = xl * 0
        else:
            out, re, im, q, rec_re, rec_im, rec_q = _rf_run(xl, rl, il, ql, pl, cfg)
        pairs = [(out, g_out), (re, g_v), (im, g_u)]
        if balanced:
            pairs.append((q, g_b))
        if cfg.record:
            pairs += [(rec_re, g_rec_v), (rec_im, g_rec_u)]
            if balanced:
                pairs.append((rec_q, g_rec_b))
        outs = [o for o, g in pairs if g.numel()]
        grads = [g for _, g in pairs if g.numel()]
        got = torch.autograd.grad(outs, leaves, grads, allow_unused=True)
    g_x, g_v0, g_u0, g_q0, g_p = (
        torch.zeros_like(t) if g is None else g for g, t in zip(got, leaves, strict=True)
    )
    # the kernels' trained rows: omega, the damping and the plain form's reset values or
    # the balanced form's gamma (dt and the threshold are constants of the layer)
    trained = ("rf_gamma",) if balanced else ("rf_x_reset", "rf_y_reset")
    keep = [ROW[k] for k in ("rf_omega", "rf_damping", *trained)]
    mask = params.new_zeros(len(ROW), 1)
    mask[keep] = 1
    empty = x.new_empty(0)
    return g_x, g_v0, empty, g_q0 if balanced else empty, g_u0, g_p * mask
