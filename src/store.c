/*
 * store.c - series by name: a chained hash table plus a creation-order
 * array for listing.  The table doubles when it gets as full as it is
 * wide, so a lookup stays O(1) for any number of series up to the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standing.h"
#include "store.h"

struct store {
    struct series **buckets;
    size_t nbuckets;
    struct series **list;   /* creation order */
    size_t count;
    size_t list_cap;
    size_t history;
    size_t max_series;
    size_t bytes;           /* what the series and their rings hold */
    size_t max_bytes;
};

/* FNV-1a: short keys, no adversary can pick collisions cheaply enough to
 * matter with the series limit in place. */
static uint64_t hash_name(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;

    while (len--) {
        h ^= (unsigned char)*p++;
        h *= 1099511628211ULL;
    }
    return h;
}

struct store *store_new(size_t history, size_t max_series,
                        size_t max_bytes)
{
    struct store *st = calloc(1, sizeof(*st));

    if (!st)
        return NULL;
    st->nbuckets = 64;
    st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
    if (!st->buckets) {
        free(st);
        return NULL;
    }
    st->history = history;
    st->max_series = max_series;
    st->max_bytes = max_bytes;
    return st;
}

void store_free(struct store *st)
{
    size_t i;

    if (!st)
        return;
    for (i = 0; i < st->count; i++) {
        standing_free(st->list[i]->standing);
        window_free(&st->list[i]->ring);
        free(st->list[i]);
    }
    free(st->list);
    free(st->buckets);
    free(st);
}

struct series *store_find(const struct store *st, const char *name,
                          size_t len)
{
    struct series *s;

    s = st->buckets[hash_name(name, len) & (st->nbuckets - 1)];
    for (; s; s = s->hnext)
        if (s->name_len == len && !memcmp(s->name, name, len))
            return s;
    return NULL;
}

static int rehash(struct store *st)
{
    size_t n = st->nbuckets * 2, i;
    struct series **b = calloc(n, sizeof(*b));

    if (!b)
        return -1;
    for (i = 0; i < st->count; i++) {
        struct series *s = st->list[i];
        size_t k = hash_name(s->name, s->name_len) & (n - 1);

        s->hnext = b[k];
        b[k] = s;
    }
    free(st->buckets);
    st->buckets = b;
    st->nbuckets = n;
    return 0;
}

struct series *store_intern(struct store *st, const char *name, size_t len,
                            char *err, size_t errlen)
{
    struct series *s = store_find(st, name, len);
    size_t k;

    if (s)
        return s;

    if (st->count >= st->max_series) {
        snprintf(err, errlen, "series limit reached (%zu); new series are "
                 "refused until the limit (series.max_series) is raised",
                 st->max_series);
        return NULL;
    }
    if (st->count == st->list_cap) {
        size_t cap = st->list_cap ? st->list_cap * 2 : 16;
        struct series **l = realloc(st->list, cap * sizeof(*l));

        if (!l)
            goto oom;
        st->list = l;
        st->list_cap = cap;
    }
    if (st->count >= st->nbuckets && rehash(st) < 0)
        goto oom;

    if (st->bytes + sizeof(*s) > st->max_bytes)
        goto budget;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto oom;
    if (window_init(&s->ring, st->history) < 0) {
        free(s);
        goto oom;
    }
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->name_len = len;

    k = hash_name(name, len) & (st->nbuckets - 1);
    s->hnext = st->buckets[k];
    st->buckets[k] = s;
    st->list[st->count++] = s;
    st->bytes += sizeof(*s) + window_bytes(&s->ring);
    return s;

budget:
    snprintf(err, errlen, "the memory budget for history is spent "
             "(series.max_memory_mb); no new series until it is raised");
    return NULL;
oom:
    snprintf(err, errlen, "out of memory creating a series");
    return NULL;
}

int store_append(struct store *st, struct series *s, double ts,
                 double value, char *err, size_t errlen)
{
    struct window_ring *w = &s->ring;
    size_t before = window_bytes(w);

    /* A ring that must grow takes more: refuse the point if that would
     * pass the budget.  Full rings evict instead and never reach here. */
    if (w->len == w->cap && w->len < w->max_cap &&
        st->bytes - before + window_bytes_next(w) > st->max_bytes) {
        snprintf(err, errlen, "the memory budget for history is spent "
                 "(series.max_memory_mb); series that are full keep taking "
                 "points, growing ones do not");
        return -1;
    }
    if (w->len) {
        double newest = window_ts_at(w, w->len - 1);

        if (ts < newest) {
            ts = newest;
            s->late++;
        }
    }
    /* Standing windows read the point that leaves them from the ring,
     * so they move before the push can overwrite it. */
    standing_advance(s->standing, w, ts, value);
    if (window_push(w, ts, value) < 0) {
        standing_reset(s->standing);
        snprintf(err, errlen, "out of memory storing a point");
        return -1;
    }
    st->bytes += window_bytes(w) - before;
    return 0;
}

size_t store_count(const struct store *st)
{
    return st->count;
}

struct series *store_at(const struct store *st, size_t i)
{
    return i < st->count ? st->list[i] : NULL;
}

uint64_t store_points(const struct store *st)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < st->count; i++)
        n += st->list[i]->ring.len;
    return n;
}

size_t store_bytes(const struct store *st)
{
    return st->bytes;
}

size_t store_history(const struct store *st)
{
    return st->history;
}
