/* The raw allocator test_oom gives the tracker (TM_RAW_REALLOC / TM_RAW_FREE): it counts what the
   tracker holds, fails on demand, and recognizes its own blocks, so a user block handed to the
   tracker's free (a mis-free) is counted instead of corrupting the heap. */
#ifndef TESTS_HEADER_OOM_ALLOC_H
#define TESTS_HEADER_OOM_ALLOC_H
#include <stddef.h>

void *oom_realloc(void *ptr, size_t size);
void oom_free(void *ptr);

void oom_fail_all(int on);          /* every call fails while on */
void oom_fail_every(unsigned n);    /* the n-th, 2n-th, ... calls fail; 0: none */
size_t oom_live_bytes(void);        /* bytes the tracker holds (as it asked for them) */
size_t oom_failures(void);          /* calls refused so far */
size_t oom_foreign_frees(void);     /* pointers freed or reallocated that were not ours */
#endif
