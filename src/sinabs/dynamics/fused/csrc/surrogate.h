/* The math that only the gradients use: a vectorizable exp and the surrogate gradients.
 *
 * Part of one instantiation of scan_kernel.h (included from there, with S, NAME, BLOCK,
 * FLOOR and S_IS_FLOAT defined).
 */

/* ------------------------------------------------------------------ exp
 * Vectorizable exps (glibc's scalar expf blocks vectorization): x = k ln2 + r with
 * |r| <= ln2 / 2, exp(r) by a polynomial, 2^k built in the exponent bits. The double
 * one is within about 1 ulp; the float one runs in float (twice the lanes of a double
 * one, the backward's largest cost) within 1.03 ulp, like torch's vectorized expf
 * (1 ulp). The surrogate follows torch operation for operation (true divisions, not
 * reciprocals). Gradients that sum surrogate terms which cancel magnify any exp's
 * rounding: in the golden alif_no_norm_tau_syn case the tau_mem gradient is 5.6e-6
 * (relative) off its float64 value here and 7.1e-6 in sinabs (tests/test_golden.py). */

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

static inline ALWAYS_INLINE float NAME(exp_f)(float x) {
    /* all in float: x = k ln2 + r (ln2 in two parts, the first exact in k r), exp(r) - 1
     * by a degree-7 polynomial, 1 + that, times 2^k in two halves (subnormal results
     * round once); within 1.03 ulp of exp, 99.2% correctly rounded (checked over every
     * float x <= 0) */
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float shifted = xc * 1.44269504088896341f + shift;
    float kf = shifted - shift;
    float r = xc - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r;
    p = p * r + r;
    float e = 1.0f + p;
    int32_t k = (int32_t)kf;
    int32_t k1 = k >> 1, k2 = k - k1;
    int32_t b1 = (k1 + 127) * (1 << 23), b2 = (k2 + 127) * (1 << 23);
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float y = e * s1 * s2;
    y = x < -104.0f ? 0.0f : y;
    return x != x ? x : y;
}

#if S_IS_FLOAT
#define EXP(x) NAME(exp_f)(x)
#else
#define EXP(x) NAME(exp_d)(x)
#endif

#if S_IS_FLOAT && defined(ISA_IS_AVX512)
#define EXP16 1
/* exp_f on 16 lanes with two AVX-512 instructions in place of its integer exponent
 * arithmetic and selects (about a third of it): vrndscaleps rounds x log2(e) to the
 * nearest integer, ties to even, as adding and subtracting 1.5 * 2^23 does
 * (|x log2(e)| <= 151 here), and vscalefps multiplies by 2^k with one rounding, as
 * the two half-scale products do (the first one is exact: it stays normal). The
 * results are the same bits, the limits included: for x <= -104 both give 0
 * (exp(-104) 2^150 < 1/2 rounds to zero), NaN stays NaN (tests/dynamics/fused,
 * test_surrogate_exp_*). */
static inline ALWAYS_INLINE __m512 NAME(exp16)(__m512 x) {
    /* max(a, b) is a > b ? a : b and min(a, b) a < b ? a : b: NaN x passes through */
    __m512 xc = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    xc = _mm512_min_ps(_mm512_set1_ps(89.0f), xc);
    __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(xc, _mm512_mul_ps(kf, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(kf, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_mul_ps(p, r);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), r);
    __m512 e = _mm512_add_ps(_mm512_set1_ps(1.0f), p);
    return _mm512_scalef_ps(e, kf);
}

/* -|v - th| as fabs_s and the negation compute it (an -0.0 difference may come out
 * +0.0 here: the exp of either is 1) */
static inline ALWAYS_INLINE __m512 NAME(neg_abs16)(__m512 d) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(d),
                                               _mm512_set1_epi32((int)0x80000000u)));
}

/* The single-exponential surrogate (grad_scale / width) exp(-|v1 - th| / width) on 16
 * lanes, with torch's operations (true divisions): for an adaptive threshold th the
 * width is th c0 and the scale c1 / width; for a fixed one both come from the
 * parameter table, as fa (the width) and fb (the scale over it). sg_row and bwd_slot
 * (scan_kernel.h) use these. */
static inline ALWAYS_INLINE __m512 NAME(sg_exp16_adaptive)(__m512 v1, __m512 th, __m512 c0,
                                                           __m512 c1) {
    __m512 width = _mm512_mul_ps(th, c0);
    __m512 e = NAME(exp16)(_mm512_div_ps(NAME(neg_abs16)(_mm512_sub_ps(v1, th)), width));
    return _mm512_mul_ps(_mm512_div_ps(c1, width), e);
}

static inline ALWAYS_INLINE __m512 NAME(sg_exp16_fixed)(__m512 v1, __m512 th, __m512 fa,
                                                        __m512 fb) {
    __m512 e = NAME(exp16)(_mm512_div_ps(NAME(neg_abs16)(_mm512_sub_ps(v1, th)), fa));
    return _mm512_mul_ps(fb, e);
}
#else
#define EXP16 0
#endif

#if S_IS_FLOAT
/* y = EXP(x) over n values: the surrogates' exp of this instruction set, for tests
 * (sinabs_scan_exp_f32). */
KERNEL_API NOINLINE void NAME(exp_values)(int64_t n, const float *x, float *y) {
    int64_t i = 0;
#if EXP16
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, NAME(exp16)(_mm512_loadu_ps(x + i)));
#endif
    for (; i < n; i++) y[i] = EXP(x[i]);
}
#endif

static inline ALWAYS_INLINE S NAME(fabs_s)(S x) { return x < 0 ? -x : x; }

/* ------------------------------------------------------------------ surrogates
 * Formulas and their order of operations: activation/surrogate_gradient_fn.py;
 * constants `c` from cpu_kernel.py. The factors that depend on the threshold only
 * (fa, fb) come from the parameter table (fixed threshold) or are computed with the
 * surrogate (adaptive threshold). */

static inline ALWAYS_INLINE void NAME(sg_factor)(int kind, const double *c, S th, S *fa,
                                                 S *fb) {
    if (kind == SG_SINGLE_EXPONENTIAL) {
        S width = th * (S)c[0];
        *fa = width;
        *fb = (S)c[1] / width;
    } else {
        *fa = (S)1 / th; /* Heaviside: [v >= th - w] / th */
        *fb = (S)0;
    }
}

/* row[l] = surrogate(row[l], th[l]) for one row of BLOCK lanes (row holds v1). fa and
 * fb: sg_factor's factors of a fixed threshold, or NULL with an adaptive threshold
 * (then computed per lane, with the same operations). */
static NOINLINE void NAME(sg_row)(int kind, const double *c, S *restrict row,
                                  const S *restrict th, const S *restrict fa,
                                  const S *restrict fb) {
    if (kind == SG_HEAVISIDE) {
        const S window = (S)c[0];
        if (fa == NULL) {
            IVDEP
            for (int l = 0; l < BLOCK; l++) row[l] = row[l] >= th[l] - window ? (S)1 / th[l] : (S)0;
        } else {
            IVDEP
            for (int l = 0; l < BLOCK; l++) row[l] = row[l] >= th[l] - window ? fa[l] : (S)0;
        }
    } else if (kind == SG_SINGLE_EXPONENTIAL) {
        /* (grad_scale / width) * exp(-|v - th| / width) */
#if EXP16 /* the default surrogate: the same operations, exp16 for the exp */
        if (fa == NULL) {
            const __m512 c0 = _mm512_set1_ps((S)c[0]), c1 = _mm512_set1_ps((S)c[1]);
            for (int l = 0; l < BLOCK; l += 16) {
                __m512 v1 = _mm512_loadu_ps(row + l), t = _mm512_loadu_ps(th + l);
                _mm512_storeu_ps(row + l, NAME(sg_exp16_adaptive)(v1, t, c0, c1));
            }
        } else {
            for (int l = 0; l < BLOCK; l += 16) {
                __m512 v1 = _mm512_loadu_ps(row + l), t = _mm512_loadu_ps(th + l);
                __m512 sg = NAME(sg_exp16_fixed)(v1, t, _mm512_loadu_ps(fa + l),
                                                  _mm512_loadu_ps(fb + l));
                _mm512_storeu_ps(row + l, sg);
            }
        }
        return;
#endif
        if (fa == NULL) {
            const S c0 = (S)c[0], c1 = (S)c[1];
            IVDEP
            for (int l = 0; l < BLOCK; l++) {
                S width = th[l] * c0;
                row[l] = (c1 / width) * EXP(-NAME(fabs_s)(row[l] - th[l]) / width);
            }
        } else {
            IVDEP
            for (int l = 0; l < BLOCK; l++) {
                row[l] = fb[l] * EXP(-NAME(fabs_s)(row[l] - th[l]) / fa[l]);
            }
        }
    } else if (kind == SG_PERIODIC_EXPONENTIAL) {
        const S width = (S)c[0], scale = (S)c[1];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S thl = th[l], v = row[l];
            S n = v / thl - (S)0.5;
            S frac = n - FLOOR(n);
            S periodic = thl * ((S)2 * frac - (S)1);
            S dist = v < thl ? v - thl : periodic; /* below + above */
            row[l] = scale * EXP(-NAME(fabs_s)(dist) / width);
        }
    } else if (kind == SG_GAUSSIAN) {
        /* exp(-(x - mu)^2 / (2 sigma^2)) / norm * grad_scale, x = v - th */
        const S mu = (S)c[0], two_var = (S)c[1], norm = (S)c[2], scale = (S)c[3];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S d = (row[l] - th[l]) - mu;
            row[l] = EXP(-(d * d) / two_var) / norm * scale;
        }
    } else if (kind == SG_MULTI_GAUSSIAN) { /* ((1 + h) g0 - h g1 - h g2) * grad_scale */
        const S mu = (S)c[0], two_var = (S)c[1], norm = (S)c[2];
        const S side_mu = (S)c[3], side_two_var = (S)c[4], side_norm = (S)c[5];
        const S h = (S)c[6], one_h = (S)c[7], scale = (S)c[8], side_mu_neg = -side_mu;
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S x = row[l] - th[l];
            S d0 = x - mu, d1 = x - side_mu, d2 = x - side_mu_neg;
            S g0 = EXP(-(d0 * d0) / two_var) / norm;
            S g1 = EXP(-(d1 * d1) / side_two_var) / side_norm;
            S g2 = EXP(-(d2 * d2) / side_two_var) / side_norm;
            row[l] = (one_h * g0 - h * g1 - h * g2) * scale;
        }
    } else if (kind == SG_ATAN) {
        /* half / (1 + (pi half x)^2), x = v - th: torch's scalar / tensor is the
         * tensor's reciprocal times the scalar, and ** 2 a product */
        const S half = (S)c[0], k = (S)c[1];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S y = k * (row[l] - th[l]);
            row[l] = ((S)1 / ((S)1 + y * y)) * half;
        }
    } else if (kind == SG_FAST_SIGMOID) { /* 1 / (1 + slope |x|)^2 */
        const S slope = (S)c[0];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S z = (S)1 + slope * NAME(fabs_s)(row[l] - th[l]);
            row[l] = (S)1 / (z * z);
        }
    } else if (kind == SG_SIGMOID) {
        /* slope sigmoid(kx) sigmoid(-kx), kx = slope x; sigmoid(a) = 1 / (1 + exp(-a))
         * as torch computes it (its exp differs from EXP in the last bit) */
        const S slope = (S)c[0];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S kx = slope * (row[l] - th[l]);
            S up = (S)1 / ((S)1 + EXP(-kx)), down = (S)1 / ((S)1 + EXP(kx));
            row[l] = slope * up * down;
        }
    } else if (kind == SG_TRIANGLE) { /* relu(1 - |x| / w) / w */
        const S w = (S)c[0];
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            S r = (S)1 - NAME(fabs_s)(row[l] - th[l]) / w;
            row[l] = (r < 0 ? (S)0 : r) / w; /* keeps NaN like torch.relu */
        }
    } else { /* SG_STRAIGHT_THROUGH: 1 */
        IVDEP
        for (int l = 0; l < BLOCK; l++) row[l] = (S)1;
    }
}

#undef EXP
#undef EXP16
