/* The math that only the gradients use: a vectorizable exp and the surrogate gradients.
 *
 * Part of one instantiation of scan_kernel.h (included from there, with S, NAME, BLOCK,
 * FLOOR and S_IS_FLOAT defined).
 */

/* ------------------------------------------------------------------ exp
 * A vectorizable exp (glibc's scalar expf blocks vectorization): x = k ln2 + r with
 * |r| <= ln2 / 2, exp(r) by a polynomial, 2^k built in the exponent bits; about 1 ulp.
 * The float one runs in double and rounds once: correctly rounded but in rare
 * near-ties (torch's vectorized expf is within 1 ulp). The surrogate follows torch
 * operation for operation (true divisions, not reciprocals) with an exp at least as
 * accurate: parameter gradients can sum surrogate terms that cancel (the golden
 * alif_no_norm_tau_syn case, tests/test_golden.py), where a float exp of Cephes
 * accuracy with reciprocals put the tau_mem gradient 1.3e-5 (relative) off. */

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
    /* degree 8 in double: relative error below 3e-10 before the rounding to float;
     * below -104 the float result is 0, above 89 it is inf */
    const double shift = 6755399441055744.0;
    double xd = (double)x;
    double xc = xd < -104.0 ? -104.0 : xd;
    xc = xc > 89.0 ? 89.0 : xc;
    double shifted = xc * 1.4426950408889634074 + shift;
    double kd = shifted - shift;
    double r = xc - kd * 6.93147180559945286e-1;
    double p = 1.0 / 40320.0;
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
    float y = (float)(p * scale);
    return x != x ? x : y;
}

#if S_IS_FLOAT
#define EXP(x) NAME(exp_f)(x)
#else
#define EXP(x) NAME(exp_d)(x)
#endif

static inline ALWAYS_INLINE S NAME(fabs_s)(S x) { return x < 0 ? -x : x; }

/* ------------------------------------------------------------------ surrogates
 * Formulas and their order of operations: activation/surrogate_gradient_fn.py;
 * constants `c` from cpu_kernel.py. The factors that depend on the threshold only
 * (fa, fb) come from the parameter table (fixed threshold) or from sg_factors
 * (adaptive threshold). */

static inline ALWAYS_INLINE void NAME(sg_factor)(int kind, const double *c, S th, S *fa,
                                                 S *fb) {
    if (kind == SG_SINGLE_EXP) {
        S width = th * (S)c[0];
        *fa = width;
        *fb = (S)c[1] / width;
    } else {
        *fa = (S)1 / th; /* Heaviside: [v >= th - w] / th */
        *fb = (S)0;
    }
}

static NOINLINE void NAME(sg_factors)(int kind, const double *c, const S *restrict th,
                                      S *restrict fa, S *restrict fb) {
    IVDEP
    for (int l = 0; l < BLOCK; l++) NAME(sg_factor)(kind, c, th[l], &fa[l], &fb[l]);
}

/* row[l] = surrogate(row[l], th[l]) for one row of BLOCK lanes (row holds v1). */
static NOINLINE void NAME(sg_row)(int kind, const double *c, S *restrict row,
                                  const S *restrict th, const S *restrict fa,
                                  const S *restrict fb) {
    if (kind == SG_HEAVISIDE) {
        const S window = (S)c[0];
        IVDEP
        for (int l = 0; l < BLOCK; l++) row[l] = row[l] >= th[l] - window ? fa[l] : (S)0;
    } else if (kind == SG_SINGLE_EXP) {
        /* (grad_scale / width) * exp(-|v - th| / width) */
        IVDEP
        for (int l = 0; l < BLOCK; l++) {
            row[l] = fb[l] * EXP(-NAME(fabs_s)(row[l] - th[l]) / fa[l]);
        }
    } else if (kind == SG_PERIODIC_EXP) {
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
    } else { /* SG_MULTI_GAUSSIAN: ((1 + h) g0 - h g1 - h g2) * grad_scale */
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
    }
}

#undef EXP
