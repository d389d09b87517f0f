/* The tracker for test_native, built as a shared object with frame pointers (as the LD_PRELOAD
   library is): tm_track_native's frames start outside it. With -DTRACEMALLOC_LIBUNWIND its
   DWARF unwinder is libunwind, else the C library's backtrace. */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
