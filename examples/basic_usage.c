/* basic_usage.c - the seed's "Basic Usage", in C.

   Python                                        C
   tracemalloc.start()                           tm_start(1)
   current, peak = get_traced_memory()           tm_get_traced_memory(&current, &peak)
   snapshot = tracemalloc.take_snapshot()        tm_take_snapshot(), written to a dump
   for stat in snapshot.statistics('lineno'):    tracemalloc stats DIR/basic_usage.tmd
       print(stat)
   tracemalloc.stop()                            tm_stop()

   The statistics are computed by the analyzer, from the dump: the header records, the command
   answers (`make demo` runs both). Usage: basic_usage [DIR], the dump goes to DIR (default .). */
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "numbers.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    numbers numbers = {0};
    size_t current, peak;
    tm_snapshot *snapshot;
    int i, status = 0;

    /* Start tracing memory allocations; 1 frame: the line that allocated (Python's default). */
    tm_start(1);

    /* Example usage: create a list and append elements to it. */
    for (i = 0; i < 1000; i++)
        if (numbers_append(&numbers, i)) {
            perror("numbers.append");
            break;
        }

    /* Tracing goes on; these are the bytes traced now and at most so far. */
    tm_get_traced_memory(&current, &peak);
    printf("Current memory allocation: %.2f KB\n", current / 1024.0);
    printf("Peak memory allocation: %.2f KB\n", peak / 1024.0);

    /* Get a snapshot of the current memory allocations, and keep it in a file. */
    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/basic_usage.tmd", dir);
    if (!snapshot || tm_snapshot_dump(snapshot, path)) {
        fprintf(stderr, "basic_usage: %s: cannot write the snapshot\n", path);
        status = 1;
    } else {
        /* snapshot.statistics('lineno'), one str(Statistic) a line, the largest first: */
        printf("Statistics: tracemalloc stats %s\n", path);
    }

    tm_snapshot_free(snapshot);
    numbers_clear(&numbers);
    /* Stop tracing memory allocations. */
    tm_stop();
    return status;
}
