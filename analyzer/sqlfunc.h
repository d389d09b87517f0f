/* sqlfunc.h - the SQL functions every connection gets, and the frame sort key.

   fnmatch(name, pattern)          Python's fnmatch.fnmatch: 1 or 0
   match_frame(filename, lineno, pattern, filter_lineno)
                                   Python's Filter._match_frame_impl: the file name matches the
                                   pattern (both normalized as _normalize_filename does) and, when
                                   filter_lineno is not NULL, lineno equals it
   frame_key(filename, lineno)     a blob that sorts as Python sorts the frame (filename, lineno)

   A traceback's sort key is the concatenation of its frames' keys, oldest first: byte order of
   the keys is then Python's tuple order (a file name holds no NUL, so the NUL that ends it
   makes a shorter name sort first; the line number follows as 4 big-endian bytes). */
#ifndef SQLFUNC_H
#define SQLFUNC_H

#include <sqlite3.h>
#include <stdint.h>

int sqlfunc_register(sqlite3 *db);

/* Appends a frame's key to out. */
void sqlfunc_frame_key(sqlite3_str *out, const char *filename, uint32_t lineno);

#endif
