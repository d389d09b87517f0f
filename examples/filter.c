/* filter.c - the seed's "Filtering Memory Allocations", in C.

   The seed calls snapshot.filter('frames'), which is not a tracemalloc API. Python's real one is
   snapshot.filter_traces(filters), which returns a new snapshot keeping only the traces that the
   filters allow; to keep the 'numbers' list, the filter names the file that allocates it:

       snapshot = snapshot.filter_traces([tracemalloc.Filter(True, '*numbers.h')])
       for stat in snapshot.statistics('lineno'): print(stat)

   The analyzer runs that on the dump (Python's fnmatch patterns, `*` matching `/` too):

       tracemalloc stats DIR/filter.tmd --include '*numbers.h'

   This program also allocates a block that is not the list (the list's name), so the filter has
   something to leave out. Usage: filter [DIR], the dump goes to DIR (default .). */
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "numbers.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    numbers numbers = {0};
    char *name;
    size_t current, peak;
    tm_snapshot *snapshot;
    int i, status = 0;

    tm_start(1);

    /* An allocation that is not the list: the filter drops it. */
    name = strdup("numbers");

    /* try: create a list and append elements to it; except: print(e). C reports by errno. */
    for (i = 0; i < 1000; i++)
        if (numbers_append(&numbers, i)) {
            perror("numbers.append");
            break;
        }

    tm_get_traced_memory(&current, &peak);
    printf("Current memory allocation: %.2f KB\n", current / 1024.0);
    printf("Peak memory allocation: %.2f KB\n", peak / 1024.0);

    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/filter.tmd", dir);
    if (!snapshot || tm_snapshot_dump(snapshot, path)) {
        fprintf(stderr, "filter: %s: cannot write the snapshot\n", path);
        status = 1;
    } else {
        /* Only the list's allocations: Python's filter_traces, run by the analyzer. */
        printf("Statistics of the '%s' list: tracemalloc stats %s --include '*numbers.h'\n",
               name ? name : "numbers", path);
    }

    tm_snapshot_free(snapshot);
    numbers_clear(&numbers);
    free(name);
    tm_stop();
    return status;
}
