/* Snapshots: a copy of every live trace (domain, size, address, traceback) that a program can
   walk in C, and that stays valid whatever the tracker does afterwards. */
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

static void snapshot_holds_every_live_trace(void **state)
{
    char *a, *b, *c;
    unsigned line_a, line_b, line_c;
    tm_snapshot *snapshot;
    const tm_trace *t;
    (void)state;
    tm_start(1);
    a = malloc(11); line_a = __LINE__;
    b = calloc(1, 22); line_b = __LINE__;
    c = strdup("0123456789abcdefghijklmnopqrstuvwxyz0"); line_c = __LINE__; /* 38 bytes */
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 3);
    t = find_trace(snapshot, TM_DOMAIN_MALLOC, a);
    assert_non_null(t);
    assert_int_equal(t->size, 11);
    assert_frame(&t->traceback->frames[0], __FILE__, line_a, __func__);
    t = find_trace(snapshot, TM_DOMAIN_MALLOC, b);
    assert_non_null(t);
    assert_int_equal(t->size, 22);
    assert_frame(&t->traceback->frames[0], __FILE__, line_b, __func__);
    t = find_trace(snapshot, TM_DOMAIN_MALLOC, c);
    assert_non_null(t);
    assert_int_equal(t->size, 38);
    assert_frame(&t->traceback->frames[0], __FILE__, line_c, __func__);
    tm_snapshot_free(snapshot);
    free(a), free(b), free(c);
}

static void snapshot_omits_freed_blocks(void **state)
{
    char *kept, *gone;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    kept = malloc(5);
    gone = malloc(6);
    free(gone);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 1);
    assert_non_null(find_trace(snapshot, TM_DOMAIN_MALLOC, kept));
    tm_snapshot_free(snapshot);
    free(kept);
}

static void snapshot_is_not_changed_by_later_allocations(void **state)
{
    char *a, *b;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    a = malloc(5);
    snapshot = tm_take_snapshot();
    free(a);
    b = malloc(7);
    assert_int_equal(snapshot_size(snapshot), 1);
    assert_int_equal(find_trace(snapshot, TM_DOMAIN_MALLOC, a)->size, 5);
    tm_snapshot_free(snapshot);
    free(b);
}

static void snapshot_traceback_equals_object_traceback(void **state)
{
    char *p;
    const tm_traceback *live;
    const tm_trace *t;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    p = malloc(3);
    live = tm_get_object_traceback(p);
    snapshot = tm_take_snapshot();
    t = find_trace(snapshot, TM_DOMAIN_MALLOC, p);
    assert_int_equal(t->traceback->nframe, live->nframe);
    assert_int_equal(t->traceback->total_nframe, live->total_nframe);
    assert_frame(&t->traceback->frames[0], live->frames[0].filename, live->frames[0].lineno,
                 live->frames[0].function);
    tm_snapshot_free(snapshot);
    free(p);
}

/* A snapshot owns its tracebacks: stopping, clearing and restarting the tracker (which may free
   and reuse its tables) must not change what the snapshot reads. ASan catches a dangling one. */
static void snapshot_stays_valid_after_stop_and_restart(void **state)
{
    const tm_frame frames[2] = {{"lua/vm.c", 7, "luaV_execute", 0}, {"lua/main.c", 3, "main", 0}};
    static char pool[64];
    char *p;
    unsigned line;
    tm_snapshot *snapshot;
    const tm_trace *t;
    int i;
    (void)state;
    tm_start(2);
    p = malloc(9); line = __LINE__;
    tm_track_frames(3, pool, 64, frames, 2);
    snapshot = tm_take_snapshot();
    free(p);
    tm_clear_traces();
    tm_stop();
    tm_start(4);
    for (i = 0; i < 200; i++) { /* new strings and tracebacks: reuse what the tracker freed */
        char file[64], function[64];
        tm_frame frame;
        snprintf(file, sizeof file, "overwritten/by/the/next/session/%03d.c", i);
        snprintf(function, sizeof function, "overwriting_function_%03d", i);
        frame.filename = file, frame.lineno = (unsigned)i, frame.function = function;
        tm_track_frames(3, pool + i % 64, 1, &frame, 1);
        free(tm_malloc_at(1, "other.c", (unsigned)i, "other"));
    }
    t = find_trace(snapshot, TM_DOMAIN_MALLOC, p);
    assert_non_null(t);
    assert_int_equal(t->size, 9);
    assert_frame(&t->traceback->frames[0], __FILE__, line, __func__);
    t = find_trace(snapshot, 3, pool);
    assert_non_null(t);
    assert_int_equal(t->traceback->nframe, 2);
    assert_frame(&t->traceback->frames[0], "lua/vm.c", 7, "luaV_execute");
    assert_frame(&t->traceback->frames[1], "lua/main.c", 3, "main");
    assert_int_equal(tm_snapshot_traceback_limit(snapshot), 2);
    tm_snapshot_free(snapshot);
}

static void take_snapshot_when_not_tracing_returns_null(void **state)
{
    (void)state;
    assert_null(tm_take_snapshot());
    tm_start(1);
    tm_stop();
    assert_null(tm_take_snapshot());
}

static void snapshot_traceback_limit_is_the_start_limit(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    tm_start(12);
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_traceback_limit(snapshot), 12);
    tm_snapshot_free(snapshot);
}

static void empty_snapshot_has_no_traces(void **state)
{
    tm_snapshot *snapshot;
    const tm_trace *traces = NULL;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_non_null(snapshot);
    assert_int_equal(tm_snapshot_traces(snapshot, &traces), 0);
    tm_snapshot_free(snapshot);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* Many traces at one site: each block once, with its own size. */
static void snapshot_of_many_blocks_has_each_once_with_its_size(void **state)
{
    enum { N = 5000 };
    static char *blocks[N];
    const tm_trace *traces;
    tm_snapshot *snapshot;
    size_t n, i, total = 0;
    (void)state;
    tm_start(1);
    for (i = 0; i < N; i++) {
        blocks[i] = malloc(i % 97 + 1);
        blocks[i][0] = (char)(i % 97 + 1); /* the size, kept in the block to check the trace */
    }
    snapshot = tm_take_snapshot();
    n = tm_snapshot_traces(snapshot, &traces);
    assert_int_equal(n, N);
    qsort(blocks, N, sizeof *blocks, cmp_ptr);
    for (i = 0; i < n; i++) {
        void *key = (void *)traces[i].address;
        char **hit = bsearch(&key, blocks, N, sizeof *blocks, cmp_ptr);
        assert_non_null(hit);
        assert_int_equal(traces[i].size, (size_t)(unsigned char)(*hit)[0]);
        total += traces[i].size;
    }
    assert_int_equal(total, traced_current());
    tm_snapshot_free(snapshot);
    for (i = 0; i < N; i++)
        free(blocks[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(snapshot_holds_every_live_trace),
        TEST(snapshot_omits_freed_blocks),
        TEST(snapshot_is_not_changed_by_later_allocations),
        TEST(snapshot_traceback_equals_object_traceback),
        TEST(snapshot_stays_valid_after_stop_and_restart),
        TEST(take_snapshot_when_not_tracing_returns_null),
        TEST(snapshot_traceback_limit_is_the_start_limit),
        TEST(empty_snapshot_has_no_traces),
        TEST(snapshot_of_many_blocks_has_each_once_with_its_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
