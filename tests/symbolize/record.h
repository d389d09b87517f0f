/* record.h - prints where record() returns to: "TAG MODULE OFFSET", OFFSET being the return
   address minus the module's load bias (link_map's l_addr), as a dump's native frame holds it.
   Each module that includes this has its own copy; MODULE names the copy ("main" or "lib"). */
#ifndef RECORD_H
#define RECORD_H
#define _GNU_SOURCE /* dladdr1 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>

#ifndef MODULE
#error "define MODULE"
#endif

/* Calls are followed by a store to sink, so none is a tail call (which would lose the frame). */
extern volatile int sink;

static __attribute__((noinline)) void record(const char *tag)
{
    void *ra = __builtin_extract_return_addr(__builtin_return_address(0));
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(ra, &info, (void **)&map, RTLD_DL_LINKMAP) && map)
        printf("%s %s %#lx\n", tag, MODULE, (unsigned long)((uintptr_t)ra - map->l_addr));
    sink++;
}

#endif
