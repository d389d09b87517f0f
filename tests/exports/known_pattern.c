/* known_pattern.c - issue 6's known pattern, through tracemalloc.h: 100 temporary blocks of 64
   bytes, a 10 MiB phase at one site (ten 1 MiB blocks) freed, then 4 MiB kept at another.

   Usage: known_pattern DUMP. The exports tests check that --at-peak, --allocated, the
   timeline's maximum, the pprof and folded sums and ms_print's peak all tell these numbers:
   peak 10 MiB (phase_block, 10 blocks), live 4 MiB (kept_block, 4 blocks), allocated
   14 MiB + 6400 B in 114 blocks, 100 temporaries at temporary() and one at phase_block()
   (its last block is freed before any other allocation: heaptrack's rule). */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"

#include <stdio.h>
#include <string.h>

#define MIB (1024 * 1024)

static void temporary(void)
{
    free(malloc(64));
}

static void *phase_block(void)
{
    return malloc(MIB);
}

static void *kept_block(void)
{
    return malloc(MIB);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: known_pattern DUMP\n");
        return 2;
    }
    void *phase[10], *kept[4];
    tm_start(1);
    for (int i = 0; i < 100; i++)
        temporary();
    for (int i = 0; i < 10; i++)
        memset(phase[i] = phase_block(), 1, MIB); /* touched: RSS follows */
    for (int i = 0; i < 10; i++)
        free(phase[i]);
    for (int i = 0; i < 4; i++)
        memset(kept[i] = kept_block(), 1, MIB);
    tm_snapshot *snapshot = tm_take_snapshot();
    int rc = snapshot && tm_snapshot_set_label(snapshot, "known pattern") == 0
             && tm_snapshot_dump(snapshot, argv[1]) == 0 ? 0 : 1;
    tm_snapshot_free(snapshot);
    for (int i = 0; i < 4; i++)
        free(kept[i]);
    tm_stop();
    return rc;
}
