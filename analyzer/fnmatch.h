/* fnmatch.h - Python's fnmatch.fnmatch on POSIX, for the filename filters.

   Not the C library's fnmatch nor SQLite's GLOB: in Python, `*` crosses `/`, a leading `.` is
   not special, `[!x]` negates, `[]x]` holds a `]`, a `[` without its `]` is literal, and ranges
   are read the way CPython's Lib/fnmatch.py translate() reads them (an empty range such as
   `[z-a]` matches nothing). Both strings are UTF-8 and are matched by code point; bytes that are
   not valid UTF-8 stand for themselves, as Python's surrogateescape does. */
#ifndef FNMATCH_H
#define FNMATCH_H

#include <stddef.h>

struct fnmatch_pattern;

/* Returns a compiled pattern (free with fnmatch_free), or NULL when out of memory. */
struct fnmatch_pattern *fnmatch_compile(const char *pattern, size_t length);
int fnmatch_match(const struct fnmatch_pattern *pattern, const char *name, size_t length);
void fnmatch_free(struct fnmatch_pattern *pattern);

/* Python's tracemalloc._normalize_filename on POSIX: a trailing ".pyc" loses its "c".
   Returns the length of the normalized name. */
size_t fnmatch_normalized_length(const char *name, size_t length);

#endif
