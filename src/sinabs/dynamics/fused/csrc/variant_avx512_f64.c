/* The float64 kernel on AVX-512: see scan_variant.h. */
#define VARIANT_ISA ISA_AVX512
#define S_IS_FLOAT 0
#include "scan_variant.h"
