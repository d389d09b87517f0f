/* schema.h - the database schema (docs/SCHEMA.md): creating it, upgrading an older one, and
   reading an older one unchanged.

   Version 2 (issues 5 and 6) added three columns to snapshots and the tables modules, symbols,
   timeline, peak_groups and alloc_groups; nothing was removed or changed. So a version-1
   database is upgraded in place by the first `load` into it (in that load's transaction), and
   a read-only command reads it as it is: empty temporary tables and a view stand in for what
   it lacks, so every query of version 2 runs and finds no native stacks, no timeline, no
   peak and no totals, which is true of every dump it holds. */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

#define SCHEMA_APPLICATION_ID 0x544D4442 /* 'TMDB': marks a database as this tool's */
#define SCHEMA_VERSION 2

/* Creates the schema, or upgrades an older one of this tool, in the open transaction (or
   alone). Returns 0, or -1 with the reason in error (of size) when the database has a newer
   schema than this tool knows or SQLite fails. */
int schema_create(sqlite3 *db, char *error, size_t size);

/* For a database opened read-only: checks that its schema is one this tool reads and makes an
   older one readable as the current one (temporary objects only). Returns 0 or -1 with the
   reason in error. */
int schema_prepare_read(sqlite3 *db, char *error, size_t size);

#endif
