/* One instantiation of the fused neuron scan for a scalar type and an instruction set.
 *
 * Included by scan.c once per (type, ISA) with S_IS_FLOAT (1: float, 0: double) and
 * ISA_NAME (default, avx2, avx512) defined; the functions are named like
 * fwd_item_f32_avx512.
 *
 * The math is the one of torch_impl.py, written lane by lane in the same floating-point
 * order (the forward is bit-identical to it): one loop over the lanes of a block inside
 * the time loop, with the states of the block in small local arrays. The loops over
 * lanes contain only branch-free selects so that the compiler vectorizes them.
 *
 * Structural choices (family, synapse, single vs multi spike) are compile-time
 * arguments of always-inline functions, expanded into a few specializations by
 * scan.c; the remaining options are uniform selects, written so that a disabled option
 * gives exactly the same float operations as torch_impl (for instance the missing
 * leak is a factor 1, and 1 * v == v exactly).
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

/* ------------------------------------------------------------------ exp
 * A vectorizable exp (glibc's scalar expf blocks vectorization): x = k ln2 + r with
 * |r| <= ln2 / 2, exp(r) by a polynomial, 2^k built in the exponent bits. Relative
 * error about 1 ulp; it only enters the surrogate gradient. */

static inline ALWAYS_INLINE float NAME(exp_f)(float x) {
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    float shifted = xc * 1.44269504088896341f + shift;
    float kf = shifted - shift;
    float r = xc - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    /* k from the bits of the shifted value: no float-to-int conversion needed */
    int32_t kbits, sbits;
    memcpy(&kbits, &shifted, sizeof kbits);
    memcpy(&sbits, &shift, sizeof sbits);
    int32_t bits = (kbits - sbits + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    y = x < -87.0f ? 0.0f : y;
    y = x > 88.0f ? (float)INFINITY : y;
    return x != x ? x : y;
}

static inline ALWAYS_INLINE double NAME(exp_d)(double x) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    double xc = x < -708.0 ? -708.0 : x;
    xc = xc > 709.0 ? 709.0 : xc;
    double shifted = xc * 1.4426950408889634074 + shift;
    double kd = shifted - shift;
    double r = xc - kd * 6.93145751953125e-1;
    r = r - kd * 1.42860682030941723212e-6;
    /* Taylor series to degree 13: error r^14 / 14! < 1e-17 for |r| <= ln2 / 2 */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t kbits, sbits;
    memcpy(&kbits, &shifted, sizeof kbits);
    memcpy(&sbits, &shift, sizeof sbits);
    int64_t bits = (kbits - sbits + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    double y = p * scale;
    y = x < -708.0 ? 0.0 : y;
    y = x > 709.0 ? (double)INFINITY : y;
    return x != x ? x : y;
}

#if S_IS_FLOAT
#define EXP(x) NAME(exp_f)(x)
#else
#define EXP(x) NAME(exp_d)(x)
#endif

static inline ALWAYS_INLINE S NAME(fabs_s)(S x) { return x < 0 ? -x : x; }

/* ------------------------------------------------------------------ surrogates
 * d spike / d v at (v1, th) for every step of a block, in place of v1 in `buf`
 * (rows of BLOCK lanes, T rows). `th` has a row stride `ths` (0: one row for all t).
 * Formulas and constants: activation/surrogate_gradient_fn.py; `c` from cpu_kernel.py.
 */
static inline ALWAYS_INLINE void NAME(surrogate)(int kind, const double *c, S *restrict buf,
                                                  const S *restrict th_base, int64_t ths,
                                                  int64_t T, int nl) {
    if (kind == SG_HEAVISIDE) {
        const S window = (S)c[0];
        for (int64_t t = 0; t < T; t++) {
            S *restrict row = buf + t * BLOCK;
            const S *restrict thr = th_base + t * ths;
            for (int l = 0; l < nl; l++) {
                S th = thr[l];
                row[l] = (row[l] >= th - window ? (S)1 : (S)0) / th;
            }
        }
    } else if (kind == SG_SINGLE_EXP) {
        const S width_f = (S)c[0], scale = (S)c[1];
        for (int64_t t = 0; t < T; t++) {
            S *restrict row = buf + t * BLOCK;
            const S *restrict thr = th_base + t * ths;
            for (int l = 0; l < nl; l++) {
                S th = thr[l];
                S width = th * width_f;
                row[l] = (scale / width) * EXP(-NAME(fabs_s)(row[l] - th) / width);
            }
        }
    } else if (kind == SG_PERIODIC_EXP) {
        const S width = (S)c[0], scale = (S)c[1];
        for (int64_t t = 0; t < T; t++) {
            S *restrict row = buf + t * BLOCK;
            const S *restrict thr = th_base + t * ths;
            for (int l = 0; l < nl; l++) {
                S th = thr[l], v = row[l];
                S n = v / th - (S)0.5;
                S frac = n - FLOOR(n);
                S periodic = th * ((S)2 * frac - (S)1);
                S below = v < th ? v - th : (S)0;
                S above = v >= th ? periodic : (S)0;
                row[l] = scale * EXP(-NAME(fabs_s)(above + below) / width);
            }
        }
    } else if (kind == SG_GAUSSIAN) {
        const S mu = (S)c[0], two_var = (S)c[1], norm = (S)c[2], scale = (S)c[3];
        for (int64_t t = 0; t < T; t++) {
            S *restrict row = buf + t * BLOCK;
            const S *restrict thr = th_base + t * ths;
            for (int l = 0; l < nl; l++) {
                S d = (row[l] - thr[l]) - mu;
                row[l] = EXP(-(d * d) / two_var) / norm * scale;
            }
        }
    } else { /* SG_MULTI_GAUSSIAN */
        const S mu = (S)c[0], two_var = (S)c[1], norm = (S)c[2];
        const S side_mu = (S)c[3], side_two_var = (S)c[4], side_norm = (S)c[5];
        const S h = (S)c[6], one_h = (S)c[7], scale = (S)c[8];
        const S side_mu_neg = -side_mu;
        for (int64_t t = 0; t < T; t++) {
            S *restrict row = buf + t * BLOCK;
            const S *restrict thr = th_base + t * ths;
            for (int l = 0; l < nl; l++) {
                S x = row[l] - thr[l];
                S d0 = x - mu, d1 = x - side_mu, d2 = x - side_mu_neg;
                S g0 = EXP(-(d0 * d0) / two_var) / norm;
                S g1 = EXP(-(d1 * d1) / side_two_var) / side_norm;
                S g2 = EXP(-(d2 * d2) / side_two_var) / side_norm;
                row[l] = (one_h * g0 - h * g1 - h * g2) * scale;
            }
        }
    }
}

/* ------------------------------------------------------------------ block set-up */

typedef struct {
    /* per-lane parameters, prepared so that disabled options are exact identities */
    S am[BLOCK];    /* alpha_mem, 1 without leak */
    S k[BLOCK];     /* drive factor: 1 - alpha_mem with norm_input, else 1 */
    S as[BLOCK];    /* alpha_syn */
    S th0[BLOCK];   /* threshold (b0 of the adaptive threshold) */
    S m[BLOCK];     /* min_v_mem */
    S aad[BLOCK];   /* alpha_adapt */
    S oma[BLOCK];   /* 1 - alpha_adapt */
    S beta[BLOCK];  /* adapt_scale */
    S R[BLOCK];     /* reset_amount */
    S zero[BLOCK];  /* a row of zeros standing in for absent inputs */
    S sink[3][BLOCK]; /* rows that absent outputs are written to */
} NAME(Lanes);

static inline ALWAYS_INLINE void NAME(load_lanes)(const Job *J, int64_t n0, int nl,
                                                   NAME(Lanes) *L) {
    const int64_t N = J->N;
    const S *P = (const S *)J->params + n0;
    const int leak = J->cfg.leak, norm = J->cfg.norm;
    for (int l = 0; l < BLOCK; l++) {
        /* padding lanes get harmless values; they are never stored */
        int in = l < nl;
        S a = in ? P[ROW_AM * N + l] : (S)0.5;
        L->am[l] = leak ? a : (S)1;
        L->k[l] = norm ? (S)1 - a : (S)1;
        L->as[l] = in ? P[ROW_AS * N + l] : (S)0.5;
        L->th0[l] = in ? P[ROW_TH * N + l] : (S)1;
        L->m[l] = in ? P[ROW_MIN * N + l] : (S)0;
        L->aad[l] = in ? P[ROW_AAD * N + l] : (S)0.5;
        L->oma[l] = (S)1 - L->aad[l];
        L->beta[l] = in ? P[ROW_BETA * N + l] : (S)0;
        L->R[l] = in ? P[ROW_R * N + l] : (S)0;
        L->zero[l] = (S)0;
    }
}

/* Initial state row: v0[b, n0:n0+nl] or zeros. */
static inline ALWAYS_INLINE void NAME(load_row)(S *restrict dst, const void *src, int64_t b,
                                                 int64_t N, int64_t n0, int nl) {
    const S *s = (const S *)src;
    for (int l = 0; l < nl; l++) dst[l] = s ? s[b * N + n0 + l] : (S)0;
    for (int l = nl; l < BLOCK; l++) dst[l] = (S)0;
}

/* ------------------------------------------------------------------ one step
 * The forward step for one lane. FAM, SYN, MULTI are compile-time constants after
 * inlining; the rest are uniform flags. Returns the new v and writes the pieces the
 * backward needs. */
#define STEP_DECLS                                                                    \
    const int to_value = J->cfg.reset == RESET_TO_VALUE;                             \
    const int no_reset = J->cfg.reset == RESET_NONE;                                 \
    const int by_amount = J->cfg.by_amount, has_min = J->cfg.has_min;                \
    const S cap = (S)J->cfg.cap

static inline ALWAYS_INLINE S NAME(spike)(S v1, S th, const int MULTI, S cap) {
    if (MULTI) {
        S count = TRUNC(v1 / th);
        S s = v1 > 0 ? count : (S)0;
        return s > cap ? cap : s; /* torch.clamp(max=cap); cap = inf without a cap */
    }
    return (v1 - th) >= 0 ? (S)1 : (S)0;
}

static inline ALWAYS_INLINE S NAME(reset)(S v1, S s, S th, S R, int to_value, int no_reset,
                                          int by_amount) {
    S sub = v1 - s * (by_amount ? R : th);
    S to = s == 0 ? v1 : R;
    return no_reset ? v1 : (to_value ? to : sub);
}

static inline ALWAYS_INLINE S NAME(clamp_min)(S v2, S m, int has_min) {
    S d = v2 - m;
    S relu = d < 0 ? (S)0 : d; /* keeps NaN and -0.0 like torch.relu */
    return has_min ? relu + m : v2;
}

/* ------------------------------------------------------------------ forward */

static inline ALWAYS_INLINE void NAME(fwd_block)(const Job *J, int64_t b, int64_t n0, int nl,
                                                  const int FAM, const int SYN,
                                                  const int MULTI) {
    const int64_t T = J->T, N = J->N;
    NAME(Lanes) L;
    NAME(load_lanes)(J, n0, nl, &L);
    STEP_DECLS;
    S v[BLOCK], i[BLOCK], bb[BLOCK];
    NAME(load_row)(v, J->v0, b, N, n0, nl);
    NAME(load_row)(i, SYN ? J->i0 : NULL, b, N, n0, nl);
    NAME(load_row)(bb, FAM == 2 ? J->b0 : NULL, b, N, n0, nl);

    const int64_t base = b * T * N + n0;
    const S *restrict x = (const S *)J->x + base;
    S *restrict out = (S *)J->out + base;
    const int rec = J->cfg.record;
    /* absent recordings go to a sink row (time stride 0) */
    S *restrict rv = rec ? (S *)J->rec_v + base : L.sink[0];
    S *restrict ri = rec && SYN ? (S *)J->rec_i + base : L.sink[1];
    S *restrict rb = rec && FAM == 2 ? (S *)J->rec_b + base : L.sink[2];
    const int64_t rs = rec ? N : 0;
    const int64_t rsi = rec && SYN ? N : 0, rsb = rec && FAM == 2 ? N : 0;

    for (int64_t t = 0; t < T; t++) {
        const S *restrict xt = x + t * N;
        S *restrict ot = out + t * N;
        S *restrict rvt = rv + t * rs;
        S *restrict rit = ri + t * rsi;
        S *restrict rbt = rb + t * rsb;
        if (t + PREFETCH_STEPS < T) PREFETCH_ROW(xt + PREFETCH_STEPS * N, nl);
        for (int l = 0; l < nl; l++) {
            S c = xt[l];
            if (SYN) {
                c = L.as[l] * (i[l] + c);
                i[l] = c;
                rit[l] = c;
            }
            S v1 = L.am[l] * v[l] + L.k[l] * c;
            S vn;
            if (FAM == 0) {
                vn = NAME(clamp_min)(v1, L.m[l], has_min);
                ot[l] = vn;
            } else {
                S bp = bb[l];
                S th = FAM == 2 ? L.th0[l] + L.beta[l] * bp : L.th0[l];
                S s = NAME(spike)(v1, th, MULTI, cap);
                S v2 = NAME(reset)(v1, s, th, L.R[l], to_value, no_reset, by_amount);
                if (FAM == 2) {
                    S bn = L.aad[l] * bp + L.oma[l] * s;
                    bb[l] = bn;
                    rbt[l] = bn;
                }
                vn = NAME(clamp_min)(v2, L.m[l], has_min);
                ot[l] = s;
            }
            v[l] = vn;
            rvt[l] = vn;
        }
    }
    S *vo = (S *)J->v + b * N + n0;
    for (int l = 0; l < nl; l++) vo[l] = v[l];
    if (SYN) {
        S *io = (S *)J->i + b * N + n0;
        for (int l = 0; l < nl; l++) io[l] = i[l];
    }
    if (FAM == 2) {
        S *bo = (S *)J->b + b * N + n0;
        for (int l = 0; l < nl; l++) bo[l] = bb[l];
    }
}

/* ------------------------------------------------------------------ backward
 * Per block: (1) recompute the forward, keeping the states before every step and v1
 * (and th); (2) turn v1 into the surrogate in place; (3) walk time in reverse.
 * scratch: T * BLOCK * (2 + SYN + 2 * (FAM == 2)) scalars. */

static inline ALWAYS_INLINE void NAME(bwd_block)(const Job *J, int64_t b, int64_t n0, int nl,
                                                  S *restrict scratch, const int FAM,
                                                  const int SYN, const int MULTI) {
    const int64_t T = J->T, N = J->N;
    NAME(Lanes) L;
    NAME(load_lanes)(J, n0, nl, &L);
    STEP_DECLS;
    const int norm = J->cfg.norm;
    const int sub = J->cfg.reset == RESET_SUBTRACT;
    const int has_gth = sub && !by_amount; /* the reset passes gradient into th */

    const int64_t TB = T * BLOCK;
    S *restrict sv = scratch;                       /* v before step t */
    S *restrict sg = sv + TB;                       /* v1, then the surrogate */
    S *restrict si = sg + TB;                       /* i before step t (SYN) */
    S *restrict sb = si + (SYN ? TB : 0);           /* b before step t (FAM 2) */
    S *restrict sth = sb + (FAM == 2 ? TB : 0);     /* th of step t (FAM 2) */

    const int64_t base = b * T * N + n0;
    const S *restrict x = (const S *)J->x + base;

    /* (1) recompute the forward */
    {
        S v[BLOCK], i[BLOCK], bb[BLOCK];
        NAME(load_row)(v, J->v0, b, N, n0, nl);
        NAME(load_row)(i, SYN ? J->i0 : NULL, b, N, n0, nl);
        NAME(load_row)(bb, FAM == 2 ? J->b0 : NULL, b, N, n0, nl);
        for (int64_t t = 0; t < T; t++) {
            const S *restrict xt = x + t * N;
            S *restrict svt = sv + t * BLOCK;
            S *restrict sgt = sg + t * BLOCK;
            S *restrict sit = si + t * BLOCK;
            S *restrict sbt = sb + t * BLOCK;
            S *restrict stht = sth + t * BLOCK;
            if (t + PREFETCH_STEPS < T) PREFETCH_ROW(xt + PREFETCH_STEPS * N, nl);
            for (int l = 0; l < nl; l++) {
                S c = xt[l];
                svt[l] = v[l];
                if (SYN) {
                    sit[l] = i[l];
                    c = L.as[l] * (i[l] + c);
                    i[l] = c;
                }
                S v1 = L.am[l] * v[l] + L.k[l] * c;
                if (FAM == 0) {
                    v[l] = NAME(clamp_min)(v1, L.m[l], has_min);
                } else {
                    S bp = bb[l];
                    S th = FAM == 2 ? L.th0[l] + L.beta[l] * bp : L.th0[l];
                    S s = NAME(spike)(v1, th, MULTI, cap);
                    S v2 = NAME(reset)(v1, s, th, L.R[l], to_value, no_reset, by_amount);
                    if (FAM == 2) {
                        sbt[l] = bp;
                        stht[l] = th;
                        bb[l] = L.aad[l] * bp + L.oma[l] * s;
                    }
                    sgt[l] = v1;
                    v[l] = NAME(clamp_min)(v2, L.m[l], has_min);
                }
            }
        }
    }

    /* (2) surrogate of every step */
    if (FAM != 0) {
        NAME(surrogate)(J->cfg.surrogate, J->cfg.sg, sg, FAM == 2 ? sth : L.th0,
                        FAM == 2 ? BLOCK : 0, T, nl);
    }

    /* (3) reverse */
    S gv[BLOCK], gi[BLOCK], gb[BLOCK];
    NAME(load_row)(gv, J->g_v, b, N, n0, nl);
    NAME(load_row)(gi, SYN ? J->g_i : NULL, b, N, n0, nl);
    NAME(load_row)(gb, FAM == 2 ? J->g_b : NULL, b, N, n0, nl);
    double acc_am[BLOCK], acc_as[BLOCK], acc_r[BLOCK], acc_min[BLOCK], acc_aad[BLOCK],
        acc_beta[BLOCK];
    for (int l = 0; l < BLOCK; l++) {
        acc_am[l] = acc_as[l] = acc_r[l] = acc_min[l] = acc_aad[l] = acc_beta[l] = 0.0;
    }

    /* absent gradient inputs read a zero row (time stride 0) */
    const S *restrict go = J->g_out ? (const S *)J->g_out + base : L.zero;
    const int64_t gos = J->g_out ? N : 0;
    const S *restrict grv = J->g_rec_v ? (const S *)J->g_rec_v + base : L.zero;
    const int64_t grvs = J->g_rec_v ? N : 0;
    const S *restrict gri = SYN && J->g_rec_i ? (const S *)J->g_rec_i + base : L.zero;
    const int64_t gris = SYN && J->g_rec_i ? N : 0;
    const S *restrict grb = FAM == 2 && J->g_rec_b ? (const S *)J->g_rec_b + base : L.zero;
    const int64_t grbs = FAM == 2 && J->g_rec_b ? N : 0;
    S *restrict gx = (S *)J->g_x + base;

    for (int64_t t = T - 1; t >= 0; t--) {
        const S *restrict xt = x + t * N;
        const S *restrict got = go + t * gos;
        const S *restrict grvt = grv + t * grvs;
        const S *restrict grit = gri + t * gris;
        const S *restrict grbt = grb + t * grbs;
        S *restrict gxt = gx + t * N;
        const S *restrict svt = sv + t * BLOCK;
        const S *restrict sgt = sg + t * BLOCK;
        const S *restrict sit = si + t * BLOCK;
        const S *restrict sbt = sb + t * BLOCK;
        if (t >= PREFETCH_STEPS) {
            PREFETCH_ROW(xt - PREFETCH_STEPS * N, nl);
            PREFETCH_ROW(got - PREFETCH_STEPS * gos, nl);
        }
        for (int l = 0; l < nl; l++) {
            S xv = xt[l];
            S vp = svt[l];
            S ip = SYN ? sit[l] : (S)0;
            S c = SYN ? L.as[l] * (ip + xv) : xv;
            S v1 = L.am[l] * vp + L.k[l] * c;
            S g_vt = gv[l] + grvt[l];
            S v2 = v1, s = 0, th = 0, bp = 0;
            if (FAM == 0) {
                g_vt = g_vt + got[l];
            } else {
                bp = FAM == 2 ? sbt[l] : (S)0;
                th = FAM == 2 ? L.th0[l] + L.beta[l] * bp : L.th0[l];
                s = NAME(spike)(v1, th, MULTI, cap);
                v2 = NAME(reset)(v1, s, th, L.R[l], to_value, no_reset, by_amount);
            }
            /* clamp */
            S g_v2 = has_min ? ((v2 - L.m[l]) > 0 ? g_vt : (S)0) : g_vt;
            acc_min[l] += (double)(g_vt - g_v2);
            S g_v1 = g_v2;
            if (FAM != 0) {
                S g_s = got[l];
                /* reset */
                S amount = by_amount ? L.R[l] : th;
                S g_reset_sub = -s * g_v2;
                S g_v1_to = s == 0 ? g_v2 : (S)0;
                S g_reset = sub ? g_reset_sub : (to_value ? g_v2 - g_v1_to : (S)0);
                g_s = sub ? g_s - amount * g_v2 : g_s;
                g_v1 = to_value ? g_v1_to : g_v2;
                acc_r[l] += (double)g_reset;
                if (FAM == 2) {
                    S g_bt = gb[l] + grbt[l];
                    g_s = g_s + L.oma[l] * g_bt;
                    acc_aad[l] += (double)((bp - s) * g_bt);
                    S g_bp = L.aad[l] * g_bt;
                    gb[l] = has_gth ? g_bp + L.beta[l] * g_reset_sub : g_bp;
                    acc_beta[l] += (double)(bp * g_reset_sub);
                }
                g_v1 = g_v1 + g_s * sgt[l];
            }
            /* leak */
            gv[l] = L.am[l] * g_v1;
            acc_am[l] += (double)(norm ? vp * g_v1 - c * g_v1 : vp * g_v1);
            S g_cur = L.k[l] * g_v1;
            if (SYN) {
                S g_c = (gi[l] + grit[l]) + g_cur;
                S g = L.as[l] * g_c;
                gxt[l] = g;
                gi[l] = g;
                acc_as[l] += (double)((ip + xv) * g_c);
            } else {
                gxt[l] = g_cur;
            }
        }
    }

    S *g_v0 = (S *)J->g_v0 + b * N + n0;
    for (int l = 0; l < nl; l++) g_v0[l] = gv[l];
    if (SYN) {
        S *g_i0 = (S *)J->g_i0 + b * N + n0;
        for (int l = 0; l < nl; l++) g_i0[l] = gi[l];
    }
    if (FAM == 2) {
        S *g_b0 = (S *)J->g_b0 + b * N + n0;
        for (int l = 0; l < nl; l++) g_b0[l] = gb[l];
    }
    /* per-(batch row, block) partial sums of the parameter gradients, (P, B, N) */
    const int64_t BN = J->B * N, off = b * N + n0;
    double *part = J->partial;
    const double *accs[N_ROWS] = {acc_am, acc_as, acc_r, acc_min, acc_aad, acc_beta, acc_r};
    for (int row = 0; row < N_ROWS; row++) {
        if (!(J->active & (1 << row))) continue;
        for (int l = 0; l < nl; l++) part[row * BN + off + l] = accs[row][l];
    }
}

/* ------------------------------------------------------------------ dispatch per item */

#define SPECIALIZE(CALL)                                                \
    switch (J->kind) {                                                  \
        case 0: CALL(0, 0, 0); break;                                   \
        case 1: CALL(0, 1, 0); break;                                   \
        case 2: CALL(1, 0, 0); break;                                   \
        case 3: CALL(1, 0, 1); break;                                   \
        case 4: CALL(1, 1, 0); break;                                   \
        case 5: CALL(1, 1, 1); break;                                   \
        case 6: CALL(2, 0, 0); break;                                   \
        case 7: CALL(2, 0, 1); break;                                   \
        case 8: CALL(2, 1, 0); break;                                   \
        default: CALL(2, 1, 1); break;                                  \
    }

static void NAME(fwd_item)(const Job *J, int64_t item, void *scratch) {
    (void)scratch;
    const int64_t b = item / J->nblocks, blk = item % J->nblocks;
    const int64_t n0 = blk * BLOCK;
    const int nl = (int)(J->N - n0 < BLOCK ? J->N - n0 : BLOCK);
#define FWD_CALL(F, SY, M) NAME(fwd_block)(J, b, n0, nl, F, SY, M)
    SPECIALIZE(FWD_CALL)
#undef FWD_CALL
}

static void NAME(bwd_item)(const Job *J, int64_t item, void *scratch) {
    const int64_t b = item / J->nblocks, blk = item % J->nblocks;
    const int64_t n0 = blk * BLOCK;
    const int nl = (int)(J->N - n0 < BLOCK ? J->N - n0 : BLOCK);
#define BWD_CALL(F, SY, M) NAME(bwd_block)(J, b, n0, nl, (S *)scratch, F, SY, M)
    SPECIALIZE(BWD_CALL)
#undef BWD_CALL
}

#undef SPECIALIZE
#undef STEP_DECLS
#undef EXP
#undef NAME
#undef BLOCK
#undef TRUNC
#undef FLOOR
#undef S
#undef S_IS_FLOAT
