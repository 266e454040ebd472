/* The float64 kernel for any CPU (no vector extension beyond the baseline): see scan_variant.h. */
#define VARIANT_ISA ISA_DEFAULT
#define S_IS_FLOAT 0
#include "scan_variant.h"
