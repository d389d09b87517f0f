/* The tracker's implementation for test_oom: its own memory comes from oom_alloc.c, which the
   tests make fail. */
#include "oom_alloc.h"
#define TM_RAW_REALLOC(p, n) oom_realloc((p), (n))
#define TM_RAW_FREE(p) oom_free(p)
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
