/* preload.c - build/libtracemalloc.so: the glibc malloc family, traced with native call stacks,
   for programs that were never rebuilt:

       LD_PRELOAD=build/libtracemalloc.so PROG ARGS...     (or: tracemalloc run -- PROG ARGS...)

   Every thread and every shared library of the process allocates through these functions, as
   glibc's manual allows ("Replacing malloc"): glibc's own strdup, fopen, getline, ... call malloc
   through the dynamic linker, so they need no interposer of their own (tests/preload checks it).

   The real allocator is glibc's __libc_malloc, __libc_calloc, __libc_realloc, __libc_free,
   __libc_memalign, __libc_valloc and __libc_pvalloc, which libc.so.6 exports (GLIBC_2.2.5, so
   every glibc since) for exactly this use. The usual alternative, dlsym(RTLD_NEXT, "malloc"), has
   a bootstrap problem: dlsym may allocate (its error state), and the dynamic loader
   calls malloc before any interposer has resolved anything, so such interposers serve the early
   calls from a static buffer and must recognise those blocks in free. Here every call, from the
   loader's first one, has the real allocator at hand. posix_memalign and aligned_alloc have no
   __libc_ name: they are __libc_memalign behind the checks glibc 2.36 makes. reallocarray is
   glibc's own check in front of realloc (its __libc_reallocarray is GLIBC_PRIVATE).
   malloc_usable_size is not interposed: every block is glibc's own, with glibc's header.

   Tracing starts when the library is loaded, before main: TRACEMALLOC=N as for the header (0:
   never), and when TRACEMALLOC is not set, with PRELOAD_DEFAULT_LIMIT frames. Before it starts
   and after a failed start, each call costs one check and passes through. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* The tracker's own memory comes straight from glibc: never through the interposers below. */
#define TM_RAW_REALLOC(p, n) __libc_realloc(p, n)
#define TM_RAW_FREE(p) __libc_free(p)
#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_LIBUNWIND
#define TRACEMALLOC_LIBDW /* dwarf: rules cached per return address (libdw), libunwind otherwise */
#include "tracemalloc.h"

#include "preload/preload.h"

/* The library is built with -fvisibility=hidden, so a program that embeds tracemalloc.h itself
   keeps its own tm_ functions apart from these; only the interposers are exported. */
#define PRELOAD_API __attribute__((visibility("default")))

/* Every interposer's last step: the block is traced at the caller's native stack, whose first
   frame is the first return address outside this library. */
static inline void *preload_traced(void *ptr, size_t size)
{
    if (TM__UNLIKELY(preload_signal_child_pending)) preload_signal_child_start();
    if (ptr) (void)tm_track_native(TM_DOMAIN_MALLOC, ptr, size);
    return ptr;
}

PRELOAD_API void *malloc(size_t size)
{
    return preload_traced(__libc_malloc(size), size);
}

PRELOAD_API void *calloc(size_t count, size_t size)
{
    /* glibc checks the product's overflow itself (NULL, ENOMEM) */
    return preload_traced(__libc_calloc(count, size), count * size);
}

/* The trace goes before the block: another thread may get the address back from glibc at once. */
PRELOAD_API void free(void *ptr)
{
    if (TM__UNLIKELY(preload_signal_child_pending)) preload_signal_child_start();
    if (ptr) (void)tm_untrack(TM_DOMAIN_MALLOC, ptr);
    __libc_free(ptr);
}

/* As the header's tm_realloc_at, whose private calls it shares: the old trace goes before the
   call, so the peak never counts old and new block together (Python's rule), and comes back as
   it was when realloc fails and the old block lives on. */
PRELOAD_API void *realloc(void *ptr, size_t size)
{
    size_t old_size = 0;
    uint32_t old_tb = 0;
    unsigned generation = 0;
    int had = 0;
    void *moved;
    if (ptr && tm__active()) {
        tm__begin();
        had = tm__take(TM_DOMAIN_MALLOC, (uintptr_t)ptr, &old_size, &old_tb, &generation);
        tm__end();
    }
    moved = __libc_realloc(ptr, size);
    if (moved) return preload_traced(moved, size);
    if (had && size) { /* failed: the old block is intact (size 0 freed it) */
        tm__begin();
        if (tm__put(TM_DOMAIN_MALLOC, (uintptr_t)ptr, old_size, old_tb, generation))
            tm__count_untraced(old_size);
        tm__end();
    }
    return NULL;
}

PRELOAD_API void *reallocarray(void *ptr, size_t count, size_t size)
{
    if (count && size > SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, count * size);
}

PRELOAD_API void *memalign(size_t alignment, size_t size)
{
    return preload_traced(__libc_memalign(alignment, size), size);
}

/* glibc 2.36's aligned_alloc is memalign itself (an alias): no further check. */
PRELOAD_API void *aligned_alloc(size_t alignment, size_t size)
{
    return preload_traced(__libc_memalign(alignment, size), size);
}

/* glibc's checks and result, and errno left as it was on success and on failure alike. */
PRELOAD_API int posix_memalign(void **out, size_t alignment, size_t size)
{
    int saved = errno;
    void *ptr;
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
        return EINVAL;
    ptr = __libc_memalign(alignment, size);
    errno = saved;
    if (!ptr) return ENOMEM;
    *out = preload_traced(ptr, size);
    return 0;
}

PRELOAD_API void *valloc(size_t size)
{
    return preload_traced(__libc_valloc(size), size);
}

/* The traced size is the requested one, as for every other function (Python's rule). */
PRELOAD_API void *pvalloc(size_t size)
{
    return preload_traced(__libc_pvalloc(size), size);
}

/* ---- start-up, snapshots, exit ---------------------------------------------------------- */

static char preload_dump[4096]; /* the dump path pattern, fixed at start-up */

int preload_pause(int paused)
{
    int was = tm__busy;
    tm__busy = paused;
    return was;
}

void preload_write_snapshot(const char *why)
{
    tm_snapshot *snapshot = tm_take_snapshot();
    if (!snapshot || tm_snapshot_dump(snapshot, preload_dump))
        fprintf(stderr, "tracemalloc: %s: cannot write the snapshot %s\n", preload_dump, why);
    tm_snapshot_free(snapshot);
}

/* Only without TRACEMALLOC_DUMP: the header's own exit handler writes to that path. */
static void preload_dump_at_exit(void)
{
    if (tm_is_tracing()) preload_write_snapshot("at exit");
}

/* The default dump path, absolute: PWD/tracemalloc-%p.tmd, with any % of the directory doubled. */
static void preload_default_path(void)
{
    char cwd[sizeof preload_dump - sizeof PRELOAD_DEFAULT_DUMP - 1];
    size_t used = 0;
    const char *c;
    if (!getcwd(cwd, sizeof cwd)) {
        strcpy(preload_dump, PRELOAD_DEFAULT_DUMP);
        return;
    }
    for (c = cwd; *c && used + 2 < sizeof preload_dump - sizeof PRELOAD_DEFAULT_DUMP - 1; c++) {
        if (*c == '%') preload_dump[used++] = '%';
        preload_dump[used++] = *c;
    }
    preload_dump[used++] = '/';
    strcpy(preload_dump + used, PRELOAD_DEFAULT_DUMP);
}

/* Runs after the header's own constructor (it comes first in this file): that one has started
   tracing if TRACEMALLOC is set, and arranged the exit dump if TRACEMALLOC_DUMP is. */
__attribute__((constructor)) static void preload_start(void)
{
    const char *limit = getenv("TRACEMALLOC"), *dump = getenv("TRACEMALLOC_DUMP");
    if (!limit || !*limit) tm_start(PRELOAD_DEFAULT_LIMIT);
    if (!tm_is_tracing()) return;
    if (dump && *dump && strlen(dump) < sizeof preload_dump) {
        strcpy(preload_dump, dump);
    } else {
        preload_default_path();
        atexit(preload_dump_at_exit);
    }
    preload_signal_init();
}
