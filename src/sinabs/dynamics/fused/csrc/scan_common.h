/* Declarations shared by the translation units of the fused CPU scan.
 *
 * scan.c (threads, work partition, entry points) and the instruction-set variants
 * (variant_<isa>_<type>.c, each one instantiation of scan_kernel.h; see
 * scan_variant.h) include this header. The variants are separate translation units
 * so that the build compiles them in parallel (setup.py): together they are most of
 * the build's time.
 */

#ifndef SINABS_SCAN_COMMON_H
#define SINABS_SCAN_COMMON_H

#if defined(__linux__)
#define _GNU_SOURCE /* sched_getcpu, pthread_attr_setaffinity_np */
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define HAVE_DLFCN 1
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h> /* the AVX-512 exp (surrogate.h); usable under a target pragma */
#endif
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

#define ALWAYS_INLINE __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#define UNUSED __attribute__((unused)) /* ISA-independent helpers: only one copy is used */
/* The lane loops touch only distinct arrays (rows of x and outputs, local states):
 * no runtime alias checks, which GCC otherwise adds and which can fail over to the
 * scalar loop. */
#if defined(__clang__)
#define IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif
/* The parameter rows (ROW_*), kernel states, configuration fields (CFG_*), the codes of
 * the families, spike functions, resets and surrogates, N_SG and the rows' padding
 * values (ROW_PAD): written by the build from src/sinabs/dynamics/families.py. */
#include "layout.h"
/* instruction sets (macros: scan_variant.h selects with them) */
#define ISA_DEFAULT 0
#define ISA_AVX2 1
#define ISA_AVX512 2
enum { OK = 0, ERR_ARGUMENT = 1, ERR_MEMORY = 2, ERR_ISA = 3 };

/* rows of the per-call parameter table (scan_kernel.h, setup): the rows of the leaky,
 * spiking and adaptive families, then from Q_MODEL a point model's own rows. A call runs
 * one family, so the models' rows overlap (setup writes only its family's): the table
 * stays as small as the largest model needs. */
enum {
    Q_AM, Q_K, Q_KN, Q_AS, Q_TH, Q_M, Q_AAD, Q_OMA, Q_BETA, Q_R, Q_SGA, Q_SGB,
    Q_MODEL
};
enum {
    /* Izhikevich: a, b, c, d, dt / 2, dt * a */
    Q_IA = Q_MODEL, Q_IB, Q_IC, Q_ID, Q_HALF, Q_KA
};
enum {
    /* AdEx: C, g_L, E_L, V_T, Delta_T, tau_w, a, b, V_r, dt, g_L * Delta_T */
    Q_XC = Q_MODEL, Q_XGL, Q_XEL, Q_XVT, Q_XDT, Q_XTW, Q_XA, Q_XB, Q_XVR, Q_DT, Q_XGD,
    N_Q /* (AdEx has the most rows) */
};
enum {
    /* resonate-and-fire: omega, damping, x_reset, y_reset, gamma; its dt is Q_DT */
    Q_OM = Q_MODEL, Q_DAMP, Q_XR, Q_YR, Q_GAM
};
_Static_assert((int)Q_KA < (int)N_Q && (int)Q_GAM < (int)N_Q && (int)Q_GAM < (int)Q_DT,
               "the models' q rows fit the table and do not overlap Q_DT");

/* flag rows (and a row of zeros); F_TRAIN: train_threshold */
enum { F_MIN, F_SUB, F_TO, F_NONE, F_AMOUNT, F_GTH, F_TRAIN, F_ZERO, N_F };

/* backward: accumulators of the parameter gradients, and the row each one feeds (A_R
 * serves the threshold or reset_amount: only one of them receives a reset gradient;
 * A_TH is the threshold's gradient through the spike function with train_threshold,
 * which write_partials adds to the threshold's row; A_X1 to A_X3 serve AdEx only) */
#define ACC_CHUNK 16
enum { A_AM, A_AS, A_R, A_MIN, A_AAD, A_BETA, A_TH, A_X1, A_X2, A_X3, N_ACC };
static const int UNUSED ACC_OF_ROW[N_ROWS] = {
    [ROW_ALPHA_MEM] = A_AM,   [ROW_ALPHA_SYN] = A_AS,     [ROW_THRESHOLD] = A_R,
    [ROW_MIN_V_MEM] = A_MIN,  [ROW_ALPHA_ADAPT] = A_AAD,  [ROW_ADAPT_SCALE] = A_BETA,
    [ROW_RESET_AMOUNT] = A_R,
    /* Izhikevich uses none of the rows above: its sums take their accumulators */
    [ROW_IZH_A] = A_AM,       [ROW_IZH_B] = A_AS,         [ROW_IZH_C] = A_R,
    [ROW_IZH_D] = A_MIN,      [ROW_DT] = A_AM,
    /* AdEx has ten trained rows (V_peak in the threshold's, A_R): the six other
     * accumulators above and three of its own (A_X1 to A_X3); its configuration has no
     * train_threshold, so A_TH is free */
    [ROW_ADEX_C] = A_AM,      [ROW_ADEX_G_L] = A_AS,      [ROW_ADEX_E_L] = A_MIN,
    [ROW_ADEX_V_T] = A_AAD,   [ROW_ADEX_DELTA_T] = A_BETA, [ROW_ADEX_TAU_W] = A_TH,
    [ROW_ADEX_A] = A_X1,      [ROW_ADEX_B] = A_X2,        [ROW_ADEX_V_R] = A_X3,
    /* and so does resonate-and-fire */
    [ROW_RF_OMEGA] = A_AM,    [ROW_RF_DAMPING] = A_AS,    [ROW_RF_X_RESET] = A_R,
    [ROW_RF_Y_RESET] = A_MIN, [ROW_RF_GAMMA] = A_AAD,
};

/* Whether family f carries kernel state b (u): from the declarations (layout.h). A
 * family that carries u keeps it in the second state row, a synapse's i elsewhere. */
#define CARRIES_B(f) ((FAMILIES_WITH_B >> (f)) & 1u)
#define CARRIES_U(f) ((FAMILIES_WITH_U >> (f)) & 1u)

/* lanes per slot: 256 bytes of a row, four cache lines */
#define BLOCK_F32 64
#define BLOCK_F64 32
/* lanes of the running sums of the outputs (scan_kernel.h, fold_sum) */
#define SUM_LANES 16
/* the recomputed forward of a backward item should stay in L2, together with the item's
 * rows of x, g_out and g_x, which its reverse pass reads or writes (measured on a 1 MiB
 * L2 at (128, 50, 16384), 2 threads, forward+backward: LIF 104 ms with 384 KiB, 94 with
 * 96 or 192; ALIF 123-127 ms with 384, 102-104 with 192, 107-119 with 96, 131 with 48;
 * at (32, 100, 4096) no difference) */
#define SCRATCH_BUDGET ((size_t)192 << 10)
/* Long sequences: when an item's rows of all T steps would take more than
 * SEGMENT_ABOVE bytes, the backward runs in segments of about SEGMENT_BYTES of rows
 * (scan_kernel.h; scan.c, plan_segments). The benchmark sizes need at most 1 MiB (8,
 * 1000, 1024: 768 KiB for ALIF) and run unsegmented, as before. */
#define SEGMENT_ABOVE ((size_t)4 << 20)
#define SEGMENT_BYTES ((size_t)1 << 20)
/* steps ahead that the time loops prefetch (scan_kernel.h) */
#ifndef PREFETCH_STEPS
#define PREFETCH_STEPS 4
#endif

typedef struct {
    int family, syn, leak, norm, has_min, spike, reset, by_amount, surrogate, record, train;
    double cap;      /* MaxSpike cap, +inf without one */
    double sg[N_SG]; /* surrogate constants, see cpu_kernel.py */
} Cfg;

/* Neurons are cut into slots of BLOCK lanes: slot j starts at j * BLOCK; when BLOCK
 * does not divide N a last slot starts at N - BLOCK and overlaps the one before, so
 * every slot is full. With N < BLOCK there is one slot, run on zero-padded rows.
 * A work item is a batch row and G consecutive slots; the last item of a row also
 * takes the overlapping last slot (item_slots). The overlapping lanes are computed
 * twice with identical results and written twice, both times by the same thread:
 * written from two items, which can run on two threads, they were a data race
 * (tests/dynamics/fused/test_thread_sanitizer.py). */
typedef struct {
    int64_t B, T, N;
    int64_t nslots, G, nchunks; /* slots per row, slots per item, items per row */
    int64_t gmax;               /* the most slots an item has (the scratch's size) */
    int64_t seg, nseg;          /* backward: steps per segment, segments (scan.c) */
    Cfg cfg;
    int f64;      /* scalar type: 0 float, 1 double */
    int kind;     /* specialization: see SPECIALIZE in scan_kernel.h */
    int active;   /* bit mask of the parameter rows that receive a gradient */
    const void *x, *v0, *i0, *b0;
    const void *q, *flags; /* per-call tables, see setup in scan_kernel.h */
    void *out, *v, *i, *b, *rec_v, *rec_i, *rec_b;
    const void *g_out, *g_v, *g_i, *g_b, *g_rec_v, *g_rec_i, *g_rec_b;
    void *g_x, *g_v0, *g_i0, *g_b0, *g_params;
    double *partial;   /* backward: (rows with a gradient, B, N), see partial_row */
    double *slot_sums; /* forward: the sum of the outputs of every (batch row, slot) */
} Job;

typedef void (*ItemFn)(const Job *, int64_t, void *);

/* Index of parameter row `row` (which receives a gradient) among those that do: the
 * partial sums are kept for those rows only. */
static inline int partial_row(const Job *J, int row) {
    return __builtin_popcount((unsigned)J->active & ((1u << row) - 1u));
}

/* Batch row and slots [s0, s1) of work item `item`: G slots, and in the last item of
 * a row the slots left (up to G, and the overlapping last slot). */
static inline void item_slots(const Job *J, int64_t item, int64_t *b, int64_t *s0,
                              int64_t *s1) {
    const int64_t chunk = item % J->nchunks;
    *b = item / J->nchunks;
    *s0 = chunk * J->G;
    *s1 = chunk == J->nchunks - 1 ? J->nslots : *s0 + J->G;
}

static inline int64_t slot_n0(const Job *J, int64_t slot) {
    int64_t block = J->f64 ? BLOCK_F64 : BLOCK_F32;
    int64_t n0 = slot * block;
    return n0 + block <= J->N ? n0 : (J->N > block ? J->N - block : 0);
}

#define CAT3_(a, b, c) a##_##b##_##c
#define CAT3(a, b, c) CAT3_(a, b, c)

/* Functions of the variants that scan.c calls: hidden, the library exports only the
 * sinabs_scan_* entry points. */
#define KERNEL_API __attribute__((visibility("hidden")))

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SCAN_X86 1
#define TARGET_PUSH(t) _Pragma("GCC push_options") _Pragma(t)
#define TARGET_POP _Pragma("GCC pop_options")
#define TARGET_AVX2 "GCC target(\"avx2\")"
#define TARGET_AVX512 "GCC target(\"avx512f,prefer-vector-width=512\")"
#elif defined(__clang__) && defined(__x86_64__)
#define SCAN_X86 1
#define TARGET_PUSH(t) _Pragma(t)
#define TARGET_POP _Pragma("clang attribute pop")
#define TARGET_AVX2 "clang attribute push(__attribute__((target(\"avx2\"))), apply_to = function)"
#define TARGET_AVX512 \
    "clang attribute push(__attribute__((target(\"avx512f\"))), apply_to = function)"
#else
#define SCAN_X86 0
#endif

/* The functions of one variant (scalar type T: f32 or f64; ISA: default, avx2,
 * avx512), defined by scan_kernel.h. setup and fwd_scratch are taken from the
 * default variant only (scan.c, pick), exp_values exists for float only. */
#define DECLARE_VARIANT(T, ISA)                                                       \
    KERNEL_API void fwd_item_##T##_##ISA(const Job *, int64_t, void *);                \
    KERNEL_API void bwd_item_##T##_##ISA(const Job *, int64_t, void *);                \
    KERNEL_API void setup_##T##_##ISA(const Job *, const void *, void *, void *);      \
    KERNEL_API size_t fwd_scratch_##T##_##ISA(int64_t);                                \
    KERNEL_API size_t bwd_scratch_##T##_##ISA(const Job *, int64_t);
DECLARE_VARIANT(f32, default)
DECLARE_VARIANT(f64, default)
KERNEL_API void exp_values_f32_default(int64_t, const float *, float *);
#if SCAN_X86
DECLARE_VARIANT(f32, avx2)
DECLARE_VARIANT(f64, avx2)
DECLARE_VARIANT(f32, avx512)
DECLARE_VARIANT(f64, avx512)
KERNEL_API void exp_values_f32_avx2(int64_t, const float *, float *);
KERNEL_API void exp_values_f32_avx512(int64_t, const float *, float *);
#endif
#undef DECLARE_VARIANT

#endif /* SINABS_SCAN_COMMON_H */
