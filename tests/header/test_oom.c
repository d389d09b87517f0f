/* Never break the traced program: when the tracker cannot get memory for itself (oom_alloc.c
   refuses), every user allocation still succeeds, the blocks it could not record are counted as
   untraced (tm_get_untraced_memory, and the dump's META), and every block frees cleanly: the
   tracker never hands a user block to its own allocator, or its memory to the user. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dump_reader.h"
#include "helpers.h"
#include "oom_alloc.h"
#include "tracemalloc.h"

enum { N = 20000 };
static char *blocks[N];
static size_t sizes[N];

static int allocator_healthy(void **state)
{
    oom_fail_all(0);
    oom_fail_every(0);
    return tracker_stopped(state);
}

#define OOM_TEST(f) cmocka_unit_test_setup_teardown(f, allocator_healthy, allocator_healthy)

/* What the tracker should report: blocks without a traceback are the untraced ones. */
typedef struct tally { size_t traced_size, untraced_count, untraced_size; } tally;

static tally count_blocks(int n)
{
    tally t = {0, 0, 0};
    int i;
    for (i = 0; i < n; i++) {
        if (blocks[i] == NULL)
            continue;
        if (tm_get_object_traceback(blocks[i]) != NULL)
            t.traced_size += sizes[i];
        else
            t.untraced_count++, t.untraced_size += sizes[i];
    }
    return t;
}

/* Many blocks at many sites (new sites need interning memory, many blocks need table growth),
   through every kind of wrapper. */
static void allocate_all(int n)
{
    int i;
    for (i = 0; i < n; i++) {
        sizes[i] = (size_t)(i % 50) + 1;
        if (i % 4 == 3) /* C11: aligned_alloc's size is a multiple of the alignment */
            sizes[i] = (sizes[i] + 15) / 16 * 16;
        switch (i % 4) {
        case 0: blocks[i] = tm_malloc_at(sizes[i], "oom.c", (unsigned)(i % 1000), "site"); break;
        case 1: blocks[i] = calloc(1, sizes[i]); break;
        case 2: blocks[i] = realloc(NULL, sizes[i]); break;
        default: blocks[i] = aligned_alloc(16, sizes[i]); break;
        }
    }
}

static void free_all(int n)
{
    int i;
    for (i = 0; i < n; i++)
        free(blocks[i]), blocks[i] = NULL;
}

static void assert_all_allocated(int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (blocks[i] == NULL)
            fail_msg("user allocation %d of %zu bytes failed", i, sizes[i]);
}

static void assert_untraced_reported(tally expected)
{
    size_t count, size;
    tm_get_untraced_memory(&count, &size);
    assert_int_equal(count, expected.untraced_count);
    assert_int_equal(size, expected.untraced_size);
    assert_int_equal(traced_current(), expected.traced_size);
}

static void allocations_succeed_when_the_tracker_has_no_memory(void **state)
{
    tally t;
    (void)state;
    tm_start(1);
    oom_fail_all(1);
    allocate_all(N);
    assert_all_allocated(N);
    t = count_blocks(N);
    assert_true(oom_failures() > 0);   /* the test did starve the tracker */
    assert_true(t.untraced_count > 0);
    assert_untraced_reported(t);
    free_all(N);
    assert_int_equal(oom_foreign_frees(), 0);
    assert_int_equal(traced_current(), 0);
}

static void untraced_blocks_free_cleanly_once_memory_is_back(void **state)
{
    (void)state;
    tm_start(1);
    oom_fail_all(1);
    allocate_all(N);
    oom_fail_all(0);
    free_all(N);
    assert_int_equal(oom_foreign_frees(), 0);
    assert_int_equal(traced_current(), 0);
}

/* realloc must still move the block; the old trace must not stay behind at the old address. */
static void realloc_without_memory_succeeds_and_drops_the_old_trace(void **state)
{
    char *p, *old;
    tm_snapshot *snapshot;
    tally t;
    (void)state;
    tm_start(1);
    old = p = malloc(100);
    strcpy(p, "kept");
    oom_fail_all(1);
    p = realloc(p, 100000);
    assert_non_null(p);
    assert_string_equal(p, "kept");
    blocks[0] = p, sizes[0] = 100000;
    t = count_blocks(1);
    assert_untraced_reported(t);
    oom_fail_all(0);
    snapshot = tm_take_snapshot();
    assert_non_null(snapshot);
    if (old != p)
        assert_null(find_trace(snapshot, TM_DOMAIN_MALLOC, old));
    assert_int_equal(snapshot_size(snapshot), t.untraced_count ? 0 : 1);
    tm_snapshot_free(snapshot);
    free(p);
    blocks[0] = NULL;
    assert_int_equal(oom_foreign_frees(), 0);
}

static void take_snapshot_without_memory_returns_null(void **state)
{
    char *p;
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    p = malloc(10);
    oom_fail_all(1);
    assert_null(tm_take_snapshot());
    oom_fail_all(0);
    snapshot = tm_take_snapshot(); /* and the tracker is still whole */
    assert_non_null(snapshot);
    assert_non_null(find_trace(snapshot, TM_DOMAIN_MALLOC, p));
    tm_snapshot_free(snapshot);
    free(p);
}

/* A dump may need memory; without it, it either works or fails cleanly: a non-zero return and
   no file, never a partial one. */
static void dump_without_memory_fails_cleanly_or_succeeds(void **state)
{
    char *dir = make_scratch_dir("oom"), path[4096], err[512];
    char *p;
    tm_snapshot *snapshot;
    dump d;
    int rc;
    (void)state;
    tm_start(1);
    p = malloc(10);
    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/run.tmd", dir);
    oom_fail_all(1);
    rc = tm_snapshot_dump(snapshot, path);
    oom_fail_all(0);
    if (rc != 0) {
        assert_int_equal(count_entries(dir, NULL), 0);
    } else {
        assert_int_equal(count_entries(dir, NULL), 1);
        if (dump_read(path, &d, err, sizeof err) != 0)
            fail_msg("%s: %s", path, err);
        dump_free(&d);
    }
    tm_snapshot_free(snapshot);
    free(p);
    remove_tree(dir);
    free(dir);
}

static void start_without_memory_never_breaks_allocations(void **state)
{
    int rc;
    (void)state;
    oom_fail_all(1);
    rc = tm_start(1);
    assert_true(rc == 0 || rc == -1);
    allocate_all(1000);
    assert_all_allocated(1000);
    free_all(1000);
    assert_int_equal(oom_foreign_frees(), 0);
}

static void dump_meta_counts_the_untraced_blocks(void **state)
{
    char *dir = make_scratch_dir("oom"), path[4096], err[512];
    tm_snapshot *snapshot;
    size_t count, size;
    dump d;
    (void)state;
    tm_start(1);
    oom_fail_all(1);
    allocate_all(N);
    oom_fail_all(0);
    tm_get_untraced_memory(&count, &size);
    assert_true(count > 0);
    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/run.tmd", dir);
    assert_int_equal(tm_snapshot_dump(snapshot, path), 0);
    if (dump_read(path, &d, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    assert_int_equal(d.meta.untraced_count, count);
    assert_int_equal(d.meta.untraced_size, size);
    dump_free(&d);
    tm_snapshot_free(snapshot);
    free_all(N);
    remove_tree(dir);
    free(dir);
}

/* Failures scattered through a churn of allocations, reallocations and frees. The tracker cannot
   see an untraced block die, so its untraced counters count every block it failed to record since
   the start ("blocks it failed to record"); traced memory stays exact, and everything frees. */
static void scattered_failures_keep_the_counters_exact(void **state)
{
    unsigned seed = 12345;
    size_t failed_count = 0, failed_size = 0, count, size;
    tm_snapshot *snapshot;
    int step;
    (void)state;
    tm_start(1);
    oom_fail_every(7);
    for (step = 0; step < 4 * N; step++) {
        int i;
        seed = seed * 1103515245u + 12345u;
        i = (int)((seed >> 8) % N);
        if (blocks[i] != NULL && !(seed & 1)) {
            free(blocks[i]), blocks[i] = NULL;
            continue;
        }
        if (blocks[i] == NULL) {
            sizes[i] = (seed >> 4) % 300 + 1;
            blocks[i] = tm_malloc_at(sizes[i], "churn.c", (seed >> 12) % 200, "churn");
        } else {
            sizes[i] = (seed >> 4) % 600 + 1;
            blocks[i] = realloc(blocks[i], sizes[i]);
        }
        assert_non_null(blocks[i]);
        if (tm_get_object_traceback(blocks[i]) == NULL)
            failed_count++, failed_size += sizes[i];
    }
    oom_fail_every(0);
    assert_true(failed_count > 0);
    tm_get_untraced_memory(&count, &size);
    assert_int_equal(count, failed_count);
    assert_int_equal(size, failed_size);
    assert_int_equal(traced_current(), count_blocks(N).traced_size);
    free_all(N);
    assert_int_equal(traced_current(), 0);
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 0);
    tm_snapshot_free(snapshot);
    assert_int_equal(oom_foreign_frees(), 0);
}

/* tm_get_tracemalloc_memory is "bytes the tracker holds for itself": all of it comes through
   the raw allocator, which here counts it independently. */
static void tracemalloc_memory_is_what_the_raw_allocator_holds(void **state)
{
    (void)state;
    tm_start(1);
    allocate_all(N);
    assert_int_equal(tm_get_tracemalloc_memory(), oom_live_bytes());
    free_all(N);
    assert_int_equal(tm_get_tracemalloc_memory(), oom_live_bytes());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OOM_TEST(allocations_succeed_when_the_tracker_has_no_memory),
        OOM_TEST(untraced_blocks_free_cleanly_once_memory_is_back),
        OOM_TEST(realloc_without_memory_succeeds_and_drops_the_old_trace),
        OOM_TEST(take_snapshot_without_memory_returns_null),
        OOM_TEST(dump_without_memory_fails_cleanly_or_succeeds),
        OOM_TEST(start_without_memory_never_breaks_allocations),
        OOM_TEST(dump_meta_counts_the_untraced_blocks),
        OOM_TEST(scattered_failures_keep_the_counters_exact),
        OOM_TEST(tracemalloc_memory_is_what_the_raw_allocator_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
