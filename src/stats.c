/*
 * stats.c - the figures of one window: the tree's O(log n) aggregates,
 * percentiles from a standing window's order statistics when there is
 * one, else by selection over a copy (or, above exact_max, from a one-pass
 * rank sketch), and the exponentially weighted average.
 *
 * Selection is a quickselect with a three-way partition (a window of many
 * equal values is one pass, not a quadratic walk) around pivots drawn from
 * a private generator, so no input order can be chosen to make it slow;
 * should it still recurse far too often, the rest is sorted, which bounds
 * the worst case at O(n log n).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compensated.h"
#include "rank_sketch.h"
#include "standing.h"
#include "stats.h"

static uint64_t pivot_state = 0x9e3779b97f4a7c15ULL;

static size_t pick(size_t lo, size_t hi)
{
    pivot_state ^= pivot_state << 13;
    pivot_state ^= pivot_state >> 7;
    pivot_state ^= pivot_state << 17;
    return lo + (size_t)(pivot_state % (uint64_t)(hi - lo));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void swap(double *v, size_t i, size_t j)
{
    double t = v[i];

    v[i] = v[j];
    v[j] = t;
}

/* Reorder v[lo .. hi) so that v[k] holds the value of rank k, the values
 * before it are <= it and those after it >= it. */
static void select_rank(double *v, size_t lo, size_t hi, size_t k)
{
    int rounds = 0;

    while (hi - lo > 1) {
        double p = v[pick(lo, hi)];
        size_t lt = lo, i = lo, gt = hi;

        if (++rounds > 100) {
            qsort(v + lo, hi - lo, sizeof(*v), cmp_double);
            return;
        }
        /* [lo, lt) < p, [lt, i) == p, [gt, hi) > p */
        while (i < gt) {
            if (v[i] < p)
                swap(v, lt++, i++);
            else if (v[i] > p)
                swap(v, i, --gt);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return;
    }
}

/* numpy's interpolation: exact at both ends, and monotonic in t. */
static double lerp(double a, double b, double t)
{
    double d = b - a;

    if (!isfinite(d))
        return a * (1 - t) + b * t;
    return t < 0.5 ? a + d * t : b - d * (1 - t);
}

void stats_quantiles(double *v, size_t n, const double *qs, size_t nq,
                     double *out)
{
    size_t lo = 0, j;

    for (j = 0; j < nq; j++) {
        double h = (double)(n - 1) * qs[j], t, next;
        size_t k = (size_t)h, i;

        if (k > n - 1)
            k = n - 1;
        t = h - (double)k;
        /* Ranks ascend with q: everything below lo is already placed. */
        if (k >= lo) {
            select_rank(v, lo, n, k);
            lo = k;
        }
        if (t == 0 || k + 1 >= n) {
            out[j] = v[k];
            continue;
        }
        /* Rank k + 1 is the least value after rank k. */
        next = v[k + 1];
        for (i = k + 2; i < n; i++)
            if (v[i] < next)
                next = v[i];
        out[j] = lerp(v[k], next, t);
    }
}

/* Points older than this many half-lives weigh less than 2^-64 of the
 * newest: below a double's precision in the sums, unless their values are
 * larger than the rest by as much, so they are skipped only when the tree
 * shows that they are not, and the average costs O(points in 64
 * half-lives) rather than O(window). */
#define EWMA_HORIZON 64

/* The weighted sums of the points at [first, last], values times `scale`
 * (a power of two, so exact short of underflow).  The weights are 2^-age,
 * at most 1, computed afresh per point from its age, so no error builds up
 * across the window. */
static void ewma_sums(const struct window_ring *w, size_t first,
                      size_t last, const struct stats_options *opt,
                      double scale, double *num, double *den)
{
    double t_last = window_ts_at(w, last);
    double n = 0, n_c = 0, d = 0, d_c = 0;
    size_t i;

    for (i = first; i <= last; i++) {
        double age = opt->halflife_seconds > 0
                         ? (t_last - window_ts_at(w, i)) /
                               opt->halflife_seconds
                         : (double)(last - i) /
                               (double)opt->halflife_points;
        double wt = exp2(-age);

        compensated_add(&n, &n_c, wt * (window_value_at(w, i) * scale));
        compensated_add(&d, &d_c, wt);
    }
    *num = n + n_c;
    *den = d + d_c;
}

/* The weighted mean of the window with weights halving per half-life back
 * from its newest point.  The values are used as they are, so a weight of
 * zero makes a value of any size vanish; only when the sums overflow are
 * they taken again scaled down by a power of two. */
static double ewma(const struct window_ring *w, size_t first, size_t last,
                   const struct stats_options *opt, double min, double max)
{
    double top = fmax(fabs(min), fabs(max)), num, den, r;
    size_t horizon;
    int summed = 0, e = 0;

    if (top == 0)
        return 0.0;
    if (opt->halflife_seconds > 0)
        horizon = window_first_after(
            w, window_ts_at(w, last) -
                   EWMA_HORIZON * opt->halflife_seconds);
    else
        horizon = last + 1 > EWMA_HORIZON * opt->halflife_points
                      ? last + 1 - EWMA_HORIZON * opt->halflife_points
                      : 0;
    if (horizon > first) {
        struct window_agg rest;
        double rest_top;

        ewma_sums(w, horizon, last, opt, 1.0, &num, &den);
        window_range(w, first, horizon - 1, &rest);
        rest_top = fmax(fabs(rest.min), fabs(rest.max));
        /* The skipped points add at most this much to num: keep the
         * shortcut only when that is below half an ulp of it. */
        summed = isfinite(num) &&
                 (double)rest.count * ldexp(rest_top, -EWMA_HORIZON) <=
                     ldexp(fabs(num), -54);
        if (summed)
            first = horizon;
    }
    if (!summed)
        ewma_sums(w, first, last, opt, 1.0, &num, &den);
    if (!isfinite(num)) {
        e = ilogb(top);
        ewma_sums(w, first, last, opt, ldexp(1.0, -e), &num, &den);
    }
    if (den == 0 || isnan(num))
        return NAN;
    r = ldexp(num / den, e);
    return r < min ? min : r > max ? max : r;
}

/* The percentiles qs[0 .. nq) of n values, numpy's way, from any source
 * of order statistics: the value of rank k is rank(src, k). */
static void quantiles_by_rank(double (*rank)(const void *, size_t),
                              const void *src, size_t n, const double *qs,
                              size_t nq, double *out)
{
    size_t j;

    for (j = 0; j < nq; j++) {
        double h = (double)(n - 1) * qs[j], t;
        size_t k = (size_t)h;

        if (k > n - 1)
            k = n - 1;
        t = h - (double)k;
        out[j] = rank(src, k);
        if (t != 0 && k + 1 < n)
            out[j] = lerp(out[j], rank(src, k + 1), t);
    }
}

static double standing_rank(const void *src, size_t k)
{
    return standing_select(src, k);
}

static double sketch_rank(const void *src, size_t k)
{
    return rank_sketch_select(src, k);
}

/* A one-off window over exact_max points: one pass into a sketch. */
static int sketch_quantiles(const struct window_ring *w, size_t first,
                            size_t n, const double *qs, double *out)
{
    struct rank_sketch sk;
    size_t i;

    if (rank_sketch_init(&sk) < 0)
        return -1;
    for (i = 0; i < n; i++)
        rank_sketch_add(&sk, window_value_at(w, first + i));
    quantiles_by_rank(sketch_rank, &sk, n, qs, 3, out);
    rank_sketch_free(&sk);
    return 0;
}

static int copy_quantiles(const struct window_ring *w, size_t first,
                          size_t n, const double *qs, double *out)
{
    double *copy = malloc(n * sizeof(*copy));
    size_t i;

    if (!copy)
        return -1;
    for (i = 0; i < n; i++)
        copy[i] = window_value_at(w, first + i);
    stats_quantiles(copy, n, qs, 3, out);
    free(copy);
    return 0;
}

int stats_compute(const struct window_ring *w, size_t first, size_t last,
                  const struct stats_options *opt,
                  const struct standing_window *sw, struct stats_result *out)
{
    static const double qs[3] = {0.5, 0.9, 0.99};
    struct window_agg agg;
    double q[3];
    int j;

    window_range(w, first, last, &agg);
    out->count = agg.count;
    out->sum = agg.sum_hi + agg.sum_lo;
    out->mean = out->min = out->max = NAN;
    out->stddev = out->stddev_sample = NAN;
    out->p50 = out->p90 = out->p99 = out->ewma = NAN;
    out->sketched = 0;
    if (agg.count == 0)
        return 0;

    out->mean = window_agg_mean(&agg);
    out->min = agg.min;
    out->max = agg.max;
    out->stddev = sqrt(window_agg_variance(&agg, 0));
    out->stddev_sample = sqrt(window_agg_variance(&agg, 1));
    if (opt->exact_max == 0)
        return 0;
    if (sw && sw->count != agg.count)
        sw = NULL;      /* not this window: cannot happen, but be safe */
    out->ewma = sw ? standing_ewma(sw, w, opt->halflife_seconds,
                                   opt->halflife_points)
                   : NAN;
    if (isnan(out->ewma))
        out->ewma = ewma(w, first, first + agg.count - 1, opt, agg.min,
                         agg.max);
    else
        out->ewma = out->ewma < agg.min   ? agg.min
                    : out->ewma > agg.max ? agg.max
                                          : out->ewma;

    /* A sketch whose window shrank back to exact_max or less cannot give
     * the exact answer promised there: that one is computed afresh. */
    if (sw && (sw->exact || agg.count > opt->exact_max)) {
        quantiles_by_rank(standing_rank, sw, agg.count, qs, 3, q);
        out->sketched = !sw->exact;
    } else if (agg.count > opt->exact_max) {
        if (sketch_quantiles(w, first, agg.count, qs, q) < 0)
            return -1;
        out->sketched = 1;
    } else if (copy_quantiles(w, first, agg.count, qs, q) < 0) {
        return -1;
    }
    /* An estimate never leaves the range of the window. */
    for (j = 0; j < 3; j++)
        q[j] = q[j] < agg.min ? agg.min : q[j] > agg.max ? agg.max : q[j];
    out->p50 = q[0];
    out->p90 = q[1];
    out->p99 = q[2];
    return 0;
}

static const char *const FIELD_NAMES[STATS_FIELDS] = {
    "count", "sum", "mean", "min", "max", "stddev", "stddev_sample",
    "p50", "p90", "p99", "ewma",
};

const char *stats_field_name(int i)
{
    return FIELD_NAMES[i];
}

double stats_field_value(const struct stats_result *r, int i)
{
    const double v[STATS_FIELDS] = {
        (double)r->count, r->sum, r->mean, r->min, r->max, r->stddev,
        r->stddev_sample, r->p50, r->p90, r->p99, r->ewma,
    };

    return v[i];
}

int stats_field_lookup(const char *name, size_t len)
{
    int i;

    for (i = 0; i < STATS_FIELDS; i++)
        if (strlen(FIELD_NAMES[i]) == len && !memcmp(FIELD_NAMES[i], name,
                                                     len))
            return i;
    return -1;
}
