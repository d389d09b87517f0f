/* The implementation's translation unit, nothing else: compiled as C99, C11 and C++11, with and
   without TRACEMALLOC_OVERRIDE (which must not turn the tracker's own calls into traced ones). */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
