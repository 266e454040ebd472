/* One instruction-set variant of the kernel as a translation unit of its own.
 *
 * Included by variant_<isa>_<type>.c with VARIANT_ISA (ISA_DEFAULT, ISA_AVX2 or
 * ISA_AVX512) and S_IS_FLOAT (1: float, 0: double) defined: it instantiates
 * scan_kernel.h under the matching target pragma. The build compiles the variants
 * in parallel (setup.py).
 */

#include "scan_common.h"

#if VARIANT_ISA == ISA_DEFAULT
#define ISA_NAME default
#include "scan_kernel.h"
#elif SCAN_X86
#if VARIANT_ISA == ISA_AVX2
TARGET_PUSH(TARGET_AVX2)
#define ISA_NAME avx2
#else
TARGET_PUSH(TARGET_AVX512)
#define ISA_NAME avx512
#define ISA_IS_AVX512 1 /* surrogate.h: exp rows with the AVX-512 instructions */
#endif
#include "scan_kernel.h"
TARGET_POP
#else
typedef int scan_variant_not_built; /* not x86-64: no AVX variants (ISO C: not empty) */
#endif
