/* Blocks the tracker does not know (allocated before tm_start, in an earlier session, after
   tm_stop, or by code built without the override) pass through free and realloc untouched and
   never change the counters. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "untraced.h"
#include "tracemalloc.h"

static void free_of_block_allocated_before_start_passes_through(void **state)
{
    char *before, *during;
    (void)state;
    before = malloc(100);
    tm_start(1);
    during = malloc(10);
    free(before);
    assert_int_equal(traced_current(), 10);
    assert_non_null(tm_get_object_traceback(during));
    free(during);
    assert_int_equal(traced_current(), 0);
}

/* As Python's realloc hook: the old block had no trace to remove, the new one is traced. */
static void realloc_of_block_allocated_before_start_is_traced_at_realloc_site(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    p = malloc(100);
    strcpy(p, "kept");
    tm_start(1);
    p = realloc(p, 200); line = __LINE__;
    assert_string_equal(p, "kept");
    assert_traced_at(p, __FILE__, line, __func__);
    assert_int_equal(traced_current(), 200);
    free(p);
    assert_int_equal(traced_current(), 0);
}

static void block_of_untraced_code_frees_through_the_wrapper(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = untraced_malloc(100);
    assert_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 0);
    free(p);
    assert_int_equal(traced_current(), 0);
}

static void free_after_stop_is_fine(void **state)
{
    char *p, *q;
    (void)state;
    tm_start(1);
    p = malloc(100);
    q = malloc(100);
    tm_stop();
    free(p);
    q = realloc(q, 300);
    assert_non_null(q);
    free(q);
    assert_int_equal(traced_current(), 0);
}

static void block_of_an_earlier_session_is_unknown_after_restart(void **state)
{
    char *old, *fresh;
    (void)state;
    tm_start(1);
    old = malloc(100);
    tm_stop();
    tm_start(1);
    fresh = malloc(7);
    assert_null(tm_get_object_traceback(old));
    free(old);
    assert_int_equal(traced_current(), 7);
    free(fresh);
    assert_int_equal(traced_current(), 0);
}

/* The override macros are function-like: (malloc)(n) reaches the C library, as the header's own
   raw allocator relies on. */
static void parenthesized_names_bypass_the_override(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = (malloc)(64);
    assert_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 0);
    (free)(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(free_of_block_allocated_before_start_passes_through),
        TEST(realloc_of_block_allocated_before_start_is_traced_at_realloc_site),
        TEST(block_of_untraced_code_frees_through_the_wrapper),
        TEST(free_after_stop_is_fine),
        TEST(block_of_an_earlier_session_is_unknown_after_restart),
        TEST(parenthesized_names_bypass_the_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
