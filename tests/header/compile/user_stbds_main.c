/* A program that uses stb_ds itself (hm*, arr*) and allocates through the tracer; linked with
   user_stbds.c (its STB_DS_IMPLEMENTATION) and impl_tu.c (the tracker's). */
#include <stb_ds.h>
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"

struct entry { int key; char *value; };

int main(void)
{
    struct entry *map = NULL;
    int *list = NULL, i, ok = 1;
    size_t current, peak;
    tm_start(1);
    for (i = 0; i < 1000; i++) {
        char *value = (char *)malloc(16);
        value[0] = (char)i;
        hmput(map, i, value);
        arrput(list, i);
    }
    tm_get_traced_memory(&current, &peak);
    ok = ok && current == 16000 && hmlen(map) == 1000 && arrlen(list) == 1000;
    for (i = 0; i < 1000; i++) {
        char *value = hmget(map, i);
        ok = ok && value != NULL && value[0] == (char)i && list[i] == i;
        free(value);
    }
    hmfree(map);
    arrfree(list);
    tm_get_traced_memory(&current, &peak);
    ok = ok && current == 0;
    tm_stop();
    return ok ? 0 : 1;
}
