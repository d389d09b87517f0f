/* The tracker's cost, measured side by side in one process (issue 3's targets):
   - malloc/free churn, random sizes 16..271 over 1,024 slots, 4M pairs: untraced vs traced in
     call-site mode, one thread and two; the ratio is what counts (target <= 2.0 single-threaded),
     with the timeline, peak contents and totals on (the default) and off;
   - tracker bytes per live block at 1M live blocks (target <= 32);
   - the time to take a snapshot of 1M live blocks and to dump it.
   Rounds alternate untraced and traced runs and keep each one's best, so a noisy neighbour
   slows both sides rather than one. */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "churn_workload.h"

#define PAIRS (4u << 20)
#define ROUNDS 5
#define LIVE_BLOCKS 1000000

static unsigned short sizes[PAIRS];
static unsigned short slots_of[PAIRS];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The reference the issue names: a plain mutex around an open-addressing table (linear
   probing, at most half full) and the counters. tracemalloc must beat it. */
#define REF_CAPACITY (1u << 21)
static struct { uintptr_t ptr; size_t size; } ref_table[REF_CAPACITY];
static pthread_mutex_t ref_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t ref_current, ref_peak;

static size_t ref_home(uintptr_t p)
{
    return (size_t)((p * UINT64_C(0x9E3779B97F4A7C15)) >> 43) & (REF_CAPACITY - 1);
}

static void ref_track(void *p, size_t size)
{
    size_t i;
    pthread_mutex_lock(&ref_lock);
    for (i = ref_home((uintptr_t)p); ref_table[i].ptr; i = (i + 1) & (REF_CAPACITY - 1)) {}
    ref_table[i].ptr = (uintptr_t)p;
    ref_table[i].size = size;
    ref_current += size;
    if (ref_current > ref_peak) ref_peak = ref_current;
    pthread_mutex_unlock(&ref_lock);
}

static void ref_untrack(void *p)
{
    size_t i, j, k;
    pthread_mutex_lock(&ref_lock);
    for (i = ref_home((uintptr_t)p); ref_table[i].ptr && ref_table[i].ptr != (uintptr_t)p;
         i = (i + 1) & (REF_CAPACITY - 1)) {}
    if (ref_table[i].ptr) {
        ref_current -= ref_table[i].size;
        for (j = i;;) { /* backward-shift deletion */
            j = (j + 1) & (REF_CAPACITY - 1);
            if (!ref_table[j].ptr) break;
            k = ref_home(ref_table[j].ptr);
            if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
                ref_table[i] = ref_table[j];
                i = j;
            }
        }
        ref_table[i].ptr = 0;
    }
    pthread_mutex_unlock(&ref_lock);
}

static void *churn_reference(void *unused)
{
    void *slot[SLOTS] = {0};
    unsigned i;
    (void)unused;
    for (i = 0; i < PAIRS; i++) {
        if (slot[slots_of[i]]) ref_untrack(slot[slots_of[i]]);
        (free)(slot[slots_of[i]]);
        slot[slots_of[i]] = (malloc)(sizes[i]);
        ref_track(slot[slots_of[i]], sizes[i]);
    }
    for (i = 0; i < SLOTS; i++) {
        if (slot[i]) ref_untrack(slot[i]);
        (free)(slot[i]);
    }
    return NULL;
}

/* The same loop thrice: a function pointer would add an indirect call to every side. */
static void *churn_untraced(void *unused)
{
    void *slot[SLOTS] = {0};
    unsigned i;
    (void)unused;
    for (i = 0; i < PAIRS; i++) {
        (free)(slot[slots_of[i]]);
        slot[slots_of[i]] = (malloc)(sizes[i]);
    }
    for (i = 0; i < SLOTS; i++) (free)(slot[i]);
    return NULL;
}

static void *churn_traced(void *unused)
{
    void *slot[SLOTS] = {0};
    unsigned i;
    (void)unused;
    for (i = 0; i < PAIRS; i++) {
        tm_free(slot[slots_of[i]]);
        slot[slots_of[i]] = tm_malloc_at(sizes[i], __FILE__, __LINE__, __func__);
    }
    for (i = 0; i < SLOTS; i++) tm_free(slot[i]);
    return NULL;
}

/* Runs the churn on `threads` threads at once; returns the wall time. */
static double run(void *(*churn)(void *), int threads)
{
    pthread_t thread[8];
    double start = now();
    int t;
    if (threads == 1) { /* on the main thread, as a single-threaded program runs */
        churn(NULL);
        return now() - start;
    }
    for (t = 0; t < threads; t++) pthread_create(&thread[t], NULL, churn, NULL);
    for (t = 0; t < threads; t++) pthread_join(thread[t], NULL);
    return now() - start;
}

static void compare_churn(int threads)
{
    double best_untraced = 1e9, best_traced = 1e9, best_reference = 1e9, best_no_timeline = 1e9, t;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        if ((t = run(churn_untraced, threads)) < best_untraced) best_untraced = t;
        if ((t = run(churn_reference, threads)) < best_reference) best_reference = t;
        tm_start(1);
        if ((t = run(churn_traced, threads)) < best_traced) best_traced = t;
        tm_stop();
        tm_set_timeline(0);
        tm_start(1);
        if ((t = run(churn_traced, threads)) < best_no_timeline) best_no_timeline = t;
        tm_stop();
        tm_set_timeline(1);
    }
    printf("churn, %d thread%s, %u malloc/free pairs each, best of %d:\n"
           "  untraced %.1f ns/pair; mutex+open addressing %.1f ns/pair (ratio %.2f); "
           "tracemalloc %.1f ns/pair (ratio %.2f%s); without the timeline %.1f ns/pair (ratio %.2f)\n",
           threads, threads > 1 ? "s" : "", PAIRS, ROUNDS, best_untraced * 1e9 / PAIRS,
           best_reference * 1e9 / PAIRS, best_reference / best_untraced, best_traced * 1e9 / PAIRS,
           best_traced / best_untraced, threads == 1 ? ", target <= 2.0" : "",
           best_no_timeline * 1e9 / PAIRS, best_no_timeline / best_untraced);
}

/* 1M live blocks over 5,000 call sites: the tracker's memory, then a snapshot and its dump. */
static void measure_live_blocks(const char *dump_path)
{
    static void *block[LIVE_BLOCKS];
    double start, snapshot_time, dump_time;
    tm_snapshot *snapshot;
    int i;
    tm_start(1);
    for (i = 0; i < LIVE_BLOCKS; i++) block[i] = tm_malloc_at(16 + i % 64, __FILE__, (unsigned)(i % 5000), __func__);
    printf("tracker memory at %d live blocks: %.1f bytes per block (target <= 32)\n", LIVE_BLOCKS,
           (double)tm_get_tracemalloc_memory() / LIVE_BLOCKS);
    start = now();
    snapshot = tm_take_snapshot();
    snapshot_time = now() - start;
    start = now();
    if (tm_snapshot_dump(snapshot, dump_path)) fprintf(stderr, "tracker_bench: %s: dump failed\n", dump_path);
    dump_time = now() - start;
    printf("snapshot of %d live blocks: take %.0f ms, dump %.0f ms\n", LIVE_BLOCKS, snapshot_time * 1e3,
           dump_time * 1e3);
    tm_snapshot_free(snapshot);
    for (i = 0; i < LIVE_BLOCKS; i++) tm_free(block[i]);
    tm_stop();
}

/* Why the pointer table is purpose-built: stb_ds's hash map against the tracker's table, both
   holding 1M live pointer keys, replacing one key by another 4M times. (The implementation's
   private copy of stb_ds is in this file: the bench uses it as any stb_ds user would.) */
static void compare_tables(void)
{
    enum { LIVE = 1000000, OPS = 4000000 };
    static uintptr_t key[LIVE];
    struct { uintptr_t key; uint64_t value; } *map = NULL;
    uint64_t x = 88172645463325252u;
    double start, stb_time, table_time;
    size_t size;
    uint32_t tb;
    unsigned generation;
    int i;
    for (i = 0; i < LIVE; i++) key[i] = (uintptr_t)(i + 1) * 48;
    for (i = 0; i < LIVE; i++) hmput(map, key[i], 1);
    start = now();
    for (i = 0; i < OPS; i++) {
        int k = (int)((x ^= x << 13, x ^= x >> 7, x ^= x << 17) % LIVE);
        (void)hmdel(map, key[k]);
        key[k] += (uintptr_t)LIVE * 48;
        hmput(map, key[k], 1);
    }
    stb_time = now() - start;
    hmfree(map);
    tm_set_timeline(0); /* the table, without samples */
    tm_start(1);
    tm_free(tm_malloc_at(1, __FILE__, __LINE__, __func__)); /* traceback 0 and its tally */
    tm__begin();
    for (i = 0; i < LIVE; i++) tm__put(0, key[i], 32, 0, tm__state.generation);
    start = now();
    for (i = 0; i < OPS; i++) {
        int k = (int)((x ^= x << 13, x ^= x >> 7, x ^= x << 17) % LIVE);
        tm__take(0, key[k], &size, &tb, &generation);
        key[k] += (uintptr_t)LIVE * 48;
        tm__put(0, key[k], 32, 0, generation);
    }
    table_time = now() - start;
    tm__end();
    tm_stop();
    tm_set_timeline(1);
    printf("pointer table at %d live keys, delete + insert: stb_ds hm %.0f ns, tracemalloc's table %.0f ns "
           "(%.1fx)\n", LIVE, stb_time * 1e9 / OPS, table_time * 1e9 / OPS, stb_time / table_time);
}

int main(int argc, char **argv)
{
    churn_workload(sizes, slots_of, PAIRS);
    compare_churn(1);
    compare_churn(2);
    measure_live_blocks(argc > 1 ? argv[1] : "build/bench-live.tmd");
    compare_tables();
    return 0;
}
