/* fork() leaves the child a usable tracker: it inherits the parent's traces, and can allocate,
   free, snapshot and dump, even when another thread held the tracker's locks at the fork. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dump_reader.h"
#include "helpers.h"
#include "tracemalloc.h"

static char *dir, path[4096], err[512];

static int scratch_dir(void **state)
{
    tracker_stopped(state);
    dir = make_scratch_dir("fork");
    return dir == NULL ? -1 : 0;
}

static int scratch_dir_removed(void **state)
{
    tracker_stopped(state);
    remove_tree(dir);
    free(dir);
    return 0;
}

#define FORK_TEST(f) cmocka_unit_test_setup_teardown(f, scratch_dir, scratch_dir_removed)

/* In the child, a failed check says which on stderr and exits 1: cmocka's longjmp must not run
   in a second process. */
#define CHILD_CHECK(cond)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "child %ld: %s:%d: %s\n", (long)getpid(), __FILE__, __LINE__, #cond); \
            _exit(1);                                                              \
        }                                                                          \
    } while (0)

static void assert_child_succeeded(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d (SIGALRM %d: deadlocked)", WTERMSIG(status), SIGALRM);
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void child_can_allocate_free_snapshot_and_dump(void **state)
{
    char *inherited;
    pid_t pid;
    dump d;
    (void)state;
    tm_start(1);
    inherited = malloc(100);
    snprintf(path, sizeof path, "%s/child.tmd", dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *own;
        tm_snapshot *snapshot;
        alarm(20);
        CHILD_CHECK(tm_is_tracing());
        CHILD_CHECK(tm_get_object_traceback(inherited) != NULL);
        own = malloc(50);
        CHILD_CHECK(tm_get_object_traceback(own) != NULL);
        free(inherited);
        CHILD_CHECK(traced_current() == 50);
        snapshot = tm_take_snapshot();
        CHILD_CHECK(snapshot != NULL && snapshot_size(snapshot) == 1);
        CHILD_CHECK(find_trace(snapshot, TM_DOMAIN_MALLOC, own) != NULL);
        CHILD_CHECK(tm_snapshot_dump(snapshot, path) == 0);
        tm_snapshot_free(snapshot);
        _exit(0);
    }
    assert_child_succeeded(pid);
    /* The child's dump holds its own block only; the parent's state did not move. */
    if (dump_read(path, &d, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    assert_int_equal(d.ntraces, 1);
    assert_int_equal(d.traces[0].size, 50);
    assert_int_equal(d.meta.pid, (uint64_t)pid);
    dump_free(&d);
    assert_int_equal(traced_current(), 100);
    assert_non_null(tm_get_object_traceback(inherited));
    free(inherited);
}

/* gcc 12's libasan takes no lock around fork (ASan installs pthread_atfork only since LLVM 18,
   llvm-project PR 75290): a child can inherit ASan's own allocator lock, held by the churning
   thread, and hang inside ASan. The plain build runs the thread test; ASan runs the others. */
#if defined(__SANITIZE_ADDRESS__)
#define FORK_UNSAFE_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FORK_UNSAFE_ALLOCATOR 1
#endif
#endif
#ifndef FORK_UNSAFE_ALLOCATOR
#define FORK_UNSAFE_ALLOCATOR 0
#endif

static atomic_int churning; /* the only state the two threads share outside the tracker */

static void *churn(void *arg)
{
    (void)arg;
    while (churning) {
        char *p = malloc(32);
        tm_snapshot *snapshot = tm_take_snapshot(); /* the snapshot lock too */
        tm_snapshot_free(snapshot);
        free(p);
    }
    return NULL;
}

/* The thread holds the tracker's locks at random moments; a fork at such a moment must not leave
   the child with a lock nobody will release (pthread_atfork). alarm() turns a deadlock into a
   failure instead of a hang. */
static void fork_while_a_thread_allocates_leaves_a_usable_tracker(void **state)
{
    enum { FORKS = 30 };
    pthread_t thread;
    int i;
    (void)state;
    if (FORK_UNSAFE_ALLOCATOR)
        skip();
    tm_start(1);
    churning = 1;
    assert_int_equal(pthread_create(&thread, NULL, churn, NULL), 0);
    for (i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char *p;
            tm_snapshot *snapshot;
            alarm(10);
            p = malloc(7);
            CHILD_CHECK(tm_get_object_traceback(p) != NULL);
            snapshot = tm_take_snapshot();
            CHILD_CHECK(snapshot != NULL);
            snprintf(path, sizeof path, "%s/child-%d.tmd", dir, i);
            CHILD_CHECK(tm_snapshot_dump(snapshot, path) == 0);
            tm_snapshot_free(snapshot);
            free(p);
            _exit(0);
        }
        assert_child_succeeded(pid);
    }
    churning = 0;
    pthread_join(thread, NULL);
    assert_int_equal(count_entries(dir, ".tmd"), FORKS);
}

/* A thread's first allocation while another thread forks. The scenario needs a process in which
   one thread alone has used the tracker so far, so it runs in a fresh process: this program
   re-executed with the argument "first-use-during-fork". */
static atomic_int second_may_start, second_started;

static void *second_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&second_may_start))
        ;
    atomic_store(&second_started, 1);
    free(malloc(8)); /* this thread's first call into the tracker */
    return NULL;
}

/* Registered before tm_start, so it runs after the tracker's own prepare handler: the second
   thread enters the tracker while the fork is under way, and 20 ms let it get as far as it can. */
static void let_the_second_thread_in(void)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    atomic_store(&second_may_start, 1);
    while (!atomic_load(&second_started))
        ;
    nanosleep(&pause, NULL);
}

static int first_use_during_fork(void)
{
    pthread_t second;
    pid_t pid;
    int status;
    pthread_atfork(let_the_second_thread_in, NULL, NULL);
    tm_start(1);
    free(malloc(8)); /* the main thread is the tracker's only user so far */
    pthread_create(&second, NULL, second_thread, NULL);
    pid = fork();
    if (pid == 0) {
        char *p;
        alarm(2); /* ms when it works: a hang becomes a failure */
        p = malloc(8);
        CHILD_CHECK(tm_get_object_traceback(p) != NULL);
        free(p);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    pthread_join(second, NULL);
    if (WIFSIGNALED(status))
        fprintf(stderr, "child killed by signal %d (SIGALRM %d: deadlocked)\n", WTERMSIG(status), SIGALRM);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void fork_during_another_thread_first_allocation_leaves_a_usable_child(void **state)
{
    pid_t pid;
    int status;
    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_fork", "first-use-during-fork", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        FORK_TEST(child_can_allocate_free_snapshot_and_dump),
        FORK_TEST(fork_while_a_thread_allocates_leaves_a_usable_tracker),
        FORK_TEST(fork_during_another_thread_first_allocation_leaves_a_usable_child),
    };
    if (argc == 2 && strcmp(argv[1], "first-use-during-fork") == 0)
        return first_use_during_fork();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
