/* test_suite_dumps.c - snapshots as a test suite leaves them, for the analyzer to compare.

   A test takes a snapshot before and after the step it tests and writes both to files; the
   comparison is Python's after.compare_to(before, 'lineno'), made afterwards:

       tracemalloc compare DIR/before.tmd DIR/after.tmd

   A suite runs many processes: in a dump's path %p is the pid and %n the first number that names
   no existing file, so each process leaves its own (DIR/suite-%p-%n.tmd, after the teardown).

   Run with TRACEMALLOC_DUMP=PATH, the tracker writes one more dump when the program exits: what is
   still allocated then was leaked. The step below leaks one block on purpose; a CI job fails on
   any leak with

       tracemalloc leaks PATH --fail-over 0        (exit status 3 past the limit)

   Usage: test_suite_dumps [DIR], the dumps go to DIR (default .). */
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "numbers.h"

#include <stdio.h>

/* Takes a snapshot, labels it and writes it to DIR/NAME; 0 on success. */
static int dump(const char *dir, const char *name, const char *label)
{
    char path[4096];
    tm_snapshot *snapshot = tm_take_snapshot();
    int status = -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (snapshot && !tm_snapshot_set_label(snapshot, label) && !tm_snapshot_dump(snapshot, path)) {
        printf("wrote %s (label '%s')\n", path, label);
        status = 0;
    } else {
        fprintf(stderr, "test_suite_dumps: %s: cannot write the snapshot\n", path);
    }
    tm_snapshot_free(snapshot);
    return status;
}

/* The step under test: fills the list, then allocates a summary and forgets to free it. */
static int fill_numbers(numbers *list)
{
    char *summary;
    int i;
    for (i = 0; i < 1000; i++)
        if (numbers_append(list, i)) return -1;
    summary = malloc(64);
    if (!summary) return -1;
    snprintf(summary, 64, "numbers holds %zu items", list->len);
    puts(summary);
    return 0; /* the leak, on purpose: summary is never freed */
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    numbers numbers = {0};
    size_t current, peak;
    int status = 0;

    tm_start(1); /* already tracing when run with TRACEMALLOC=1: then this changes nothing */

    status |= dump(dir, "before.tmd", "before");
    if (fill_numbers(&numbers)) {
        perror("fill_numbers");
        status = 1;
    }
    tm_get_traced_memory(&current, &peak);
    printf("Current memory allocation: %.2f KB\n", current / 1024.0);
    printf("Peak memory allocation: %.2f KB\n", peak / 1024.0);
    status |= dump(dir, "after.tmd", "after");

    /* Teardown: the list is freed, the summary is not. */
    numbers_clear(&numbers);
    status |= dump(dir, "suite-%p-%n.tmd", "teardown");

    /* No tm_stop(): it would clear the traces, and the dump at exit would show no leak. */
    return status ? 1 : 0;
}
