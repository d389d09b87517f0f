/* store.h - the SQLite side: schema (docs/SCHEMA.md), loading dumps, opening sources.

   A source (SRC on the command line) is a dump or a database, told apart by its first bytes.
   A dump is loaded into a private in-memory database with the same schema, without the
   per-block traces table unless asked, so every question is answered by the same SQL. */
#ifndef STORE_H
#define STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "dump_read.h"

#define STORE_ERROR_SIZE 512

enum store_mode {
    STORE_READ,   /* an existing database, read-only (SQLITE_OPEN_READONLY) */
    STORE_WRITE,  /* a database to load into, created if missing */
    STORE_MEMORY, /* a private in-memory database */
};

/* Opens a database, registers the SQL functions and, for STORE_WRITE and STORE_MEMORY, makes
   sure the schema exists. Returns 0, or -1 with the reason in error (*db is then closed). */
int store_open(sqlite3 **db, const char *path, enum store_mode mode, char error[STORE_ERROR_SIZE]);

/* Reports how far a load is: done out of total traces. */
typedef void store_progress(void *context, uint64_t done, uint64_t total);

struct store_load {
    const char *source;      /* the dump's path, as given */
    const char *label;       /* overrides the dump's label when not NULL */
    int with_traces;         /* also fill the per-block traces table */
    store_progress *progress;
    void *progress_context;
};

/* Adds a parsed dump as one snapshot, in one transaction: on failure nothing is left of it.
   Returns 0 and the new snapshot's id, or -1 with the reason in error. */
int store_add_dump(sqlite3 *db, const struct dump *dump, const struct store_load *load,
                   int64_t *snapshot, char error[STORE_ERROR_SIZE]);

/* 1 when the file at path starts as an SQLite database does, 0 when not (or unreadable). */
int store_is_database(const char *path);

#endif
