/* TRACEMALLOC_STATIC: the whole tracker private to one file, which uses only part of the API. */
#define TRACEMALLOC_STATIC
#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"

int main(void)
{
    char *p;
    size_t current, peak;
    tm_start(1);
    p = (char *)malloc(10);
    tm_get_traced_memory(&current, &peak);
    free(p);
    tm_stop();
    return current == 10 ? 0 : 1;
}
