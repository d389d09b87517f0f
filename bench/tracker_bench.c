/* The tracker's cost, measured side by side in one process (issue 3's targets):
   - malloc/free churn, random sizes 16..271 over 1,024 slots, 4M pairs: untraced vs traced in
     call-site mode, one thread and two; the ratio is what counts (target <= 2.0 single-threaded);
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

#define SLOTS 1024
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

static void make_workload(void)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    unsigned i;
    for (i = 0; i < PAIRS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sizes[i] = (unsigned short)(16 + x % 256);
        slots_of[i] = (unsigned short)((x >> 20) % SLOTS);
    }
}

/* The same loop twice: a function pointer would add an indirect call to both sides. */
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
    double best_untraced = 1e9, best_traced = 1e9;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        double untraced = run(churn_untraced, threads), traced;
        tm_start(1);
        traced = run(churn_traced, threads);
        tm_stop();
        if (untraced < best_untraced) best_untraced = untraced;
        if (traced < best_traced) best_traced = traced;
    }
    printf("churn, %d thread%s, %u malloc/free pairs each: untraced %.1f ns/pair, traced %.1f ns/pair, "
           "ratio %.2f (target <= 2.0 single-threaded)\n",
           threads, threads > 1 ? "s" : "", PAIRS, best_untraced * 1e9 / PAIRS, best_traced * 1e9 / PAIRS,
           best_traced / best_untraced);
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

int main(int argc, char **argv)
{
    make_workload();
    compare_churn(1);
    compare_churn(2);
    measure_live_blocks(argc > 1 ? argv[1] : "build/bench-live.tmd");
    return 0;
}
