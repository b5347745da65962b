/*
 * store.h - the named series and their retained history.
 *
 * A store maps series names to series; each series keeps its newest points
 * in a window ring (window.h).  The store knows nothing of the network:
 * the layers above hang their own state on a series through `watch`.
 */
#ifndef STREAMAVG_STORE_H
#define STREAMAVG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "window.h"

struct standing_set;

struct series {
    char name[SERIES_NAME_MAX + 1];
    size_t name_len;
    struct window_ring ring;
    uint64_t late;          /* points whose timestamp was raised */
    void *watch;            /* owned by the stream layer */
    struct standing_set *standing;  /* standing windows, or NULL */
    struct series *hnext;   /* hash chain */
};

struct store;

/* A store whose series keep `history` points each, with at most
 * `max_series` series holding at most `max_bytes` of history together.
 * Returns NULL when memory ran out. */
struct store *store_new(size_t history, size_t max_series, size_t max_bytes);

/* Free every series and the store.  Watches must be released first. */
void store_free(struct store *st);

/* The series with that name, or NULL. */
struct series *store_find(const struct store *st, const char *name,
                          size_t len);

/* The series with that name, created when missing.  The name must already
 * be valid (ingest_series_name_ok).  Returns NULL with a sentence in err
 * when the series limit is reached or memory ran out. */
struct series *store_intern(struct store *st, const char *name, size_t len,
                            char *err, size_t errlen);

/* Append one point to s, a series of st.  A timestamp older than the
 * series' newest is raised to it, so the ring stays in time order, and
 * counted in `late`.  Returns 0, or -1 with a sentence in err when the
 * ring would have to grow past the store's memory budget, or memory ran
 * out.  A full ring never grows: its oldest point makes room. */
int store_append(struct store *st, struct series *s, double ts,
                 double value, char *err, size_t errlen);

/* Series in creation order: index 0 .. store_count() - 1. */
size_t store_count(const struct store *st);
struct series *store_at(const struct store *st, size_t i);

/* Points retained over all series, and the bytes their rings hold. */
uint64_t store_points(const struct store *st);
size_t store_bytes(const struct store *st);

size_t store_history(const struct store *st);

#endif
