/*
 * window.h - the retained history of one series and the window maths on it.
 *
 * A window ring keeps the newest `capacity` points of one series in arrival
 * order and answers sums, minima and maxima over any run of them in
 * O(log n): points are grouped in blocks of WINDOW_BLOCK, and a binary tree
 * over the blocks keeps each block range's aggregate (count, sum, min, max
 * and the sum of squared deviations from the mean), recomputed from its
 * children on every change rather than by subtracting what left, so error
 * never builds up over a long stream.  Sums are carried as double-double
 * pairs, and an average is clamped into [min, max] of its points, so a
 * window of one constant averages to exactly that constant and a window of
 * non-negative values never averages below zero.
 *
 * The ring starts small and grows by a quarter as points arrive, up to its
 * capacity, so an idle series costs little and a growing one wastes at
 * most a fifth of its slots.  Timestamps are kept non-decreasing (the
 * caller clamps late points), which lets time windows be found by binary
 * search.  Pure data structure: no I/O, no locking.
 */
#ifndef STREAMAVG_WINDOW_H
#define STREAMAVG_WINDOW_H

#include <stddef.h>
#include <stdint.h>

/* Points per block.  32 rather than 16: the tree then costs 3.5 bytes per
 * slot instead of 7 (a node is 56 bytes, and there are two per block),
 * which with the ring's growth by a quarter keeps a series under 24 bytes
 * per point at any length; a query scans at most 2 x 31 points itself. */
#define WINDOW_BLOCK 32

struct window_agg {
    size_t count;
    double sum_hi;      /* double-double sum: sum_hi + sum_lo */
    double sum_lo;
    double min;
    double max;
    double m2;          /* sum of squared deviations from the mean */
    int inexact;        /* some addition in the double-double sum may
                           have rounded */
};

struct window_ring {
    double *ts;         /* timestamps, physical slots */
    double *val;        /* values, physical slots */
    struct window_agg *tree;    /* 2 * nblocks_pow2 nodes, 1-based heap */
    size_t cap;         /* slots allocated now (a multiple of WINDOW_BLOCK) */
    size_t max_cap;     /* the configured history */
    size_t tree_leaves; /* cap / WINDOW_BLOCK: one leaf per block */
    size_t head;        /* physical slot of the oldest point */
    size_t len;         /* points retained */
    uint64_t total;     /* points ever pushed */
};

/* Prepare an empty ring that will keep at most `history` points (>= 1).
 * Returns 0, or -1 when memory ran out. */
int window_init(struct window_ring *w, size_t history);

/* Release what window_init and window_push allocated. */
void window_free(struct window_ring *w);

/* Append one point, evicting the oldest when the ring is full.  The caller
 * guarantees a finite value and a timestamp not older than the newest.
 * Returns 0, or -1 when growing the ring failed (the point is not kept). */
int window_push(struct window_ring *w, double ts, double value);

/* Aggregate of the points at logical indexes [first, last] inclusive, where
 * 0 is the oldest retained point.  An empty or reversed range gives a count
 * of 0. */
void window_range(const struct window_ring *w, size_t first, size_t last,
                  struct window_agg *out);

/* As window_range without M2 (left 0): the count, sum, minimum and
 * maximum, bit for bit the same, for a caller that needs no deviation
 * (a plot's averages and band) and less work. */
void window_range_mean(const struct window_ring *w, size_t first,
                       size_t last, struct window_agg *out);

/* Aggregate of the newest `n` points (fewer when fewer are retained). */
void window_last(const struct window_ring *w, size_t n,
                 struct window_agg *out);

/* Logical index of the first point whose timestamp is > t, or w->len when
 * there is none.  O(log n). */
size_t window_first_after(const struct window_ring *w, double t);

/* The point at logical index i (0 = oldest); i must be < w->len. */
double window_ts_at(const struct window_ring *w, size_t i);
double window_value_at(const struct window_ring *w, size_t i);

/* The average of an aggregate: the sum over the count, clamped into the
 * range of the points; 0 when count is 0 (callers report null then). */
double window_agg_mean(const struct window_agg *a);

/* The variance of an aggregate's points: m2 / (count - ddof), 0 for a
 * constant window; NaN when count <= ddof, or when the squares overflow
 * (values beyond about 1e154). */
double window_agg_variance(const struct window_agg *a, int ddof);

/* Logical index of the oldest point of a window ending at logical index
 * `last`: the newest `points` points when points > 0, else the points
 * whose timestamps lie less than `seconds` before the one at `last`. */
size_t window_first_of(const struct window_ring *w, size_t last,
                       size_t points, double seconds);

/* Bytes a ring holds now, for the memory figures in /metrics. */
size_t window_bytes(const struct window_ring *w);

/* Bytes it will hold after the next window_push: more than now only when
 * that push has to grow the ring. */
size_t window_bytes_next(const struct window_ring *w);

#endif
