/* db.c - named binds and formatted prepares; see db.h. */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int db_prepare(sqlite3 *db, sqlite3_stmt **stmt, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *sql = sqlite3_vmprintf(format, ap);
    va_end(ap);
    if (!sql)
        return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(db, sql, -1, stmt, NULL);
    sqlite3_free(sql);
    return rc;
}

/* A missing name is a bug in this program. */
int db_parameter(sqlite3_stmt *stmt, const char *name)
{
    int i = sqlite3_bind_parameter_index(stmt, name);
    if (i == 0) {
        fprintf(stderr, "tracemalloc: internal error: no parameter %s in: %s\n", name,
                sqlite3_sql(stmt));
        abort();
    }
    return i;
}

void db_bind_int64(sqlite3_stmt *stmt, const char *name, int64_t value)
{
    sqlite3_bind_int64(stmt, db_parameter(stmt, name), value);
}

void db_bind_text(sqlite3_stmt *stmt, const char *name, const char *value)
{
    sqlite3_bind_text(stmt, db_parameter(stmt, name), value, -1, SQLITE_TRANSIENT);
}

void db_bind_blob(sqlite3_stmt *stmt, const char *name, const void *value, int length)
{
    sqlite3_bind_blob(stmt, db_parameter(stmt, name), value, length, SQLITE_TRANSIENT);
}

void db_bind_null(sqlite3_stmt *stmt, const char *name)
{
    sqlite3_bind_null(stmt, db_parameter(stmt, name));
}

int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}
