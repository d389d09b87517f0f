/* capture_top.c - the seed's "Capturing Memory Allocations", in C.

   The seed calls snapshot.capture() and prints capture.top(10); neither exists in tracemalloc.
   What it reaches for is the "display the top 10" recipe of Python's documentation:

       snapshot = tracemalloc.take_snapshot()
       for index, stat in enumerate(snapshot.statistics('lineno')[:10], 1): ...

   which the analyzer prints for a dump, with each line's source:

       tracemalloc top DIR/capture_top.tmd 10

   As in the seed, this example prints no current and peak figures: it only captures.
   Usage: capture_top [DIR], the dump goes to DIR (default .). */
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "numbers.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    numbers numbers = {0};
    tm_snapshot *snapshot;
    int i, status = 0;

    tm_start(1);

    /* try: create a list and append elements to it; except: print(e). C reports by errno. */
    for (i = 0; i < 1000; i++)
        if (numbers_append(&numbers, i)) {
            perror("numbers.append");
            break;
        }

    /* Capture a snapshot of the current memory allocations, into a file. */
    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/capture_top.tmd", dir);
    if (!snapshot || tm_snapshot_dump(snapshot, path)) {
        fprintf(stderr, "capture_top: %s: cannot write the snapshot\n", path);
        status = 1;
    } else {
        /* print(capture.top(10)) */
        printf("Top 10: tracemalloc top %s 10\n", path);
    }

    tm_snapshot_free(snapshot);
    numbers_clear(&numbers);
    tm_stop();
    return status;
}
