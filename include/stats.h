/*
 * stats.h - every figure /stats and the stream report for one window.
 *
 * count, sum, mean, min, max and both standard deviations come from the
 * window ring's block tree in O(log n).  Percentiles come, in order of
 * preference, from a standing window (standing.h: O(log n) a question,
 * exact up to `exact_max` points, a sketch within RANK_SKETCH_ALPHA above
 * it), or for a one-off question from a copy of the window and a
 * selection (O(n) time, 8n bytes, exact) up to `exact_max` points and
 * from a one-pass sketch above it.  The exponentially weighted average
 * comes from the standing window when it keeps that half-life, else from
 * the points of the newest 64 half-lives, the older ones weighing less
 * than a double can hold.  Pure functions: no I/O, no locking.
 */
#ifndef STREAMAVG_STATS_H
#define STREAMAVG_STATS_H

#include <stddef.h>

#include "window.h"

struct standing_window;

/* How the exponentially weighted average weighs the window's points:
 * a point's weight halves every `halflife_seconds` of timestamp before
 * the newest point's when that is > 0, else every `halflife_points`
 * points before the newest. */
struct stats_options {
    double halflife_seconds;
    size_t halflife_points;
    size_t exact_max;       /* sketched percentiles above this count; 0:
                               no percentiles or ewma at all */
};

/* NaN marks a figure the window cannot give (empty window, one point for
 * the sample deviation, exact_max 0 for percentiles and ewma, squares
 * past the range of a double); answers print it as null. */
struct stats_result {
    size_t count;
    double sum, mean, min, max;
    double stddev, stddev_sample;
    double p50, p90, p99;
    double ewma;
    int sketched;           /* the percentiles are the sketch's */
};

/* The figures by name, in the order answers list them: count, sum, mean,
 * min, max, stddev, stddev_sample, p50, p90, p99, ewma. */
enum { STATS_FIELDS = 11 };
#define STATS_ALL ((1u << STATS_FIELDS) - 1)
/* The fields that read the window's points (percentiles and ewma), and
 * the percentiles alone. */
#define STATS_NEED_COPY (0xfu << 7)
#define STATS_PERCENTILES (0x7u << 7)
#define STATS_EWMA (1u << 10)

const char *stats_field_name(int i);
double stats_field_value(const struct stats_result *r, int i);

/* The index of the field called name[0 .. len), or -1. */
int stats_field_lookup(const char *name, size_t len);

/* The figures of the points at logical indexes [first, last] of w.
 * sw, when not NULL, is the standing window of exactly those points and
 * gives the percentiles.  An exact_max of 0 skips percentiles and ewma.
 * Returns 0, or -1 when memory for the copy or the sketch ran out (the
 * O(log n) figures are filled all the same). */
int stats_compute(const struct window_ring *w, size_t first, size_t last,
                  const struct stats_options *opt,
                  const struct standing_window *sw, struct stats_result *out);

/* Exact quantiles of v[0 .. n) as numpy's default ("linear"): for q the
 * value at rank h = (n - 1) q, interpolated between the order statistics
 * floor(h) and floor(h) + 1.  qs must ascend within [0, 1]; v is
 * reordered.  Expected O(n + nq) time, by selection, not sorting. */
void stats_quantiles(double *v, size_t n, const double *qs, size_t nq,
                     double *out);

#endif
