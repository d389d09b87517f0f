/* shared.c - libshared.so: a shared library whose functions record from inlined code. */
#define MODULE "lib"
#include "inlines.h"

ALWAYS_INLINE void lib_inner(int x)
{
    record("lib_inner");
    sink += x;
}

__attribute__((noinline)) void lib_entry(int x)
{
    sink += x;
    lib_inner(x);
    middle_in_header(x);
    record("lib_entry");
    sink += x;
}
