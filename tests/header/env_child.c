/* The program test_env runs under TRACEMALLOC / TRACEMALLOC_DUMP. It calls no tm_start: whatever
   it traces, the environment started. Modes:
     report       print whether main's very first allocation was traced, and the limit
     keep SIZE    keep a block of SIZE bytes live to the end, print the pid, return from main
     fork SIZE    fork; each process keeps a block and exits normally; print both pids */
#define TRACEMALLOC_OVERRIDE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tracemalloc.h"

static char *kept; /* a global keeps the block reachable, so LeakSanitizer does not object */

int main(int argc, char **argv)
{
    char *first = malloc(64);
    unsigned first_line = __LINE__ - 1;
    const tm_traceback *tb = tm_get_object_traceback(first);
    int first_traced = tb != NULL && tb->frames[0].lineno == first_line;
    free(first);
    if (argc == 2 && strcmp(argv[1], "report") == 0) {
        printf("tracing=%d first_block_traced=%d limit=%d\n", tm_is_tracing(), first_traced,
               tm_get_traceback_limit());
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "keep") == 0) {
        kept = malloc((size_t)atol(argv[2]));
        printf("%ld\n", (long)getpid());
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "fork") == 0) {
        pid_t child;
        fflush(stdout);
        child = fork();
        kept = malloc((size_t)atol(argv[2]));
        if (child == 0)
            exit(0); /* exit, not _exit: the child's atexit work (the dump) must run */
        waitpid(child, NULL, 0);
        printf("%ld %ld\n", (long)getpid(), (long)child);
        return 0;
    }
    fprintf(stderr, "usage: env_child report | keep SIZE | fork SIZE\n");
    return 2;
}
