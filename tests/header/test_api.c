/* The tracker's control API, as Python's tracemalloc module defines it: start/stop, the
   traceback limit, traced current and peak, clear_traces, get_object_traceback, and the
   tracker's own memory. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include "helpers.h"
#include "tracemalloc.h"

static void start_accepts_limits_1_and_65535(void **state)
{
    (void)state;
    assert_int_equal(tm_start(1), 0);
    assert_true(tm_is_tracing());
    tm_stop();
    assert_int_equal(tm_start(65535), 0);
    assert_true(tm_is_tracing());
    assert_int_equal(tm_get_traceback_limit(), 65535);
}

static void start_rejects_limits_outside_1_to_65535(void **state)
{
    (void)state;
    assert_int_equal(tm_start(0), -1);
    assert_false(tm_is_tracing());
    assert_int_equal(tm_start(65536), -1);
    assert_false(tm_is_tracing());
    assert_int_equal(tm_start(-1), -1);
    assert_false(tm_is_tracing());
}

/* Python validates the limit before touching anything: a bad call changes nothing. */
static void rejected_start_leaves_tracing_unchanged(void **state)
{
    char *p;
    (void)state;
    assert_int_equal(tm_start(3), 0);
    p = malloc(10);
    assert_int_equal(tm_start(0), -1);
    assert_true(tm_is_tracing());
    assert_int_equal(tm_get_traceback_limit(), 3);
    assert_non_null(tm_get_object_traceback(p));
    free(p);
}

static void is_tracing_follows_start_and_stop(void **state)
{
    (void)state;
    assert_false(tm_is_tracing());
    tm_start(1);
    assert_true(tm_is_tracing());
    tm_stop();
    assert_false(tm_is_tracing());
}

static void traceback_limit_is_the_start_argument(void **state)
{
    (void)state;
    tm_start(7);
    assert_int_equal(tm_get_traceback_limit(), 7);
    tm_stop();
    tm_start(1);
    assert_int_equal(tm_get_traceback_limit(), 1);
}

/* CPython 3.11's tracemalloc_start returns early when tracing ("hook already installed: do
   nothing"): start(5) then start(10) leaves get_traceback_limit() at 5. */
static void start_while_tracing_keeps_the_limit(void **state)
{
    (void)state;
    tm_start(5);
    assert_int_equal(tm_start(10), 0);
    assert_int_equal(tm_get_traceback_limit(), 5);
}

/* As Python: the limit outlives stop (get_traceback_limit() after stop() is the last one). */
static void traceback_limit_after_stop_is_the_last_limit(void **state)
{
    (void)state;
    tm_start(6);
    tm_stop();
    assert_int_equal(tm_get_traceback_limit(), 6);
}

/* As Python: starting again while tracing is not an error and forgets nothing. */
static void start_while_tracing_keeps_the_traces(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(40);
    assert_int_equal(tm_start(1), 0);
    assert_non_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 40);
    free(p);
}

static void traced_memory_counts_requested_sizes(void **state)
{
    char *a, *b;
    (void)state;
    tm_start(1);
    a = malloc(100);
    b = malloc(23);
    assert_int_equal(traced_current(), 123);
    assert_int_equal(traced_peak(), 123);
    free(a);
    assert_int_equal(traced_current(), 23);
    free(b);
    assert_int_equal(traced_current(), 0);
}

static void peak_keeps_the_highest_current(void **state)
{
    char *a, *b;
    (void)state;
    tm_start(1);
    a = malloc(1000);
    free(a);
    b = malloc(10);
    assert_int_equal(traced_current(), 10);
    assert_int_equal(traced_peak(), 1000);
    free(b);
}

static void reset_peak_sets_peak_to_current(void **state)
{
    char *a, *b, *c;
    (void)state;
    tm_start(1);
    a = malloc(1000);
    b = malloc(50);
    free(a);
    tm_reset_peak();
    assert_int_equal(traced_peak(), 50);
    c = malloc(30);
    assert_int_equal(traced_peak(), 80);
    free(b);
    free(c);
    assert_int_equal(traced_peak(), 80);
}

static void traced_memory_is_zero_when_not_tracing(void **state)
{
    char *p;
    size_t current = 1, peak = 1;
    (void)state;
    p = malloc(100);
    tm_get_traced_memory(&current, &peak);
    assert_int_equal(current, 0);
    assert_int_equal(peak, 0);
    free(p);
}

static void stop_clears_traces_and_counters(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(64);
    tm_stop();
    assert_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 0);
    assert_int_equal(traced_peak(), 0);
    tm_start(1);
    assert_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 0);
    free(p);
}

/* Python's clear_traces: traces and both counters go to zero, tracing goes on. */
static void clear_traces_forgets_blocks_but_keeps_tracing(void **state)
{
    char *old, *young;
    (void)state;
    tm_start(1);
    old = malloc(500);
    tm_clear_traces();
    assert_true(tm_is_tracing());
    assert_null(tm_get_object_traceback(old));
    assert_int_equal(traced_current(), 0);
    assert_int_equal(traced_peak(), 0);
    young = malloc(8);
    assert_non_null(tm_get_object_traceback(young));
    assert_int_equal(traced_current(), 8);
    free(young);
    free(old);
}

/* A block whose trace was cleared is no longer known: freeing it must not subtract its size. */
static void freeing_a_cleared_block_leaves_counters_alone(void **state)
{
    char *old, *young;
    (void)state;
    tm_start(1);
    old = malloc(500);
    tm_clear_traces();
    young = malloc(8);
    free(old);
    assert_int_equal(traced_current(), 8);
    free(young);
    assert_int_equal(traced_current(), 0);
}

static void object_traceback_is_the_call_site(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(12); line = __LINE__;
    assert_traced_at(p, __FILE__, line, __func__);
    free(p);
}

static void object_traceback_is_null_for_untraced_pointers(void **state)
{
    char *before, *p;
    int local;
    (void)state;
    before = malloc(16);
    tm_start(1);
    p = malloc(16);
    assert_null(tm_get_object_traceback(before));
    assert_null(tm_get_object_traceback(NULL));
    assert_null(tm_get_object_traceback(p + 1)); /* only a block's start address is traced */
    assert_null(tm_get_object_traceback(&local));
    free(p);
    assert_null(tm_get_object_traceback(p));
    free(before);
}

static void object_traceback_is_null_when_not_tracing(void **state)
{
    char *p;
    (void)state;
    p = malloc(16);
    assert_null(tm_get_object_traceback(p));
    free(p);
}

/* Above one frame, the call site stays frames[0] and the native callers follow (test_native.c
   checks them); the limit caps a traceback, it does not pad it. */
static void limit_above_one_keeps_the_site_then_native_callers(void **state)
{
    char *p;
    unsigned line;
    const tm_traceback *tb;
    int i;
    (void)state;
    tm_start(25);
    p = malloc(5); line = __LINE__;
    tb = tm_get_object_traceback(p);
    assert_non_null(tb);
    assert_frame(&tb->frames[0], __FILE__, line, __func__);
    assert_int_equal(tb->frames[0].address, 0);
    assert_true(tb->nframe >= 2 && tb->nframe <= 25 && tb->nframe <= tb->total_nframe);
    for (i = 1; i < tb->nframe; i++) {
        assert_null(tb->frames[i].filename);
        assert_true(tb->frames[i].address != 0);
    }
    free(p);
}

/* One fixed call site, so a second call hits whatever the tracker cached for it. */
static char *allocate_at_fixed_site(unsigned *line)
{
    char *p = malloc(4); *line = __LINE__;
    return p;
}

/* A restart or a clear forgets every interned traceback: a site seen before must be interned
   again, not answered from a cache that names a traceback of the old session. */
static void sites_seen_before_a_restart_or_clear_are_attributed_afresh(void **state)
{
    char *other, *again;
    unsigned fixed_line, other_line;
    (void)state;
    tm_start(1);
    free(allocate_at_fixed_site(&fixed_line));
    tm_stop();
    tm_start(1);
    other = malloc(4); other_line = __LINE__; /* takes the first traceback of the new session */
    again = allocate_at_fixed_site(&fixed_line);
    assert_traced_at(other, __FILE__, other_line, __func__);
    assert_traced_at(again, __FILE__, fixed_line, "allocate_at_fixed_site");
    free(other), free(again);
    tm_clear_traces();
    other = malloc(4); other_line = __LINE__;
    again = allocate_at_fixed_site(&fixed_line);
    assert_traced_at(other, __FILE__, other_line, __func__);
    assert_traced_at(again, __FILE__, fixed_line, "allocate_at_fixed_site");
    free(other), free(again);
}

static void tracemalloc_memory_grows_while_tracing_and_drops_after_stop(void **state)
{
    enum { N = 1000 };
    char *blocks[N];
    size_t tracing, stopped;
    int i;
    (void)state;
    tm_start(1);
    for (i = 0; i < N; i++)
        blocks[i] = malloc(8);
    tracing = tm_get_tracemalloc_memory();
    assert_true(tracing > 0);
    for (i = 0; i < N; i++)
        free(blocks[i]);
    tm_stop();
    stopped = tm_get_tracemalloc_memory();
    assert_true(stopped < tracing);
}

static void nothing_is_untraced_when_memory_is_plentiful(void **state)
{
    char *p;
    size_t count = 1, size = 1;
    (void)state;
    tm_start(1);
    p = malloc(100);
    tm_get_untraced_memory(&count, &size);
    assert_int_equal(count, 0);
    assert_int_equal(size, 0);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(start_accepts_limits_1_and_65535),
        TEST(start_rejects_limits_outside_1_to_65535),
        TEST(rejected_start_leaves_tracing_unchanged),
        TEST(is_tracing_follows_start_and_stop),
        TEST(traceback_limit_is_the_start_argument),
        TEST(start_while_tracing_keeps_the_traces),
        TEST(start_while_tracing_keeps_the_limit),
        TEST(traceback_limit_after_stop_is_the_last_limit),
        TEST(traced_memory_counts_requested_sizes),
        TEST(peak_keeps_the_highest_current),
        TEST(reset_peak_sets_peak_to_current),
        TEST(traced_memory_is_zero_when_not_tracing),
        TEST(stop_clears_traces_and_counters),
        TEST(clear_traces_forgets_blocks_but_keeps_tracing),
        TEST(freeing_a_cleared_block_leaves_counters_alone),
        TEST(object_traceback_is_the_call_site),
        TEST(object_traceback_is_null_for_untraced_pointers),
        TEST(object_traceback_is_null_when_not_tracing),
        TEST(limit_above_one_keeps_the_site_then_native_callers),
        TEST(sites_seen_before_a_restart_or_clear_are_attributed_afresh),
        TEST(tracemalloc_memory_grows_while_tracing_and_drops_after_stop),
        TEST(nothing_is_untraced_when_memory_is_plentiful),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
