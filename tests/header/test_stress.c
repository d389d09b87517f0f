/* Thread safety (also run under ThreadSanitizer by `make test`): workers allocate, reallocate and
   free blocks that other workers allocated, and track blocks in a domain, while one thread takes
   snapshots and dumps them and another reads and resets the peak (or clears the traces). When
   every block is freed, nothing may remain: current is 0 and a snapshot is empty. The peak is
   never below current, and threads dumping at the same time each get a whole file. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dump_reader.h"
#include "helpers.h"
#include "tracemalloc.h"

enum { WORKERS = 4, SLOTS = 256, OPS = 20000, TRACKED = 32, POOL = 3 };

/* Blocks are handed between threads through the slots: whoever finds a block frees or
   reallocates it, mostly not the thread that allocated it. */
static struct slot {
    pthread_mutex_t lock;
    char *block;
} slots[SLOTS];

static atomic_int workers_running;
static atomic_int clear_during_run;
static atomic_long bad_snapshots, bad_dumps, bad_counters, counter_reads, snapshots_taken, dumps_written;
static char *dir;
static pthread_barrier_t start_together; /* workers, snapshotter and statistician overlap */

static unsigned next_random(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919u + 1;
    /* Each worker tracks addresses of its own range of a fake device memory. */
    uintptr_t base = (uintptr_t)0x100000000ull + id * 0x1000000u;
    int tracked[TRACKED] = {0}, op;
    pthread_barrier_wait(&start_together);
    /* Work on until the snapshotter took a few snapshots: the threads must overlap. */
    for (op = 0; op < OPS || atomic_load(&snapshots_taken) < 3; op++) {
        unsigned r = next_random(&seed);
        struct slot *s = &slots[r % SLOTS];
        pthread_mutex_lock(&s->lock);
        if (s->block == NULL)
            s->block = malloc(r % 200 + 1);
        else if (r & 0x10000)
            s->block = realloc(s->block, r % 400 + 1);
        else
            free(s->block), s->block = NULL;
        if (s->block != NULL)
            s->block[0] = (char)id;
        pthread_mutex_unlock(&s->lock);
        if (op % 8 == 0) {
            int k = (int)(r % TRACKED);
            void *address = (void *)(base + (uintptr_t)k * 64);
            if (tracked[k])
                tm_untrack(POOL, address);
            else
                tm_track(POOL, address, 64);
            tracked[k] = !tracked[k];
        }
    }
    for (op = 0; op < TRACKED; op++)
        if (tracked[op])
            tm_untrack(POOL, (void *)(base + (uintptr_t)op * 64));
    atomic_fetch_sub(&workers_running, 1);
    return NULL;
}

/* A snapshot is a consistent copy: every trace has a traceback with readable frames, and no
   (domain, address) appears twice (the dump reader checks that, and the CRC, for the dumps). */
static int snapshot_is_sane(const tm_snapshot *snapshot)
{
    const tm_trace *traces;
    size_t n = tm_snapshot_traces(snapshot, &traces), i;
    for (i = 0; i < n; i++) {
        const tm_traceback *tb = traces[i].traceback;
        if (tb == NULL || tb->nframe != 1 || tb->frames[0].filename == NULL ||
            strlen(tb->frames[0].filename) == 0)
            return 0;
        if (traces[i].domain != TM_DOMAIN_MALLOC && traces[i].domain != POOL)
            return 0;
    }
    return 1;
}

static void *snapshotter(void *arg)
{
    char path[4096], err[512];
    dump d;
    (void)arg;
    snprintf(path, sizeof path, "%s/stress.tmd", dir);
    pthread_barrier_wait(&start_together);
    while (atomic_load(&workers_running) > 0) {
        tm_snapshot *snapshot = tm_take_snapshot();
        long taken;
        if (snapshot == NULL || !snapshot_is_sane(snapshot)) {
            atomic_fetch_add(&bad_snapshots, 1);
            tm_snapshot_free(snapshot);
            continue;
        }
        taken = atomic_fetch_add(&snapshots_taken, 1);
        if (taken % 4 == 0) {
            if (tm_snapshot_dump(snapshot, path) != 0) {
                fprintf(stderr, "tm_snapshot_dump failed\n");
                atomic_fetch_add(&bad_dumps, 1);
            } else if (dump_read(path, &d, err, sizeof err) != 0) {
                fprintf(stderr, "dump: %s\n", err);
                atomic_fetch_add(&bad_dumps, 1);
            } else {
                if (dump_diff_snapshot(&d, snapshot, err, sizeof err) != NULL) {
                    fprintf(stderr, "dump: %s\n", err);
                    atomic_fetch_add(&bad_dumps, 1);
                }
                dump_free(&d);
                atomic_fetch_add(&dumps_written, 1);
            }
        }
        tm_snapshot_free(snapshot);
    }
    return NULL;
}

/* The peak is never below current, whatever the interleaving with reset_peak. */
static void *statistician(void *arg)
{
    long round = 0;
    (void)arg;
    pthread_barrier_wait(&start_together);
    while (atomic_load(&workers_running) > 0) {
        size_t current, peak;
        tm_get_traced_memory(&current, &peak);
        atomic_fetch_add(&counter_reads, 1);
        if (peak < current)
            atomic_fetch_add(&bad_counters, 1);
        if (++round % 16 == 0)
            tm_reset_peak();
        if (atomic_load(&clear_during_run) && round % 512 == 0)
            tm_clear_traces();
    }
    return NULL;
}

static void run_threads(int clear)
{
    pthread_t workers[WORKERS], snap, stats;
    int i;
    atomic_store(&workers_running, WORKERS);
    pthread_barrier_init(&start_together, NULL, WORKERS + 2);
    atomic_store(&clear_during_run, clear);
    for (i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i), 0);
    assert_int_equal(pthread_create(&snap, NULL, snapshotter, NULL), 0);
    assert_int_equal(pthread_create(&stats, NULL, statistician, NULL), 0);
    for (i = 0; i < WORKERS; i++)
        pthread_join(workers[i], NULL);
    pthread_join(snap, NULL);
    pthread_join(stats, NULL);
    pthread_barrier_destroy(&start_together);
}

static void free_every_slot(void)
{
    int i;
    for (i = 0; i < SLOTS; i++)
        free(slots[i].block), slots[i].block = NULL;
}

/* Python's get_traced_memory never returns a peak below current, neither while threads run nor
   once they are done (a reset_peak racing an allocation must not leave peak < current). */
static void assert_peak_never_below_current(void)
{
    size_t current, peak;
    if (atomic_load(&bad_counters) != 0)
        fprintf(stderr, "peak < current in %ld of %ld reads\n", atomic_load(&bad_counters),
                atomic_load(&counter_reads));
    tm_get_traced_memory(&current, &peak);
    assert_true(peak >= current);
    assert_int_equal(atomic_load(&bad_counters), 0);
}

/* On failure, says what is left, which tells a lost untrack from a lost free. */
static void assert_nothing_left(void)
{
    tm_snapshot *snapshot = tm_take_snapshot();
    const tm_trace *traces;
    size_t n, i, sum = 0;
    assert_non_null(snapshot);
    n = tm_snapshot_traces(snapshot, &traces);
    for (i = 0; i < n; i++) {
        sum += traces[i].size;
        if (i < 5)
            fprintf(stderr, "left: domain %u, %zu bytes at %#lx, %s:%u\n", traces[i].domain,
                    traces[i].size, (unsigned long)traces[i].address,
                    traces[i].traceback->frames[0].filename, traces[i].traceback->frames[0].lineno);
    }
    if (n > 0 || traced_current() != 0)
        fprintf(stderr, "left: %zu traces of %zu bytes; current %zu\n", n, sum, traced_current());
    tm_snapshot_free(snapshot);
    assert_int_equal(traced_current(), 0);
    assert_int_equal(n, 0);
}

static int stress_setup(void **state)
{
    int i;
    tracker_stopped(state);
    for (i = 0; i < SLOTS; i++)
        pthread_mutex_init(&slots[i].lock, NULL);
    atomic_store(&bad_snapshots, 0), atomic_store(&bad_dumps, 0);
    atomic_store(&bad_counters, 0), atomic_store(&counter_reads, 0);
    atomic_store(&snapshots_taken, 0);
    atomic_store(&dumps_written, 0);
    dir = make_scratch_dir("stress");
    return dir == NULL ? -1 : 0;
}

static int stress_teardown(void **state)
{
    int i;
    free_every_slot();
    tracker_stopped(state);
    for (i = 0; i < SLOTS; i++)
        pthread_mutex_destroy(&slots[i].lock);
    remove_tree(dir);
    free(dir);
    return 0;
}

#define STRESS_TEST(f) cmocka_unit_test_setup_teardown(f, stress_setup, stress_teardown)

static void threads_sharing_blocks_leave_nothing_after_all_frees(void **state)
{
    (void)state;
    tm_start(1);
    run_threads(0);
    free_every_slot();
    assert_nothing_left();
    assert_int_equal(atomic_load(&bad_snapshots), 0);
    assert_int_equal(atomic_load(&bad_dumps), 0);
}

/* Blocks whose traces were cleared mid-run are unknown: freeing them must not subtract. */
static void clear_traces_during_the_run_still_ends_at_zero(void **state)
{
    (void)state;
    tm_start(1);
    run_threads(1);
    free_every_slot();
    assert_nothing_left();
    assert_int_equal(atomic_load(&bad_snapshots), 0);
}

static void peak_is_never_below_current_under_concurrent_reset_peak(void **state)
{
    (void)state;
    tm_start(1);
    run_threads(0);
    assert_peak_never_below_current();
}

/* "Dumping at the same time": threads dumping to one path (each rename replaces the file with a
   complete dump) or to one %n pattern (each dump a file of its own) must never see a failure or
   leave a file that is not a whole dump. */
enum { DUMPERS = 4, DUMPS = 25 };
static atomic_long failed_dumps, broken_files;
static const char *dump_pattern;

static void *dumper(void *arg)
{
    char path[4096], err[512];
    dump d;
    int i;
    (void)arg;
    snprintf(path, sizeof path, "%s/%s", dir, dump_pattern);
    for (i = 0; i < DUMPS; i++) {
        tm_snapshot *snapshot = tm_take_snapshot();
        if (snapshot == NULL || tm_snapshot_dump(snapshot, path) != 0)
            atomic_fetch_add(&failed_dumps, 1);
        else if (strstr(path, "%n") == NULL && dump_read(path, &d, err, sizeof err) != 0)
            fprintf(stderr, "%s\n", err), atomic_fetch_add(&broken_files, 1);
        else if (strstr(path, "%n") == NULL)
            dump_free(&d);
        tm_snapshot_free(snapshot);
    }
    return NULL;
}

static void run_dumpers(const char *pattern)
{
    pthread_t threads[DUMPERS];
    char *blocks[64];
    int i;
    tm_start(1);
    for (i = 0; i < 64; i++) /* something to dump: a few KB per file */
        blocks[i] = malloc((size_t)i + 1);
    dump_pattern = pattern;
    atomic_store(&failed_dumps, 0), atomic_store(&broken_files, 0);
    for (i = 0; i < DUMPERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, dumper, NULL), 0);
    for (i = 0; i < DUMPERS; i++)
        pthread_join(threads[i], NULL);
    for (i = 0; i < 64; i++)
        free(blocks[i]);
}

static void concurrent_dumps_to_one_path_all_succeed_with_whole_files(void **state)
{
    char path[4096], err[512];
    dump d;
    (void)state;
    run_dumpers("shared.tmd");
    assert_int_equal(atomic_load(&failed_dumps), 0);
    assert_int_equal(atomic_load(&broken_files), 0);
    snprintf(path, sizeof path, "%s/shared.tmd", dir);
    if (dump_read(path, &d, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    dump_free(&d);
    assert_int_equal(count_entries(dir, NULL), 1); /* no temporary left */
}

static int all_dumps_read(const char *prefix)
{
    char path[4096], err[512];
    int i, good = 0;
    dump d;
    for (i = 0; i < DUMPERS * DUMPS + 10; i++) {
        snprintf(path, sizeof path, "%s/%s%d.tmd", dir, prefix, i);
        if (dump_read(path, &d, err, sizeof err) == 0)
            good++, dump_free(&d);
    }
    return good;
}

static void concurrent_dumps_to_a_counter_path_each_get_a_whole_file(void **state)
{
    (void)state;
    run_dumpers("n-%n.tmd");
    assert_int_equal(atomic_load(&failed_dumps), 0);
    assert_int_equal(count_entries(dir, NULL), DUMPERS * DUMPS);
    assert_int_equal(all_dumps_read("n-"), DUMPERS * DUMPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STRESS_TEST(threads_sharing_blocks_leave_nothing_after_all_frees),
        STRESS_TEST(clear_traces_during_the_run_still_ends_at_zero),
        STRESS_TEST(peak_is_never_below_current_under_concurrent_reset_peak),
        STRESS_TEST(concurrent_dumps_to_one_path_all_succeed_with_whole_files),
        STRESS_TEST(concurrent_dumps_to_a_counter_path_each_get_a_whole_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
