/* See untraced.h: plain libc calls, no override. */
#include <stdlib.h>
#include "untraced.h"

void *untraced_malloc(size_t size)
{
    return malloc(size);
}

void untraced_free(void *ptr)
{
    free(ptr);
}
