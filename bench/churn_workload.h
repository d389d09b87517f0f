/* churn_workload.h - the malloc/free churn both benchmarks run (tracker_bench.c, native_bench.c),
   so that their figures describe the same loop: pair i frees slot slots_of[i] of SLOTS live
   blocks and allocates sizes[i] bytes in it, sizes 16..271, from a fixed xorshift sequence. */
#ifndef CHURN_WORKLOAD_H
#define CHURN_WORKLOAD_H

#include <stdint.h>

#define SLOTS 1024

static void churn_workload(unsigned short *sizes, unsigned short *slots_of, unsigned pairs)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    unsigned i;
    for (i = 0; i < pairs; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sizes[i] = (unsigned short)(16 + x % 256);
        slots_of[i] = (unsigned short)((x >> 20) % SLOTS);
    }
}

#endif
