/* numbers.h - the seed's `numbers = []` and `numbers.append(i)`, in C.

   A dynamic array of ints, grown with realloc by the rule CPython's list uses (list_resize in
   Objects/listobject.c), so it reallocates exactly when a Python list would: at 4, 8, 16, 24, 32,
   40, 52, ... items; 1000 appends leave room for 1100.

   Include it after `#define TRACEMALLOC_OVERRIDE` and tracemalloc.h: its realloc is then traced,
   and every list's storage shows up in the statistics at this file's realloc line. */
#ifndef NUMBERS_H
#define NUMBERS_H

#ifndef TRACEMALLOC_OVERRIDE
#error "numbers.h: include tracemalloc.h with TRACEMALLOC_OVERRIDE first, or its realloc is not traced"
#endif

#include <stddef.h>

typedef struct numbers {
    int *items;
    size_t len;       /* len(numbers) */
    size_t allocated; /* room for this many items */
} numbers;

/* How much room a list of newsize items gets: about an eighth more, plus 6, rounded down to a
   multiple of 4; just enough, rounded up, when that is closer to the old size (CPython 3.11). */
static inline size_t numbers_room_for(size_t len, size_t newsize)
{
    size_t allocated = (newsize + (newsize >> 3) + 6) & ~(size_t)3;
    if (newsize - len > allocated - newsize) allocated = (newsize + 3) & ~(size_t)3;
    return allocated;
}

/* numbers.append(value): 0, or -1 when realloc fails (errno ENOMEM); the list is unchanged then,
   as a Python list is when append raises MemoryError. */
static inline int numbers_append(numbers *list, int value)
{
    if (list->len == list->allocated) {
        size_t allocated = numbers_room_for(list->len, list->len + 1);
        int *items = realloc(list->items, allocated * sizeof *items);
        if (!items) return -1;
        list->items = items;
        list->allocated = allocated;
    }
    list->items[list->len++] = value;
    return 0;
}

/* numbers.clear(), which also gives the storage back. */
static inline void numbers_clear(numbers *list)
{
    free(list->items);
    list->items = NULL;
    list->len = list->allocated = 0;
}

#endif /* NUMBERS_H */
