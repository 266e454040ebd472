/* Runs the CPU kernel's entry points on several threads, for ThreadSanitizer.
 *
 * test_thread_sanitizer.py compiles this file together with the kernel's sources
 * (src/sinabs/dynamics/fused/csrc) with -fsanitize=thread into one program and runs
 * it: a data race between the kernel's threads makes ThreadSanitizer report and the
 * program exit with its error code. A program rather than the library loaded into
 * Python: an instrumented library in an uninstrumented interpreter needs libtsan
 * preloaded, and TSAN then also watches the interpreter and torch's OpenMP pool,
 * whose synchronisation it cannot see (libgomp is not instrumented) and so reports
 * as races. The kernel runs on threads it starts itself here (no OpenMP runtime is
 * loaded, and the program asks for that pool: sinabs_scan_threading(1)).
 *
 * Every configuration runs with 1 thread and with THREADS threads, on every
 * instruction set the CPU has; the second must start threads, and the results must
 * be the same bits (the kernel's results do not depend on the thread count). With
 * T >= 260 steps the second run's backward recomputes in segments of SEGMENT steps
 * (same bits as one segment, the first run's). Shapes:
 * many slots with an overlapping last slot (N % 64 != 0), many batch rows with few
 * slots, fewer neurons than a slot, float64 (32-lane slots), exactly one slot.
 * Exit status 0 when all agree; it prints the number of runs and threads started.
 */

#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h" /* written by the build from families.py: N_ROWS, ROW_* */

int sinabs_scan_isa(void);
int sinabs_scan_threading(int mode);
int sinabs_scan_forward(int dtype, int isa, int threads, int64_t B, int64_t T, int64_t N,
                        const int32_t *config, const double *consts, const void *x,
                        const void *v0, const void *i0, const void *b0, const void *u0,
                        const void *params, void *out, void *v, void *i, void *b, void *u,
                        void *rec_v, void *rec_i, void *rec_b, void *rec_u, void *out_sum);
int sinabs_scan_backward_ex(int dtype, int isa, int threads, int64_t B, int64_t T, int64_t N,
                            const int32_t *config, const double *consts, const void *g_out,
                            const void *g_v, const void *g_i, const void *g_b, const void *g_u,
                            const void *g_rec_v, const void *g_rec_i, const void *g_rec_b,
                            const void *g_rec_u, const void *x, const void *v0,
                            const void *i0, const void *b0, const void *u0,
                            const void *params, void *g_x, void *g_v0, void *g_i0, void *g_b0,
                            void *g_u0, void *g_params, int64_t segment_steps,
                            int64_t *report);

#define THREADS 4
#define SEGMENT 48

/* Threads the kernel starts: pthread_create is wrapped here (the next definition is
 * ThreadSanitizer's, then libc's), so that the test knows the calls ran on several
 * threads. (The sanitizer's build gives every thread work however small the call:
 * scan.c's WORK_SHIFT_* are 0.) */
static int threads_started;

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                   void *arg) {
    typedef int (*Create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    Create next = (Create)(uintptr_t)dlsym(RTLD_NEXT, "pthread_create");
    if (!next) return 11; /* EAGAIN: the kernel then runs the items itself */
    __atomic_fetch_add(&threads_started, 1, __ATOMIC_RELAXED);
    return next(thread, attr, fn, arg);
}

/* config ints (config.py, KernelConfig.ints): family, syn, leak, norm, has_min, spike,
 * reset, by_amount, surrogate, record, train_threshold */
typedef struct {
    const char *name;
    int32_t config[11];
    int per_neuron; /* parameters that differ between neurons */
} Config;

static const Config CONFIGS[] = {
    /* LIF defaults: the shared-parameter fast path (bwd_slot on AVX-512 float32) */
    {"lif", {1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0}, 0},
    /* ALIF with a synapse and per-neuron parameters */
    {"alif-syn-per-neuron", {2, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0}, 1},
    /* the general code: min_v_mem, reset to a value, multiple spikes, Gaussian
     * surrogate, recordings with gradients (bwd_chunk everywhere) */
    {"lif-general", {1, 1, 1, 1, 1, 2, 2, 0, 3, 1, 0}, 1},
    /* ALIF with train_threshold: its backward in the general code */
    {"alif-train-threshold", {2, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1}, 1},
    /* ExpLeak with a synapse */
    {"expleak-syn", {0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0}, 0},
};

typedef struct {
    int dtype; /* 0 float32, 1 float64 */
    int64_t B, T, N;
} Shape;

/* Shapes in which the two slots that overlap (N % 64 != 0), were they in two work
 * items, would fall into two runs of items (scan.c hands items out in runs of
 * items / (8 * threads)), which two threads can take: in the forward (one slot per
 * item) and, with T >= 260 steps (one slot per item there too), in the backward. */
static const Shape SHAPES[] = {
    {0, 2, 260, 700}, /* 11 slots */
    {0, 61, 20, 130}, /* many batch rows, three slots */
    {0, 3, 300, 130},
    {0, 64, 20, 37},  /* fewer neurons than a slot */
    {1, 30, 20, 77},  /* float64: 32-lane slots */
    {1, 3, 300, 77},
    {0, 32, 20, 64},  /* exactly one slot */
};

static double frand(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* n values uniform in [lo, hi) of the shape's type */
static void *random_values(int dtype, int64_t n, double lo, double hi, uint64_t *state) {
    size_t elem = dtype ? sizeof(double) : sizeof(float);
    void *p = malloc((size_t)(n > 0 ? n : 1) * elem);
    if (!p) abort();
    for (int64_t k = 0; k < n; k++) {
        double v = lo + (hi - lo) * frand(state);
        if (dtype) ((double *)p)[k] = v;
        else ((float *)p)[k] = (float)v;
    }
    return p;
}

static void *zeros(int dtype, int64_t n) {
    size_t elem = dtype ? sizeof(double) : sizeof(float);
    void *p = calloc((size_t)(n > 0 ? n : 1), elem);
    if (!p) abort();
    return p;
}

enum { O_OUT, O_V, O_I, O_B, O_RV, O_RI, O_RB, O_SUM, G_X, G_V0, G_I0, G_B0, G_P, N_RESULTS };

typedef struct {
    void *p[N_RESULTS];
    int64_t n[N_RESULTS];
} Results;

static void free_results(Results *r) {
    for (int k = 0; k < N_RESULTS; k++) free(r->p[k]);
}

/* One forward and backward (segment_steps: sinabs_scan_backward_ex's); returns the
 * kernel's error code, or -1 when the backward did not run in the segments asked for. */
static int run_once(const Config *c, const Shape *s, int isa, int threads,
                    int64_t segment_steps, Results *r) {
    const int dt = s->dtype;
    const int64_t B = s->B, T = s->T, N = s->N, seq = B * T * N, st = B * N;
    const int syn = c->config[1], adaptive = c->config[0] == 2, rec = c->config[9];
    uint64_t seed = 12345;
    void *x = random_values(dt, seq, -0.2, 0.9, &seed);
    void *v0 = random_values(dt, st, -0.5, 1.0, &seed);
    void *i0 = syn ? random_values(dt, st, -0.5, 1.0, &seed) : NULL;
    void *b0 = adaptive ? random_values(dt, st, 0.0, 0.5, &seed) : NULL;
    void *params = random_values(dt, N_ROWS * N, 0.0, 1.0, &seed);
    /* rows: alpha_mem, alpha_syn, threshold, min_v_mem, alpha_adapt, adapt_scale, reset;
     * the rows of the families not run here (Izhikevich's) hold 0 and dt 1 */
    double lo[N_ROWS] = {0}, hi[N_ROWS] = {0};
    static const double lo7[7] = {0.6, 0.5, 0.5, -0.5, 0.6, 0.5, -0.2};
    static const double hi7[7] = {0.95, 0.9, 1.0, -0.1, 0.95, 2.0, 0.2};
    for (int row = 0; row < 7; row++) lo[row] = lo7[row], hi[row] = hi7[row];
    lo[ROW_DT] = hi[ROW_DT] = 1.0;
    for (int row = 0; row < N_ROWS; row++) {
        for (int64_t n = 0; n < N; n++) {
            double v = c->per_neuron ? lo[row] + (hi[row] - lo[row]) * frand(&seed)
                                     : 0.5 * (lo[row] + hi[row]);
            if (dt) ((double *)params)[row * N + n] = v;
            else ((float *)params)[row * N + n] = (float)v;
        }
    }
    /* cap (MaxSpike), then the surrogate's constants (cpu_kernel.py, _consts): the
     * single exponential takes width and scale; the Gaussian mu, 2 sigma^2, its
     * normaliser sigma * sqrt(2 pi) and scale */
    double consts[13] = {INFINITY, 0.5, 1.0};
    if (c->config[8] == 3) {
        consts[1] = 0.1, consts[2] = 2 * 0.4 * 0.4, consts[3] = 0.4 * sqrt(2 * 3.14159265358979323846);
        consts[4] = 1.2;
    }
    int64_t n_seq = rec ? seq : 0;
    r->n[O_OUT] = seq, r->n[O_V] = st, r->n[O_I] = syn ? st : 0, r->n[O_B] = adaptive ? st : 0;
    r->n[O_RV] = n_seq, r->n[O_RI] = syn ? n_seq : 0, r->n[O_RB] = adaptive ? n_seq : 0;
    r->n[O_SUM] = 1, r->n[G_X] = seq, r->n[G_V0] = st, r->n[G_I0] = syn ? st : 0;
    r->n[G_B0] = adaptive ? st : 0, r->n[G_P] = N_ROWS * N;
    for (int k = 0; k < N_RESULTS; k++) r->p[k] = zeros(dt, r->n[k]);
#define OUT(k) (r->n[k] ? r->p[k] : NULL)
    int err = sinabs_scan_forward(dt, isa, threads, B, T, N, c->config, consts, x, v0, i0, b0,
                                  NULL, params, OUT(O_OUT), OUT(O_V), OUT(O_I), OUT(O_B), NULL,
                                  OUT(O_RV), OUT(O_RI), OUT(O_RB), NULL, OUT(O_SUM));
    void *g_out = random_values(dt, seq, -1.0, 1.0, &seed);
    void *g_v = random_values(dt, st, -1.0, 1.0, &seed);
    void *g_i = syn ? random_values(dt, st, -1.0, 1.0, &seed) : NULL;
    void *g_b = adaptive ? random_values(dt, st, -1.0, 1.0, &seed) : NULL;
    void *g_rv = rec ? random_values(dt, seq, -1.0, 1.0, &seed) : NULL;
    void *g_ri = rec && syn ? random_values(dt, seq, -1.0, 1.0, &seed) : NULL;
    void *g_rb = rec && adaptive ? random_values(dt, seq, -1.0, 1.0, &seed) : NULL;
    if (!err) {
        int64_t report[4];
        err = sinabs_scan_backward_ex(dt, isa, threads, B, T, N, c->config, consts, g_out,
                                      g_v, g_i, g_b, NULL, g_rv, g_ri, g_rb, NULL, x, v0, i0,
                                      b0, NULL, params, OUT(G_X), OUT(G_V0), OUT(G_I0),
                                      OUT(G_B0), NULL, OUT(G_P), segment_steps, report);
        int64_t segments = segment_steps ? (T + segment_steps - 1) / segment_steps : 1;
        if (!err && report[2] != segments) err = -1;
    }
#undef OUT
    void *inputs[] = {x, v0, i0, b0, params, g_out, g_v, g_i, g_b, g_rv, g_ri, g_rb};
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) free(inputs[k]);
    return err;
}

int main(void) {
    if (sinabs_scan_threading(1) != 1) {
        fprintf(stderr, "the kernel does not run on threads of its own\n");
        return 2;
    }
    int failures = 0, runs = 0;
    const int best = sinabs_scan_isa();
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof CONFIGS[0]; ci++) {
        for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
            for (int isa = 0; isa <= best; isa++) {
                const Config *c = &CONFIGS[ci];
                const Shape *s = &SHAPES[si];
                Results one, many;
                int e1 = run_once(c, s, isa, 1, 0, &one);
                int before = __atomic_load_n(&threads_started, __ATOMIC_RELAXED);
                int e2 = run_once(c, s, isa, THREADS, s->T >= 260 ? SEGMENT : 0, &many);
                int started = __atomic_load_n(&threads_started, __ATOMIC_RELAXED) - before;
                int same = !e1 && !e2 && started > 0;
                size_t elem = s->dtype ? sizeof(double) : sizeof(float);
                for (int k = 0; same && k < N_RESULTS; k++)
                    same = memcmp(one.p[k], many.p[k], (size_t)one.n[k] * elem) == 0;
                if (!same) {
                    failures++;
                    fprintf(stderr,
                            "%s (%lld, %lld, %lld) %s isa %d: errors %d %d, %d threads started,"
                            " or the results differ\n",
                            c->name, (long long)s->B, (long long)s->T, (long long)s->N,
                            s->dtype ? "f64" : "f32", isa, e1, e2, started);
                }
                runs++;
                free_results(&one);
                free_results(&many);
            }
        }
    }
    printf("%d runs, %d failures, %d threads started\n", runs, failures, threads_started);
    return failures ? 1 : 0;
}
