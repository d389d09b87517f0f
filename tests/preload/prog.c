/* prog.c - the program tests/preload/run_preload.sh runs under build/libtracemalloc.so: it knows
   nothing of tracemalloc (no header), and each mode allocates a pattern the suite checks in the
   dump. Every block that stays allocated has a size no library picks (1000xx, 33333, ...), so the
   checks count exact sizes among everything else the C library allocates. Output is the same
   with and without the library, and the suite compares it.

     functions      one block from each function of the malloc family, sizes 100001..100032
     threads        4 threads: 1000 blocks of 44444 allocated and freed, 100 of 33333 kept, each
     fork-in-thread a thread forks; the child keeps 10 blocks of 55555 and exits
     exit-in-thread a thread keeps 3 blocks of 66666 and calls exit(7)
     _exit          keeps a block of 77777 and leaves with _exit(5): no exit handler runs
     exec           fork + exec of `PROG functions`, waited for
     wait           keeps 3 blocks of 12345, says "ready", reads stdin to its end
     own-handler    installs its own SIGUSR2 handler, then as wait, and says how many came
     fork-wait      a child keeps 3 blocks of 12346, prints its pid, reads stdin to its end */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile kept[1024]; /* volatile: the compiler may not elide a malloc/free pair */
static int nkept;

static void *keep(void *ptr)
{
    if (!ptr) {
        fprintf(stderr, "prog: out of memory\n");
        exit(2);
    }
    memset(ptr, 1, 1);
    kept[nkept++ % 1024] = ptr;
    return ptr;
}

static int functions(void)
{
    char *text = malloc(100031), *copy;
    void *aligned = NULL, *moving = malloc(1000);
    memset(text, 'x', 100030);
    text[100030] = 0;
    keep(malloc(100001));
    keep(calloc(10, 10002));                          /* 100020 */
    keep(realloc(moving, 100003));                    /* the 1000 is gone: realloc moved it */
    keep(reallocarray(NULL, 5, 20001));               /* 100005 */
    keep(memalign(64, 100006));
    keep(aligned_alloc(64, 100032));
    if (posix_memalign(&aligned, 64, 100007) != 0) return 1;
    keep(aligned);
    if (posix_memalign(&aligned, 3, 10) != EINVAL) return 1;
    keep(valloc(100008));
    keep(pvalloc(100009));
    copy = keep(strdup(text));                        /* 100031: glibc's strdup calls malloc */
    keep(strndup(text, 100012));                      /* 100013 */
    free(text);
    for (int i = 0; i < 100; i++) free(malloc(4242)); /* freed: no trace of 4242 */
    printf("functions: %zu %d\n", strlen(copy), nkept);
    return 0;
}

static void *churn(void *arg)
{
    void *kept_here[100];
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        void *volatile p = malloc(44444);
        memset(p, 2, 16);
        free(p);
        if (i % 10 == 0) kept_here[i / 10] = malloc(33333);
    }
    return kept_here[99]; /* the others leak, on purpose */
}

static int threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("threads: done\n");
    return 0;
}

static void *fork_here(void *arg)
{
    pid_t child;
    int status;
    (void)arg;
    fflush(stdout);
    child = fork();
    if (child == 0) {
        for (int i = 0; i < 10; i++) keep(malloc(55555));
        printf("child: done\n");
        exit(0);
    }
    waitpid(child, &status, 0);
    return (void *)(long)(WIFEXITED(status) ? WEXITSTATUS(status) : 99);
}

static int fork_in_thread(void)
{
    pthread_t t;
    void *status;
    pthread_create(&t, NULL, fork_here, NULL);
    pthread_join(t, &status);
    printf("parent: child exited with %ld\n", (long)status);
    return 0;
}

static void *exit_here(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) keep(malloc(66666));
    printf("thread: exit(7)\n");
    exit(7);
}

static int exit_in_thread(void)
{
    pthread_t t;
    pthread_create(&t, NULL, exit_here, NULL);
    pthread_join(t, NULL);
    return 0; /* not reached */
}

static int exec_self(const char *self)
{
    int status;
    pid_t child;
    fflush(stdout);
    child = fork();
    if (child == 0) {
        execl(self, self, "functions", (char *)NULL);
        _exit(127);
    }
    waitpid(child, &status, 0);
    printf("exec: child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 99);
    return 0;
}

/* Reads stdin to its end: a handled signal with SA_RESTART does not cut the read short. */
static long read_all(void)
{
    char buffer[256];
    long total = 0;
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) != 0) {
        if (n < 0) {
            printf("read: %s\n", strerror(errno));
            return -1;
        }
        total += n;
    }
    return total;
}

static int wait_for_stdin(size_t size)
{
    for (int i = 0; i < 3; i++) keep(malloc(size));
    printf("ready\n");
    fflush(stdout);
    printf("read %ld bytes\n", read_all());
    return 0;
}

static volatile sig_atomic_t handled;
static void own_handler(int signo)
{
    (void)signo;
    handled++;
}

static int fork_wait(void)
{
    int status;
    pid_t child;
    fflush(stdout);
    child = fork();
    if (child == 0) {
        for (int i = 0; i < 3; i++) keep(malloc(12346));
        printf("child %ld\n", (long)getpid());
        fflush(stdout);
        printf("child read %ld bytes\n", read_all());
        exit(0);
    }
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "functions") == 0) return functions();
    if (strcmp(mode, "threads") == 0) return threads();
    if (strcmp(mode, "fork-in-thread") == 0) return fork_in_thread();
    if (strcmp(mode, "exit-in-thread") == 0) return exit_in_thread();
    if (strcmp(mode, "_exit") == 0) {
        keep(malloc(77777));
        printf("_exit(5)\n");
        fflush(stdout);
        _exit(5);
    }
    if (strcmp(mode, "exec") == 0) return exec_self(argv[0]);
    if (strcmp(mode, "wait") == 0) return wait_for_stdin(12345);
    if (strcmp(mode, "own-handler") == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = own_handler;
        action.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &action, NULL);
        wait_for_stdin(12345);
        printf("handled %d\n", (int)handled);
        return 0;
    }
    if (strcmp(mode, "fork-wait") == 0) return fork_wait();
    fprintf(stderr, "usage: prog functions|threads|fork-in-thread|exit-in-thread|_exit|exec|wait|"
                    "own-handler|fork-wait\n");
    return 2;
}
