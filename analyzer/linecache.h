/* linecache.h - source lines for Traceback.format() and the `top` report, as Python's
   linecache.getline(filename, lineno).strip() gives them: the file is read relative to the
   current directory and decoded as tokenize.open() does (tokenize.h: BOM, coding cookie,
   UTF-8; a file Python cannot decode has no lines), split on universal newlines, and each line
   stripped of Python's whitespace (str.strip(): Unicode blanks too). Lines are UTF-8. */
#ifndef LINECACHE_H
#define LINECACHE_H

#include <stddef.h>
#include <stdint.h>

/* The stripped line and its length in *len (it may hold NULs, as Python's lines do), or ""
   and 0 when there is none. Valid until linecache_clear(). */
const char *linecache_getline(const char *filename, int64_t lineno, size_t *len);

void linecache_clear(void);

#endif
