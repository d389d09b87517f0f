/* The environment variables, as PYTHONTRACEMALLOC: TRACEMALLOC=N starts tracing with limit N
   before main's first allocation, TRACEMALLOC_DUMP=path writes a dump at exit (%p the pid, %n a
   counter). Each test runs env_child (next to this program) through the shell. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dump_reader.h"
#include "helpers.h"

static char child[PATH_MAX], *dir;
static char out[256], err[512];

static int scratch_dir(void **state)
{
    (void)state;
    dir = make_scratch_dir("env");
    return dir == NULL ? -1 : 0;
}

static int scratch_dir_removed(void **state)
{
    (void)state;
    remove_tree(dir);
    free(dir);
    return 0;
}

#define ENV_TEST(f) cmocka_unit_test_setup_teardown(f, scratch_dir, scratch_dir_removed)

/* Runs "env -u TRACEMALLOC -u TRACEMALLOC_DUMP VARS env_child ARGS" (the suite's own environment
   never leaks in) and keeps its first line of output in out. Returns its exit status. */
static int run_child(const char *vars, const char *args)
{
    char cmd[2 * PATH_MAX];
    FILE *p;
    snprintf(cmd, sizeof cmd, "env -u TRACEMALLOC -u TRACEMALLOC_DUMP %s '%s' %s", vars, child, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, sizeof out, p) == NULL)
        out[0] = '\0';
    return pclose(p);
}

static void assert_dump_reads(const char *file, dump *d)
{
    if (dump_read(file, d, err, sizeof err) != 0)
        fail_msg("%s: %s", file, err);
}

/* The child's kept block is in its dump, attributed to env_child.c. */
static void assert_dump_keeps_block(const dump *d, uint64_t size, long pid)
{
    uint64_t i;
    assert_int_equal(d->meta.pid, (uint64_t)pid);
    for (i = 0; i < d->ntraces; i++) {
        const dump_trace *t = &d->traces[i];
        if (t->size == size) {
            const dump_frame *f = &d->frames[d->tracebacks[t->traceback].frame_ids[0]];
            const char *file = dump_string(d, f->filename);
            assert_string_equal(file + strlen(file) - strlen("env_child.c"), "env_child.c");
            return;
        }
    }
    fail_msg("no block of %llu bytes in the dump of pid %ld", (unsigned long long)size, pid);
}

static void tracemalloc_5_traces_main_first_allocation_with_limit_5(void **state)
{
    (void)state;
    assert_int_equal(run_child("TRACEMALLOC=5", "report"), 0);
    assert_string_equal(out, "tracing=1 first_block_traced=1 limit=5\n");
}

static void without_tracemalloc_nothing_is_traced(void **state)
{
    (void)state;
    assert_int_equal(run_child("", "report"), 0);
    assert_memory_equal(out, "tracing=0 first_block_traced=0 ", strlen("tracing=0 first_block_traced=0 "));
}

static void tracemalloc_dump_writes_a_dump_at_exit_named_by_pid(void **state)
{
    char vars[PATH_MAX + 64], file[PATH_MAX + 64];
    long pid;
    dump d;
    (void)state;
    snprintf(vars, sizeof vars, "TRACEMALLOC=1 TRACEMALLOC_DUMP='%s/child-%%p.tmd'", dir);
    assert_int_equal(run_child(vars, "keep 12345"), 0);
    pid = atol(out);
    assert_true(pid > 0);
    snprintf(file, sizeof file, "%s/child-%ld.tmd", dir, pid);
    assert_dump_reads(file, &d);
    assert_dump_keeps_block(&d, 12345, pid);
    dump_free(&d);
    assert_int_equal(count_entries(dir, NULL), 1); /* no temporary left behind */
}

/* So that every process of a test suite leaves its own dump: %n never reuses a name. */
static void tracemalloc_dump_counter_gives_each_run_its_own_file(void **state)
{
    char vars[PATH_MAX + 64];
    (void)state;
    snprintf(vars, sizeof vars, "TRACEMALLOC=1 TRACEMALLOC_DUMP='%s/run-%%n.tmd'", dir);
    assert_int_equal(run_child(vars, "keep 100"), 0);
    assert_int_equal(run_child(vars, "keep 200"), 0);
    assert_int_equal(count_entries(dir, "run-"), 2);
    assert_int_equal(count_entries(dir, NULL), 2);
}

static void forked_child_leaves_its_own_dump_at_exit(void **state)
{
    char vars[PATH_MAX + 64], file[PATH_MAX + 64];
    long parent, kid;
    dump d;
    (void)state;
    snprintf(vars, sizeof vars, "TRACEMALLOC=1 TRACEMALLOC_DUMP='%s/proc-%%p.tmd'", dir);
    assert_int_equal(run_child(vars, "fork 4321"), 0);
    assert_int_equal(sscanf(out, "%ld %ld", &parent, &kid), 2);
    snprintf(file, sizeof file, "%s/proc-%ld.tmd", dir, parent);
    assert_dump_reads(file, &d);
    assert_dump_keeps_block(&d, 4321, parent);
    dump_free(&d);
    snprintf(file, sizeof file, "%s/proc-%ld.tmd", dir, kid);
    assert_dump_reads(file, &d);
    assert_dump_keeps_block(&d, 4321, kid);
    dump_free(&d);
    assert_int_equal(count_entries(dir, NULL), 2);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(tracemalloc_5_traces_main_first_allocation_with_limit_5),
        ENV_TEST(without_tracemalloc_nothing_is_traced),
        ENV_TEST(tracemalloc_dump_writes_a_dump_at_exit_named_by_pid),
        ENV_TEST(tracemalloc_dump_counter_gives_each_run_its_own_file),
        ENV_TEST(forked_child_leaves_its_own_dump_at_exit),
    };
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    (void)argc, (void)argv;
    if (n <= 0)
        return 1;
    self[n] = '\0';
    snprintf(child, sizeof child, "%s/env_child", dirname(self));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
