/* The float64 kernel on AVX2: see scan_variant.h. */
#define VARIANT_ISA ISA_AVX2
#define S_IS_FLOAT 0
#include "scan_variant.h"
