/* by_frame.c - the seed's "Tracking Memory Allocations by Frame", in C.

   The seed passes "a frame argument" to take_snapshot(); Python has none. What it means is
   tracemalloc.start(25), which keeps up to 25 frames per traceback, and
   snapshot.statistics('traceback'), which groups by the whole call stack instead of one line.

   In C, the malloc family records one frame: its call site. A helper that allocates for every
   caller, like numbers_append, then hides all of them behind its own realloc line. C has no frame
   stack to walk, but a caller can name its own frame, and tm_track_frames records a traceback of
   several frames (most recent first), as an interpreter that knows its stack would. So:
     tracemalloc stats DIR/by_frame.tmd                   one line: numbers.h's realloc
     tracemalloc stats DIR/by_frame.tmd --by traceback    two tracebacks: which caller grew which list
   Usage: by_frame [DIR], the dump goes to DIR (default .). */
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "numbers.h"

#include <stdio.h>

/* numbers_append, with the caller's frame recorded under numbers.h's realloc line. */
#define numbers_append_here(list, value) \
    numbers_append_from((list), (value), (tm_frame){__FILE__, __LINE__, __func__, 0})

static int numbers_append_from(numbers *list, int value, tm_frame caller)
{
    size_t allocated = list->allocated;
    const tm_traceback *traceback;
    if (numbers_append(list, value)) return -1;
    /* Grown: the realloc wrapper recorded numbers.h's line; add the caller beneath it. Tracking a
       traced block again replaces its trace, as PyTraceMalloc_Track does. */
    if (list->allocated != allocated && (traceback = tm_get_object_traceback(list->items))) {
        tm_frame frames[2];
        frames[0] = traceback->frames[0];
        frames[1] = caller;
        tm_track_frames(TM_DOMAIN_MALLOC, list->items, list->allocated * sizeof *list->items, frames, 2);
    }
    return 0;
}

/* A second caller of the same helper: [i for i in numbers if i % 2 == 0], appended one by one. */
static int copy_evens(const numbers *from, numbers *to)
{
    size_t i;
    for (i = 0; i < from->len; i++)
        if (from->items[i] % 2 == 0 && numbers_append_here(to, from->items[i])) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    numbers numbers = {0}, evens = {0};
    size_t current, peak;
    tm_snapshot *snapshot;
    int i, status = 0;

    /* Start tracing memory allocations, keeping up to 25 frames per traceback. */
    tm_start(25);

    /* try: create a list and append elements to it; except: print(e). C reports by errno. */
    for (i = 0; i < 1000; i++)
        if (numbers_append_here(&numbers, i)) {
            perror("numbers.append");
            break;
        }
    if (copy_evens(&numbers, &evens)) perror("evens.append");

    tm_get_traced_memory(&current, &peak);
    printf("Current memory allocation: %.2f KB\n", current / 1024.0);
    printf("Peak memory allocation: %.2f KB\n", peak / 1024.0);

    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/by_frame.tmd", dir);
    if (!snapshot || tm_snapshot_dump(snapshot, path)) {
        fprintf(stderr, "by_frame: %s: cannot write the snapshot\n", path);
        status = 1;
    } else {
        /* snapshot.statistics('traceback'): each statistic followed by its frames, oldest first. */
        printf("Statistics: tracemalloc stats %s --by traceback\n", path);
    }

    tm_snapshot_free(snapshot);
    numbers_clear(&evens);
    numbers_clear(&numbers);
    tm_stop();
    return status;
}
