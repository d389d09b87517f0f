/* native_prog.c - return addresses for the parity suite's native stacks (native_cases.py).
   It is compiled -g -O2 by the test and never run: the test takes the address after each call
   instruction of the np_* functions (a real return address) from objdump. np_twice is forced
   inline into np_middle, so some addresses stand for two frames (the inlined call, then
   np_middle), as addr2line -i shows them. Everything is in this one file: binutils 2.40's
   addr2line misreads DWARF 5 for code from headers (tests/symbolize/oracle.h). */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

void *volatile np_sink; /* stores after each call keep them calls, not tail jumps */

NOINLINE void *np_alloc(size_t n)
{
    void *p = malloc(n);
    np_sink = p;
    return p;
}

static inline __attribute__((always_inline)) void np_twice(size_t n)
{
    np_sink = np_alloc(n);
    np_sink = np_alloc(2 * n);
}

NOINLINE void np_middle(size_t n)
{
    np_twice(n);
    np_sink = np_alloc(n + 1);
}

NOINLINE void np_outer(int depth)
{
    if (depth > 0)
        np_outer(depth - 1);
    np_middle((size_t)depth);
    np_sink = np_alloc(16);
}

int main(int argc, char **argv)
{
    (void)argv;
    np_outer(argc);
    return 0;
}
