/* Issue 6's exactness program: a 10 MiB phase at one site, freed, then 4 MiB kept at another.

       peak_pattern [PHASE_BLOCKS PHASE_BLOCK_BYTES KEPT_BLOCKS KEPT_BLOCK_BYTES]

   Defaults: 10 blocks of 1 MiB in phase(), all freed (first allocated, first freed), then 16
   blocks of 256 KiB in keep(), live at exit. So, with nothing else allocating (no stdio here):
     peak            10 MiB, all of it phase()'s 10 blocks (each step is 10% of the peak, above
                     the 1% rule, so the peak's contents are exact), reached before keep() runs;
     live at exit    keep()'s 16 blocks, 4 MiB;
     allocated       phase(): 10 blocks, 10 MiB, 1 temporary (the last block: nothing was
                     allocated between it and its free, heaptrack's rule); keep(): 16, 4 MiB, 0.
   A 20 ms pause after each phase gives the timeline a plateau. Every block is written, so RSS
   follows.

   Built two ways by mk/test_native.mk into $(BUILD)/tests/native/:
     peak_pattern         plain C: `tracemalloc run -- peak_pattern`, native stacks;
     peak_pattern_header  with -DPEAK_PATTERN_HEADER: the header's implementation and its
                          override macros, so the sites are this file's lines; run it with
                          TRACEMALLOC=1 TRACEMALLOC_DUMP=path. */
#ifdef PEAK_PATTERN_HEADER
#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__clang__)
#define KEEP_FRAME __attribute__((noinline))
#else
#define KEEP_FRAME __attribute__((noipa))
#endif

void *kept[4096];

static void pause_20ms(void)
{
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL);
}

KEEP_FRAME void phase(unsigned blocks, size_t size)
{
    void *block[4096];
    unsigned i;
    for (i = 0; i < blocks; i++) {
        block[i] = malloc(size);
        if (!block[i]) abort();
        memset(block[i], 1, size);
    }
    pause_20ms();
    for (i = 0; i < blocks; i++) free(block[i]);
}

KEEP_FRAME void keep(unsigned blocks, size_t size)
{
    unsigned i;
    for (i = 0; i < blocks; i++) {
        kept[i] = malloc(size);
        if (!kept[i]) abort();
        memset(kept[i], 2, size);
    }
    pause_20ms();
}

static unsigned long argument(int argc, char **argv, int i, unsigned long fallback, unsigned long max)
{
    unsigned long v = i < argc ? strtoul(argv[i], NULL, 10) : fallback;
    if (v > max) abort();
    return v;
}

int main(int argc, char **argv)
{
    unsigned long max_bytes = 1ul << 30;
    phase((unsigned)argument(argc, argv, 1, 10, 4096), argument(argc, argv, 2, 1u << 20, max_bytes));
    keep((unsigned)argument(argc, argv, 3, 16, 4096), argument(argc, argv, 4, 256u << 10, max_bytes));
    return 0;
}
