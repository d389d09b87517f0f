/* make_dumps: writes a 'before' and an 'after' dump through the real tracemalloc.h, for the
   parity suite (tests/parity/run_parity.py) to compare build/tracemalloc with CPython on.

       make_dumps BEFORE.tmd AFTER.tmd

   Run it from the repository's root: its frames name this file as the compiler saw it
   (tests/parity/make_dumps.c), so `--by traceback` and `top` can show its source lines.

   What it records, to exercise what the generated dumps cannot prove about the writer:
   - domain 0 through plain malloc/calloc/realloc/strdup (TRACEMALLOC_OVERRIDE), a site hit in
     a loop (count > 1), realloc moving a block to its own line;
   - tm_track_frames in domains 1 and 2 with multi-frame tracebacks: deeper than the limit
     (total_nframe > nframe), recursion (one frame twice), one file:line under two function
     names, a function left unknown, file names with a space and a comma;
   - between the dumps: frees, untracks, new blocks and a resize, so compare sees every kind of
     difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"

#define LIMIT 6

/* Addresses for the custom domains: tm_track_frames records them, nothing is allocated. */
static char arena[1 << 16];
static char gpu[1 << 16];

/* An interpreter's call stack, most recent frame first, as a VM would report it. */
static const tm_frame vm_deep[] = {
    {"vm/interp loop.c", 120, "op_alloc", 0},
    {"script/app.lua", 7, "make_row", 0},
    {"script/app.lua", 21, "make_table", 0},
    {"script/app.lua", 21, "make_table", 0}, /* recursion: cumulative counts it twice */
    {"script/app.lua", 30, "main", 0},
    {"vm/interp loop.c", 40, "run", 0},
    {"vm/main,entry.c", 9, "main", 0},
    {"vm/main,entry.c", 3, NULL, 0},
    {"crt0.c", 1, "_start", 0}, /* 9 frames: the limit keeps the 6 most recent */
};
static const tm_frame vm_short[] = {
    {"vm/interp loop.c", 120, "op_alloc_fast", 0}, /* same file:line, another name */
    {"script/app.lua", 30, "main", 0},
};
static const tm_frame vm_unknown[] = {
    {"script/lib/json.lua", 0, NULL, 0}, /* lineno 0 and no function, as for a native frame */
};
static const tm_frame gpu_frames[] = {
    {"tests/parity/make_dumps.c", __LINE__, "upload_texture", 0},
    {"tests/parity/make_dumps.c", __LINE__, "render_frame", 0},
    {"tests/parity/make_dumps.c", __LINE__, "main", 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int track(unsigned domain, char *base, size_t offset, size_t size,
                 const tm_frame *frames, int nframe)
{
    if (tm_track_frames(domain, base + offset, size, frames, nframe) != 0) {
        fprintf(stderr, "make_dumps: tm_track_frames(domain %u) failed\n", domain);
        return -1;
    }
    return 0;
}

static int dump(const char *path, const char *label)
{
    tm_snapshot *snapshot = tm_take_snapshot();
    int status = -1;
    if (snapshot == NULL) {
        fprintf(stderr, "make_dumps: tm_take_snapshot failed\n");
        return -1;
    }
    if (tm_snapshot_set_label(snapshot, label) != 0)
        fprintf(stderr, "make_dumps: tm_snapshot_set_label failed\n");
    else if (tm_snapshot_dump(snapshot, path) != 0)
        fprintf(stderr, "make_dumps: cannot write %s\n", path);
    else
        status = 0;
    tm_snapshot_free(snapshot);
    return status;
}

static char *make_row(size_t n)
{
    return malloc(n);
}

int main(int argc, char **argv)
{
    char *rows[8];
    char *grown, *zeroed, *name;
    int i, failed = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: make_dumps BEFORE.tmd AFTER.tmd\n");
        return 1;
    }
    if (tm_start(LIMIT) != 0) {
        fprintf(stderr, "make_dumps: tm_start failed\n");
        return 1;
    }

    for (i = 0; i < 8; i++)
        rows[i] = make_row(64);        /* one site, count 8: ties in size with the next two */
    zeroed = calloc(16, 32);
    grown = malloc(100);
    name = strdup("before");
    failed |= track(1, arena, 0, 4096, vm_deep, COUNT(vm_deep));
    failed |= track(1, arena, 4096, 4096, vm_deep, COUNT(vm_deep));
    failed |= track(1, arena, 8192, 512, vm_short, COUNT(vm_short));
    failed |= track(1, arena, 9000, 512, vm_unknown, COUNT(vm_unknown));
    failed |= track(2, gpu, 0, 1 << 20, gpu_frames, COUNT(gpu_frames));
    failed |= track(2, gpu, 4096, 512, vm_short, COUNT(vm_short)); /* same traceback, domain 2 */
    if (failed || dump(argv[1], "before") != 0)
        return 1;

    for (i = 0; i < 4; i++)
        free(rows[i]);
    grown = realloc(grown, 3000);      /* re-attributed to this line, with the new size */
    free(name);
    name = strdup("after, a longer name");
    tm_untrack(1, arena + 4096);
    failed |= track(1, arena, 12000, 4096, vm_short, COUNT(vm_short));
    failed |= track(2, gpu, 8192, 2 << 20, gpu_frames + 1, COUNT(gpu_frames) - 1);
    if (failed || dump(argv[2], "after") != 0)
        return 1;

    for (i = 4; i < 8; i++)
        free(rows[i]);
    free(zeroed);
    free(grown);
    free(name);
    tm_stop();
    return 0;
}
