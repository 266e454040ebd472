/* The fused neuron scan on CPU: plain C, loaded from Python with ctypes.
 *
 * It implements tests/dynamics/fused/torch_impl.py, the tests' oracle (forward
 * bit-identical, backward by recomputation), on the neutral form of config.py: x (B, T, N), states (B, N),
 * params (N_ROWS, N), all contiguous. No Python or torch headers are used: the library
 * depends only on libc, libm and pthreads, so it is independent of the torch version.
 * (It is built as a Python extension module only so that setuptools compiles it; the
 * empty PyInit function below is never called.)
 *
 * Work is split into items (a batch row and a few slots of BLOCK neurons, see Job);
 * inside an item the time loop runs over vectorized loops across the lanes of a slot.
 * Items run on plain pthreads (the thread count comes from the caller). The hot
 * functions (scan_kernel.h) are compiled three times (AVX-512, AVX2, baseline) on
 * x86-64, in translation units of their own (variant_*.c, see scan_common.h), and the
 * best one the CPU supports is picked at run time (sinabs_scan_isa).
 *
 * Compile with -ffp-contract=off (no FMA contraction) and without -ffast-math: the
 * forward must reproduce torch's float operations exactly.
 */

#include "scan_common.h"

/* ------------------------------------------------------------------ ISA choice */

/** Best instruction set of this CPU: 0 baseline, 1 AVX2, 2 AVX-512. */
EXPORT int sinabs_scan_isa(void) {
#if SCAN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return ISA_AVX2;
#endif
    return ISA_DEFAULT;
}

typedef struct {
    ItemFn fwd, bwd;
    void (*setup)(const Job *, const void *, void *, void *);
    size_t (*fwd_scratch)(int64_t);
    size_t (*bwd_scratch)(const Job *, int64_t);
    int block;
    size_t elem;
} Kernels;

#define KERNELS(T, ISA)                                                         \
    (Kernels) {                                                                 \
        fwd_item_##T##_##ISA, bwd_item_##T##_##ISA,                             \
            setup_##T##_default,                                                \
            fwd_scratch_##T##_default, bwd_scratch_##T##_##ISA,                 \
            0, 0                                                                \
    }

static int pick(int dtype, int isa, Kernels *k) {
    int best = sinabs_scan_isa();
    if (isa < 0) isa = best;
    if (isa > best) return ERR_ISA;
    int f32 = dtype == 0;
#if SCAN_X86
    if (isa == ISA_AVX512) {
        *k = f32 ? KERNELS(f32, avx512) : KERNELS(f64, avx512);
    } else if (isa == ISA_AVX2) {
        *k = f32 ? KERNELS(f32, avx2) : KERNELS(f64, avx2);
    } else
#endif
    {
        *k = f32 ? KERNELS(f32, default) : KERNELS(f64, default);
    }
    k->block = f32 ? BLOCK_F32 : BLOCK_F64;
    k->elem = f32 ? sizeof(float) : sizeof(double);
    return OK;
}

/* ------------------------------------------------------------------ threads
 * Items run on the OpenMP thread pool that torch already uses when there is one: its
 * threads are started once and keep spinning for a while after each torch operation,
 * so a thread of our own would at first share a CPU with one of them (measured on two
 * cores: 1 to 3 ms lost per call). The pool is reached through the GOMP_parallel
 * entry point of the OpenMP runtime already loaded in the process (libgomp, or the
 * LLVM and Intel runtimes, which provide the same entry point), found with dlopen
 * RTLD_NOLOAD: the library links no OpenMP runtime itself. Without one, after a fork
 * (a runtime's pool does not survive it) or when asked (sinabs_scan_threading), items
 * run on threads started per call. */

typedef struct {
    const Job *J;
    ItemFn fn;
    size_t scratch_bytes;
    int64_t nitems;
    int64_t grain; /* items handed out at a time */
    int64_t next;  /* atomic counter of handed-out items */
} Task;

/* Items go out in runs of consecutive ones (neighbouring slots of a batch row), about
 * GRAINS_PER_THREAD runs per thread: still balanced when a thread starts late, but a
 * thread's rows are contiguous. Handed out one by one, the threads interleave slots
 * 256 bytes apart; on the 2-vCPU machines here that made LIF at (128, 50, 16384) take
 * 41 instead of 25 ms forward and 132 instead of 105 ms forward+backward in processes
 * whose copy bandwidth measured about 70 GB/s, and no difference at about 40 GB/s. */
#define GRAINS_PER_THREAD 8

static void work(Task *tk, void *scratch) {
    for (;;) {
        int64_t first = __atomic_fetch_add(&tk->next, tk->grain, __ATOMIC_RELAXED);
        if (first >= tk->nitems) break;
        int64_t end = first + tk->grain < tk->nitems ? first + tk->grain : tk->nitems;
        for (int64_t it = first; it < end; it++) tk->fn(tk->J, it, scratch);
    }
}

static void *alloc_scratch(size_t bytes) {
    if (!bytes) return NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded);
}

/* A thread's share: all items it can take, with its own scratch (without scratch it
 * leaves the items to the others; when no thread has any, run() reports it). */
static void *worker(void *arg) {
    Task *tk = (Task *)arg;
    void *scratch = alloc_scratch(tk->scratch_bytes);
    if (scratch || !tk->scratch_bytes) work(tk, scratch);
    free(scratch);
    return NULL;
}

static void gomp_body(void *arg) { (void)worker(arg); }

typedef void (*GompParallel)(void (*)(void *), void *, unsigned, unsigned);
enum { THREADING_OPENMP = 0, THREADING_PTHREADS = 1 };
static GompParallel gomp_parallel;
static int threading_mode = THREADING_OPENMP;
static pthread_once_t gomp_once = PTHREAD_ONCE_INIT;

static int forked;

static void after_fork_in_child(void) {
    forked = 1;
    gomp_parallel = NULL;
}

__attribute__((constructor)) static void register_fork_handler(void) {
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

static void find_openmp(void) {
    if (forked) return;
#if HAVE_DLFCN
    static const char *const names[] = {"libgomp.so.1", "libomp.so", "libiomp5.so",
                                        "libomp.dylib", "libiomp5.dylib"};
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !gomp_parallel; k++) {
        void *lib = dlopen(names[k], RTLD_LAZY | RTLD_NOLOAD);
        if (lib) {
            gomp_parallel = (GompParallel)(uintptr_t)dlsym(lib, "GOMP_parallel");
            dlclose(lib); /* the runtime stays loaded: its loader holds it */
        }
    }
#endif
}

/**
 * Thread pool: mode 0 uses the process's OpenMP pool when one is loaded, 1 starts
 * threads per call, -1 only asks. Returns the pool used from now on: 0 OpenMP,
 * 1 threads per call.
 */
EXPORT int sinabs_scan_threading(int mode) {
    pthread_once(&gomp_once, find_openmp);
    if (mode == THREADING_OPENMP || mode == THREADING_PTHREADS) threading_mode = mode;
    return threading_mode == THREADING_OPENMP && gomp_parallel ? THREADING_OPENMP
                                                               : THREADING_PTHREADS;
}

#define MAX_THREADS 256

/* Threads worth using for `work` forward element-steps (a backward one counts 8):
 * with threads of our own each should get at least 2^20 of them (about 200 us), twice
 * what starting one costs (about 100 us from pthread_create to the thread running).
 * An OpenMP pool's threads are already running: 2^17 (about 25 us) each suffice
 * (measured at (32, 100, 128), LIF forward+backward: 0.51 ms, against 0.54 ms with
 * 2^19, where the forward runs on one thread). The thread sanitizer's build
 * (tests/dynamics/fused/test_thread_sanitizer.py) sets both to 0, so that small calls
 * run on several threads. */
#ifndef WORK_SHIFT_THREADS
#define WORK_SHIFT_THREADS 20
#endif
#ifndef WORK_SHIFT_OPENMP
#define WORK_SHIFT_OPENMP 17
#endif
static int64_t useful_threads(int threads, int64_t work) {
    int64_t n = threads < MAX_THREADS ? threads : MAX_THREADS;
    int shift = sinabs_scan_threading(-1) == THREADING_OPENMP ? WORK_SHIFT_OPENMP
                                                              : WORK_SHIFT_THREADS;
    if (n > (work >> shift)) n = work >> shift;
    return n < 1 ? 1 : n;
}

/* Thread attributes that keep a worker off the caller's CPU. Linux tends to start a
 * new thread on its parent's CPU and to move it to an idle one only after a few
 * milliseconds (measured: 2 to 5 ms, while the caller keeps its CPU busy with its own
 * share), which is longer than a whole call; with this it starts within 0.1 ms. */
static int worker_attr(pthread_attr_t *attr) {
    if (pthread_attr_init(attr) != 0) return 0;
#if defined(__linux__)
    cpu_set_t cpus;
    int me = sched_getcpu();
    if (me >= 0 && sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
        CPU_CLR(me, &cpus);
        if (CPU_COUNT(&cpus) > 0) pthread_attr_setaffinity_np(attr, sizeof cpus, &cpus);
    }
#endif
    return 1;
}

/* Runs fn over nitems items on up to n threads (the caller's included). */
static int run(const Job *J, ItemFn fn, int64_t nitems, int64_t n, size_t scratch_bytes) {
    if (n > nitems) n = nitems;
    int64_t grain = n > 1 ? nitems / (n * GRAINS_PER_THREAD) : nitems;
    Task tk = {J, fn, scratch_bytes, nitems, grain > 1 ? grain : 1, 0};
    if (n > 1 && sinabs_scan_threading(-1) == THREADING_OPENMP) {
        gomp_parallel(gomp_body, &tk, (unsigned)n, 0);
    } else {
        pthread_t ids[MAX_THREADS];
        int started = 0;
        pthread_attr_t attr;
        int has_attr = n > 1 && worker_attr(&attr);
        for (int64_t k = 1; k < n; k++) {
            if (pthread_create(&ids[started], has_attr ? &attr : NULL, worker, &tk) != 0) break;
            started++;
        }
        if (has_attr) pthread_attr_destroy(&attr);
        worker(&tk);
        for (int k = 0; k < started; k++) pthread_join(ids[k], NULL);
    }
    /* every item was handed out unless no thread got its scratch */
    return __atomic_load_n(&tk.next, __ATOMIC_RELAXED) >= nitems ? OK : ERR_MEMORY;
}

/* ------------------------------------------------------------------ set-up */

static int read_config(Job *J, const int32_t *config, const double *consts) {
    Cfg *c = &J->cfg;
    c->family = config[CFG_FAMILY];
    c->syn = config[CFG_HAS_SYN] != 0;
    c->leak = config[CFG_HAS_LEAK] != 0;
    c->norm = config[CFG_NORM_INPUT] != 0;
    c->has_min = config[CFG_HAS_MIN] != 0;
    c->spike = config[CFG_SPIKE];
    c->reset = config[CFG_RESET];
    c->by_amount = config[CFG_RESET_BY_AMOUNT] != 0;
    c->surrogate = config[CFG_SURROGATE];
    c->record = config[CFG_RECORD] != 0;
    c->train = config[CFG_TRAIN_THRESHOLD] != 0;
    c->cap = c->spike == SPIKE_MAX ? consts[0] : (double)INFINITY;
    for (int k = 0; k < N_SG; k++) c->sg[k] = consts[1 + k];
    if (c->family < 0 || c->family >= N_FAMILIES) return ERR_ARGUMENT;
    if (!((FAMILIES_DECLARED >> c->family) & 1u)) return ERR_ARGUMENT;
    if (CARRIES_U(c->family)) {
        /* The point-neuron models (Izhikevich, AdEx, resonate-and-fire plain and
         * balanced): SingleSpike, their own hard reset (or none), the general code of
         * cases 10 to 13 (EACH_GENERAL_CASE, in family order). u (AdEx's w,
         * resonate-and-fire's z_im) takes the kernel's second state row, a synapse's i
         * in the other families: syn = 1 sizes the scratch for it, and the entry points
         * pass u's pointers as i's; the balanced form's q is in b's row. */
        if (c->spike != SPIKE_SINGLE || c->syn || c->has_min || c->train) return ERR_ARGUMENT;
        if (c->surrogate < SG_HEAVISIDE || c->surrogate >= N_SURROGATES) return ERR_ARGUMENT;
        c->syn = 1;
        J->kind = 3 * (10 + c->family - FAMILY_IZHIKEVICH);
        /* the rows that receive a gradient (dt never does; AdEx's V_peak, in the
         * threshold row, through min(v, V_peak)) */
        switch (c->family) {
        case FAMILY_IZHIKEVICH:
            J->active = (1 << ROW_IZH_A) | (1 << ROW_IZH_B) | (1 << ROW_IZH_C) | (1 << ROW_IZH_D);
            break;
        case FAMILY_ADEX:
            J->active = (1 << ROW_THRESHOLD) | (1 << ROW_ADEX_C) | (1 << ROW_ADEX_G_L) |
                        (1 << ROW_ADEX_E_L) | (1 << ROW_ADEX_V_T) | (1 << ROW_ADEX_DELTA_T) |
                        (1 << ROW_ADEX_TAU_W) | (1 << ROW_ADEX_A) | (1 << ROW_ADEX_B) |
                        (1 << ROW_ADEX_V_R);
            break;
        case FAMILY_RESONATE:
            J->active = (1 << ROW_RF_OMEGA) | (1 << ROW_RF_DAMPING) | (1 << ROW_RF_X_RESET) |
                        (1 << ROW_RF_Y_RESET);
            break;
        case FAMILY_RESONATE_BALANCED:
            J->active = (1 << ROW_RF_OMEGA) | (1 << ROW_RF_DAMPING) | (1 << ROW_RF_GAMMA);
            break;
        default:
            return ERR_ARGUMENT;
        }
        return OK;
    }
    const int spikes = c->family != FAMILY_LEAKY, adaptive = c->family == FAMILY_ADAPTIVE;
    if (spikes && (c->spike < SPIKE_SINGLE || c->spike > SPIKE_MAX)) return ERR_ARGUMENT;
    if (c->reset < RESET_NONE || c->reset >= N_RESETS) return ERR_ARGUMENT;
    if (c->surrogate < SG_HEAVISIDE || c->surrogate >= N_SURROGATES) return ERR_ARGUMENT;
    if (c->train && !spikes) return ERR_ARGUMENT;
    int multi = c->spike == SPIKE_MULTI || c->spike == SPIKE_MAX;
    /* the case of EACH_CASE (scan_kernel.h): leaky 0-1, spiking 2-5, adaptive 6-9 */
    int base = spikes ? 2 + 4 * (c->family - FAMILY_SPIKING) + 2 * c->syn + multi : c->syn;
    int fast = !c->has_min && (!spikes || (c->reset == RESET_SUBTRACT && !c->by_amount));
    J->kind = 3 * base + fast; /* prepare adds 1 for shared parameters (SPECIALIZE) */
    int gth = spikes && c->reset == RESET_SUBTRACT && !c->by_amount;
    int gr = spikes && (c->reset == RESET_TO_VALUE ||
                        (c->reset == RESET_SUBTRACT && c->by_amount));
    J->active = (c->leak << ROW_ALPHA_MEM) | (c->syn << ROW_ALPHA_SYN) |
                ((gth || c->train) << ROW_THRESHOLD) |
                (c->has_min << ROW_MIN_V_MEM) | (adaptive << ROW_ALPHA_ADAPT) |
                ((adaptive && gth) << ROW_ADAPT_SCALE) | (gr << ROW_RESET_AMOUNT);
    return OK;
}

/* Whether every parameter row (N_ROWS, N) holds one value in all N neurons, bit for bit. */
static int shared_params(const float *params, int64_t N) {
    for (int r = 0; r < N_ROWS; r++) {
        uint32_t first, bits, differ = 0;
        memcpy(&first, params + r * N, sizeof first);
        for (int64_t n = 1; n < N; n++) {
            memcpy(&bits, params + r * N + n, sizeof bits);
            differ |= bits ^ first;
        }
        if (differ) return 0;
    }
    return 1;
}

/* Common set-up of both directions: configuration, kernels, slots, the per-call tables
 * (in *tables, to be freed by the caller). */
static int prepare(Job *J, Kernels *k, void **tables, int dtype, int isa, int threads,
                   int64_t B, int64_t T, int64_t N, const int32_t *config,
                   const double *consts, const void *params, int backward) {
    memset(J, 0, sizeof *J);
    *tables = NULL;
    if (B < 0 || T < 0 || N < 0 || (dtype != 0 && dtype != 1)) return ERR_ARGUMENT;
    int err = read_config(J, config, consts);
    if (!err) err = pick(dtype, isa, k);
    if (err) return err;
    J->B = B, J->T = T, J->N = N, J->f64 = dtype == 1;
    int64_t block = k->block;
    J->nslots = N < block ? 1 : N / block + (N % block != 0);
    /* The forward runs one slot per item (measured fastest: its states stay in L1).
     * The backward runs G slots per item, as many as keep the recomputed forward of the
     * item within SCRATCH_BUDGET (in L2) and leave two items per thread. */
    J->G = 1;
    if (backward) {
        int64_t n = useful_threads(threads, 8 * B * T * N);
        int64_t per_row = B >= 2 * n ? 1 : (2 * n + B - 1) / (B > 0 ? B : 1);
        if (per_row > J->nslots) per_row = J->nslots;
        J->G = (J->nslots + per_row - 1) / per_row;
        size_t rows = 2 + J->cfg.syn + CARRIES_B(J->cfg.family);
        size_t per_slot = rows * (size_t)(T + 1) * (size_t)block * k->elem;
        int64_t fit = (int64_t)(SCRATCH_BUDGET / per_slot);
        if (J->G > fit) J->G = fit > 0 ? fit : 1;
    }
    /* items per row: the overlapping last slot (N % block != 0) goes with the slot it
     * overlaps, into the row's last item */
    const int64_t overlap = N > block && N % block != 0;
    J->nchunks = (J->nslots - overlap + J->G - 1) / J->G;
    const int64_t last = J->nslots - (J->nchunks - 1) * J->G;
    J->gmax = last > J->G ? last : J->G;
    size_t q_len = (size_t)N_Q * J->nslots * block;
    *tables = malloc((q_len + (size_t)N_F * block) * k->elem);
    if (!*tables) return ERR_MEMORY;
    void *flags = (char *)*tables + q_len * k->elem;
    k->setup(J, params, *tables, flags);
    J->q = *tables, J->flags = flags;
    /* the threshold's gradient through the spike function (train_threshold) is in the
     * general code only: its backward runs that (the forward, unchanged, stays fast) */
    if (backward && J->cfg.train) J->kind -= J->kind % 3;
    if (J->kind % 3 == 1 && !J->f64 && N > 0 && shared_params((const float *)params, N))
        J->kind += 1;
    return OK;
}

/* ------------------------------------------------------------------ entry points */

/**
 * Forward scan. dtype 0 float32, 1 float64; isa -1 for the best available; threads >= 1.
 * config: the N_CONFIG ints of KernelConfig (CFG_*); consts: cap, then the N_SG
 * surrogate constants (sinabs.dynamics.fused.config.kernel_constants).
 * i0/b0 and the outputs i, b, rec_* may be NULL when the configuration has none.
 * out_sum (one scalar) receives the sum of out: per slot in SUM_LANES running sums in
 * the scalar type over chunks of ACC_CHUNK steps, then in double in a fixed order
 * (independent of threads).
 * Returns 0, or an error code (1 argument, 2 memory, 3 instruction set).
 */
EXPORT int sinabs_scan_forward(int dtype, int isa, int threads, int64_t B, int64_t T,
                               int64_t N, const int32_t *config, const double *consts,
                               const void *x, const void *v0, const void *i0, const void *b0,
                               const void *u0, const void *params, void *out, void *v,
                               void *i, void *b, void *u, void *rec_v, void *rec_i,
                               void *rec_b, void *rec_u, void *out_sum) {
    Job J;
    Kernels k;
    void *tables;
    int err = prepare(&J, &k, &tables, dtype, isa, threads, B, T, N, config, consts, params, 0);
    double total = 0.0;
    if (!err && B * N > 0) {
        J.x = x, J.v0 = v0, J.i0 = i0, J.b0 = b0;
        J.out = out, J.v = v, J.i = i, J.b = b;
        J.rec_v = rec_v, J.rec_i = rec_i, J.rec_b = rec_b;
        if (CARRIES_U(J.cfg.family)) J.i0 = u0, J.i = u, J.rec_i = rec_u; /* read_config */
        int64_t items = B * J.nchunks, slots = B * J.nslots;
        J.slot_sums = (double *)malloc((size_t)slots * sizeof(double));
        err = J.slot_sums ? OK : ERR_MEMORY;
        if (!err) err = run(&J, k.fwd, items, useful_threads(threads, B * T * N),
                            k.fwd_scratch(J.gmax) * k.elem);
        for (int64_t it = 0; !err && it < slots; it++) total += J.slot_sums[it];
        free(J.slot_sums);
    }
    if (!err && out_sum) {
        if (dtype == 1) *(double *)out_sum = total;
        else *(float *)out_sum = (float)total;
    }
    free(tables);
    return err;
}

#define REDUCE_CHUNK 1024

/* g_params[row, n] = sum over b of partial[row, b, n], for one chunk of neurons. */
static void reduce_item(const Job *J, int64_t item, void *unused) {
    (void)unused;
    const int64_t B = J->B, N = J->N;
    const int64_t n0 = item * REDUCE_CHUNK;
    const int64_t n1 = n0 + REDUCE_CHUNK < N ? n0 + REDUCE_CHUNK : N;
    double acc[REDUCE_CHUNK];
    for (int row = 0; row < N_ROWS; row++) {
        for (int64_t n = n0; n < n1; n++) acc[n - n0] = 0.0;
        if (J->active & (1 << row)) {
            const double *p = J->partial + partial_row(J, row) * B * N;
            for (int64_t bb = 0; bb < B; bb++)
                for (int64_t n = n0; n < n1; n++) acc[n - n0] += p[bb * N + n];
        }
        if (J->f64) {
            double *g = (double *)J->g_params + row * N;
            for (int64_t n = n0; n < n1; n++) g[n] = acc[n - n0];
        } else {
            float *g = (float *)J->g_params + row * N;
            for (int64_t n = n0; n < n1; n++) g[n] = (float)acc[n - n0];
        }
    }
}

/* The backward's segments (scan_kernel.h): all T steps in one when their rows fit in
 * SEGMENT_ABOVE, else segments of SEGMENT_BYTES of rows (a multiple of ACC_CHUNK
 * steps), and at least sqrt(3 T / rows) steps, so that the checkpoints (3 rows per
 * segment) never outgrow a segment's rows. `forced` > 0 sets the steps (for tests). */
static void plan_segments(Job *J, int64_t block, size_t elem, int64_t forced) {
    const int64_t T = J->T;
    const size_t rows = 2 + (size_t)J->cfg.syn + CARRIES_B(J->cfg.family);
    const size_t per_step = rows * (size_t)J->gmax * (size_t)block * elem;
    int64_t steps = T;
    if (forced > 0) {
        steps = forced;
    } else if ((size_t)(T + 1) * per_step > SEGMENT_ABOVE) {
        steps = (int64_t)(SEGMENT_BYTES / per_step) / ACC_CHUNK * ACC_CHUNK;
        int64_t balance = (int64_t)ceil(sqrt(3.0 * (double)T / (double)rows));
        if (steps < balance) steps = balance;
        if (steps < ACC_CHUNK) steps = ACC_CHUNK;
    }
    J->seg = steps < T ? steps : (T > 0 ? T : 1);
    J->nseg = (T + J->seg - 1) / J->seg;
    if (J->nseg < 1) J->nseg = 1;
}

/**
 * Backward scan: gradients of sinabs_scan_forward's outputs in, gradients of x, the
 * initial states and the params (N_ROWS, N) out. Absent gradient inputs (NULL) count as
 * zero. Nothing is kept from the forward: it is recomputed per work item (for long
 * sequences in segments, see plan_segments). segment_steps > 0 forces the steps of a
 * segment (for tests; 0 chooses them). When report is not NULL it receives what the
 * call used in report[0..4): the scratch per thread in bytes, the steps per segment,
 * the segments, the threads.
 */
EXPORT int sinabs_scan_backward_ex(int dtype, int isa, int threads, int64_t B, int64_t T,
                                   int64_t N, const int32_t *config, const double *consts,
                                   const void *g_out, const void *g_v, const void *g_i,
                                   const void *g_b, const void *g_u, const void *g_rec_v,
                                   const void *g_rec_i, const void *g_rec_b,
                                   const void *g_rec_u, const void *x, const void *v0,
                                   const void *i0, const void *b0, const void *u0,
                                   const void *params, void *g_x, void *g_v0, void *g_i0,
                                   void *g_b0, void *g_u0, void *g_params,
                                   int64_t segment_steps, int64_t *report) {
    Job J;
    Kernels k;
    void *tables;
    if (report) memset(report, 0, 4 * sizeof *report);
    if (segment_steps < 0) return ERR_ARGUMENT;
    int err = prepare(&J, &k, &tables, dtype, isa, threads, B, T, N, config, consts, params, 1);
    if (err || N == 0) {
        free(tables);
        return err;
    }
    J.x = x, J.v0 = v0, J.i0 = i0, J.b0 = b0;
    J.g_out = g_out, J.g_v = g_v, J.g_i = g_i, J.g_b = g_b;
    J.g_rec_v = J.cfg.record ? g_rec_v : NULL;
    J.g_rec_i = J.cfg.record ? g_rec_i : NULL;
    J.g_rec_b = J.cfg.record ? g_rec_b : NULL;
    J.g_x = g_x, J.g_v0 = g_v0, J.g_i0 = g_i0, J.g_b0 = g_b0, J.g_params = g_params;
    if (CARRIES_U(J.cfg.family)) { /* u in the second state row (read_config) */
        J.i0 = u0, J.g_i = g_u, J.g_rec_i = J.cfg.record ? g_rec_u : NULL, J.g_i0 = g_u0;
    }
    plan_segments(&J, k.block, k.elem, segment_steps);
    int64_t threads_used = useful_threads(threads, 8 * B * T * N);
    size_t scratch = k.bwd_scratch(&J, J.gmax) * k.elem;
    if (report) {
        report[0] = (int64_t)scratch, report[1] = J.seg, report[2] = J.nseg;
        report[3] = threads_used < B * J.nchunks ? threads_used : B * J.nchunks;
    }
    if (B > 0) {
        size_t rows = (size_t)__builtin_popcount((unsigned)J.active);
        J.partial = (double *)malloc((rows ? rows : 1) * (size_t)B * (size_t)N * sizeof(double));
        err = J.partial ? OK : ERR_MEMORY;
        if (!err) err = run(&J, k.bwd, B * J.nchunks, threads_used, scratch);
    } else {
        J.active = 0;
    }
    if (!err) {
        int64_t chunks = (N + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
        err = run(&J, reduce_item, chunks, useful_threads(threads, B * N * N_ROWS), 0);
    }
    free(J.partial);
    free(tables);
    return err;
}

/** sinabs_scan_backward_ex with the segments chosen and no report. */
EXPORT int sinabs_scan_backward(int dtype, int isa, int threads, int64_t B, int64_t T,
                                int64_t N, const int32_t *config, const double *consts,
                                const void *g_out, const void *g_v, const void *g_i,
                                const void *g_b, const void *g_u, const void *g_rec_v,
                                const void *g_rec_i, const void *g_rec_b, const void *g_rec_u,
                                const void *x, const void *v0, const void *i0, const void *b0,
                                const void *u0, const void *params, void *g_x, void *g_v0,
                                void *g_i0, void *g_b0, void *g_u0, void *g_params) {
    return sinabs_scan_backward_ex(dtype, isa, threads, B, T, N, config, consts, g_out, g_v,
                                   g_i, g_b, g_u, g_rec_v, g_rec_i, g_rec_b, g_rec_u, x, v0,
                                   i0, b0, u0, params, g_x, g_v0, g_i0, g_b0, g_u0, g_params, 0,
                                   NULL);
}

/** y = the surrogates' float exp of x (n values) on instruction set isa (-1: the best):
 * for tests, which check that every instruction set gives the same bits. */
EXPORT int sinabs_scan_exp_f32(int isa, int64_t n, const float *x, float *y) {
    int best = sinabs_scan_isa();
    if (isa < 0) isa = best;
    if (isa > best || n < 0) return isa > best ? ERR_ISA : ERR_ARGUMENT;
#if SCAN_X86
    if (isa == ISA_AVX512) {
        exp_values_f32_avx512(n, x, y);
        return OK;
    }
    if (isa == ISA_AVX2) {
        exp_values_f32_avx2(n, x, y);
        return OK;
    }
#endif
    exp_values_f32_default(n, x, y);
    return OK;
}

/* setuptools builds this file as an extension module; the module is never imported. */
EXPORT void *PyInit__scan(void) { return NULL; }
