/* The float32 kernel on AVX2: see scan_variant.h. */
#define VARIANT_ISA ISA_AVX2
#define S_IS_FLOAT 1
#include "scan_variant.h"
