/* linecache.h - source lines for Traceback.format() and the `top` report, as Python's
   linecache.getline(filename, lineno).strip() gives them: the file is read relative to the
   current directory, split on universal newlines, and must be valid UTF-8 (else no line). */
#ifndef LINECACHE_H
#define LINECACHE_H

#include <stdint.h>

/* The stripped line, or "" when there is none. Valid until linecache_clear(). */
const char *linecache_getline(const char *filename, int64_t lineno);

void linecache_clear(void);

#endif
