/* Domains, as Python's PyTraceMalloc_Track/Untrack: a custom allocator (here, slices of a static
   arena) reports its blocks in a domain of its own, with the call site or with frames it knows. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tracemalloc.h"

enum { POOL = 7, GPU = 9 };
static char arena[4096];

static const tm_trace *traced_in(tm_snapshot *snapshot, unsigned domain, const void *ptr)
{
    return find_trace(snapshot, domain, ptr);
}

static void track_records_block_in_domain_at_call_site(void **state)
{
    tm_snapshot *snapshot;
    const tm_trace *trace;
    unsigned line;
    (void)state;
    tm_start(1);
    assert_int_equal(tm_track(POOL, arena, 100), 0); line = __LINE__;
    snapshot = tm_take_snapshot();
    trace = traced_in(snapshot, POOL, arena);
    assert_non_null(trace);
    assert_int_equal(trace->domain, POOL);
    assert_int_equal(trace->size, 100);
    assert_int_equal(trace->address, (uintptr_t)arena);
    assert_int_equal(trace->traceback->nframe, 1);
    assert_frame(&trace->traceback->frames[0], __FILE__, line, __func__);
    tm_snapshot_free(snapshot);
}

/* Python's traced memory is the sum over all domains. */
static void tracked_blocks_count_in_traced_memory(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(10);
    tm_track(POOL, arena, 100);
    tm_track(GPU, arena + 100, 1000);
    assert_int_equal(traced_current(), 1110);
    assert_int_equal(traced_peak(), 1110);
    free(p);
    tm_untrack(POOL, arena);
    tm_untrack(GPU, arena + 100);
}

static void untrack_removes_the_trace(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    tm_track(POOL, arena, 100);
    assert_int_equal(tm_untrack(POOL, arena), 0);
    assert_int_equal(traced_current(), 0);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 0);
    tm_snapshot_free(snapshot);
}

static void untrack_in_another_domain_keeps_the_trace(void **state)
{
    (void)state;
    tm_start(1);
    tm_track(POOL, arena, 100);
    tm_untrack(GPU, arena);
    assert_int_equal(traced_current(), 100);
    tm_untrack(POOL, arena);
}

static void track_fails_when_not_tracing(void **state)
{
    (void)state;
    assert_int_not_equal(tm_track(POOL, arena, 100), 0);
    tm_start(1);
    assert_int_equal(traced_current(), 0);
}

/* Python's _PyTraceMalloc_Track on a known (domain, ptr) replaces the trace: the allocator
   reused the address. */
static void track_again_replaces_the_trace(void **state)
{
    tm_snapshot *snapshot;
    unsigned line;
    (void)state;
    tm_start(1);
    tm_track(POOL, arena, 100);
    tm_track(POOL, arena, 30); line = __LINE__;
    assert_int_equal(traced_current(), 30);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 1);
    assert_int_equal(traced_in(snapshot, POOL, arena)->size, 30);
    assert_frame(&traced_in(snapshot, POOL, arena)->traceback->frames[0], __FILE__, line, __func__);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
}

static void same_pointer_in_two_domains_is_two_traces(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    tm_track(POOL, arena, 100);
    tm_track(GPU, arena, 40);
    assert_int_equal(traced_current(), 140);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 2);
    assert_int_equal(traced_in(snapshot, POOL, arena)->size, 100);
    assert_int_equal(traced_in(snapshot, GPU, arena)->size, 40);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
    assert_int_equal(traced_current(), 40);
    tm_untrack(GPU, arena);
}

/* free() removes the malloc domain's trace only: the pool's view of the block is its own. */
static void free_leaves_other_domains_alone(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(64);
    tm_track(POOL, p, 32);
    free(p);
    assert_int_equal(traced_current(), 32);
    tm_untrack(POOL, p);
    assert_int_equal(traced_current(), 0);
}

/* Python's get_object_traceback looks in the default domain only. */
static void object_traceback_looks_in_the_malloc_domain_only(void **state)
{
    (void)state;
    tm_start(1);
    tm_track(POOL, arena, 100);
    assert_null(tm_get_object_traceback(arena));
    tm_untrack(POOL, arena);
}

/* Sizes beyond what fits beside a pointer in a compact table (here 2 TiB, tracked in the malloc
   domain as Python allows) keep their exact size, and their traceback. */
static void huge_block_keeps_its_exact_size(void **state)
{
    const size_t huge = (size_t)1 << 41;
    tm_snapshot *snapshot;
    unsigned line;
    (void)state;
    tm_start(1);
    assert_int_equal(tm_track(TM_DOMAIN_MALLOC, arena, huge), 0); line = __LINE__;
    assert_int_equal(traced_current(), huge);
    assert_traced_at(arena, __FILE__, line, __func__);
    snapshot = tm_take_snapshot();
    assert_int_equal(traced_in(snapshot, TM_DOMAIN_MALLOC, arena)->size, huge);
    tm_snapshot_free(snapshot);
    assert_int_equal(tm_untrack(TM_DOMAIN_MALLOC, arena), 0);
    assert_int_equal(traced_current(), 0);
}

static void track_frames_records_frames_most_recent_first(void **state)
{
    const tm_frame frames[3] = {{"vm.c", 30, "op_alloc", 0}, {"eval.c", 20, "eval", 0}, {"main.c", 10, "main", 0}};
    tm_snapshot *snapshot;
    const tm_trace *trace;
    int i;
    (void)state;
    tm_start(10);
    assert_int_equal(tm_track_frames(POOL, arena, 64, frames, 3), 0);
    snapshot = tm_take_snapshot();
    trace = traced_in(snapshot, POOL, arena);
    assert_non_null(trace);
    assert_int_equal(trace->size, 64);
    assert_int_equal(trace->traceback->nframe, 3);
    assert_int_equal(trace->traceback->total_nframe, 3);
    for (i = 0; i < 3; i++)
        assert_frame(&trace->traceback->frames[i], frames[i].filename, frames[i].lineno, frames[i].function);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
}

/* As Python: the limit keeps the most recent frames and total_nframe keeps the full depth. */
static void track_frames_beyond_the_limit_drops_the_oldest(void **state)
{
    const tm_frame frames[5] = {{"e.c", 5, "e", 0}, {"d.c", 4, "d", 0}, {"c.c", 3, "c", 0}, {"b.c", 2, "b", 0},
                                {"a.c", 1, "a", 0}};
    tm_snapshot *snapshot;
    const tm_trace *trace;
    int i;
    (void)state;
    tm_start(3);
    assert_int_equal(tm_track_frames(POOL, arena, 64, frames, 5), 0);
    snapshot = tm_take_snapshot();
    trace = traced_in(snapshot, POOL, arena);
    assert_non_null(trace);
    assert_int_equal(trace->traceback->nframe, 3);
    assert_int_equal(trace->traceback->total_nframe, 5);
    for (i = 0; i < 3; i++)
        assert_frame(&trace->traceback->frames[i], frames[i].filename, frames[i].lineno, frames[i].function);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
}

/* Deep stacks (an interpreter's recursion): every frame up to the limit is kept, in order. */
static void track_frames_keeps_a_deep_stack_whole(void **state)
{
    enum { DEPTH = 300 };
    static tm_frame frames[DEPTH];
    static char names[DEPTH][16];
    tm_snapshot *snapshot;
    const tm_trace *trace;
    int i;
    (void)state;
    for (i = 0; i < DEPTH; i++) {
        snprintf(names[i], sizeof names[i], "level%d", i);
        frames[i].filename = "deep.py", frames[i].lineno = (unsigned)i, frames[i].function = names[i];
    }
    tm_start(DEPTH);
    assert_int_equal(tm_track_frames(POOL, arena, 8, frames, DEPTH), 0);
    snapshot = tm_take_snapshot();
    trace = traced_in(snapshot, POOL, arena);
    assert_non_null(trace);
    assert_int_equal(trace->traceback->nframe, DEPTH);
    assert_int_equal(trace->traceback->total_nframe, DEPTH);
    for (i = 0; i < DEPTH; i++)
        assert_frame(&trace->traceback->frames[i], "deep.py", (unsigned)i, names[i]);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
}

static void track_frames_function_may_be_null(void **state)
{
    const tm_frame frame = {"script.lua", 12, NULL, 0};
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    assert_int_equal(tm_track_frames(POOL, arena, 8, &frame, 1), 0);
    snapshot = tm_take_snapshot();
    assert_frame(&traced_in(snapshot, POOL, arena)->traceback->frames[0], "script.lua", 12, NULL);
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
}

/* tm_frame's strings are "strings the tracker owns": an interpreter may build its frame names
   in a buffer it reuses, and each trace keeps what the buffer held when it was tracked. */
static void track_frames_copies_the_frame_strings(void **state)
{
    char file[32], func[32];
    tm_frame frame;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    frame.filename = file, frame.lineno = 1, frame.function = func;
    strcpy(file, "first.py"), strcpy(func, "alpha");
    tm_track_frames(POOL, arena, 8, &frame, 1);
    strcpy(file, "second.py"), strcpy(func, "beta");
    tm_track_frames(POOL, arena + 8, 8, &frame, 1);
    memset(file, 0, sizeof file), memset(func, 0, sizeof func);
    snapshot = tm_take_snapshot();
    assert_frame(&traced_in(snapshot, POOL, arena)->traceback->frames[0], "first.py", 1, "alpha");
    assert_frame(&traced_in(snapshot, POOL, arena + 8)->traceback->frames[0], "second.py", 1, "beta");
    tm_snapshot_free(snapshot);
    tm_untrack(POOL, arena);
    tm_untrack(POOL, arena + 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(track_records_block_in_domain_at_call_site),
        TEST(tracked_blocks_count_in_traced_memory),
        TEST(untrack_removes_the_trace),
        TEST(untrack_in_another_domain_keeps_the_trace),
        TEST(track_fails_when_not_tracing),
        TEST(track_again_replaces_the_trace),
        TEST(same_pointer_in_two_domains_is_two_traces),
        TEST(free_leaves_other_domains_alone),
        TEST(object_traceback_looks_in_the_malloc_domain_only),
        TEST(huge_block_keeps_its_exact_size),
        TEST(track_frames_records_frames_most_recent_first),
        TEST(track_frames_beyond_the_limit_drops_the_oldest),
        TEST(track_frames_keeps_a_deep_stack_whole),
        TEST(track_frames_function_may_be_null),
        TEST(track_frames_copies_the_frame_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
