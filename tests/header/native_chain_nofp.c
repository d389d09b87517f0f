/* A call chain built without frame pointers (see native_chain.h): only a DWARF unwinder sees
   nofp_b and nofp_a. */
#define TRACEMALLOC_OVERRIDE
#include "native_chain.h"
#include "tracemalloc.h"

const char chain_nofp_file[] = __FILE__;

#define KEEP(p) __asm__ __volatile__("" : : "r"(p) : "memory")

CHAIN_FUNCTION static void *nofp_c(void)
{
    void *p;
    chain_returns[0] = __builtin_return_address(0);
    p = malloc(24);
    chain_line = __LINE__ - 1;
    KEEP(p);
    return p;
}

CHAIN_FUNCTION static void *nofp_b(void)
{
    void *p;
    chain_returns[1] = __builtin_return_address(0);
    p = nofp_c();
    KEEP(p);
    return p;
}

CHAIN_FUNCTION void *nofp_chain(void)
{
    void *p;
    chain_returns[2] = __builtin_return_address(0);
    p = nofp_b();
    KEEP(p);
    return p;
}
