/* The tracker's implementation, compiled once per build variant and linked into every behaviour
   test (test_oom has its own, oom_impl.c, with a failing raw allocator). */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
