/* The user's own copy of stb_ds, as a program that already uses it has: the tracker's copy must
   not clash with it at link time. */
#define STB_DS_IMPLEMENTATION
#include <stb_ds.h>
