/* Memory over time (issue 6): the timeline, the peak's contents and the allocation totals that
   every dump holds as TIME, PEAK and ALOC (docs/FORMAT.md), read back by dump_reader.c. A known
   pattern (a 10 MB phase at one site, freed, then 4 MB kept at another) gives exact numbers. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dump_reader.h"
#include "helpers.h"
#include "tracemalloc.h"

#define MB 1000000u

static char *dir, path[4096], err[512];

static int stopped(void **state)
{
    tracker_stopped(state);
    tm_set_timeline(1);
    return 0;
}

#define TIMELINE_TEST(f) cmocka_unit_test_setup_teardown(f, stopped, stopped)

/* The sites: a traceback is found in a dump by its function. */
static void *phase_block(size_t size) { return malloc(size); }
static void *kept_block(size_t size) { return malloc(size); }
static void *other_block(size_t size) { return malloc(size); }

static uint64_t epoch_ns(void)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_usec * 1000u;
}

/* A snapshot of now, dumped and read back (the reader checks every rule of the format). */
static void take_dump(dump *d)
{
    tm_snapshot *snapshot = tm_take_snapshot();
    assert_non_null(snapshot);
    snprintf(path, sizeof path, "%s/timeline.tmd", dir);
    assert_int_equal(tm_snapshot_dump(snapshot, path), 0);
    tm_snapshot_free(snapshot);
    if (dump_read(path, d, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
}

/* The record of domain's traceback whose most recent frame is in function, or NULL. */
static const dump_group *group_in(const dump *d, const dump_group *groups, uint32_t n, unsigned domain,
                                  const char *function)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const dump_traceback *tb = &d->tracebacks[groups[i].traceback];
        const char *name = dump_string(d, d->frames[tb->frame_ids[0]].function);
        if (groups[i].domain == domain && name != NULL && strcmp(name, function) == 0)
            return &groups[i];
    }
    return NULL;
}

#define peak_of(d, domain, function) group_in((d), (d)->peak, (d)->npeak, (domain), (function))
#define alloc_of(d, domain, function) group_in((d), (d)->alloc, (d)->nalloc, (domain), (function))

static uint64_t timeline_max(const dump *d)
{
    uint64_t max = 0;
    uint32_t i;
    for (i = 0; i < d->nsamples; i++)
        if (d->samples[i].traced > max)
            max = d->samples[i].traced;
    return max;
}

static int has_section(const dump *d, uint32_t tag)
{
    int i;
    for (i = 0; i < d->nsections; i++)
        if (d->tags[i] == tag)
            return 1;
    return 0;
}

/* The pattern: ten 1 MB blocks at phase_block, all freed in order, then four kept at
   kept_block. The last phase block is freed before any other allocation: a temporary. */
static void known_pattern_gives_exact_peak_totals_and_timeline(void **state)
{
    void *phase[10], *kept[4];
    uint64_t before = epoch_ns();
    const dump_group *g;
    dump d;
    int i;
    (void)state;
    tm_start(1);
    for (i = 0; i < 10; i++)
        phase[i] = phase_block(MB);
    for (i = 0; i < 10; i++)
        free(phase[i]);
    for (i = 0; i < 4; i++)
        memset(kept[i] = kept_block(MB), 1, MB); /* resident, for the RSS */
    take_dump(&d);
    assert_int_equal(d.meta.traced_peak, 10 * MB);
    assert_int_equal(d.meta.traced_current, 4 * MB);

    assert_true(d.has_peak);
    assert_int_equal(d.peak_size, 10 * MB);
    assert_int_equal(d.npeak, 1);
    assert_non_null(g = peak_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, 10);
    assert_int_equal(g->size, 10 * MB);
    assert_null(peak_of(&d, 0, "kept_block"));

    assert_true(d.has_alloc);
    assert_non_null(g = alloc_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, 10);
    assert_int_equal(g->size, 10 * MB);
    assert_int_equal(g->temporaries, 1);
    assert_non_null(g = alloc_of(&d, 0, "kept_block"));
    assert_int_equal(g->count, 4);
    assert_int_equal(g->size, 4 * MB);
    assert_int_equal(g->temporaries, 0);

    assert_true(d.has_time);
    assert_true(d.start_ns >= before && d.start_ns <= epoch_ns());
    assert_true(d.nsamples >= 3);
    assert_int_equal(d.samples[0].traced, 0);
    assert_int_equal(timeline_max(&d), 10 * MB); /* each 1 MB step moved it by more than 1% */
    assert_int_equal(d.samples[d.nsamples - 1].traced, 4 * MB); /* the snapshot's own sample */
    assert_true(d.samples[d.nsamples - 1].rss > 4 * MB);
    assert_true(d.peak_t_ns <= d.samples[d.nsamples - 1].t_ns);
    dump_free(&d);
    for (i = 0; i < 4; i++)
        free(kept[i]);
}

/* massif's rule: a new high within 1% of the recorded peak keeps the record; past 1%, the
   contents are recorded anew. */
static void peak_contents_are_recorded_anew_past_one_percent(void **state)
{
    void *block, *small, *large;
    const dump_group *g;
    dump d;
    (void)state;
    tm_start(1);
    block = phase_block(100000); /* recorded: 100,000 bytes */
    small = other_block(500);    /* 100,500 bytes: +0.5% */
    free(small);
    take_dump(&d);
    assert_int_equal(d.meta.traced_peak, 100500);
    assert_int_equal(d.peak_size, 100000);
    assert_null(peak_of(&d, 0, "other_block"));
    dump_free(&d);
    large = other_block(2000); /* 102,000 bytes: +2% */
    take_dump(&d);
    assert_int_equal(d.peak_size, 102000);
    assert_non_null(g = peak_of(&d, 0, "other_block"));
    assert_int_equal(g->count, 1);
    assert_int_equal(g->size, 2000);
    dump_free(&d);
    free(large);
    free(block);
}

/* Many small blocks growing and shrinking at random: the recorded peak stays within 1% of the
   peak, never above, and so does the timeline's maximum. */
static void peak_and_timeline_stay_within_one_percent_of_the_peak(void **state)
{
    enum { N = 20000 };
    static void *blocks[N];
    unsigned seed = 12345;
    dump d;
    int i, round;
    (void)state;
    tm_start(1);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < N; i++) {
            seed = seed * 1103515245u + 12345u;
            free(blocks[i]);
            blocks[i] = (seed >> 16) % 3 == 0 ? NULL : ((seed >> 8) & 1 ? phase_block : kept_block)(1 + (seed >> 20) % 400);
        }
    }
    take_dump(&d);
    assert_true(d.peak_size <= d.meta.traced_peak);
    assert_true(d.peak_size >= d.meta.traced_peak - d.meta.traced_peak / 100);
    assert_true(timeline_max(&d) <= d.meta.traced_peak);
    assert_true(timeline_max(&d) >= d.meta.traced_peak - d.meta.traced_peak / 100);
    dump_free(&d);
    for (i = 0; i < N; i++)
        free(blocks[i]);
}

/* More samples than the buffer holds: pairs merge into the higher one, so a one-off spike in
   the middle of the run survives, the start and the end stay covered, and the count is bounded.
   (Each allocation finds the traced memory moved by 2% of the peak: a sample each.) */
static void merging_keeps_the_maximum_and_stays_bounded(void **state)
{
    enum { ROUNDS = 12000 };
    void *base, *spike, *a, *b;
    dump d;
    uint32_t i, at = 0;
    int r;
    (void)state;
    tm_start(1);
    base = kept_block(MB);
    for (r = 0; r < ROUNDS; r++) {
        a = other_block(64000); /* 2% of the peak, 3 MB */
        b = other_block(64000);
        free(a);
        free(b);
        if (r == ROUNDS / 2) {
            spike = phase_block(2 * MB);
            free(spike);
        }
    }
    take_dump(&d);
    assert_true(d.nsamples <= 4096 + 1);
    assert_true(d.nsamples >= 2048);
    assert_int_equal(timeline_max(&d), 3 * MB);
    for (i = 0; i < d.nsamples; i++)
        if (d.samples[i].traced == 3 * MB)
            at = i;
    assert_true(at > d.nsamples / 4); /* samples before the spike and after it */
    assert_true(at < d.nsamples - d.nsamples / 4);
    assert_int_equal(d.samples[d.nsamples - 1].traced, MB);
    dump_free(&d);
    free(base);
}

/* Allocation totals: every block, freed or not; a temporary is freed before its thread's next
   traced allocation. */
static void totals_count_every_block_and_its_temporaries(void **state)
{
    void *a, *b;
    const dump_group *g;
    dump d;
    int i;
    (void)state;
    tm_start(1);
    for (i = 0; i < 5; i++)
        free(phase_block(100)); /* each freed at once: 5 temporaries */
    a = kept_block(10);
    b = kept_block(20);
    free(a); /* b came after it: not temporary */
    free(b); /* nothing came after it: temporary */
    a = other_block(30);
    take_dump(&d);
    assert_non_null(g = alloc_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, 5);
    assert_int_equal(g->size, 500);
    assert_int_equal(g->temporaries, 5);
    assert_non_null(g = alloc_of(&d, 0, "kept_block"));
    assert_int_equal(g->count, 2);
    assert_int_equal(g->size, 30);
    assert_int_equal(g->temporaries, 1);
    assert_non_null(g = alloc_of(&d, 0, "other_block"));
    assert_int_equal(g->count, 1);
    assert_int_equal(g->temporaries, 0);
    dump_free(&d);
    free(a);
}

/* A traceback whose blocks are all freed is still in TBKS, with its frame, for PEAK and ALOC. */
static void freed_tracebacks_stay_in_the_traceback_table(void **state)
{
    const dump_traceback *tb;
    const dump_group *g;
    dump d;
    (void)state;
    tm_start(1);
    free(phase_block(4096));
    take_dump(&d);
    assert_int_equal(d.ntraces, 0);
    assert_non_null(g = alloc_of(&d, 0, "phase_block"));
    tb = &d.tracebacks[g->traceback];
    assert_int_equal(tb->nframe, 1);
    assert_string_equal(dump_string(&d, d.frames[tb->frame_ids[0]].filename), __FILE__);
    assert_non_null(g = peak_of(&d, 0, "phase_block"));
    assert_int_equal(g->size, 4096);
    dump_free(&d);
}

/* Other domains have their own records, in PEAK and ALOC alike. */
static void other_domains_have_their_own_records(void **state)
{
    void *block;
    const dump_group *g;
    dump d;
    uintptr_t i;
    (void)state;
    tm_start(1);
    for (i = 0; i < 3; i++)
        assert_int_equal(tm_track(7, (void *)(0x10000 + i * 0x1000), 1000), 0);
    block = phase_block(500);
    for (i = 0; i < 3; i++)
        assert_int_equal(tm_untrack(7, (void *)(0x10000 + i * 0x1000)), 0);
    free(block);
    take_dump(&d);
    assert_int_equal(d.peak_size, 3500);
    assert_non_null(g = peak_of(&d, 7, __func__));
    assert_int_equal(g->count, 3);
    assert_int_equal(g->size, 3000);
    assert_non_null(g = peak_of(&d, 0, "phase_block"));
    assert_int_equal(g->size, 500);
    assert_non_null(g = alloc_of(&d, 7, __func__));
    assert_int_equal(g->count, 3);
    assert_int_equal(g->size, 3000);
    assert_null(alloc_of(&d, 0, __func__));
    dump_free(&d);
}

static void reset_peak_records_the_contents_of_now(void **state)
{
    void *phase[10], *kept, *more;
    const dump_group *g;
    dump d;
    int i;
    (void)state;
    tm_start(1);
    for (i = 0; i < 10; i++)
        phase[i] = phase_block(MB);
    for (i = 0; i < 10; i++)
        free(phase[i]);
    kept = kept_block(MB);
    tm_reset_peak();
    take_dump(&d);
    assert_int_equal(d.meta.traced_peak, MB);
    assert_int_equal(d.peak_size, MB);
    assert_int_equal(d.npeak, 1);
    assert_non_null(peak_of(&d, 0, "kept_block"));
    assert_non_null(alloc_of(&d, 0, "phase_block")); /* the totals go on */
    dump_free(&d);
    more = other_block(2 * MB);
    take_dump(&d);
    assert_int_equal(d.peak_size, 3 * MB);
    assert_non_null(g = peak_of(&d, 0, "other_block"));
    assert_int_equal(g->size, 2 * MB);
    dump_free(&d);
    free(kept);
    free(more);
}

static void clear_traces_starts_timeline_peak_and_totals_afresh(void **state)
{
    void *kept;
    uint64_t cleared;
    dump d;
    (void)state;
    tm_start(1);
    free(phase_block(MB));
    cleared = epoch_ns();
    tm_clear_traces();
    kept = kept_block(1000);
    take_dump(&d);
    assert_true(d.start_ns >= cleared);
    assert_int_equal(d.nalloc, 1);
    assert_non_null(alloc_of(&d, 0, "kept_block"));
    assert_int_equal(d.npeak, 1);
    assert_int_equal(d.peak_size, 1000);
    assert_int_equal(timeline_max(&d), 1000);
    dump_free(&d);
    free(kept);
}

static void timeline_off_writes_no_time_peak_or_aloc(void **state)
{
    void *block;
    dump d;
    (void)state;
    tm_set_timeline(0);
    tm_start(1);
    block = phase_block(100);
    take_dump(&d);
    assert_false(d.has_time || d.has_peak || d.has_alloc);
    assert_false(has_section(&d, TM_DUMP_TAG_TIME) || has_section(&d, TM_DUMP_TAG_PEAK)
                 || has_section(&d, TM_DUMP_TAG_ALOC));
    assert_int_equal(d.ntraces, 1);
    dump_free(&d);
    free(block);
}

/* Switched on again while tracing: the blocks live then count as allocated, what happened while
   it was off is unknown, and the frees of those blocks make no figure negative. */
static void switching_on_again_counts_the_blocks_live_then(void **state)
{
    void *blocks[3], *late;
    const dump_group *g;
    dump d;
    int i;
    (void)state;
    tm_start(1);
    free(other_block(50)); /* counted, then forgotten when switched on again */
    tm_set_timeline(0);
    for (i = 0; i < 3; i++)
        blocks[i] = phase_block(1000);
    free(kept_block(70)); /* while off: unknown */
    tm_set_timeline(1);
    free(blocks[0]);
    late = kept_block(10);
    take_dump(&d);
    assert_true(d.has_time && d.has_peak && d.has_alloc);
    assert_null(alloc_of(&d, 0, "other_block"));
    assert_non_null(g = alloc_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, 3);
    assert_int_equal(g->size, 3000);
    assert_non_null(g = alloc_of(&d, 0, "kept_block"));
    assert_int_equal(g->count, 1);
    assert_int_equal(g->size, 10);
    assert_non_null(g = peak_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, 3);
    assert_int_equal(d.peak_size, 3000);
    dump_free(&d);
    free(blocks[1]);
    free(blocks[2]);
    free(late);
}

/* TRACEMALLOC_TIMELINE=0 in a child of this program (see main): its dump at exit has none. */
static void environment_zero_switches_the_timeline_off(void **state)
{
    char command[8192];
    dump d;
    int on;
    (void)state;
    for (on = 0; on < 2; on++) {
        snprintf(path, sizeof path, "%s/env%d.tmd", dir, on);
        snprintf(command, sizeof command,
                 "TRACEMALLOC=1 TRACEMALLOC_DUMP='%s' TRACEMALLOC_TIMELINE=%d /proc/%ld/exe child", path, on,
                 (long)getpid());
        assert_int_equal(system(command), 0);
        if (dump_read(path, &d, err, sizeof err) != 0)
            fail_msg("%s: %s", path, err);
        assert_int_equal(d.has_time, on);
        assert_int_equal(d.has_peak, on);
        assert_int_equal(d.has_alloc, on);
        assert_int_equal(d.ntraces, 1);
        dump_free(&d);
    }
}

/* Threads: each allocates and frees at once at the same site, so every block is a temporary of
   its own thread (a shared "last block" would lose most of them), and nothing is lost. */
enum { THREADS = 4, PER_THREAD = 5000 };

static void *churn(void *unused)
{
    int i;
    (void)unused;
    for (i = 0; i < PER_THREAD; i++)
        free(phase_block(100));
    return NULL;
}

static void threads_count_every_block_and_temporary(void **state)
{
    pthread_t threads[THREADS];
    const dump_group *g;
    dump d;
    int i;
    (void)state;
    tm_start(1);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, churn, NULL), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    take_dump(&d);
    assert_non_null(g = alloc_of(&d, 0, "phase_block"));
    assert_int_equal(g->count, THREADS * PER_THREAD);
    assert_int_equal(g->size, 100 * THREADS * PER_THREAD);
    assert_int_equal(g->temporaries, THREADS * PER_THREAD);
    assert_true(d.peak_size <= d.meta.traced_peak);
    assert_int_equal(d.meta.traced_current, 0);
    dump_free(&d);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TIMELINE_TEST(known_pattern_gives_exact_peak_totals_and_timeline),
        TIMELINE_TEST(peak_contents_are_recorded_anew_past_one_percent),
        TIMELINE_TEST(peak_and_timeline_stay_within_one_percent_of_the_peak),
        TIMELINE_TEST(merging_keeps_the_maximum_and_stays_bounded),
        TIMELINE_TEST(totals_count_every_block_and_its_temporaries),
        TIMELINE_TEST(freed_tracebacks_stay_in_the_traceback_table),
        TIMELINE_TEST(other_domains_have_their_own_records),
        TIMELINE_TEST(reset_peak_records_the_contents_of_now),
        TIMELINE_TEST(clear_traces_starts_timeline_peak_and_totals_afresh),
        TIMELINE_TEST(timeline_off_writes_no_time_peak_or_aloc),
        TIMELINE_TEST(switching_on_again_counts_the_blocks_live_then),
        TIMELINE_TEST(environment_zero_switches_the_timeline_off),
        TIMELINE_TEST(threads_count_every_block_and_temporary),
    };
    static char *kept; /* the child's block, live at exit so that its dump holds a trace */
    int failed;
    if (argc == 2 && strcmp(argv[1], "child") == 0) {
        kept = malloc(64);
        return kept == NULL;
    }
    dir = make_scratch_dir("timeline");
    if (dir == NULL)
        return 1;
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove_tree(dir);
    free(dir);
    return failed;
}
