/* export.c - the model every exporter writes from: a snapshot's samples, frames and timeline,
   loaded once from the database; see export.h. */
#define _DEFAULT_SOURCE /* strdup, under -std=c11 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "stb_ds.h"

static const char *const value_names[] = {"inuse_space", "inuse_objects", "alloc_space",
                                          "alloc_objects", "peak"};

int export_parse_value(const char *name)
{
    for (int i = 0; i < (int)(sizeof value_names / sizeof value_names[0]); i++)
        if (strcmp(name, value_names[i]) == 0)
            return i;
    return -1;
}

enum query_source export_value_source(enum export_value value)
{
    switch (value) {
    case EXPORT_ALLOC_SPACE:
    case EXPORT_ALLOC_OBJECTS:
        return SOURCE_ALLOCATED;
    case EXPORT_PEAK:
        return SOURCE_PEAK;
    default:
        return SOURCE_LIVE;
    }
}

int64_t export_sample_value(const struct export_sample *sample, enum export_value value)
{
    switch (value) {
    case EXPORT_INUSE_OBJECTS:
        return sample->live_count;
    case EXPORT_ALLOC_SPACE:
        return sample->alloc_size;
    case EXPORT_ALLOC_OBJECTS:
        return sample->alloc_count;
    case EXPORT_PEAK:
        return sample->peak_size;
    default:
        return sample->live_size;
    }
}

static char *copy_text(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? strdup(text) : NULL;
}

/* The frame's index in data->frames, added on first use; index_of maps database frame ids
   (small dense integers) to indexes, -1 when not yet seen. */
static int frame_index(struct export_data *data, int **index_of, sqlite3_stmt *stmt)
{
    int64_t id = sqlite3_column_int64(stmt, 10);
    if (id < 0 || id > INT32_MAX)
        return -1;
    while (arrlen(*index_of) <= id)
        arrput(*index_of, -1);
    if ((*index_of)[id] < 0) {
        struct export_frame f = {copy_text(stmt, 11), sqlite3_column_int64(stmt, 12),
                                 copy_text(stmt, 13)};
        if (!f.filename)
            f.filename = strdup("");
        (*index_of)[id] = (int)arrlen(data->frames);
        arrput(data->frames, f);
    }
    return (*index_of)[id];
}

static int load_samples(sqlite3 *db, int64_t snapshot, const struct query_filters *filters,
                        struct export_data *data)
{
    sqlite3_stmt *stmt;
    int rc = query_samples(db, snapshot, filters, &stmt);
    if (rc != SQLITE_OK)
        return rc;
    int *index_of = NULL;
    int64_t n = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sqlite3_column_int64(stmt, 0) != n) { /* the first frame of the next sample */
            n = sqlite3_column_int64(stmt, 0);
            struct export_sample s = {(uint32_t)sqlite3_column_int64(stmt, 1),
                                      sqlite3_column_int64(stmt, 3), sqlite3_column_int64(stmt, 4),
                                      sqlite3_column_int64(stmt, 5), sqlite3_column_int64(stmt, 6),
                                      sqlite3_column_int64(stmt, 7), sqlite3_column_int64(stmt, 8),
                                      sqlite3_column_int64(stmt, 9), NULL};
            arrput(data->samples, s);
        }
        int frame = frame_index(data, &index_of, stmt);
        if (frame < 0) {
            rc = SQLITE_CORRUPT;
            break;
        }
        arrput(data->samples[arrlen(data->samples) - 1].frames, frame);
    }
    arrfree(index_of);
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? final : rc;
}

static int load_snapshot(sqlite3 *db, int64_t snapshot, struct export_data *data)
{
    sqlite3_stmt *stmt;
    int rc = query_snapshot(db, snapshot, &stmt);
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        data->time_ns = sqlite3_column_int64(stmt, 0);
        data->has_start = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
        data->start_ns = sqlite3_column_int64(stmt, 1);
        data->has_peak = sqlite3_column_type(stmt, 2) != SQLITE_NULL;
        data->peak_time_ns = sqlite3_column_int64(stmt, 2);
        data->peak_size = sqlite3_column_int64(stmt, 3);
        data->traced_peak = sqlite3_column_int64(stmt, 4);
        data->label = copy_text(stmt, 5);
        data->source = copy_text(stmt, 6);
        data->pid = sqlite3_column_int64(stmt, 7);
        rc = SQLITE_DONE;
    }
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? final : rc;
}

static int load_timeline(sqlite3 *db, int64_t snapshot, struct export_data *data)
{
    sqlite3_stmt *stmt;
    int rc = query_timeline(db, snapshot, &stmt);
    if (rc != SQLITE_OK)
        return rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct export_point p = {sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1),
                                 sqlite3_column_int64(stmt, 2)};
        arrput(data->timeline, p);
    }
    int final = sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? final : rc;
}

int export_load(sqlite3 *db, int64_t snapshot, const struct query_filters *filters,
                struct export_data *data)
{
    memset(data, 0, sizeof *data);
    int rc = load_snapshot(db, snapshot, data);
    if (rc == SQLITE_OK)
        rc = query_has_source(db, snapshot, SOURCE_ALLOCATED, &data->has_alloc);
    if (rc == SQLITE_OK)
        rc = load_samples(db, snapshot, filters, data);
    if (rc == SQLITE_OK)
        rc = load_timeline(db, snapshot, data);
    return rc;
}

void export_free(struct export_data *data)
{
    for (ptrdiff_t i = 0; i < arrlen(data->frames); i++) {
        free(data->frames[i].filename);
        free(data->frames[i].function);
    }
    arrfree(data->frames);
    for (ptrdiff_t i = 0; i < arrlen(data->samples); i++)
        arrfree(data->samples[i].frames);
    arrfree(data->samples);
    arrfree(data->timeline);
    free(data->label);
    free(data->source);
    memset(data, 0, sizeof *data);
}

int export_folded_compare(sqlite3 *db, int64_t old_snapshot, int64_t snapshot,
                          const struct query_filters *filters, enum export_value value,
                          FILE *out)
{
    struct export_data old, new;
    int rc = export_load(db, old_snapshot, filters, &old);
    if (rc == SQLITE_OK)
        rc = export_load(db, snapshot, filters, &new);
    else
        memset(&new, 0, sizeof new);
    if (rc == SQLITE_OK && export_folded_diff(&old, &new, value, out) < 0)
        rc = SQLITE_NOMEM;
    export_free(&old);
    export_free(&new);
    return rc;
}
