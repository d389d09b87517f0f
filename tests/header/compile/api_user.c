/* Uses every public declaration of tracemalloc.h, without the implementation: compiled as C99,
   C11 and C++11, with and without TRACEMALLOC_OVERRIDE, and linked to the implementation built
   as C (a C++ program must link to it through extern "C"). Returns 0 when the block it
   allocates is traced at its own line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tracemalloc.h"

#ifdef TRACEMALLOC_OVERRIDE
#define ALLOCATE(n) malloc(n)
#define RELEASE(p) free(p)
#else
#define ALLOCATE(n) tm_malloc_at((n), __FILE__, __LINE__, __func__)
#define RELEASE(p) tm_free(p)
#endif

static int every_declaration_is_usable(void)
{
    static char pool[16];
    tm_frame frame = {"vm.c", 1, NULL, 0};
    const tm_trace *traces = NULL;
    size_t current = 0, peak = 0, count = 0, size = 0;
    tm_snapshot *snapshot;
    void *blocks[12];
    int ok, i;
    ok = tm_track(1u, pool, 8) == 0 && tm_untrack(1u, pool) == 0;
    ok = ok && tm_track_frames(2u, pool, 8, &frame, 1) == 0 && tm_untrack(2u, pool) == 0;
    ok = ok && tm_set_unwind(TM_UNWIND_FP) == 0 && tm_set_unwind(TM_UNWIND_DWARF) == 0
         && tm_set_unwind(TM_UNWIND_AUTO) == 0;
    ok = ok && tm_track_native(3u, pool, 8) == 0 && tm_untrack(3u, pool) == 0;
    tm_get_traced_memory(&current, &peak);
    tm_get_untraced_memory(&count, &size);
    tm_reset_peak();
    ok = ok && tm_get_tracemalloc_memory() > 0 && tm_get_traceback_limit() == 1;
    blocks[0] = tm_calloc_at(1, 1, "f.c", 1, "g");
    blocks[1] = tm_realloc_at(NULL, 1, "f.c", 1, "g");
    blocks[2] = tm_reallocarray_at(NULL, 1, 1, "f.c", 1, "g");
    blocks[3] = tm_strdup_at("x", "f.c", 1, "g");
    blocks[4] = tm_strndup_at("x", 1, "f.c", 1, "g");
    blocks[5] = tm_aligned_alloc_at(16, 16, "f.c", 1, "g");
    ok = ok && tm_posix_memalign_at(&blocks[6], 16, 16, "f.c", 1, "g") == 0;
    blocks[7] = tm_memalign_at(16, 16, "f.c", 1, "g");
    blocks[8] = tm_valloc_at(16, "f.c", 1, "g");
    blocks[9] = tm_pvalloc_at(16, "f.c", 1, "g");
    blocks[10] = tm_malloc_at(1, "f.c", 1, "g");
    blocks[11] = NULL;
    snapshot = tm_take_snapshot();
    ok = ok && snapshot != NULL && tm_snapshot_traces(snapshot, &traces) >= 10;
    ok = ok && tm_snapshot_traceback_limit(snapshot) == 1;
    ok = ok && tm_snapshot_set_label(snapshot, "compile test") == 0;
    tm_snapshot_free(snapshot);
    for (i = 0; i < 12; i++)
        tm_free(blocks[i]);
    tm_clear_traces();
    return ok;
}

int main(void)
{
    char *p;
    unsigned line;
    const tm_traceback *tb;
    int ok;
    if (tm_start(1) != 0 || !tm_is_tracing())
        return 1;
    p = (char *)ALLOCATE(10); line = __LINE__;
    tb = tm_get_object_traceback(p);
    ok = tb != NULL && tb->nframe == 1 && tb->frames[0].lineno == line &&
         strcmp(tb->frames[0].filename, __FILE__) == 0;
    RELEASE(p);
    ok = ok && every_declaration_is_usable();
    tm_stop();
    if (!ok)
        fprintf(stderr, "api_user: the tracker did not record what it was given\n");
    return ok ? 0 : 1;
}
