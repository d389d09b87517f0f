/* inlines.h - functions forced inline into their callers, in a header of their own so the
   innermost frame's file differs from its call site's (DW_AT_call_file). */
#ifndef INLINES_H
#define INLINES_H
#include "record.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE void leaf_in_header(int x)
{
    sink += x;
    record("leaf_in_header");
    sink += x;
}

ALWAYS_INLINE void middle_in_header(int x)
{
    sink += 2 * x;
    leaf_in_header(x + 1);
    sink += x;
}

#endif
