/* One instantiation of the fused neuron scan for a scalar type and an instruction set.
 *
 * Included by scan_variant.h, in a translation unit of its own per (type, ISA), with
 * S_IS_FLOAT (1: float, 0: double) and ISA_NAME (default, avx2, avx512) defined; the
 * functions are named like fwd_item_f32_avx512 (those scan.c calls are declared in
 * scan_common.h).
 *
 * The math is the one of torch_impl.py, written lane by lane in the same floating-point
 * order (the forward is bit-identical to it). Neurons are cut into slots of BLOCK
 * lanes (see Job in scan.c); a work item is a batch row and a range of slots, and runs
 * the time loop outside and the slots inside. The loop over the lanes of a slot
 * contains only branch-free selects, so that the compiler vectorizes it.
 *
 * Family, synapse, single vs multi spike and FAST (no min_v_mem, subtract the
 * threshold: the defaults; and whether all neurons share their parameters) are
 * compile-time arguments of always-inline functions, expanded into 30 specializations
 * for float32 (SPECIALIZE below; float64, for checks more than speed, has the 10
 * general ones); the other options are per-lane
 * selects on flag rows, written so that a disabled option gives exactly the float
 * operations of torch_impl (the missing leak is a factor 1: 1 * v == v).
 *
 * The most common backwards (float32 on AVX-512, the default reset and surrogate, no
 * min_v_mem) have their own code with intrinsics,
 * bwd_slot, which keeps a slot's states in registers with time as the inner loop; it
 * gives bwd_chunk's bits.
 */

#if S_IS_FLOAT
#define S float
#define FLOOR floorf
#define TRUNC truncf
#define BLOCK BLOCK_F32
#define NAME(x) CAT3(x, f32, ISA_NAME)
#else
#define S double
#define FLOOR floor
#define TRUNC trunc
#define BLOCK BLOCK_F64
#define NAME(x) CAT3(x, f64, ISA_NAME)
#endif

#include "surrogate.h"

/* ------------------------------------------------------------------ set-up (per call)
 * The parameter table q: for every slot N_Q rows of BLOCK lanes (slot-major, so that a
 * step of a slot reads one contiguous piece), prepared so that disabled options are
 * exact identities; lanes past N get harmless values and are never stored. And the
 * flag rows: 1 or 0 in every lane (GCC does not vectorize selects on a loop-invariant
 * scalar for AVX-512; selects on a per-lane comparison it does). */

KERNEL_API void NAME(setup)(const Job *J, const void *params, void *q_out,
                            void *flags_out) {
    const int64_t N = J->N;
    const S *P = (const S *)params;
    S *restrict q = (S *)q_out, *restrict flags = (S *)flags_out;
    const Cfg *c = &J->cfg;
    for (int64_t slot = 0; slot < J->nslots; slot++) {
        const int64_t n0 = slot_n0(J, slot);
        S *qs = q + slot * N_Q * BLOCK;
        for (int l = 0; l < BLOCK; l++) {
            /* the rows every family reads, then a point model's own (only its family's
             * q rows are written: the others are never read) */
            const int in = n0 + l < N;
#define ROWV(r) (in ? P[(int64_t)(r) * N + n0 + l] : (S)ROW_PAD[r])
            S am = ROWV(ROW_ALPHA_MEM), aad = ROWV(ROW_ALPHA_ADAPT), th = ROWV(ROW_THRESHOLD);
            S fa = 0, fb = 0;
            if (c->family != FAMILY_LEAKY) NAME(sg_factor)(c->surrogate, c->sg, th, &fa, &fb);
            qs[Q_AM * BLOCK + l] = c->leak ? am : (S)1;
            qs[Q_K * BLOCK + l] = c->norm ? (S)1 - am : (S)1;
            qs[Q_KN * BLOCK + l] = (S)c->norm;
            qs[Q_AS * BLOCK + l] = ROWV(ROW_ALPHA_SYN);
            qs[Q_TH * BLOCK + l] = th;
            qs[Q_M * BLOCK + l] = ROWV(ROW_MIN_V_MEM);
            qs[Q_AAD * BLOCK + l] = aad;
            qs[Q_OMA * BLOCK + l] = (S)1 - aad;
            qs[Q_BETA * BLOCK + l] = ROWV(ROW_ADAPT_SCALE);
            qs[Q_R * BLOCK + l] = ROWV(ROW_RESET_AMOUNT);
            qs[Q_SGA * BLOCK + l] = fa;
            qs[Q_SGB * BLOCK + l] = fb;
            if (c->family == FAMILY_IZHIKEVICH) {
                /* dt / 2 as the reference's 0.5 * dt, and dt * a in its order */
                qs[Q_IA * BLOCK + l] = ROWV(ROW_IZH_A);
                qs[Q_IB * BLOCK + l] = ROWV(ROW_IZH_B);
                qs[Q_IC * BLOCK + l] = ROWV(ROW_IZH_C);
                qs[Q_ID * BLOCK + l] = ROWV(ROW_IZH_D);
                qs[Q_HALF * BLOCK + l] = (S)0.5 * ROWV(ROW_DT);
                qs[Q_KA * BLOCK + l] = ROWV(ROW_DT) * ROWV(ROW_IZH_A);
            } else if (c->family == FAMILY_ADEX) {
                /* g_L * Delta_T as the reference multiplies them (before the exp) */
                qs[Q_XC * BLOCK + l] = ROWV(ROW_ADEX_C);
                qs[Q_XGL * BLOCK + l] = ROWV(ROW_ADEX_G_L);
                qs[Q_XEL * BLOCK + l] = ROWV(ROW_ADEX_E_L);
                qs[Q_XVT * BLOCK + l] = ROWV(ROW_ADEX_V_T);
                qs[Q_XDT * BLOCK + l] = ROWV(ROW_ADEX_DELTA_T);
                qs[Q_XTW * BLOCK + l] = ROWV(ROW_ADEX_TAU_W);
                qs[Q_XA * BLOCK + l] = ROWV(ROW_ADEX_A);
                qs[Q_XB * BLOCK + l] = ROWV(ROW_ADEX_B);
                qs[Q_XVR * BLOCK + l] = ROWV(ROW_ADEX_V_R);
                qs[Q_DT * BLOCK + l] = ROWV(ROW_DT);
                qs[Q_XGD * BLOCK + l] = ROWV(ROW_ADEX_G_L) * ROWV(ROW_ADEX_DELTA_T);
            } else if (c->family == FAMILY_RESONATE || c->family == FAMILY_RESONATE_BALANCED) {
                /* (the balanced form's damping row is p(omega) - b_offset, from the host) */
                qs[Q_DT * BLOCK + l] = ROWV(ROW_DT);
                qs[Q_OM * BLOCK + l] = ROWV(ROW_RF_OMEGA);
                qs[Q_DAMP * BLOCK + l] = ROWV(ROW_RF_DAMPING);
                qs[Q_XR * BLOCK + l] = ROWV(ROW_RF_X_RESET);
                qs[Q_YR * BLOCK + l] = ROWV(ROW_RF_Y_RESET);
                qs[Q_GAM * BLOCK + l] = ROWV(ROW_RF_GAMMA);
            }
#undef ROWV
        }
    }
    const int sub = c->reset == RESET_SUBTRACT;
    const int on[N_F] = {
        [F_MIN] = c->has_min,
        [F_SUB] = sub,
        [F_TO] = c->reset == RESET_TO_VALUE,
        [F_NONE] = c->reset == RESET_NONE,
        [F_AMOUNT] = c->by_amount,
        [F_GTH] = sub && !c->by_amount,
        [F_TRAIN] = c->train,
        [F_ZERO] = 0,
    };
    for (int f = 0; f < N_F; f++) {
        for (int l = 0; l < BLOCK; l++) flags[f * BLOCK + l] = (S)on[f];
    }
}

/* ------------------------------------------------------------------ pieces of a step */

typedef struct {
    const S *am, *k, *kn, *as, *th0, *m, *aad, *oma, *beta, *R, *sga, *sgb; /* q rows */
    const S *ia, *ib, *ic, *id, *half, *ka; /* Izhikevich's */
    const S *xc, *xgl, *xel, *xvt, *xdt, *xtw, *xa, *xb, *xvr, *dt, *xgd; /* AdEx's */
    const S *om, *damp, *xr, *yr, *gam; /* resonate-and-fire's (with dt) */
} NAME(Par);

static inline ALWAYS_INLINE NAME(Par) NAME(par)(const Job *J, int64_t slot) {
    const S *q = (const S *)J->q + slot * N_Q * BLOCK;
    NAME(Par) p = {q + Q_AM * BLOCK,  q + Q_K * BLOCK,    q + Q_KN * BLOCK,
                   q + Q_AS * BLOCK,  q + Q_TH * BLOCK,   q + Q_M * BLOCK,
                   q + Q_AAD * BLOCK, q + Q_OMA * BLOCK,  q + Q_BETA * BLOCK,
                   q + Q_R * BLOCK,   q + Q_SGA * BLOCK,  q + Q_SGB * BLOCK,
                   q + Q_IA * BLOCK,  q + Q_IB * BLOCK,   q + Q_IC * BLOCK,
                   q + Q_ID * BLOCK,  q + Q_HALF * BLOCK, q + Q_KA * BLOCK,
                   q + Q_XC * BLOCK,  q + Q_XGL * BLOCK,  q + Q_XEL * BLOCK,
                   q + Q_XVT * BLOCK, q + Q_XDT * BLOCK,  q + Q_XTW * BLOCK,
                   q + Q_XA * BLOCK,  q + Q_XB * BLOCK,   q + Q_XVR * BLOCK,
                   q + Q_DT * BLOCK,  q + Q_XGD * BLOCK,
                   q + Q_OM * BLOCK,  q + Q_DAMP * BLOCK, q + Q_XR * BLOCK,
                   q + Q_YR * BLOCK,  q + Q_GAM * BLOCK};
    return p;
}

/* A membrane that is not finite spikes NaN: s + (v1 - v1) adds +0 to every other
 * spike count (as the reference's spike functions do). */
static inline ALWAYS_INLINE S NAME(spike)(S v1, S th, const int MULTI, S cap) {
    S s;
    if (MULTI) {
        S count = TRUNC(v1 / th);
        s = v1 > 0 ? count : (S)0;
        s = s > cap ? cap : s; /* torch.clamp(max=cap); cap = inf without a cap */
    } else {
        s = (v1 - th) >= 0 ? (S)1 : (S)0;
    }
    return s + (v1 - v1);
}

/* The reset (FAST: subtract the threshold). */
static inline ALWAYS_INLINE S NAME(reset)(S v1, S s, S th, S R, S f_to, S f_none,
                                          S f_amount, const int FAST) {
    if (FAST) return v1 - s * th;
    S sub = v1 - s * (f_amount != 0 ? R : th);
    S to = s == 0 ? v1 : R;
    return f_none != 0 ? v1 : (f_to != 0 ? to : sub);
}

/* The clamp to min_v_mem (FAST: none). */
static inline ALWAYS_INLINE S NAME(clamp_min)(S v2, S m, S f_min, const int FAST) {
    if (FAST) return v2;
    S d = v2 - m;
    S relu = d < 0 ? (S)0 : d; /* keeps NaN and -0.0 like torch.relu */
    return f_min != 0 ? relu + m : v2;
}

/* Zero-filled copy of a row of nl < BLOCK lanes (layers with fewer than BLOCK neurons
 * run on such padded rows); src NULL gives zeros. */
static inline ALWAYS_INLINE void NAME(pad_row)(S *restrict dst, const S *src, int nl) {
    for (int l = 0; l < BLOCK; l++) dst[l] = src && l < nl ? src[l] : (S)0;
}

static inline ALWAYS_INLINE void NAME(copy_row)(S *restrict dst, const S *restrict src,
                                                int nl) {
    for (int l = 0; l < nl; l++) dst[l] = src[l];
}

/* The initial-state row of slot n0 from a (B, N) tensor (zeros when absent). */
static inline ALWAYS_INLINE void NAME(load_state)(S *restrict dst, const void *src,
                                                   const Job *J, int64_t b, int64_t n0,
                                                   int nl) {
    NAME(pad_row)(dst, src ? (const S *)src + b * J->N + n0 : NULL, nl);
}

#define FLAG(f) (flags + (f) * BLOCK)
/* Parameter f of lane l. FAST == 2 (float32, see SPECIALIZE) also means that every
 * neuron has the same parameters (scalar time constants and thresholds, the usual
 * case): lane 0's value then serves all lanes, a register rather than a load per step
 * (the lane loops are bound by loads and stores). */
#define PAR(f) (FAST == 2 ? p.f[0] : p.f[l])

/* Software prefetch of one row of a slot (BLOCK lanes) a few steps ahead: an item
 * reads a short piece of every step's row and then jumps by N, which the hardware
 * prefetchers (they stop at page boundaries) do not follow. */
static inline ALWAYS_INLINE void NAME(prefetch_read)(const S *row) {
    for (int k = 0; k < BLOCK * (int)sizeof(S); k += 64) __builtin_prefetch((const char *)row + k, 0, 3);
}

static inline ALWAYS_INLINE void NAME(prefetch_write)(const S *row) {
    for (int k = 0; k < BLOCK * (int)sizeof(S); k += 64) __builtin_prefetch((const char *)row + k, 1, 3);
}

/* ------------------------------------------------------------------ Izhikevich
 * The reference's step (models.izhikevich_step) in its order of operations: the
 * right-hand side 0.04*v*v + 5*v + 140 - u + I left to right, two half steps of v,
 * then u with the new v. */
static inline ALWAYS_INLINE S NAME(izh_rhs)(S v, S u, S x) {
    return (S)0.04 * (v * v) + (S)5 * v + (S)140 - u + x;
}

/* ------------------------------------------------------------------ AdEx
 * models.fixed_exp: e^x as a fixed sequence of IEEE operations, the reference's bits
 * (Cody-Waite reduction with ln 2 in two parts, n * ln2_hi exact; Horner's rule on the
 * Taylor polynomial, degree 7 in float and 13 in double, constants rounded from the
 * double 1 / k! as torch rounds a Python float; times 2^n from its exponent bits).
 * For |x| <= 80 (adex_step clamps); NaN stays NaN (through the polynomial). */
static inline ALWAYS_INLINE S NAME(fixed_exp)(S x) {
#if S_IS_FLOAT
    const S ln2_hi = (S)0.693359375, ln2_lo = (S)-2.12194440e-4;
#else
    const S ln2_hi = (S)6.93147180369123816490e-01, ln2_lo = (S)1.90821492927058770002e-10;
#endif
    S n = FLOOR(x * (S)1.4426950408889634 + (S)0.5);
    S r = (x - n * ln2_hi) - n * ln2_lo;
#if S_IS_FLOAT
    S p = r * (S)(1.0 / 5040.0) + (S)(1.0 / 720.0);
#else
    S p = r * (S)(1.0 / 6227020800.0) + (S)(1.0 / 479001600.0);
    p = p * r + (S)(1.0 / 39916800.0);
    p = p * r + (S)(1.0 / 3628800.0);
    p = p * r + (S)(1.0 / 362880.0);
    p = p * r + (S)(1.0 / 40320.0);
    p = p * r + (S)(1.0 / 5040.0);
    p = p * r + (S)(1.0 / 720.0);
#endif
    p = p * r + (S)(1.0 / 120.0);
    p = p * r + (S)(1.0 / 24.0);
    p = p * r + (S)(1.0 / 6.0);
    p = p * r + (S)0.5;
    p = p * r + (S)1;
    p = p * r + (S)1;
    S scale;
#if S_IS_FLOAT
    uint32_t bits = ((uint32_t)(int32_t)n + 127u) << 23;
#else
    uint64_t bits = ((uint64_t)(int64_t)n + 1023u) << 52;
#endif
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* The reference's step (models.adex_step) up to the spike, in its order of
 * operations: the exponent of min(v, V_peak) clamped to [-80, 80], both derivatives
 * from the state at the start of the step, then the Euler updates. */
typedef struct {
    S dvl, er, ex, dv, dw, v1, w1; /* v - E_L, exponent (unclamped), exp, dV, dw, v, w */
} NAME(AdexStep);

#define ADEX_STEP(v_, w_, x_)                                                             \
    NAME(adex_step)((v_), (w_), (x_), PAR(th0), PAR(xc), PAR(xgl), PAR(xel), PAR(xvt),    \
                    PAR(xdt), PAR(xtw), PAR(xa), PAR(dt), PAR(xgd))

static inline ALWAYS_INLINE NAME(AdexStep) NAME(adex_step)(S v, S w, S x, S th, S C, S gL,
                                                           S EL, S VT, S DT, S tw, S a,
                                                           S dt, S gD) {
    NAME(AdexStep) o;
    S m = v > th ? th : v; /* torch.minimum (NaN stays NaN) */
    o.er = (m - VT) / DT;
    S e = o.er < (S)-80 ? (S)-80 : o.er;
    e = e > (S)80 ? (S)80 : e;
    o.ex = NAME(fixed_exp)(e);
    o.dvl = v - EL;
    o.dv = ((-gL * o.dvl + gD * o.ex) - w + x) / C;
    o.dw = (a * o.dvl - w) / tw;
    o.v1 = v + dt * o.dv;
    o.w1 = w + dt * o.dw;
    return o;
}
/* ------------------------------------------------------------------ resonate-and-fire
 * The reference's Euler step (models.resonate_step) in its order of operations, both
 * parts from the state at the start of the step; the balanced form's damping is the
 * row (p(omega) - b_offset, from the host) minus q. */
static inline ALWAYS_INLINE void NAME(rf_step)(S re, S im, S q, S x, S dt, S om, S damp,
                                               const int BAL, S *nre, S *nim) {
    S b = BAL ? damp - q : damp;
    *nre = re + dt * (b * re - om * im + x);
    *nim = im + dt * (om * re + b * im);
}

#define IS_RESONATE(F) ((F) == FAMILY_RESONATE || (F) == FAMILY_RESONATE_BALANCED)

/* ------------------------------------------------------------------ forward */

/* One step of one slot: states v, i, bb in place. */
static inline ALWAYS_INLINE void NAME(fwd_lanes)(const S *restrict xt, S *restrict ot,
                                                  S *restrict rvt, S *restrict rit,
                                                  S *restrict rbt, S *restrict v,
                                                  S *restrict i, S *restrict bb,
                                                  NAME(Par) p, const S *restrict flags,
                                                  S cap, const int FAM, const int SYN,
                                                  const int MULTI, const int FAST) {
    const S *restrict f_min = FLAG(F_MIN), *restrict f_to = FLAG(F_TO);
    const S *restrict f_none = FLAG(F_NONE), *restrict f_amount = FLAG(F_AMOUNT);
    IVDEP
    for (int l = 0; l < BLOCK; l++) {
        if (FAM == FAMILY_IZHIKEVICH) { /* u in the second state row, i */
            S u = i[l], x = xt[l], th = PAR(th0);
            S v1 = v[l] + PAR(half) * NAME(izh_rhs)(v[l], u, x);
            S v2 = v1 + PAR(half) * NAME(izh_rhs)(v1, u, x);
            S u1 = u + PAR(ka) * (PAR(ib) * v2 - u);
            S s = NAME(spike)(v2, th, 0, cap);
            S vn = v2 >= th ? PAR(ic) : v2;
            S un = v2 >= th ? u1 + PAR(id) : u1;
            ot[l] = s;
            v[l] = vn;
            rvt[l] = vn;
            i[l] = un;
            rit[l] = un;
            continue;
        }
        if (FAM == FAMILY_ADEX) { /* w in the second state row, i */
            const S th = PAR(th0);
            NAME(AdexStep) o = ADEX_STEP(v[l], i[l], xt[l]);
            S s = NAME(spike)(o.v1, th, 0, cap);
            S vn = o.v1 >= th ? PAR(xvr) : o.v1;
            S wn = o.v1 >= th ? o.w1 + PAR(xb) : o.w1;
            ot[l] = s;
            v[l] = vn;
            rvt[l] = vn;
            i[l] = wn;
            rit[l] = wn;
            continue;
        }
        if (IS_RESONATE(FAM)) { /* z_re in v, z_im in the second state row, q in bb */
            const int BAL = FAM == FAMILY_RESONATE_BALANCED;
            S q = BAL ? bb[l] : (S)0, nre, nim;
            NAME(rf_step)(v[l], i[l], q, xt[l], PAR(dt), PAR(om), PAR(damp), BAL, &nre, &nim);
            if (BAL) { /* spikes on z_re at threshold + q; no reset */
                S s = NAME(spike)(nre, PAR(th0) + q, 0, cap);
                S qn = PAR(gam) * q + s;
                ot[l] = s;
                bb[l] = qn;
                rbt[l] = qn;
                v[l] = nre;
                i[l] = nim;
            } else { /* spikes on z_im; NaN of a non-finite z_re at once; hard reset */
                S th = PAR(th0);
                ot[l] = NAME(spike)(nim, th, 0, cap) + (nre - nre);
                v[l] = nim >= th ? PAR(xr) : nre;
                i[l] = nim >= th ? PAR(yr) : nim;
            }
            rvt[l] = v[l];
            rit[l] = i[l];
            continue;
        }
        S c = xt[l];
        if (SYN) {
            c = PAR(as) * (i[l] + c);
            i[l] = c;
            rit[l] = c;
        }
        S v1 = PAR(am) * v[l] + PAR(k) * c;
        S vn;
        if (FAM == FAMILY_LEAKY) {
            vn = NAME(clamp_min)(v1, PAR(m), f_min[l], FAST);
            ot[l] = vn;
        } else {
            S bp = bb[l];
            S th = FAM == FAMILY_ADAPTIVE ? PAR(th0) + PAR(beta) * bp : PAR(th0);
            S s = NAME(spike)(v1, th, MULTI, cap);
            S v2 = NAME(reset)(v1, s, th, PAR(R), f_to[l], f_none[l], f_amount[l], FAST);
            if (FAM == FAMILY_ADAPTIVE) {
                S bn = PAR(aad) * bp + PAR(oma) * s;
                bb[l] = bn;
                rbt[l] = bn;
            }
            vn = NAME(clamp_min)(v2, PAR(m), f_min[l], FAST);
            ot[l] = s;
        }
        v[l] = vn;
        rvt[l] = vn;
    }
}

/* Scratch (in scalars) of a forward item with G slots (the double sums come last). */
KERNEL_API size_t NAME(fwd_scratch)(int64_t G) {
    return (size_t)(4 * G + 9) * BLOCK + (size_t)G * SUM_LANES * (1 + sizeof(double) / sizeof(S));
}

/* acc[l] += the sum of the lanes l, l + SUM_LANES, ... of a row of outputs (all lanes,
 * or with own, those where own is nonzero): a step's outputs, added to the running
 * sums with one row of stores rather than BLOCK / SUM_LANES of them. Two loops rather
 * than one with `own == NULL ||` in the lanes: GCC vectorized that one with masked
 * loads and stack spills in some builds (ten times slower forward, measured). */
static inline ALWAYS_INLINE void NAME(fold_sum)(S *restrict acc, const S *restrict row,
                                                 const S *restrict own) {
    if (own == NULL) {
        IVDEP
        for (int l = 0; l < SUM_LANES; l++) {
            S sum = (S)0;
            for (int q = 0; q < BLOCK / SUM_LANES; q++) sum += row[q * SUM_LANES + l];
            acc[l] += sum;
        }
    } else {
        IVDEP
        for (int l = 0; l < SUM_LANES; l++) {
            S sum = (S)0;
            for (int q = 0; q < BLOCK / SUM_LANES; q++) {
                sum += own[q * SUM_LANES + l] != 0 ? row[q * SUM_LANES + l] : (S)0;
            }
            acc[l] += sum;
        }
    }
}

/* Lanes of slot `slot` (starting at n0) that no other slot computes: the last slot
 * overlaps the one before when BLOCK does not divide N; padded lanes are not neurons. */
static inline ALWAYS_INLINE int NAME(own_first)(const Job *J, int64_t slot, int64_t n0) {
    int64_t regular = slot * BLOCK;
    return regular > n0 && J->N > BLOCK ? (int)(regular - n0) : 0;
}

static inline ALWAYS_INLINE void NAME(fwd_chunk)(const Job *J, S *restrict ws, int64_t b,
                                                  int64_t s0, int64_t s1, const int FAM,
                                                  const int SYN, const int MULTI,
                                                  const int FAST) {
    const int64_t T = J->T, N = J->N, G = s1 - s0;
    const int partial = N < BLOCK, nl = partial ? (int)N : BLOCK;
    const S *flags = (const S *)J->flags;
    const S cap = (S)J->cfg.cap;
    const int rec = J->cfg.record, rec_i = rec && SYN, rec_b = rec && CARRIES_B(FAM);
    S *states = ws;                /* per slot: v, i, b rows */
    S *sink = ws + 3 * G * BLOCK;  /* absent recordings are written here */
    S *pad = sink + 3 * BLOCK;     /* padded rows: x, out, rec_v, rec_i, rec_b */
    S *own = pad + 5 * BLOCK;      /* per slot: 1 in the lanes it alone computes, else 0 */
    S *osum = own + G * BLOCK;     /* per slot: output sums over a chunk of steps (folded) */
    double *otot = (double *)(((uintptr_t)(osum + G * SUM_LANES) + 63) & ~(uintptr_t)63);
    const S *x = (const S *)J->x;
    S *out = (S *)J->out, *rv = (S *)J->rec_v, *ri = (S *)J->rec_i, *rb = (S *)J->rec_b;

    for (int64_t g = 0; g < G; g++) {
        int64_t n0 = slot_n0(J, s0 + g);
        S *st = states + 3 * g * BLOCK;
        NAME(load_state)(st, J->v0, J, b, n0, nl);
        if (SYN) NAME(load_state)(st + BLOCK, J->i0, J, b, n0, nl);
        if (CARRIES_B(FAM)) NAME(load_state)(st + 2 * BLOCK, J->b0, J, b, n0, nl);
        const int first = NAME(own_first)(J, s0 + g, n0);
        for (int l = 0; l < BLOCK; l++) own[g * BLOCK + l] = l >= first && l < nl ? (S)1 : (S)0;
        for (int l = 0; l < SUM_LANES; l++) osum[g * SUM_LANES + l] = (S)0;
        for (int l = 0; l < SUM_LANES; l++) otot[g * SUM_LANES + l] = 0.0;
    }
    for (int64_t t = 0; t < T; t++) {
        for (int64_t g = 0; g < G; g++) {
            const int64_t n0 = slot_n0(J, s0 + g), off = (b * T + t) * N + n0;
            if (!partial && t + PREFETCH_STEPS < T) {
                const int64_t ahead = off + PREFETCH_STEPS * N;
                NAME(prefetch_read)(x + ahead);
                NAME(prefetch_write)(out + ahead);
                if (rec) NAME(prefetch_write)(rv + ahead);
                if (rec_i) NAME(prefetch_write)(ri + ahead);
                if (rec_b) NAME(prefetch_write)(rb + ahead);
            }
            const S *xt = x + off;
            S *ot = out + off, *rvt = rec ? rv + off : sink;
            S *rit = rec_i ? ri + off : sink + BLOCK, *rbt = rec_b ? rb + off : sink + 2 * BLOCK;
            if (partial) {
                NAME(pad_row)(pad, xt, nl);
                xt = pad;
                ot = pad + BLOCK;
                if (rec) rvt = pad + 2 * BLOCK;
                if (rec_i) rit = pad + 3 * BLOCK;
                if (rec_b) rbt = pad + 4 * BLOCK;
            }
            S *st = states + 3 * g * BLOCK;
            NAME(fwd_lanes)(xt, ot, rvt, rit, rbt, st, st + BLOCK, st + 2 * BLOCK,
                            NAME(par)(J, s0 + g), flags, cap, FAM, SYN, MULTI, FAST);
            const int owns_all = !partial && slot_n0(J, s0 + g) == (s0 + g) * BLOCK;
            NAME(fold_sum)(osum + g * SUM_LANES, ot, owns_all ? NULL : own + g * BLOCK);
            if (partial) {
                NAME(copy_row)(out + off, ot, nl);
                if (rec) NAME(copy_row)(rv + off, rvt, nl);
                if (rec_i) NAME(copy_row)(ri + off, rit, nl);
                if (rec_b) NAME(copy_row)(rb + off, rbt, nl);
            }
        }
        if (t % ACC_CHUNK == ACC_CHUNK - 1 || t == T - 1) {
            IVDEP
            for (int64_t k = 0; k < G * SUM_LANES; k++) {
                otot[k] += (double)osum[k];
                osum[k] = (S)0;
            }
        }
    }
    for (int64_t g = 0; g < G; g++) {
        double sum = 0.0;
        for (int k = 0; k < SUM_LANES; k++) sum += otot[g * SUM_LANES + k];
        J->slot_sums[b * J->nslots + s0 + g] = sum;
    }
    for (int64_t g = 0; g < G; g++) {
        int64_t o = b * N + slot_n0(J, s0 + g);
        S *st = states + 3 * g * BLOCK;
        NAME(copy_row)((S *)J->v + o, st, nl);
        if (SYN) NAME(copy_row)((S *)J->i + o, st + BLOCK, nl);
        if (CARRIES_B(FAM)) NAME(copy_row)((S *)J->b + o, st + 2 * BLOCK, nl);
    }
}

/* ------------------------------------------------------------------ backward
 * Per item: (1) recompute the forward, keeping for every step and slot the states
 * before the step and the surrogate at v1; (2) walk time in reverse. A step reads its
 * states from its own rows of the scratch and writes the new ones into the next
 * step's rows (one store per state and step rather than two: on AVX-512 the backward
 * is bound by stores and loads).
 *
 * Long sequences run in segments of J->seg steps (scan.c, plan_segments), so that the
 * scratch holds one segment's rows rather than T steps': a first pass (checkpoints)
 * keeps the states at the start of every segment, then (1) and (2) run for each
 * segment, from the last to the first, (2) carrying the states' gradients and the sums
 * from one segment to the one before. Every step is computed as without segments, and
 * the sums keep their order, so the results are the same bits.
 *
 * The parameter gradients are summed over time in S within chunks of ACC_CHUNK steps
 * (those that start at multiples of ACC_CHUNK) and the chunk sums in double, per lane;
 * scan.c sums over the batch in double. */

#if S_IS_FLOAT && defined(ISA_IS_AVX512)
/* Whether the backward runs bwd_slot (below): in this instantiation (float32 on
 * AVX-512), with FAST's defaults, on full slots, with the single-exponential
 * surrogate (spiking and adaptive families), a gradient for the output and none for
 * the recordings. */
static inline int NAME(slot_path)(const Job *J) {
    const Cfg *c = &J->cfg;
    return J->kind % 3 != 0 && J->N >= BLOCK &&
           (c->family == FAMILY_LEAKY || c->surrogate == SG_SINGLE_EXPONENTIAL) && J->g_out != NULL &&
           J->g_rec_v == NULL && J->g_rec_i == NULL && J->g_rec_b == NULL;
}
#endif

/* Rows kept per step and slot: v, surrogate, i (SYN, or u), b (the families that carry it). */
static inline int NAME(bwd_rows)(const Cfg *c) { return 2 + c->syn + (int)CARRIES_B(c->family); }

/* Per slot: the gradients gv, gi, gb of the states; the N_ACC sums. (The forward
 * states live in the scratch rows of the steps.) */
#define SLOT_ROWS (3 + N_ACC)

/* Segments: the checkpoints of G slots (rows v, i, b per slot and segment start but
 * the first) and the rows the checkpoint pass works on (states, and x padded, the
 * outputs it discards). Nothing without segments. */
static inline size_t NAME(ckpt_len)(const Job *J, int64_t G) {
    return J->nseg > 1 ? (size_t)(J->nseg - 1) * 3 * G * BLOCK : 0;
}
static inline size_t NAME(ckpt_work_len)(const Job *J, int64_t G) {
    return J->nseg > 1 ? (size_t)(3 * G + 5) * BLOCK : 0;
}

static inline double *NAME(align64)(S *p) {
    return (double *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

#if S_IS_FLOAT && defined(ISA_IS_AVX512)
/* bwd_slot's scratch (in floats): the rows of a segment's steps, the checkpoints and
 * their work rows of one slot, then (64-byte aligned) the slot's N_ACC rows of double
 * sums. */
static inline int64_t NAME(slot_rows)(const Job *J, int rows) { return J->seg * rows * BLOCK; }
static inline size_t NAME(slot_scratch)(const Job *J, int rows) {
    return (size_t)NAME(slot_rows)(J, rows) + NAME(ckpt_len)(J, 1) + NAME(ckpt_work_len)(J, 1) +
           16 + (size_t)N_ACC * BLOCK * 2;
}
#endif

/* Scratch (in scalars) of a backward item with G slots (the double sums come last),
 * or of one slot when bwd_slot runs (scan.c takes this ISA's). */
KERNEL_API size_t NAME(bwd_scratch)(const Job *J, int64_t G) {
    size_t per_step = (size_t)NAME(bwd_rows)(&J->cfg) * (size_t)G * BLOCK;
    size_t s = (size_t)SLOT_ROWS * G * BLOCK + 10 * BLOCK + per_step * (size_t)(J->seg + 1);
    s += NAME(ckpt_len)(J, G) + NAME(ckpt_work_len)(J, G);
    s += (size_t)N_ACC * G * BLOCK * sizeof(double) / sizeof(S) + BLOCK;
#if S_IS_FLOAT && defined(ISA_IS_AVX512)
    if (NAME(slot_path)(J)) return NAME(slot_scratch)(J, NAME(bwd_rows)(&J->cfg)); /* one slot */
#endif
    return s;
}

/* The states of slots [sa, sb) of batch row b before the steps that start segments 1 to
 * nseg - 1, into ckpt (per segment and slot rows v, i, b); work: 3 (sb - sa) + 5 rows.
 * It runs the forward's step (fwd_lanes): the recomputations in the segments do the
 * same operations, so they continue from the same bits. */
static inline ALWAYS_INLINE void NAME(checkpoints)(const Job *J, S *restrict ckpt,
                                                    S *restrict work, int64_t b, int64_t sa,
                                                    int64_t sb, const int FAM, const int SYN,
                                                    const int MULTI, const int FAST) {
    const int64_t T = J->T, N = J->N, K = J->seg, G = sb - sa;
    const int64_t end = (J->nseg - 1) * K; /* the last checkpoint's step */
    const int partial = N < BLOCK, nl = partial ? (int)N : BLOCK;
    const S *flags = (const S *)J->flags;
    const S cap = (S)J->cfg.cap;
    const S *x = (const S *)J->x;
    S *states = work, *sink = work + 3 * G * BLOCK; /* sink: x padded, 4 outputs */
    for (int64_t g = 0; g < G; g++) {
        const int64_t n0 = slot_n0(J, sa + g);
        S *st = states + 3 * g * BLOCK;
        NAME(load_state)(st, J->v0, J, b, n0, nl);
        NAME(load_state)(st + BLOCK, SYN ? J->i0 : NULL, J, b, n0, nl);
        NAME(load_state)(st + 2 * BLOCK, CARRIES_B(FAM) ? J->b0 : NULL, J, b, n0, nl);
    }
    for (int64_t t = 0; t < end; t++) {
        for (int64_t g = 0; g < G; g++) {
            const S *xt = x + (b * T + t) * N + slot_n0(J, sa + g);
            if (!partial && t + PREFETCH_STEPS < end) NAME(prefetch_read)(xt + PREFETCH_STEPS * N);
            if (partial) {
                NAME(pad_row)(sink, xt, nl);
                xt = sink;
            }
            S *st = states + 3 * g * BLOCK;
            NAME(fwd_lanes)(xt, sink + BLOCK, sink + 2 * BLOCK, sink + 3 * BLOCK,
                            sink + 4 * BLOCK, st, st + BLOCK, st + 2 * BLOCK,
                            NAME(par)(J, sa + g), flags, cap, FAM, SYN, MULTI, FAST);
        }
        if ((t + 1) % K == 0) {
            S *dst = ckpt + ((t + 1) / K - 1) * 3 * G * BLOCK;
            for (int64_t k = 0; k < 3 * G * BLOCK; k++) dst[k] = states[k];
        }
    }
}

/* Per-(batch row, neuron) sums of the parameter gradients, (P, B, N): a slot's N_ACC
 * rows of sums (tot) to the rows that receive a gradient, at offset o = b * N + n0.
 * With train_threshold the threshold's row is its gradient through the spike function
 * (A_TH) plus, when the reset subtracts the threshold, the reset's (A_R). */
static inline ALWAYS_INLINE void NAME(write_partials)(const Job *J, const double *tot,
                                                       int64_t o, int nl) {
    const Cfg *c = &J->cfg;
    const int gth = c->reset == RESET_SUBTRACT && !c->by_amount;
    for (int row = 0; row < N_ROWS; row++) {
        if (!(J->active & (1 << row))) continue;
        const double *src = tot + ACC_OF_ROW[row] * BLOCK;
        double *dst = J->partial + partial_row(J, row) * J->B * J->N + o;
        if (row == ROW_THRESHOLD && c->train && c->family != FAMILY_IZHIKEVICH) {
            const double *th = tot + A_TH * BLOCK;
            for (int l = 0; l < nl; l++) dst[l] = gth ? src[l] + th[l] : th[l];
            continue;
        }
        for (int l = 0; l < nl; l++) dst[l] = src[l];
    }
}

#if S_IS_FLOAT && defined(ISA_IS_AVX512)
/* The backward of one slot with time as the inner loop, for the configurations most
 * layers run with: every family with FAST (no min_v_mem; subtractive reset by the
 * threshold), shared or per-neuron parameters, with or without a synapse, the
 * single-exponential surrogate and no gradient through the recordings, in float32 on
 * AVX-512 (slot_path). It does bwd_chunk's operations in bwd_chunk's
 * order (the same bits: tests/dynamics/fused compare it with the AVX2 build, which
 * runs bwd_chunk), but the 4 vectors of 16 lanes of the slot keep their states, the
 * states' gradients and the parameter-gradient sums in registers from step to step,
 * where bwd_chunk loads and stores them at every step, and the surrogate is computed
 * where v1 is (no sg_row pass). Measured at (32, 100, 4096), float32, 2 threads, ALIF
 * backward: 6.4 (5.8 with the L2 prefetching in (1)) instead of 7.3 ms with shared
 * parameters, 6.6-7.0 instead of 10.3 with per-neuron time constants, 6.6 instead of
 * 9.3 with a synapse (ExpLeak: 4.7-4.9 instead of 5.4); 0.69 instead of 1.03 ns per
 * neuron and step on one thread in cache. Scratch: per step the states before it (v, i with a synapse, b when
 * adaptive) and the surrogate, bwd_chunk's rows v, sg, i, b of 64 lanes. */

/* dst[0..16) += acc in double (bwd_chunk's flush of a chunk's sums) */
static inline ALWAYS_INLINE void NAME(flush16)(double *dst, __m512 acc) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(acc));
    __m512d hi = _mm512_cvtps_pd(
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    _mm512_storeu_pd(dst, _mm512_add_pd(_mm512_loadu_pd(dst), lo));
    _mm512_storeu_pd(dst + 8, _mm512_add_pd(_mm512_loadu_pd(dst + 8), hi));
}

/* spike() on 16 lanes, with its operations */
static inline ALWAYS_INLINE __m512 NAME(spike16)(__m512 v1, __m512 th, const int MULTI,
                                                 __m512 cap) {
    const __m512 zero = _mm512_setzero_ps();
    const __m512 nan_or_zero = _mm512_sub_ps(v1, v1); /* as spike(): NaN where v1 is not finite */
    if (MULTI) {
        __m512 count = _mm512_roundscale_ps(_mm512_div_ps(v1, th),
                                            _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m512 s = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v1, zero, _CMP_GT_OQ), count);
        s = _mm512_mask_mov_ps(s, _mm512_cmp_ps_mask(s, cap, _CMP_GT_OQ), cap);
        return _mm512_add_ps(s, nan_or_zero);
    }
    __mmask16 fire = _mm512_cmp_ps_mask(_mm512_sub_ps(v1, th), zero, _CMP_GE_OQ);
    return _mm512_add_ps(_mm512_maskz_mov_ps(fire, _mm512_set1_ps(1.0f)), nan_or_zero);
}

/* parameter f of vector u: lane 0's on every lane when all neurons share it */
#define P16(f, u) (SHARED ? _mm512_set1_ps(p.f[0]) : _mm512_loadu_ps(p.f + 16 * (u)))

static inline ALWAYS_INLINE void NAME(bwd_slot)(const Job *J, float *restrict scr,
                                                 double *restrict tot, const float *ckpt,
                                                 int64_t b, int64_t slot, const int FAM,
                                                 const int SYN, const int MULTI,
                                                 const int SHARED) {
    enum { U = BLOCK / 16 }; /* vectors per slot */
    const int64_t T = J->T, N = J->N, n0 = slot_n0(J, slot), st0 = b * N + n0;
    const NAME(Par) p = NAME(par)(J, slot);
    const __m512 c0 = _mm512_set1_ps((float)J->cfg.sg[0]);
    const __m512 c1 = _mm512_set1_ps((float)J->cfg.sg[1]);
    const __m512 zero = _mm512_setzero_ps(), cap = _mm512_set1_ps((float)J->cfg.cap);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    /* rows v, sg, i, b (bwd_chunk's) */
    const int64_t row_i = 2 * BLOCK, row_b = (2 + SYN) * BLOCK;
    const int64_t step_len = (2 + SYN + (FAM == FAMILY_ADAPTIVE)) * BLOCK;
    const float *x = (const float *)J->x, *g_out = (const float *)J->g_out;
    const float *v0 = (const float *)J->v0, *i0 = (const float *)J->i0;
    const float *b0 = (const float *)J->b0, *g_v = (const float *)J->g_v;
    const float *g_i = (const float *)J->g_i, *g_b = (const float *)J->g_b;
    float *g_x = (float *)J->g_x;

    /* (2)'s states' gradients and sums, carried from a segment to the one before */
    __m512 gv[U], gi[U], gb[U], a_am[U], a_as[U], a_r[U], a_aad[U], a_beta[U];
    for (int u = 0; u < U; u++) {
        gv[u] = g_v ? _mm512_loadu_ps(g_v + st0 + 16 * u) : zero;
        gi[u] = SYN && g_i ? _mm512_loadu_ps(g_i + st0 + 16 * u) : zero;
        gb[u] = FAM == FAMILY_ADAPTIVE && g_b ? _mm512_loadu_ps(g_b + st0 + 16 * u) : zero;
        a_am[u] = a_as[u] = a_r[u] = a_aad[u] = a_beta[u] = zero;
    }
    for (int k = 0; k < N_ACC * BLOCK; k++) tot[k] = 0.0;
    for (int64_t seg = J->nseg - 1; seg >= 0; seg--) {
        const int64_t t0 = seg * J->seg, t1 = t0 + J->seg < T ? t0 + J->seg : T;

        /* (1) recompute the forward. It also fetches the slot's rows of g_out and g_x
         * into L2 (in time order, which the prefetchers follow), for the reverse pass:
         * walking time backwards that pass is otherwise bound by memory latency (measured
         * at (128, 50, 16384), ALIF, 2 threads: 51-54 instead of 59-60 ms; at (8, 1000, 1024),
         * where the rows of g_x no longer fit in L2 with the scratch, g_out only: 3.4
         * instead of 3.9 ms, 3.8 with both). */
        const int pre_gx = (t1 - t0) * (step_len + 2 * BLOCK) * (int64_t)sizeof(float) <= ((int64_t)512 << 10);
        __m512 v[U], ii[U], bb[U];
        if (seg == 0) {
            for (int u = 0; u < U; u++) {
                v[u] = v0 ? _mm512_loadu_ps(v0 + st0 + 16 * u) : zero;
                ii[u] = SYN && i0 ? _mm512_loadu_ps(i0 + st0 + 16 * u) : zero;
                bb[u] = FAM == FAMILY_ADAPTIVE && b0 ? _mm512_loadu_ps(b0 + st0 + 16 * u) : zero;
            }
        } else { /* the segment's checkpoint: rows v, i, b */
            const float *c = ckpt + (seg - 1) * 3 * BLOCK;
            for (int u = 0; u < U; u++) {
                v[u] = _mm512_loadu_ps(c + 16 * u);
                ii[u] = SYN ? _mm512_loadu_ps(c + BLOCK + 16 * u) : zero;
                bb[u] = FAM == FAMILY_ADAPTIVE ? _mm512_loadu_ps(c + 2 * BLOCK + 16 * u) : zero;
            }
        }
        for (int64_t t = t0; t < t1; t++) {
            const float *xt = x + (b * T + t) * N + n0;
            if (t + PREFETCH_STEPS < t1) {
                NAME(prefetch_read)(xt + PREFETCH_STEPS * N);
                const int64_t ahead = (b * T + t + PREFETCH_STEPS) * N + n0;
                for (int k = 0; k < BLOCK; k += 16) {
                    __builtin_prefetch(g_out + ahead + k, 0, 2);
                    if (pre_gx) __builtin_prefetch(g_x + ahead + k, 1, 2);
                }
            }
            float *row = scr + (t - t0) * step_len;
            for (int u = 0; u < U; u++) {
                __m512 c = _mm512_loadu_ps(xt + 16 * u);
                _mm512_store_ps(row + 16 * u, v[u]);
                if (SYN) {
                    _mm512_store_ps(row + row_i + 16 * u, ii[u]);
                    c = _mm512_mul_ps(P16(as, u), _mm512_add_ps(ii[u], c));
                    ii[u] = c;
                }
                if (FAM == FAMILY_ADAPTIVE) _mm512_store_ps(row + row_b + 16 * u, bb[u]);
                __m512 v1 = _mm512_add_ps(_mm512_mul_ps(P16(am, u), v[u]), _mm512_mul_ps(P16(k, u), c));
                if (FAM == FAMILY_LEAKY) { /* leaky: no spike, no surrogate */
                    v[u] = v1;
                    continue;
                }
                __m512 th = FAM == FAMILY_ADAPTIVE ? _mm512_add_ps(P16(th0, u), _mm512_mul_ps(P16(beta, u), bb[u])) : P16(th0, u);
                __m512 s = NAME(spike16)(v1, th, MULTI, cap);
                v[u] = _mm512_sub_ps(v1, _mm512_mul_ps(s, th));
                __m512 sg;
                if (FAM == FAMILY_ADAPTIVE) {
                    bb[u] = _mm512_add_ps(_mm512_mul_ps(P16(aad, u), bb[u]), _mm512_mul_ps(P16(oma, u), s));
                    sg = NAME(sg_exp16_adaptive)(v1, th, c0, c1);
                } else {
                    sg = NAME(sg_exp16_fixed)(v1, th, P16(sga, u), P16(sgb, u));
                }
                _mm512_store_ps(row + BLOCK + 16 * u, sg);
            }
        }

        /* (2) reverse */
        for (int64_t t = t1 - 1; t >= t0; t--) {
            const int64_t off = (b * T + t) * N + n0;
            const float *xt = x + off, *got = g_out + off;
            float *gxt = g_x + off;
            if (t >= PREFETCH_STEPS) {
                NAME(prefetch_read)(xt - PREFETCH_STEPS * N);
                NAME(prefetch_read)(got - PREFETCH_STEPS * N);
                NAME(prefetch_write)(gxt - PREFETCH_STEPS * N);
            }
            const float *row = scr + (t - t0) * step_len;
            for (int u = 0; u < U; u++) {
                __m512 xv = _mm512_loadu_ps(xt + 16 * u), vp = _mm512_load_ps(row + 16 * u);
                __m512 ip = SYN ? _mm512_load_ps(row + row_i + 16 * u) : zero;
                __m512 c = SYN ? _mm512_mul_ps(P16(as, u), _mm512_add_ps(ip, xv)) : xv;
                __m512 g_v2 = gv[u]; /* no recording gradient, no clamp */
                __m512 g_v1 = g_v2;
                if (FAM == FAMILY_LEAKY) { /* the output is v */
                    g_v1 = _mm512_add_ps(g_v2, _mm512_loadu_ps(got + 16 * u));
                } else {
                    __m512 v1 = _mm512_add_ps(_mm512_mul_ps(P16(am, u), vp), _mm512_mul_ps(P16(k, u), c));
                    __m512 bp = FAM == FAMILY_ADAPTIVE ? _mm512_load_ps(row + row_b + 16 * u) : zero;
                    __m512 th = FAM == FAMILY_ADAPTIVE ? _mm512_add_ps(P16(th0, u), _mm512_mul_ps(P16(beta, u), bp)) : P16(th0, u);
                    __m512 s = NAME(spike16)(v1, th, MULTI, cap);
                    __m512 minus_s = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(s), sign));
                    __m512 g_reset_sub = _mm512_mul_ps(minus_s, g_v2);
                    __m512 g_s = _mm512_sub_ps(_mm512_loadu_ps(got + 16 * u), _mm512_mul_ps(th, g_v2));
                    a_r[u] = _mm512_add_ps(a_r[u], g_reset_sub);
                    if (FAM == FAMILY_ADAPTIVE) {
                        __m512 g_bt = gb[u];
                        g_s = _mm512_add_ps(g_s, _mm512_mul_ps(P16(oma, u), g_bt));
                        a_aad[u] = _mm512_add_ps(a_aad[u], _mm512_mul_ps(_mm512_sub_ps(bp, s), g_bt));
                        gb[u] = _mm512_add_ps(_mm512_mul_ps(P16(aad, u), g_bt), _mm512_mul_ps(P16(beta, u), g_reset_sub));
                        a_beta[u] = _mm512_add_ps(a_beta[u], _mm512_mul_ps(bp, g_reset_sub));
                    }
                    __m512 sg = _mm512_load_ps(row + BLOCK + 16 * u);
                    g_v1 = _mm512_add_ps(g_v2, _mm512_mul_ps(g_s, sg));
                }
                gv[u] = _mm512_mul_ps(P16(am, u), g_v1);
                __m512 da = _mm512_sub_ps(_mm512_mul_ps(vp, g_v1), _mm512_mul_ps(P16(kn, u), _mm512_mul_ps(c, g_v1)));
                a_am[u] = _mm512_add_ps(a_am[u], da);
                __m512 g_cur = _mm512_mul_ps(P16(k, u), g_v1);
                if (SYN) {
                    __m512 g_c = _mm512_add_ps(gi[u], g_cur); /* no recording gradient */
                    gi[u] = _mm512_mul_ps(P16(as, u), g_c);
                    a_as[u] = _mm512_add_ps(a_as[u], _mm512_mul_ps(_mm512_add_ps(ip, xv), g_c));
                    g_cur = gi[u];
                }
                _mm512_storeu_ps(gxt + 16 * u, g_cur);
            }
            if (t % ACC_CHUNK == 0) {
                for (int u = 0; u < U; u++) {
                    NAME(flush16)(tot + A_AM * BLOCK + 16 * u, a_am[u]);
                    if (FAM != FAMILY_LEAKY) NAME(flush16)(tot + A_R * BLOCK + 16 * u, a_r[u]);
                    if (SYN) NAME(flush16)(tot + A_AS * BLOCK + 16 * u, a_as[u]);
                    if (FAM == FAMILY_ADAPTIVE) {
                        NAME(flush16)(tot + A_AAD * BLOCK + 16 * u, a_aad[u]);
                        NAME(flush16)(tot + A_BETA * BLOCK + 16 * u, a_beta[u]);
                    }
                    a_am[u] = a_as[u] = a_r[u] = a_aad[u] = a_beta[u] = zero;
                }
            }
        }
    }
    for (int u = 0; u < U; u++) {
        _mm512_storeu_ps((float *)J->g_v0 + st0 + 16 * u, gv[u]);
        if (SYN) _mm512_storeu_ps((float *)J->g_i0 + st0 + 16 * u, gi[u]);
        if (FAM == FAMILY_ADAPTIVE) _mm512_storeu_ps((float *)J->g_b0 + st0 + 16 * u, gb[u]);
    }
}
#undef P16
#endif

static inline ALWAYS_INLINE void NAME(bwd_chunk)(const Job *J, S *restrict ws, int64_t b,
                                                  int64_t s0, int64_t s1, const int FAM,
                                                  const int SYN, const int MULTI,
                                                  const int FAST) {
    const int64_t T = J->T, N = J->N, G = s1 - s0;
    const int partial = N < BLOCK, nl = partial ? (int)N : BLOCK;
    const S *flags = (const S *)J->flags;
    const S *restrict f_min = FLAG(F_MIN), *restrict f_sub = FLAG(F_SUB);
    const S *restrict f_to = FLAG(F_TO), *restrict f_none = FLAG(F_NONE);
    const S *restrict f_amount = FLAG(F_AMOUNT), *restrict f_gth = FLAG(F_GTH);
    const S *restrict f_train = FLAG(F_TRAIN);
    const S *zero = FLAG(F_ZERO);
    const S cap = (S)J->cfg.cap;
    const int kind = J->cfg.surrogate;
    const double *sgc = J->cfg.sg;

#if S_IS_FLOAT && defined(ISA_IS_AVX512)
    if (FAST != 0 && NAME(slot_path)(J)) {
        /* one slot at a time: see bwd_slot */
        S *ckpt = ws + NAME(slot_rows)(J, NAME(bwd_rows)(&J->cfg));
        S *ckpt_work = ckpt + NAME(ckpt_len)(J, 1);
        double *tot = NAME(align64)(ckpt_work + NAME(ckpt_work_len)(J, 1));
        for (int64_t g = 0; g < G; g++) {
            if (J->nseg > 1) {
                NAME(checkpoints)(J, ckpt, ckpt_work, b, s0 + g, s0 + g + 1, FAM, SYN, MULTI,
                                  FAST);
            }
            NAME(bwd_slot)(J, ws, tot, ckpt, b, s0 + g, FAM, SYN, MULTI, FAST == 2);
            NAME(write_partials)(J, tot, b * N + slot_n0(J, s0 + g), nl);
        }
        return;
    }
#endif
    S *slots = ws;                             /* SLOT_ROWS rows per slot */
    S *pad = slots + SLOT_ROWS * G * BLOCK;    /* padded rows: x g_out g_rv g_ri g_rb g_x */
    S *tmp = pad + 6 * BLOCK;                  /* 4 rows: th, spares */
    const int rows = NAME(bwd_rows)(&J->cfg);
    /* per step t0 <= t <= t1 of a segment and slot g: rows v, surrogate, i, b */
    S *steps = tmp + 4 * BLOCK;
    S *ckpt = steps + (size_t)(J->seg + 1) * rows * G * BLOCK; /* segments: checkpoints */
    S *ckpt_work = ckpt + NAME(ckpt_len)(J, G);
    double *tot = NAME(align64)(ckpt_work + NAME(ckpt_work_len)(J, G)); /* N_ACC rows per slot */
    const int64_t row_i = 2 * BLOCK, row_b = (2 + SYN) * BLOCK, step_len = rows * BLOCK;
#define SLOT(g, r) (slots + ((g) * SLOT_ROWS + (r)) * BLOCK)
    enum { R_GV, R_GI, R_GB, R_ACC };

    const S *x = (const S *)J->x;
    const S *g_out = (const S *)J->g_out, *g_rv = (const S *)J->g_rec_v;
    const S *g_ri = SYN ? (const S *)J->g_rec_i : NULL;
    const S *g_rb = CARRIES_B(FAM) ? (const S *)J->g_rec_b : NULL;
    S *g_x = (S *)J->g_x;
    /* (2)'s states' gradients and sums, carried from a segment to the one before */
    for (int64_t g = 0; g < G; g++) {
        int64_t n0 = slot_n0(J, s0 + g);
        NAME(load_state)(SLOT(g, R_GV), J->g_v, J, b, n0, nl);
        if (SYN) NAME(load_state)(SLOT(g, R_GI), J->g_i, J, b, n0, nl);
        if (CARRIES_B(FAM)) NAME(load_state)(SLOT(g, R_GB), J->g_b, J, b, n0, nl);
        for (int k = 0; k < N_ACC * BLOCK; k++) {
            SLOT(g, R_ACC)[k] = (S)0;
            tot[g * N_ACC * BLOCK + k] = 0.0;
        }
    }
    if (J->nseg > 1) NAME(checkpoints)(J, ckpt, ckpt_work, b, s0, s1, FAM, SYN, MULTI, FAST);
    for (int64_t seg = J->nseg - 1; seg >= 0; seg--) {
        const int64_t t0 = seg * J->seg, t1 = t0 + J->seg < T ? t0 + J->seg : T;
        /* (1) recompute the forward */
        for (int64_t g = 0; g < G; g++) {
            int64_t n0 = slot_n0(J, s0 + g);
            S *st0 = steps + g * step_len;
            if (seg == 0) {
                NAME(load_state)(st0, J->v0, J, b, n0, nl);
                if (SYN) NAME(load_state)(st0 + row_i, J->i0, J, b, n0, nl);
                if (CARRIES_B(FAM)) NAME(load_state)(st0 + row_b, J->b0, J, b, n0, nl);
            } else { /* the segment's checkpoint: rows v, i, b per slot */
                const S *c = ckpt + ((seg - 1) * G + g) * 3 * BLOCK;
                NAME(copy_row)(st0, c, BLOCK);
                if (SYN) NAME(copy_row)(st0 + row_i, c + BLOCK, BLOCK);
                if (CARRIES_B(FAM)) NAME(copy_row)(st0 + row_b, c + 2 * BLOCK, BLOCK);
            }
        }
        for (int64_t t = t0; t < t1; t++) {
            for (int64_t g = 0; g < G; g++) {
                const int64_t n0 = slot_n0(J, s0 + g), off = (b * T + t) * N + n0;
                const NAME(Par) p = NAME(par)(J, s0 + g);
                const S *restrict xt = x + off;
                if (!partial && t + PREFETCH_STEPS < t1) NAME(prefetch_read)(xt + PREFETCH_STEPS * N);
                if (partial) {
                    NAME(pad_row)(pad, xt, nl);
                    xt = pad;
                }
                S *st = steps + ((t - t0) * G + g) * step_len, *next = st + G * step_len;
                const S *restrict v = st, *restrict i = st + row_i, *restrict bb = st + row_b;
                S *restrict vn = next, *restrict in = next + row_i, *restrict bn = next + row_b;
                S *restrict sgt = st + BLOCK, *restrict th_row = tmp;
                IVDEP
                for (int l = 0; l < BLOCK; l++) {
                    if (FAM == FAMILY_IZHIKEVICH) { /* fwd_lanes' step; sg row: v2 */
                        S u = i[l], x = xt[l], th = PAR(th0);
                        S v1 = v[l] + PAR(half) * NAME(izh_rhs)(v[l], u, x);
                        S v2 = v1 + PAR(half) * NAME(izh_rhs)(v1, u, x);
                        S u1 = u + PAR(ka) * (PAR(ib) * v2 - u);
                        sgt[l] = v2;
                        vn[l] = v2 >= th ? PAR(ic) : v2;
                        in[l] = v2 >= th ? u1 + PAR(id) : u1;
                        continue;
                    }
                    if (FAM == FAMILY_ADEX) { /* fwd_lanes' step; sg row: v before the reset */
                        const S th = PAR(th0);
                        NAME(AdexStep) o = ADEX_STEP(v[l], i[l], xt[l]);
                        sgt[l] = o.v1;
                        vn[l] = o.v1 >= th ? PAR(xvr) : o.v1;
                        in[l] = o.v1 >= th ? o.w1 + PAR(xb) : o.w1;
                        continue;
                    }
                    if (IS_RESONATE(FAM)) { /* fwd_lanes' step; sg row: the spiking part */
                        const int BAL = FAM == FAMILY_RESONATE_BALANCED;
                        S q = BAL ? bb[l] : (S)0, nre, nim;
                        NAME(rf_step)(v[l], i[l], q, xt[l], PAR(dt), PAR(om), PAR(damp), BAL,
                                      &nre, &nim);
                        if (BAL) {
                            S th = PAR(th0) + q;
                            th_row[l] = th;
                            sgt[l] = nre;
                            bn[l] = PAR(gam) * q + NAME(spike)(nre, th, 0, cap);
                            vn[l] = nre;
                            in[l] = nim;
                        } else {
                            S th = PAR(th0);
                            sgt[l] = nim;
                            vn[l] = nim >= th ? PAR(xr) : nre;
                            in[l] = nim >= th ? PAR(yr) : nim;
                        }
                        continue;
                    }
                    S c = xt[l];
                    if (SYN) {
                        c = PAR(as) * (i[l] + c);
                        in[l] = c;
                    }
                    S v1 = PAR(am) * v[l] + PAR(k) * c;
                    if (FAM == FAMILY_LEAKY) {
                        vn[l] = NAME(clamp_min)(v1, PAR(m), f_min[l], FAST);
                    } else {
                        S bp = bb[l];
                        S th = FAM == FAMILY_ADAPTIVE ? PAR(th0) + PAR(beta) * bp : PAR(th0);
                        S s = NAME(spike)(v1, th, MULTI, cap);
                        S v2 = NAME(reset)(v1, s, th, PAR(R), f_to[l], f_none[l], f_amount[l],
                                           FAST);
                        if (FAM == FAMILY_ADAPTIVE) {
                            th_row[l] = th;
                            bn[l] = PAR(aad) * bp + PAR(oma) * s;
                        }
                        sgt[l] = v1;
                        vn[l] = NAME(clamp_min)(v2, PAR(m), f_min[l], FAST);
                    }
                }
                if (FAM == FAMILY_ADAPTIVE || FAM == FAMILY_RESONATE_BALANCED) {
                    NAME(sg_row)(kind, sgc, sgt, th_row, NULL, NULL);
                } else if (FAM == FAMILY_SPIKING || FAM == FAMILY_IZHIKEVICH ||
                           FAM == FAMILY_ADEX || FAM == FAMILY_RESONATE) {
                    NAME(sg_row)(kind, sgc, sgt, p.th0, p.sga, p.sgb);
                }
            }
        }

        /* (2) reverse */
        for (int64_t t = t1 - 1; t >= t0; t--) {
            for (int64_t g = 0; g < G; g++) {
                const int64_t n0 = slot_n0(J, s0 + g), off = (b * T + t) * N + n0;
                const NAME(Par) p = NAME(par)(J, s0 + g);
                /* absent gradient inputs read the zero row */
                const S *xt = x + off, *got = g_out ? g_out + off : zero;
                const S *grvt = g_rv ? g_rv + off : zero, *grit = g_ri ? g_ri + off : zero;
                const S *grbt = g_rb ? g_rb + off : zero;
                S *gxt = g_x + off;
                if (!partial && t >= PREFETCH_STEPS) {
                    const int64_t back = off - PREFETCH_STEPS * N;
                    NAME(prefetch_read)(x + back);
                    NAME(prefetch_write)(g_x + back);
                    if (g_out) NAME(prefetch_read)(g_out + back);
                    if (g_rv) NAME(prefetch_read)(g_rv + back);
                    if (g_ri) NAME(prefetch_read)(g_ri + back);
                    if (g_rb) NAME(prefetch_read)(g_rb + back);
                }
                if (partial) {
                    NAME(pad_row)(pad, xt, nl);
                    NAME(pad_row)(pad + BLOCK, g_out ? got : NULL, nl);
                    NAME(pad_row)(pad + 2 * BLOCK, g_rv ? grvt : NULL, nl);
                    NAME(pad_row)(pad + 3 * BLOCK, g_ri ? grit : NULL, nl);
                    NAME(pad_row)(pad + 4 * BLOCK, g_rb ? grbt : NULL, nl);
                    xt = pad, got = pad + BLOCK, grvt = pad + 2 * BLOCK;
                    grit = pad + 3 * BLOCK, grbt = pad + 4 * BLOCK, gxt = pad + 5 * BLOCK;
                }
                const S *restrict xr = xt, *restrict gor = got, *restrict grvr = grvt;
                const S *restrict grir = grit, *restrict grbr = grbt;
                S *restrict gxr = gxt;
                const S *st = steps + ((t - t0) * G + g) * step_len;
                const S *restrict svt = st, *restrict sgt = st + BLOCK;
                const S *restrict sit = st + row_i, *restrict sbt = st + row_b;
                S *restrict gv = SLOT(g, R_GV), *restrict gi = SLOT(g, R_GI);
                S *restrict gb = SLOT(g, R_GB), *acc = SLOT(g, R_ACC);
                S *restrict a_am = acc + A_AM * BLOCK, *restrict a_as = acc + A_AS * BLOCK;
                S *restrict a_r = acc + A_R * BLOCK, *restrict a_min = acc + A_MIN * BLOCK;
                S *restrict a_aad = acc + A_AAD * BLOCK, *restrict a_beta = acc + A_BETA * BLOCK;
                S *restrict a_th = acc + A_TH * BLOCK;
                S *restrict a_x1 = acc + A_X1 * BLOCK, *restrict a_x2 = acc + A_X2 * BLOCK;
                S *restrict a_x3 = acc + A_X3 * BLOCK;
                IVDEP
                for (int l = 0; l < BLOCK; l++) {
                    if (FAM == FAMILY_IZHIKEVICH) {
                        /* the chain rule of fwd_lanes' step; the sums of the gradients of
                         * a, b, c, d take the accumulators of am, as, r, min */
                        S x = xr[l], v0 = svt[l], u = sit[l], th = PAR(th0);
                        S v1 = v0 + PAR(half) * NAME(izh_rhs)(v0, u, x);
                        S v2 = v1 + PAR(half) * NAME(izh_rhs)(v1, u, x);
                        S g_vn = gv[l] + grvr[l], g_u1 = gi[l] + grir[l];
                        S fired = v2 >= th ? (S)1 : (S)0;
                        a_r[l] += fired * g_vn;
                        a_min[l] += fired * g_u1;
                        S g_v2 = (fired != 0 ? (S)0 : g_vn) + gor[l] * sgt[l];
                        /* u1 = u + ka (b v2 - u) */
                        a_am[l] += PAR(half) * (S)2 * (PAR(ib) * v2 - u) * g_u1;
                        a_as[l] += PAR(ka) * v2 * g_u1;
                        g_v2 = g_v2 + PAR(ka) * PAR(ib) * g_u1;
                        S g_u = g_u1 - PAR(ka) * g_u1;
                        /* the two half steps */
                        S g_r1 = PAR(half) * g_v2;
                        S g_v1 = g_v2 + g_r1 * ((S)0.04 * (v1 + v1) + (S)5);
                        S g_r0 = PAR(half) * g_v1;
                        gv[l] = g_v1 + g_r0 * ((S)0.04 * (v0 + v0) + (S)5);
                        gi[l] = g_u - g_r1 - g_r0;
                        gxr[l] = g_r1 + g_r0;
                        continue;
                    }
                    if (FAM == FAMILY_ADEX) {
                        /* the chain rule of fwd_lanes' step (the reference's autograd):
                         * accumulators per ACC_OF_ROW, V_peak's (min) in a_r */
                        const S v = svt[l], w = sit[l], th = PAR(th0);
                        NAME(AdexStep) o = ADEX_STEP(v, w, xr[l]);
                        S g_vn = gv[l] + grvr[l], g_wn = gi[l] + grir[l];
                        S fired = o.v1 >= th ? (S)1 : (S)0;
                        a_x3[l] += fired * g_vn; /* V_r */
                        a_x2[l] += fired * g_wn; /* b */
                        S g_v1 = (fired != 0 ? (S)0 : g_vn) + gor[l] * sgt[l];
                        /* v1 = v + dt dv, w1 = w + dt dw; dw = (a (v - E_L) - w) / tau_w */
                        S g_dv = PAR(dt) * g_v1, g_dw = PAR(dt) * g_wn;
                        S g_nw = g_dw / PAR(xtw);
                        a_th[l] += -(g_nw * o.dw); /* tau_w */
                        a_x1[l] += o.dvl * g_nw;   /* a */
                        S g_v = g_v1 + PAR(xa) * g_nw;
                        S g_el = -(PAR(xa) * g_nw);
                        S g_w = g_wn - g_nw;
                        /* dv = (-g_L (v - E_L) + g_L Delta_T e - w + x) / C */
                        S g_nv = g_dv / PAR(xc);
                        a_am[l] += -(g_nv * o.dv); /* C */
                        gxr[l] = g_nv;
                        g_w = g_w - g_nv;
                        a_as[l] += (PAR(xdt) * o.ex - o.dvl) * g_nv; /* g_L */
                        a_beta[l] += PAR(xgl) * o.ex * g_nv;         /* Delta_T, direct */
                        g_v = g_v - PAR(xgl) * g_nv;
                        g_el = g_el + PAR(xgl) * g_nv;
                        a_min[l] += g_el; /* E_L */
                        /* e = clamp((min(v, V_peak) - V_T) / Delta_T); d e^x = e^x */
                        S g_e = PAR(xgd) * g_nv * o.ex;
                        g_e = o.er >= (S)-80 && o.er <= (S)80 ? g_e : (S)0;
                        S g_m = g_e / PAR(xdt);
                        a_aad[l] += -g_m;          /* V_T */
                        a_beta[l] += -(g_m * o.er); /* Delta_T, through the exponent */
                        /* torch.minimum: the gradient to the smaller, halved at a tie */
                        S share = v < th ? (S)1 : (v > th ? (S)0 : (S)0.5);
                        gv[l] = g_v + share * g_m;
                        a_r[l] += ((S)1 - share) * g_m; /* V_peak */
                        gi[l] = g_w;
                        continue;
                    }
                    if (IS_RESONATE(FAM)) {
                        /* the chain rule of fwd_lanes' step; the sums of the gradients of
                         * omega, the damping, x_reset, y_reset and gamma take the
                         * accumulators of am, as, r, min and aad */
                        const int BAL = FAM == FAMILY_RESONATE_BALANCED;
                        S re = svt[l], im = sit[l], q = BAL ? sbt[l] : (S)0, nre, nim;
                        NAME(rf_step)(re, im, q, xr[l], PAR(dt), PAR(om), PAR(damp), BAL, &nre,
                                      &nim);
                        S g_re = gv[l] + grvr[l], g_im = gi[l] + grir[l], g_q = 0;
                        if (BAL) { /* q' = gamma q + s; s feeds z_re's gradient */
                            S g_qn = gb[l] + grbr[l];
                            a_aad[l] += q * g_qn;
                            g_re = g_re + (gor[l] + g_qn) * sgt[l];
                            g_q = PAR(gam) * g_qn;
                        } else { /* the reset, then the spike's gradient at z_im */
                            S fired = nim >= PAR(th0) ? (S)1 : (S)0;
                            a_r[l] += fired * g_re;
                            a_min[l] += fired * g_im;
                            g_re = fired != 0 ? (S)0 : g_re;
                            g_im = (fired != 0 ? (S)0 : g_im) + gor[l] * sgt[l];
                        }
                        /* the Euler step: e = dt g_re, f = dt g_im are the gradients of
                         * the two brackets */
                        S bq = BAL ? PAR(damp) - q : PAR(damp);
                        S e = PAR(dt) * g_re, f = PAR(dt) * g_im;
                        S g_b = re * e + im * f;
                        a_as[l] += g_b;
                        a_am[l] += re * f - im * e;
                        gv[l] = g_re + bq * e + PAR(om) * f;
                        gi[l] = g_im - PAR(om) * e + bq * f;
                        if (BAL) gb[l] = g_q - g_b; /* b = damping - q */
                        gxr[l] = e;
                        continue;
                    }
                    S xv = xr[l];
                    S vp = svt[l];
                    S ip = SYN ? sit[l] : (S)0;
                    S c = SYN ? PAR(as) * (ip + xv) : xv;
                    S v1 = PAR(am) * vp + PAR(k) * c;
                    S g_vt = gv[l] + grvr[l];
                    S v2 = v1, s = 0, th = 0, bp = 0;
                    if (FAM == FAMILY_LEAKY) {
                        g_vt = g_vt + gor[l];
                    } else {
                        bp = FAM == FAMILY_ADAPTIVE ? sbt[l] : (S)0;
                        th = FAM == FAMILY_ADAPTIVE ? PAR(th0) + PAR(beta) * bp : PAR(th0);
                        s = NAME(spike)(v1, th, MULTI, cap);
                        if (!FAST) {
                            v2 = NAME(reset)(v1, s, th, PAR(R), f_to[l], f_none[l], f_amount[l],
                                             FAST);
                        }
                    }
                    /* clamp */
                    S g_v2 = g_vt;
                    if (!FAST) {
                        g_v2 = f_min[l] != 0 ? ((v2 - PAR(m)) > 0 ? g_vt : (S)0) : g_vt;
                        a_min[l] += g_vt - g_v2;
                    }
                    S g_v1 = g_v2;
                    if (FAM != FAMILY_LEAKY) {
                        /* reset */
                        S g_reset_sub = -s * g_v2, g_s;
                        if (FAST) {
                            g_s = gor[l] - th * g_v2;
                            a_r[l] += g_reset_sub;
                        } else {
                            S amount = f_amount[l] != 0 ? PAR(R) : th;
                            S g_v1_to = s == 0 ? g_v2 : (S)0;
                            S g_reset = f_sub[l] != 0 ? g_reset_sub
                                                      : (f_to[l] != 0 ? g_v2 - g_v1_to : (S)0);
                            g_s = f_sub[l] != 0 ? gor[l] - amount * g_v2 : gor[l];
                            g_v1 = f_to[l] != 0 ? g_v1_to : g_v2;
                            a_r[l] += g_reset;
                        }
                        if (FAM == FAMILY_ADAPTIVE) {
                            S g_bt = gb[l] + grbr[l];
                            g_s = g_s + PAR(oma) * g_bt;
                            a_aad[l] += (bp - s) * g_bt;
                            S g_bp = PAR(aad) * g_bt;
                            if (FAST) {
                                gb[l] = g_bp + PAR(beta) * g_reset_sub;
                            } else {
                                gb[l] = f_gth[l] != 0 ? g_bp + PAR(beta) * g_reset_sub : g_bp;
                            }
                            a_beta[l] += bp * g_reset_sub;
                        }
                        S g_sv = g_s * sgt[l]; /* the spike function's gradient of v1 */
                        /* train_threshold (general code only, see prepare in scan.c):
                         * d s / d th = -surrogate, as the reference's threshold_path */
                        if (!FAST) a_th[l] += f_train[l] != 0 ? -g_sv : (S)0;
                        g_v1 = g_v1 + g_sv;
                    }
                    /* leak; kn is 1 with norm_input, else 0 */
                    gv[l] = PAR(am) * g_v1;
                    a_am[l] += vp * g_v1 - PAR(kn) * (c * g_v1);
                    S g_cur = PAR(k) * g_v1;
                    if (SYN) {
                        S g_c = (gi[l] + grir[l]) + g_cur;
                        S gg = PAR(as) * g_c;
                        gxr[l] = gg;
                        gi[l] = gg;
                        a_as[l] += (ip + xv) * g_c;
                    } else {
                        gxr[l] = g_cur;
                    }
                }
                if (partial) NAME(copy_row)(g_x + off, gxr, nl);
            }
            if (t % ACC_CHUNK == 0) {
                for (int64_t g = 0; g < G; g++) {
                    S *restrict ac = SLOT(g, R_ACC);
                    double *restrict to = tot + g * N_ACC * BLOCK;
                    IVDEP
                    for (int k = 0; k < N_ACC * BLOCK; k++) {
                        to[k] += (double)ac[k];
                        ac[k] = (S)0;
                    }
                }
            }
        }

    }

    for (int64_t g = 0; g < G; g++) {
        int64_t n0 = slot_n0(J, s0 + g), o = b * N + n0;
        NAME(copy_row)((S *)J->g_v0 + o, SLOT(g, R_GV), nl);
        if (SYN) NAME(copy_row)((S *)J->g_i0 + o, SLOT(g, R_GI), nl);
        if (CARRIES_B(FAM)) NAME(copy_row)((S *)J->g_b0 + o, SLOT(g, R_GB), nl);
        NAME(write_partials)(J, tot + g * N_ACC * BLOCK, o, nl);
    }
#undef SLOT
}

/* ------------------------------------------------------------------ work items
 * kind = 3 * (family/synapse/spike case below) + FAST, where FAST is 1 with no
 * min_v_mem and the subtractive reset by the threshold (the defaults: no selects), and
 * 2 when in addition all neurons share their parameters (float32 only; see PAR). */

/* The (family, synapse, multiple spikes) cases, by kind / 3: C(case, FAM, SYN, MULTI).
 * FAM is a family's code as a digit (the specializations' names are pasted from it). */
_Static_assert(FAMILY_LEAKY == 0 && FAMILY_SPIKING == 1 && FAMILY_ADAPTIVE == 2 &&
                   FAMILY_IZHIKEVICH == 3 && FAMILY_ADEX == 4 && FAMILY_RESONATE == 5 &&
                   FAMILY_RESONATE_BALANCED == 6,
               "EACH_CASE and EACH_GENERAL_CASE spell the family codes of families.py");
#define EACH_CASE(C)                                                                     \
    C(0, 0, 0, 0) C(1, 0, 1, 0) C(2, 1, 0, 0) C(3, 1, 0, 1) C(4, 1, 1, 0) C(5, 1, 1, 1)  \
    C(6, 2, 0, 0) C(7, 2, 0, 1) C(8, 2, 1, 0) C(9, 2, 1, 1)
/* ... and FAST per case: float64 is for checks rather than speed, the general code
 * only (a third of the build) */
#if S_IS_FLOAT
#define EACH_FAST(X, F, SY, M) X(F, SY, M, 0) X(F, SY, M, 1) X(F, SY, M, 2)
#else
#define EACH_FAST(X, F, SY, M) X(F, SY, M, 0)
#endif

/* Every specialization is a function of its own. (Inlined into fwd_item and bwd_item
 * behind a switch they made two huge functions, on which GCC's passes that grow
 * faster than linearly, load CSE after reload and register liveness, took most of the
 * build: 63 instead of 18 s for the AVX-512 float32 variant.) */
#define DEF_SPEC(DIR, F, SY, M, FA)                                                      \
    static NOINLINE void NAME(DIR##_##F##SY##M##FA)(const Job *J, S *ws, int64_t b,      \
                                                    int64_t s0, int64_t s1) {            \
        NAME(DIR##_chunk)(J, ws, b, s0, s1, F, SY, M, FA);                               \
    }
#define DEF_FWD(F, SY, M, FA) DEF_SPEC(fwd, F, SY, M, FA)
#define DEF_BWD(F, SY, M, FA) DEF_SPEC(bwd, F, SY, M, FA)
#define DEF_CASE(K, F, SY, M) EACH_FAST(DEF_FWD, F, SY, M) EACH_FAST(DEF_BWD, F, SY, M)
EACH_CASE(DEF_CASE)
/* The cases that have the general code only (FAST 0; read_config sets kind = 3 * case):
 * Izhikevich, AdEx, resonate-and-fire plain and balanced (u, w or z_im in the second
 * state row, hence SYN 1). */
#define EACH_GENERAL_CASE(C) C(10, 3, 1, 0) C(11, 4, 1, 0) C(12, 5, 1, 0) C(13, 6, 1, 0)
#define DEF_GENERAL(K, F, SY, M) DEF_FWD(F, SY, M, 0) DEF_BWD(F, SY, M, 0)
EACH_GENERAL_CASE(DEF_GENERAL)

#if S_IS_FLOAT
#define CALL_FAST(DIR, F, SY, M)                                                         \
    if (J->kind % 3 == 2) {                                                              \
        NAME(DIR##_##F##SY##M##2)(J, (S *)scratch, b, s0, s1);                           \
    } else if (J->kind % 3 == 1) {                                                       \
        NAME(DIR##_##F##SY##M##1)(J, (S *)scratch, b, s0, s1);                           \
    } else {                                                                             \
        NAME(DIR##_##F##SY##M##0)(J, (S *)scratch, b, s0, s1);                           \
    }
#else
#define CALL_FAST(DIR, F, SY, M) NAME(DIR##_##F##SY##M##0)(J, (S *)scratch, b, s0, s1);
#endif
#define FWD_CASE(K, F, SY, M) \
    case K: CALL_FAST(fwd, F, SY, M) break;
#define BWD_CASE(K, F, SY, M) \
    case K: CALL_FAST(bwd, F, SY, M) break;
#define FWD_GENERAL(K, F, SY, M) \
    case K: NAME(fwd_##F##SY##M##0)(J, (S *)scratch, b, s0, s1); break;
#define BWD_GENERAL(K, F, SY, M) \
    case K: NAME(bwd_##F##SY##M##0)(J, (S *)scratch, b, s0, s1); break;

/* kind / 3 is one of the cases (read_config, scan.c) */
KERNEL_API void NAME(fwd_item)(const Job *J, int64_t item, void *scratch) {
    int64_t b, s0, s1;
    item_slots(J, item, &b, &s0, &s1);
    switch (J->kind / 3) { EACH_CASE(FWD_CASE) EACH_GENERAL_CASE(FWD_GENERAL) }
}

KERNEL_API void NAME(bwd_item)(const Job *J, int64_t item, void *scratch) {
    int64_t b, s0, s1;
    item_slots(J, item, &b, &s0, &s1);
    switch (J->kind / 3) { EACH_CASE(BWD_CASE) EACH_GENERAL_CASE(BWD_GENERAL) }
}

#undef FWD_CASE
#undef BWD_CASE
#undef FWD_GENERAL
#undef BWD_GENERAL
#undef DEF_GENERAL
#undef EACH_GENERAL_CASE
#undef IS_RESONATE
#undef CALL_FAST
#undef DEF_CASE
#undef DEF_FWD
#undef DEF_BWD
#undef DEF_SPEC
#undef EACH_FAST
#undef EACH_CASE
#undef FLAG
#undef ADEX_STEP
#undef PAR
#undef NAME
#undef BLOCK
#undef TRUNC
#undef FLOOR
#undef S
#undef S_IS_FLOAT
