/* The tracker itself, compiled once and linked into every example: the one file of a program
   that defines TRACEMALLOC_IMPLEMENTATION (stb style). It does not define TRACEMALLOC_OVERRIDE:
   the tracker's own code calls the C library directly. */
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
