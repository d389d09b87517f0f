/* Must not compile: the implementation renames stb_ds's externs before including it, which
   cannot work once stb_ds.h was included in the same file (DESIGN.md: #error). */
#include <stb_ds.h>
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
