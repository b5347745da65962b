/*
 * stats.h - every figure /stats and the stream report for one window.
 *
 * count, sum, mean, min, max and both standard deviations come from the
 * window ring's block tree in O(log n).  The percentiles need every value
 * of the window: up to `exact_max` points (a ceiling the configuration
 * sets) they are exact, by selection over a copy (O(n) time, 8n bytes);
 * above it they come from a one-pass log-bucket sketch (O(n) time, no
 * copy, a few KB) within STATS_SKETCH_ALPHA of a value of the window whose
 * rank is within one of the exact rank.  The exponentially weighted
 * average reads only the points of the newest 64 half-lives, the older
 * ones weighing less than a double can hold.  Pure functions: no I/O, no
 * locking.
 */
#ifndef STREAMAVG_STATS_H
#define STREAMAVG_STATS_H

#include <stddef.h>

#include "window.h"

/* The sketch's relative error bound. */
#define STATS_SKETCH_ALPHA 0.01

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
};

/* The figures by name, in the order answers list them: count, sum, mean,
 * min, max, stddev, stddev_sample, p50, p90, p99, ewma. */
enum { STATS_FIELDS = 11 };
#define STATS_ALL ((1u << STATS_FIELDS) - 1)
/* The fields that need a copy of the window (percentiles and ewma). */
#define STATS_NEED_COPY (0xfu << 7)

const char *stats_field_name(int i);
double stats_field_value(const struct stats_result *r, int i);

/* The index of the field called name[0 .. len), or -1. */
int stats_field_lookup(const char *name, size_t len);

/* The figures of the points at logical indexes [first, last] of w.
 * An exact_max of 0 skips the copy.  Returns 0, or -1 when memory for the
 * copy ran out (the O(log n) figures are filled all the same). */
int stats_compute(const struct window_ring *w, size_t first, size_t last,
                  const struct stats_options *opt, struct stats_result *out);

/* Exact quantiles of v[0 .. n) as numpy's default ("linear"): for q the
 * value at rank h = (n - 1) q, interpolated between the order statistics
 * floor(h) and floor(h) + 1.  qs must ascend within [0, 1]; v is
 * reordered.  Expected O(n + nq) time, by selection, not sorting. */
void stats_quantiles(double *v, size_t n, const double *qs, size_t nq,
                     double *out);

#endif
