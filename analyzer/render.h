/* render.h - turns query rows into what `tracemalloc` prints (docs/OUTPUT.md).

   The render stage never knows the SQL: each renderer takes a prepared statement whose
   columns follow a documented layout (query.h) and a style, steps it and writes. Each returns
   SQLITE_DONE when every row was written, else the SQLite error code of the step. */
#ifndef RENDER_H
#define RENDER_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

enum render_style { STYLE_TEXT, STYLE_CSV, STYLE_JSON };

#define RENDER_DIFF 1u      /* StatisticDiff rows: size_diff and count_diff are shown */
#define RENDER_TRACEBACK 2u /* text: each statistic is followed by Traceback.format() */
#define RENDER_TEMPORARIES 4u /* allocation totals: each statistic shows its temporaries */

/* Rows as query_statistics() returns them. */
int render_statistics(sqlite3_stmt *stmt, enum render_style style, unsigned flags, FILE *out);

/* The Python documentation's "display the top N" recipe over lineno statistics (all of them:
   the report counts the others and the total). */
int render_top(sqlite3_stmt *stmt, int64_t limit, FILE *out);

/* Any statement, for `sql`: text is one line per row with `|` between values and a header. */
int render_table(sqlite3_stmt *stmt, enum render_style style, FILE *out);

/* Rows (name, value, kind) as query_info() returns them: "name: value" lines. */
int render_info(sqlite3_stmt *stmt, FILE *out);

/* Python's tracemalloc._format_size(size, sign), e.g. "1.5 KiB", "+12 B". */
void render_size(char *buffer, size_t length, double size, int sign);

#endif
