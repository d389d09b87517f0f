/* Every wrapper of the malloc family, through the TRACEMALLOC_OVERRIDE names and through the
   explicit-site tm_*_at functions: the block is traced with the size the caller asked for, at
   the line that asked. */
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

/* Sizes the compiler cannot see, so it does not warn about the impossible requests. */
static volatile size_t huge = SIZE_MAX;
static volatile size_t half_plus_one = SIZE_MAX / 2 + 1;

static int aligned_to(const void *p, size_t alignment)
{
    return (uintptr_t)p % alignment == 0;
}

static void malloc_traces_requested_size_at_call_site(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(100); line = __LINE__;
    assert_non_null(p);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 100);
    free(p);
    assert_null(tm_get_object_traceback(p));
    assert_int_equal(traced_current(), 0);
}

static void malloc_zero_traces_an_empty_block(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    p = malloc(0);
    if (p != NULL) { /* C leaves malloc(0) to the library; glibc returns a block */
        assert_traced_size(p, 0);
        assert_int_equal(traced_current(), 0);
    }
    free(p);
}

static void failed_malloc_traces_nothing(void **state)
{
    char *p;
    (void)state;
    tm_start(1);
    errno = 0;
    p = malloc(huge);
    assert_null(p);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(traced_current(), 0);
}

static void calloc_traces_count_times_size_zeroed(void **state)
{
    unsigned char *p;
    unsigned line;
    int i;
    (void)state;
    tm_start(1);
    p = calloc(3, 7); line = __LINE__;
    assert_non_null(p);
    for (i = 0; i < 21; i++)
        assert_int_equal(p[i], 0);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 21);
    assert_int_equal(traced_current(), 21);
    free(p);
}

/* (SIZE_MAX/2 + 1) * 2 wraps to 0: a wrapper that multiplies without checking would succeed. */
static void calloc_overflow_returns_null_enomem_and_traces_nothing(void **state)
{
    void *p;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    errno = 0;
    p = calloc(half_plus_one, 2);
    assert_null(p);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(traced_current(), 0);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 0);
    tm_snapshot_free(snapshot);
}

static void strdup_traces_length_plus_one(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = strdup("tracemalloc"); line = __LINE__;
    assert_string_equal(p, "tracemalloc");
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 12);
    free(p);
}

static void strndup_traces_the_bytes_it_copies(void **state)
{
    char *cut, *whole;
    unsigned line;
    (void)state;
    tm_start(1);
    cut = strndup("tracemalloc", 5); line = __LINE__;
    whole = strndup("abc", 100);
    assert_string_equal(cut, "trace");
    assert_string_equal(whole, "abc");
    assert_traced_at(cut, __FILE__, line, __func__);
    assert_traced_size(cut, 6);
    assert_traced_size(whole, 4);
    assert_int_equal(traced_current(), 10);
    free(cut);
    free(whole);
}

static void reallocarray_traces_count_times_size(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = reallocarray(NULL, 4, 25); line = __LINE__;
    assert_non_null(p);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 100);
    p = reallocarray(p, 2, 100); line = __LINE__;
    assert_non_null(p);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 200);
    assert_int_equal(traced_current(), 200);
    free(p);
}

static void reallocarray_overflow_fails_and_keeps_the_block(void **state)
{
    char *p, *q;
    unsigned line;
    (void)state;
    tm_start(1);
    p = malloc(10); line = __LINE__;
    errno = 0;
    q = reallocarray(p, half_plus_one, 2);
    assert_null(q);
    assert_int_equal(errno, ENOMEM);
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 10);
    assert_int_equal(traced_current(), 10);
    free(p);
}

static void aligned_alloc_traces_requested_size(void **state)
{
    char *p;
    unsigned line;
    (void)state;
    tm_start(1);
    p = aligned_alloc(64, 256); line = __LINE__;
    assert_non_null(p);
    assert_true(aligned_to(p, 64));
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 256);
    free(p);
}

static void posix_memalign_traces_requested_size(void **state)
{
    void *p = NULL;
    unsigned line;
    (void)state;
    tm_start(1);
    assert_int_equal(posix_memalign(&p, 64, 100), 0); line = __LINE__;
    assert_non_null(p);
    assert_true(aligned_to(p, 64));
    assert_traced_at(p, __FILE__, line, __func__);
    assert_traced_size(p, 100);
    free(p);
}

/* posix_memalign reports errors by return value; a failure must leave no trace. */
static void posix_memalign_bad_alignment_fails_and_traces_nothing(void **state)
{
    void *p = NULL;
    (void)state;
    tm_start(1);
    assert_int_equal(posix_memalign(&p, 3, 100), EINVAL);
    assert_int_equal(traced_current(), 0);
}

#ifdef __GLIBC__
static void glibc_memalign_valloc_pvalloc_trace_requested_size(void **state)
{
    char *m, *v, *pv;
    unsigned line_m, line_v, line_pv;
    (void)state;
    tm_start(1);
    m = memalign(32, 50); line_m = __LINE__;
    v = valloc(100); line_v = __LINE__;
    pv = pvalloc(100); line_pv = __LINE__;
    assert_true(aligned_to(m, 32));
    assert_true(aligned_to(v, 4096) || aligned_to(v, 16384) || aligned_to(v, 65536));
    assert_true(aligned_to(pv, 4096) || aligned_to(pv, 16384) || aligned_to(pv, 65536));
    assert_traced_at(m, __FILE__, line_m, __func__);
    assert_traced_at(v, __FILE__, line_v, __func__);
    assert_traced_at(pv, __FILE__, line_pv, __func__);
    assert_traced_size(m, 50);
    assert_traced_size(v, 100);
    assert_traced_size(pv, 100);
    free(m);
    free(v);
    free(pv);
    assert_int_equal(traced_current(), 0);
}
#endif

static void free_null_is_harmless(void **state)
{
    (void)state;
    tm_start(1);
    free(NULL);
    tm_free(NULL);
    assert_int_equal(traced_current(), 0);
}

/* The explicit-site functions record the site they are given, not their own. 16 bytes each:
   C11 wants aligned_alloc's size to be a multiple of the alignment (ASan enforces it). */
static void explicit_site_functions_record_the_given_site(void **state)
{
    void *b[12];
    const tm_traceback *tb;
    int i;
    (void)state;
    tm_start(1);
    b[0] = tm_malloc_at(16, "engine.c", 100, "render");
    b[1] = tm_calloc_at(2, 8, "engine.c", 101, "render");
    b[2] = tm_realloc_at(NULL, 16, "engine.c", 102, "render");
    b[3] = tm_reallocarray_at(NULL, 4, 4, "engine.c", 103, "render");
    b[4] = tm_strdup_at("0123456789abcde", "engine.c", 104, "render");
    b[5] = tm_strndup_at("0123456789abcdefghij", 15, "engine.c", 105, "render");
    b[6] = tm_aligned_alloc_at(16, 16, "engine.c", 106, "render");
    assert_int_equal(tm_posix_memalign_at(&b[7], 16, 16, "engine.c", 107, "render"), 0);
    b[8] = tm_memalign_at(16, 16, "engine.c", 108, "render");
    b[9] = tm_valloc_at(16, "engine.c", 109, "render");
    b[10] = tm_pvalloc_at(16, "engine.c", 110, "render");
    b[11] = tm_malloc_at(16, "engine.c", 111, NULL);
    for (i = 0; i < 12; i++) {
        assert_non_null(b[i]);
        tb = tm_get_object_traceback(b[i]);
        assert_non_null(tb);
        assert_frame(&tb->frames[0], "engine.c", 100u + (unsigned)i, i == 11 ? NULL : "render");
        assert_traced_size(b[i], 16);
    }
    assert_int_equal(traced_current(), 12 * 16);
    for (i = 0; i < 12; i++)
        tm_free(b[i]);
    assert_int_equal(traced_current(), 0);
}

/* A site is the whole (file, line, function): changing any one of them makes another site. */
static void sites_differ_by_file_line_and_function(void **state)
{
    void *a, *b, *c, *d;
    (void)state;
    tm_start(1);
    a = tm_malloc_at(1, "a.c", 7, "f"), b = tm_malloc_at(1, "b.c", 7, "f");
    c = tm_malloc_at(1, "a.c", 8, "f"), d = tm_malloc_at(1, "a.c", 7, "g");
    assert_frame(&tm_get_object_traceback(a)->frames[0], "a.c", 7, "f");
    assert_frame(&tm_get_object_traceback(b)->frames[0], "b.c", 7, "f");
    assert_frame(&tm_get_object_traceback(c)->frames[0], "a.c", 8, "f");
    assert_frame(&tm_get_object_traceback(d)->frames[0], "a.c", 7, "g");
    tm_free(a), tm_free(b), tm_free(c), tm_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(malloc_traces_requested_size_at_call_site),
        TEST(malloc_zero_traces_an_empty_block),
        TEST(failed_malloc_traces_nothing),
        TEST(calloc_traces_count_times_size_zeroed),
        TEST(calloc_overflow_returns_null_enomem_and_traces_nothing),
        TEST(strdup_traces_length_plus_one),
        TEST(strndup_traces_the_bytes_it_copies),
        TEST(reallocarray_traces_count_times_size),
        TEST(reallocarray_overflow_fails_and_keeps_the_block),
        TEST(aligned_alloc_traces_requested_size),
        TEST(posix_memalign_traces_requested_size),
        TEST(posix_memalign_bad_alignment_fails_and_traces_nothing),
#ifdef __GLIBC__
        TEST(glibc_memalign_valloc_pvalloc_trace_requested_size),
#endif
        TEST(free_null_is_harmless),
        TEST(explicit_site_functions_record_the_given_site),
        TEST(sites_differ_by_file_line_and_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
