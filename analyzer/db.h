/* db.h - small helpers over the SQLite API, after Fossil's src/db.c.

   Parameters are bound by name and a name the statement does not have is a bug that stops the
   program at once (a typo must never pass silently as NULL). SQL text is fixed in the source;
   values from outside reach it only through these binds. */
#ifndef DB_H
#define DB_H

#include <sqlite3.h>
#include <stdint.h>

/* Prepares the SQL built from format by sqlite3_vmprintf (the caller passes only constants and
   fragments of its own, never input). Returns the SQLite result code. */
int db_prepare(sqlite3 *db, sqlite3_stmt **stmt, const char *format, ...);

/* The index of a named parameter, for binds in a hot loop. */
int db_parameter(sqlite3_stmt *stmt, const char *name);

void db_bind_int64(sqlite3_stmt *stmt, const char *name, int64_t value);
void db_bind_text(sqlite3_stmt *stmt, const char *name, const char *value);
void db_bind_blob(sqlite3_stmt *stmt, const char *name, const void *value, int length);
void db_bind_null(sqlite3_stmt *stmt, const char *name);

/* Runs one statement with no result rows. Returns the SQLite result code. */
int db_exec(sqlite3 *db, const char *sql);

#endif
