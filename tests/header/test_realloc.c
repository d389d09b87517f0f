/* realloc, as Python traces it: the block moves to the realloc call site and the new size, the
   peak never counts the old and the new block together, and NULL, size 0 and failure behave. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tracemalloc.h"

static volatile size_t huge = SIZE_MAX;

static void realloc_moves_block_to_new_site(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(100);
    memset(p, 'x', 100);
    p = realloc(p, 200); line = __LINE__;
    assert_non_null(p);
    assert_int_equal(p[99], 'x');
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 200);
    assert_int_equal(traced_current(), 200);
    free(p);
    assert_int_equal(traced_current(), 0);
}

static void realloc_shrink_traces_the_new_size(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(300);
    p = realloc(p, 30); line = __LINE__;
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 30);
    assert_int_equal(traced_current(), 30);
    free(p);
}

/* Python removes the old trace before adding the new one: 100 then 200 peaks at 200, not 300. */
static void realloc_peak_never_counts_old_and_new_together(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(100);
    tm_reset_peak();
    p = realloc(p, 200);
    assert_int_equal(traced_current(), 200);
    assert_int_equal(traced_peak(), 200);
    free(p);
}

static void realloc_growth_keeps_one_trace_of_the_last_size(void **state)
{
    char *p = NULL;
    size_t size;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    for (size = 1; size <= 4096; size *= 2) {
        p = realloc(p, size);
        assert_int_equal(traced_current(), size);
    }
    assert_int_equal(traced_peak(), 4096);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 1);
    assert_non_null(find_trace(snapshot, TM_DOMAIN_MALLOC, p));
    tm_snapshot_free(snapshot);
    free(p);
}

static void realloc_null_acts_as_malloc(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = realloc(NULL, 50); line = __LINE__;
    assert_non_null(p);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 50);
    free(p);
}

/* C lets realloc(p, 0) either free p and return NULL (glibc) or return a new block; either way
   the old trace is gone and nothing is counted. */
static void realloc_to_zero_drops_the_old_trace(void **state)
{
    char *p, *q;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    p = malloc(64);
    q = realloc(p, 0);
    assert_int_equal(traced_current(), 0);
    snapshot = tm_take_snapshot();
    if (q == NULL) {
        assert_int_equal(snapshot_size(snapshot), 0);
    } else {
        assert_int_equal(snapshot_size(snapshot), 1);
        assert_int_equal(find_trace(snapshot, TM_DOMAIN_MALLOC, q)->size, 0);
    }
    tm_snapshot_free(snapshot);
    free(q);
}

/* A failed realloc leaves the old block allocated and untouched: its trace must stay too. */
static void failed_realloc_keeps_the_old_trace(void **state)
{
    char *p, *q;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(100); line = __LINE__;
    p[0] = 'k';
    errno = 0;
    q = realloc(p, huge);
    assert_null(q);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(p[0], 'k');
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 100);
    assert_int_equal(traced_current(), 100);
    free(p);
    assert_int_equal(traced_current(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(realloc_moves_block_to_new_site),
        TEST(realloc_shrink_traces_the_new_size),
        TEST(realloc_peak_never_counts_old_and_new_together),
        TEST(realloc_growth_keeps_one_trace_of_the_last_size),
        TEST(realloc_null_acts_as_malloc),
        TEST(realloc_to_zero_drops_the_old_trace),
        TEST(failed_realloc_keeps_the_old_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
