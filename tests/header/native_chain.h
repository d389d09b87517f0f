/* Call chains of a known shape for test_native.c. Each function records the address it will
   return to, so the test knows the frames a correct unwinder finds: chain_returns[0] is the
   innermost function's return address (into its caller), [1] its caller's, and so on.
   native_chain.c is built with frame pointers, native_chain_nofp.c without. */
#ifndef TESTS_HEADER_NATIVE_CHAIN_H
#define TESTS_HEADER_NATIVE_CHAIN_H

#include <stddef.h>

#if defined(__clang__)
#define CHAIN_FUNCTION __attribute__((noinline))
#else
#define CHAIN_FUNCTION __attribute__((noinline, noipa)) /* no clone, no inference across calls */
#endif

/* The allocation functions a chain can end in. */
enum chain_kind {
    CHAIN_MALLOC, CHAIN_CALLOC, CHAIN_REALLOC, CHAIN_REALLOCARRAY, CHAIN_STRDUP, CHAIN_STRNDUP,
    CHAIN_ALIGNED_ALLOC, CHAIN_POSIX_MEMALIGN, CHAIN_MEMALIGN, CHAIN_VALLOC, CHAIN_PVALLOC,
    CHAIN_TAIL_MALLOC, /* the innermost function is `return malloc(n);` */
    CHAIN_KINDS
};

extern __thread void *chain_returns[4];
extern __thread unsigned chain_line; /* the line of the allocation (in the chain's file) */
extern const char chain_fp_file[], chain_nofp_file[];

/* fp_a -> fp_b -> fp_c -> the allocation, in native_chain.c. */
void *fp_chain(enum chain_kind kind);
/* nofp_a -> nofp_b -> nofp_c -> malloc, in native_chain_nofp.c. */
void *nofp_chain(void);
/* depth calls of fp_recurse, then malloc(8). */
void *fp_recurse(int depth);
/* Calls tm_track_native(domain, ptr, size) and records its own return address in chain_returns[0]. */
int track_here(unsigned domain, const void *ptr, size_t size);

#endif
