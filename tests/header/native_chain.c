/* Call chains built with frame pointers (see native_chain.h). */
#define _GNU_SOURCE
#define TRACEMALLOC_OVERRIDE
#include "native_chain.h"
#include "tracemalloc.h"

__thread void *chain_returns[4];
__thread unsigned chain_line;
const char chain_fp_file[] = __FILE__;

/* After a call, so the call is no tail call and its frame stays on the stack. */
#define KEEP(p) __asm__ __volatile__("" : : "r"(p) : "memory")

CHAIN_FUNCTION static void *tail_malloc(size_t n)
{
    chain_returns[0] = __builtin_return_address(0);
    chain_line = __LINE__ + 1;
    return malloc(n); /* the wrapper macro keeps this from becoming a jump */
}

CHAIN_FUNCTION static void *fp_c(enum chain_kind kind)
{
    void *p = NULL;
    chain_returns[kind == CHAIN_TAIL_MALLOC ? 1 : 0] = __builtin_return_address(0);
    switch (kind) {
    case CHAIN_MALLOC: p = malloc(16); chain_line = __LINE__; break;
    case CHAIN_CALLOC: p = calloc(2, 8); chain_line = __LINE__; break;
    case CHAIN_REALLOC: p = realloc(NULL, 16); chain_line = __LINE__; break;
    case CHAIN_REALLOCARRAY: p = reallocarray(NULL, 2, 8); chain_line = __LINE__; break;
    case CHAIN_STRDUP: p = strdup("fifteen chars.."); chain_line = __LINE__; break;
    case CHAIN_STRNDUP: p = strndup("fifteen chars..!", 15); chain_line = __LINE__; break;
    case CHAIN_ALIGNED_ALLOC: p = aligned_alloc(16, 16); chain_line = __LINE__; break;
    case CHAIN_POSIX_MEMALIGN: if (posix_memalign(&p, 16, 16)) p = NULL; chain_line = __LINE__; break;
    case CHAIN_MEMALIGN: p = memalign(16, 16); chain_line = __LINE__; break;
    case CHAIN_VALLOC: p = valloc(16); chain_line = __LINE__; break;
    case CHAIN_PVALLOC: p = pvalloc(16); chain_line = __LINE__; break;
    case CHAIN_TAIL_MALLOC: p = tail_malloc(16); break;
    case CHAIN_KINDS: break;
    }
    KEEP(p);
    return p;
}

CHAIN_FUNCTION static void *fp_b(enum chain_kind kind)
{
    void *p;
    chain_returns[kind == CHAIN_TAIL_MALLOC ? 2 : 1] = __builtin_return_address(0);
    p = fp_c(kind);
    KEEP(p);
    return p;
}

CHAIN_FUNCTION void *fp_chain(enum chain_kind kind)
{
    void *p;
    chain_returns[kind == CHAIN_TAIL_MALLOC ? 3 : 2] = __builtin_return_address(0);
    p = fp_b(kind);
    KEEP(p);
    return p;
}

CHAIN_FUNCTION void *fp_recurse(int depth)
{
    void *p;
    if (depth == 0) {
        p = malloc(8);
        chain_line = __LINE__ - 1;
    } else {
        p = fp_recurse(depth - 1);
    }
    KEEP(p);
    return p;
}

CHAIN_FUNCTION int track_here(unsigned domain, const void *ptr, size_t size)
{
    int status;
    chain_returns[0] = __builtin_return_address(0);
    status = tm_track_native(domain, ptr, size);
    KEEP(status);
    return status;
}
