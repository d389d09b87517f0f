/* prog.c - records return addresses in plain calls, in chains of forced inlines (in this file
   and in inlines.h) and in libshared.so; tests/symbolize/test_symbolize.c checks them against
   addr2line -i -f. Built with and without -g, with and without a build-id. */
#define MODULE "main"
#include "inlines.h"

volatile int sink;

#ifndef NO_SHARED
void lib_entry(int x);
#endif

ALWAYS_INLINE void inner(int x)
{
    sink += x;
    record("inner");
    sink += x;
}

ALWAYS_INLINE void middle(int x)
{
    inner(x + 1);
    sink += x;
}

__attribute__((noinline)) void outer(int x)
{
    middle(x);
    sink++;
    middle_in_header(x);
    sink++;
}

__attribute__((noinline)) static void plain(void)
{
    record("plain");
    sink++;
}

int main(int argc, char **argv)
{
    (void)argv;
    outer(argc);
    plain();
    record("main");
#ifndef NO_SHARED
    lib_entry(argc);
#endif
    return sink == 0;
}
