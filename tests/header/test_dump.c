/* tm_snapshot_dump: the file follows docs/FORMAT.md (read back by dump_reader.c, written from
   the document alone), holds exactly the snapshot's traces and metadata, appears atomically under
   its final name or not at all, and expands %p, %n and %%. */
#define TRACEMALLOC_OVERRIDE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dump_reader.h"
#include "helpers.h"
#include "tracemalloc.h"

static char *dir; /* a scratch directory per test */
static char path[4096], err[512];

static int scratch_dir(void **state)
{
    tracker_stopped(state);
    dir = make_scratch_dir("dump");
    return dir == NULL ? -1 : 0;
}

static int scratch_dir_removed(void **state)
{
    tracker_stopped(state);
    remove_tree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

#define DUMP_TEST(f) cmocka_unit_test_setup_teardown(f, scratch_dir, scratch_dir_removed)

static const char *in_dir(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_file(const char *file, const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int file_holds(const char *file, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(file, "r");
    size_t n;
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static void assert_dump_reads(const char *file, dump *d)
{
    if (dump_read(file, d, err, sizeof err) != 0)
        fail_msg("%s: %s", file, err);
}

static void assert_dump_equals_snapshot(const dump *d, const tm_snapshot *snapshot)
{
    const char *diff = dump_diff_snapshot(d, snapshot, err, sizeof err);
    if (diff != NULL)
        fail_msg("dump differs from its snapshot: %s", diff);
}

/* Traces of every kind: two malloc sites, a deep traceback cut by the limit (total_nframe 5,
   nframe 3) with a frame that has no function, and the same address in a second domain. */
static char *blocks[3];
static char pool[256];
static void make_varied_traces(void)
{
    const tm_frame frames[5] = {{"vm.c", 5, "op", 0}, {"eval.c", 4, NULL, 0}, {"c.c", 3, "c", 0},
                                {"b.c", 2, "b", 0}, {"a.c", 1, "a", 0}};
    tm_start(3);
    blocks[0] = malloc(100);
    blocks[1] = malloc(200);
    blocks[2] = strdup("x");
    tm_track_frames(5, pool, 256, frames, 5);
    tm_track(6, pool, 128);
}

static void free_varied_traces(void)
{
    free(blocks[0]), free(blocks[1]), free(blocks[2]);
    tm_untrack(5, pool), tm_untrack(6, pool);
}

static void dump_holds_exactly_the_snapshot_traces(void **state)
{
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    assert_int_equal(snapshot_size(snapshot), 5);
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run.tmd")), 0);
    assert_dump_reads(path, &d);
    assert_dump_equals_snapshot(&d, snapshot);
    dump_free(&d);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

/* Version 2: the six required sections in order (MODS even with no native frame), optional
   ones (TIME, PEAK, ALOC: flags clear) after them, then END. */
static void dump_sections_are_the_six_required_in_order_then_end(void **state)
{
    const uint32_t expected[6] = {TM_DUMP_TAG_STRS, TM_DUMP_TAG_META, TM_DUMP_TAG_MODS,
                                  TM_DUMP_TAG_FRMS, TM_DUMP_TAG_TBKS, TM_DUMP_TAG_TRCS};
    tm_snapshot *snapshot;
    dump d;
    int i;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run.tmd")), 0);
    assert_dump_reads(path, &d); /* magic, version, flags, bounds, ids and CRC-32 checked there */
    assert_int_equal(d.version, TM_DUMP_VERSION);
    assert_true(d.nsections >= 7);
    for (i = 0; i < 6; i++)
        assert_int_equal(d.tags[i], expected[i]);
    for (; i < d.nsections - 1; i++)
        assert_int_equal(d.section_flags[i] & TM_DUMP_REQUIRED, 0);
    assert_int_equal(d.tags[d.nsections - 1], TM_DUMP_TAG_END);
    dump_free(&d);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void dump_metadata_describes_the_snapshot(void **state)
{
    tm_snapshot *snapshot;
    size_t current, peak;
    uint64_t before, after;
    char *gone;
    dump d;
    (void)state;
    make_varied_traces();
    gone = malloc(5000); /* lifts the peak above current */
    free(gone);
    tm_get_traced_memory(&current, &peak);
    before = now_ns();
    snapshot = tm_take_snapshot();
    after = now_ns();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run.tmd")), 0);
    assert_dump_reads(path, &d);
    /* gettimeofday's microseconds are nanoseconds too: allow time_ns its truncation */
    assert_in_range(d.meta.time_ns, before - before % 1000, after);
    assert_int_equal(d.meta.pid, (uint64_t)getpid());
    assert_int_equal(d.meta.traced_current, current);
    assert_int_equal(d.meta.traced_peak, peak);
    assert_true(d.meta.tracemalloc_memory > 0);
    assert_int_equal(d.meta.untraced_count, 0);
    assert_int_equal(d.meta.untraced_size, 0);
    assert_int_equal(d.meta.traceback_limit, 3);
    assert_int_equal(d.meta.label, TM_DUMP_NONE);
    dump_free(&d);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

static void dump_label_is_in_the_string_table(void **state)
{
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_set_label(snapshot, "before step 2"), 0);
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run.tmd")), 0);
    assert_dump_reads(path, &d);
    assert_int_not_equal(d.meta.label, TM_DUMP_NONE);
    assert_string_equal(dump_string(&d, d.meta.label), "before step 2");
    dump_free(&d);
    tm_snapshot_free(snapshot);
}

static void dump_of_an_empty_snapshot_is_valid(void **state)
{
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("empty.tmd")), 0);
    assert_dump_reads(path, &d);
    assert_int_equal(d.ntraces, 0);
    dump_free(&d);
    tm_snapshot_free(snapshot);
}

/* The snapshot is self-contained: it can be dumped after the tracker stopped. */
static void dump_after_stop_still_writes_the_snapshot(void **state)
{
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    free_varied_traces();
    tm_stop();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("late.tmd")), 0);
    assert_dump_reads(path, &d);
    assert_dump_equals_snapshot(&d, snapshot);
    dump_free(&d);
    tm_snapshot_free(snapshot);
}

static void dump_leaves_no_temporary_file(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run.tmd")), 0);
    assert_int_equal(count_entries(dir, NULL), 1);
    assert_int_equal(count_entries(dir, "run.tmd"), 1);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

static void dump_into_a_missing_directory_fails_and_leaves_nothing(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_int_not_equal(tm_snapshot_dump(snapshot, in_dir("missing/run.tmd")), 0);
    assert_int_equal(count_entries(dir, NULL), 0);
    tm_snapshot_free(snapshot);
}

/* Running as root, a mode-0555 directory is still writable; a regular file where a directory
   should be stops root too. */
static void dump_below_a_regular_file_fails(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    write_file(in_dir("file"), "x");
    assert_int_not_equal(tm_snapshot_dump(snapshot, in_dir("file/run.tmd")), 0);
    assert_int_equal(count_entries(dir, NULL), 1);
    tm_snapshot_free(snapshot);
}

/* rename() onto a directory fails after the temporary file is complete: the writer must report
   it and remove its temporary file. */
static void dump_onto_a_directory_fails_and_removes_its_temporary(void **state)
{
    tm_snapshot *snapshot;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    assert_int_equal(mkdir(in_dir("target.tmd"), 0755), 0);
    assert_int_not_equal(tm_snapshot_dump(snapshot, path), 0);
    assert_int_equal(count_entries(dir, NULL), 1);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

/* The temporary file is path.tmp.<pid>.<n> (FORMAT.md): a final name that fits NAME_MAX while
   the temporary one does not makes the write fail before anything is written, and the old file
   must survive. */
static void failed_dump_keeps_the_existing_file(void **state)
{
    char name[256], target[4096 + 256];
    tm_snapshot *snapshot;
    (void)state;
    make_varied_traces();
    snapshot = tm_take_snapshot();
    memset(name, 'x', 250);
    name[250] = 0;
    snprintf(target, sizeof target, "%s/%s", dir, name);
    write_file(target, "old");
    assert_int_not_equal(tm_snapshot_dump(snapshot, target), 0);
    assert_true(file_holds(target, "old"));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    tm_snapshot_free(snapshot);
    free_varied_traces();
}

enum { DUMP_SUCCEEDED = 10, DUMP_FAILED = 20 };

/* A full disk, simulated by RLIMIT_FSIZE in a child: writes fail with EFBIG past the limit. The
   writer must notice the short write, say so, and leave the existing file and no temporary. */
static void dump_on_a_full_disk_fails_and_keeps_the_existing_file(void **state)
{
    enum { N = 200 }; /* 200 traces: about 5 KB of dump, far above the 1 KB limit */
    static char *many[N];
    tm_snapshot *snapshot;
    int i, status;
    pid_t pid;
    (void)state;
    tm_start(1);
    for (i = 0; i < N; i++)
        many[i] = malloc(8);
    snapshot = tm_take_snapshot();
    write_file(in_dir("run.tmd"), "old");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit limit = {1024, 1024};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &limit);
        _exit(tm_snapshot_dump(snapshot, path) == 0 ? DUMP_SUCCEEDED : DUMP_FAILED);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), DUMP_FAILED);
    assert_true(file_holds(path, "old"));
    assert_int_equal(count_entries(dir, NULL), 1);
    tm_snapshot_free(snapshot);
    for (i = 0; i < N; i++)
        free(many[i]);
}

static void dump_path_percent_p_is_the_pid(void **state)
{
    char expected[64];
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("run-%p.tmd")), 0);
    snprintf(expected, sizeof expected, "run-%ld.tmd", (long)getpid());
    assert_int_equal(count_entries(dir, NULL), 1);
    assert_dump_reads(in_dir(expected), &d);
    dump_free(&d);
    tm_snapshot_free(snapshot);
}

/* Every dump to a %n path names a new file: two dumps, two valid files, nothing replaced. */
static void dump_path_percent_n_names_a_new_file_each_time(void **state)
{
    tm_snapshot *first, *second;
    char *p;
    (void)state;
    tm_start(1);
    first = tm_take_snapshot();
    p = malloc(10);
    second = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(first, in_dir("step-%n.tmd")), 0);
    assert_int_equal(tm_snapshot_dump(second, in_dir("step-%n.tmd")), 0);
    assert_int_equal(count_entries(dir, "step-"), 2);
    assert_int_equal(count_entries(dir, "%n"), 0);
    tm_snapshot_free(first);
    tm_snapshot_free(second);
    free(p);
}

static void dump_path_double_percent_is_a_percent_sign(void **state)
{
    tm_snapshot *snapshot;
    dump d;
    (void)state;
    tm_start(1);
    snapshot = tm_take_snapshot();
    assert_int_equal(tm_snapshot_dump(snapshot, in_dir("100%%.tmd")), 0);
    assert_dump_reads(in_dir("100%.tmd"), &d);
    dump_free(&d);
    tm_snapshot_free(snapshot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        DUMP_TEST(dump_holds_exactly_the_snapshot_traces),
        DUMP_TEST(dump_sections_are_the_six_required_in_order_then_end),
        DUMP_TEST(dump_metadata_describes_the_snapshot),
        DUMP_TEST(dump_label_is_in_the_string_table),
        DUMP_TEST(dump_of_an_empty_snapshot_is_valid),
        DUMP_TEST(dump_after_stop_still_writes_the_snapshot),
        DUMP_TEST(dump_leaves_no_temporary_file),
        DUMP_TEST(dump_into_a_missing_directory_fails_and_leaves_nothing),
        DUMP_TEST(dump_below_a_regular_file_fails),
        DUMP_TEST(dump_onto_a_directory_fails_and_removes_its_temporary),
        DUMP_TEST(failed_dump_keeps_the_existing_file),
        DUMP_TEST(dump_on_a_full_disk_fails_and_keeps_the_existing_file),
        DUMP_TEST(dump_path_percent_p_is_the_pid),
        DUMP_TEST(dump_path_percent_n_names_a_new_file_each_time),
        DUMP_TEST(dump_path_double_percent_is_a_percent_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
