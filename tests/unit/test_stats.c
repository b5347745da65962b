/*
 * test_stats.c - percentiles, deviations and the weighted average against
 * slow references: a full sort with numpy's linear interpolation, a
 * two-pass variance and a direct weighted sum, over random windows.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xorshift.h"

#include "stats.h"


static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* numpy.percentile(v, 100 q), method "linear", from a sorted copy. */
static double ref_quantile(const double *v, size_t n, double q)
{
    double *s = malloc(n * sizeof(*s)), h, r, a, b, t;
    size_t k;

    assert_non_null(s);
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp);
    h = (double)(n - 1) * q;
    k = (size_t)h;
    t = h - (double)k;
    a = s[k];
    b = k + 1 < n ? s[k + 1] : a;
    r = t < 0.5 ? a + (b - a) * t : b - (b - a) * (1 - t);
    free(s);
    return r;
}

static double value_of_kind(int kind)
{
    switch (kind) {
    case 0:     /* few distinct values: many ties */
        return (double)(rnd() % 7);
    case 1:     /* wide magnitudes, both signs */
        return ldexp((double)(rnd() % 1000) - 500, (int)(rnd() % 200) - 100);
    default:
        return ((double)(rnd() % 2000001) - 1000000) / 1000.0;
    }
}

static void quantiles_match_sorting(void **state)
{
    static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.99, 1};
    size_t round;

    (void)state;
    for (round = 0; round < 600; round++) {
        size_t n = 1 + rnd() % (round < 300 ? 40 : 3000), i, j;
        double *v = malloc(n * sizeof(*v)), *work = malloc(n * sizeof(*v));
        double out[7];
        int kind = (int)(round % 3);

        assert_non_null(v);
        assert_non_null(work);
        for (i = 0; i < n; i++)
            v[i] = value_of_kind(kind);
        memcpy(work, v, n * sizeof(*v));
        stats_quantiles(work, n, qs, 7, out);
        for (j = 0; j < 7; j++)
            assert_true(out[j] == ref_quantile(v, n, qs[j]));
        free(v);
        free(work);
    }
}

/* A sorted, a reversed and a constant input take no special path. */
static void quantiles_of_ordered_inputs(void **state)
{
    static const double qs[] = {0.5, 0.9, 0.99};
    size_t n = 100001, i;
    double *v = malloc(n * sizeof(*v)), out[3];

    (void)state;
    assert_non_null(v);
    for (i = 0; i < n; i++)
        v[i] = (double)i;
    stats_quantiles(v, n, qs, 3, out);
    assert_true(out[0] == 50000 && out[1] == 90000 && out[2] == 99000);
    for (i = 0; i < n; i++)
        v[i] = (double)(n - i);
    stats_quantiles(v, n, qs, 3, out);
    assert_true(out[0] == 50001 && out[1] == 90001 && out[2] == 99001);
    for (i = 0; i < n; i++)
        v[i] = 4.25;
    stats_quantiles(v, n, qs, 3, out);
    assert_true(out[0] == 4.25 && out[1] == 4.25 && out[2] == 4.25);
    free(v);
}

static void check_window(const struct window_ring *w, const double *v,
                         const double *ts, size_t base, size_t first,
                         size_t last, const struct stats_options *opt)
{
    struct stats_result r;
    size_t n = last - first + 1, i;
    long double mean = 0, m2 = 0, num = 0, den = 0;
    double lo = INFINITY, hi = -INFINITY;

    assert_int_equal(stats_compute(w, first, last, opt, NULL, &r), 0);
    assert_int_equal(r.count, n);
    for (i = first; i <= last; i++) {
        double x = v[base + i];
        long double wt;

        mean += x;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
        wt = opt->halflife_seconds > 0
                 ? exp2l(-(ts[base + last] - ts[base + i]) /
                         opt->halflife_seconds)
                 : exp2l(-(long double)(last - i) / opt->halflife_points);
        num += wt * x;
        den += wt;
    }
    mean /= n;
    for (i = first; i <= last; i++)
        m2 += (v[base + i] - mean) * (v[base + i] - mean);
    assert_true(r.min == lo && r.max == hi);
    assert_true(fabsl(r.mean - mean) <= 1e-12L * (fabsl(mean) + 1));
    assert_true(fabsl(r.stddev - sqrtl(m2 / n)) <=
                1e-9L * (sqrtl(m2 / n) + 1e-300L));
    if (n > 1)
        assert_true(fabsl(r.stddev_sample - sqrtl(m2 / (n - 1))) <=
                    1e-9L * sqrtl(m2 / (n - 1)) + 1e-300L);
    else
        assert_true(isnan(r.stddev_sample));
    assert_true(r.p50 == ref_quantile(v + base + first, n, 0.5));
    assert_true(r.p90 == ref_quantile(v + base + first, n, 0.9));
    assert_true(r.p99 == ref_quantile(v + base + first, n, 0.99));
    assert_true(fabsl(r.ewma - num / den) <= 1e-10L * (fabsl(num / den) + 1));
}

static void window_figures_match_reference(void **state)
{
    size_t history = 500, total = 2300, i, k;
    double *v = malloc(total * sizeof(*v)), *ts = malloc(total * sizeof(*v));
    struct stats_options by_time = {7.5, 0, 1000}, by_points = {0, 20, 1000};
    struct window_ring w;

    (void)state;
    assert_non_null(v);
    assert_non_null(ts);
    assert_int_equal(window_init(&w, history), 0);
    for (i = 0; i < total; i++) {
        v[i] = value_of_kind((int)(i / 400) % 3);
        ts[i] = (double)i * 0.5 + (double)(rnd() % 3);
        if (i && ts[i] < ts[i - 1])
            ts[i] = ts[i - 1];
        window_push(&w, ts[i], v[i]);
        if (i % 53 == 0) {
            size_t len = w.len, base = i + 1 - len;
            size_t a = rnd() % len, b = rnd() % len;

            check_window(&w, v, ts, base, a < b ? a : b, a < b ? b : a,
                         i % 2 ? &by_time : &by_points);
        }
    }
    for (k = 0; k < 200; k++) {
        size_t a = rnd() % history, b = rnd() % history;

        check_window(&w, v, ts, total - history, a < b ? a : b,
                     a < b ? b : a, k % 2 ? &by_time : &by_points);
    }
    window_free(&w);
    free(v);
    free(ts);
}

/* Over the ceiling only the tree's figures come back; empty is empty. */
static void ceiling_and_empty(void **state)
{
    struct stats_options opt = {0, 10, 50};
    struct stats_result r;
    struct window_ring w;
    size_t i;

    (void)state;
    assert_int_equal(window_init(&w, 100), 0);
    assert_int_equal(stats_compute(&w, 0, 0, &opt, NULL, &r), 0);
    assert_int_equal(r.count, 0);
    assert_true(isnan(r.mean) && isnan(r.p50) && isnan(r.stddev));
    for (i = 0; i < 100; i++)
        window_push(&w, (double)i, (double)i);
    assert_int_equal(stats_compute(&w, 0, 99, &opt, NULL, &r), 0);
    assert_true(r.count == 100 && r.mean == 49.5 && r.max == 99);
    /* Over the ceiling: sketched, within 1% of a neighbour of rank 50. */
    assert_true(fabs(r.p50 - 50) <= 0.01 * 51 + 1);
    assert_false(isnan(r.ewma));
    assert_int_equal(stats_compute(&w, 50, 99, &opt, NULL, &r), 0);
    assert_true(r.p50 == 74.5);
    window_free(&w);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Above exact_max, each percentile is the interpolation of two order
 * statistics each estimated within 1%, so it lies within 1% of the larger
 * magnitude of the two of the exact answer: mixed signs, zeros, six
 * decades. */
static void sketch_within_bound(void **state)
{
    enum { N = 5000 };
    static const double qs[3] = {0.5, 0.9, 0.99};
    struct stats_options opt = {0, 10, 100};
    static double sorted[N];
    struct stats_result r;
    struct window_ring w;
    uint64_t x = 12345;
    size_t i;

    (void)state;
    assert_int_equal(window_init(&w, N), 0);
    for (i = 0; i < N; i++) {
        double mag, v;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        mag = pow(10.0, (double)(x % 6000) / 1000.0 - 3.0);
        v = x % 7 == 0 ? 0.0 : (x % 3 == 0 ? -mag : mag);
        window_push(&w, (double)i, v);
        sorted[i] = v;
    }
    qsort(sorted, N, sizeof(double), cmp_d);
    assert_int_equal(stats_compute(&w, 0, N - 1, &opt, NULL, &r), 0);
    assert_true(r.sketched);
    for (i = 0; i < 3; i++) {
        double got = i == 0 ? r.p50 : i == 1 ? r.p90 : r.p99;
        double h = qs[i] * (N - 1), t = h - floor(h);
        size_t k = (size_t)h;
        double exact = sorted[k] + t * (sorted[k + 1] - sorted[k]);
        double bound = 0.01 * fmax(fabs(sorted[k]), fabs(sorted[k + 1]));

        assert_true(fabs(got - exact) <= bound * (1 + 1e-9));
    }
    window_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantiles_match_sorting),
        cmocka_unit_test(quantiles_of_ordered_inputs),
        cmocka_unit_test(window_figures_match_reference),
        cmocka_unit_test(ceiling_and_empty),
        cmocka_unit_test(sketch_within_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
