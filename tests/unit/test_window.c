/*
 * test_window.c - the window maths against a from-scratch recomputation.
 *
 * The reference sums the window's values with a long double Kahan sum and
 * finds min and max by a plain scan; every query the ring answers through
 * its block tree is checked against it, over random streams long enough
 * to wrap the ring many times.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "xorshift.h"

#include "window.h"


static double rnd_value(void)
{
    return ((double)(rnd() % 2000001) - 1000000.0) / 1000.0;
}

/* The reference: what the newest n of values[0..count) average to. */
static long double ref_mean(const double *v, size_t count, size_t n)
{
    long double sum = 0, c = 0;
    size_t i;

    for (i = count - n; i < count; i++) {
        long double y = (long double)v[i] - c, t = sum + y;

        c = (t - sum) - y;
        sum = t;
    }
    return sum / (long double)n;
}

/* Two-pass population variance of values[from .. to) in long double. */
static long double ref_variance(const double *v, size_t from, size_t to)
{
    long double mean = 0, m2 = 0;
    size_t i;

    for (i = from; i < to; i++)
        mean += v[i];
    mean /= (long double)(to - from);
    for (i = from; i < to; i++)
        m2 += ((long double)v[i] - mean) * ((long double)v[i] - mean);
    return m2 / (long double)(to - from);
}

static void check_variance(const struct window_agg *a, const double *v,
                           size_t from, size_t to)
{
    long double ref = ref_variance(v, from, to);

    assert_true(fabsl((long double)window_agg_variance(a, 0) - ref) <=
                1e-10L * ref + 1e-300L);
    if (to - from > 1)
        assert_true(fabsl((long double)window_agg_variance(a, 1) -
                          ref * (to - from) / (to - from - 1)) <=
                    1e-10L * ref * 2 + 1e-300L);
    else
        assert_true(isnan(window_agg_variance(a, 1)));
}

static void check_last(const struct window_ring *w, const double *v,
                       size_t count, size_t n)
{
    struct window_agg a;
    size_t want = n < w->len ? n : w->len;
    double lo = INFINITY, hi = -INFINITY;
    long double ref;
    size_t i;

    window_last(w, n, &a);
    assert_int_equal(a.count, want);
    for (i = count - want; i < count; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    assert_true(a.min == lo);
    assert_true(a.max == hi);
    ref = ref_mean(v, count, want);
    assert_true(fabsl((long double)window_agg_mean(&a) - ref) <=
                1e-12L * (fabsl(ref) + 1));
    check_variance(&a, v, count - want, count);
}

static void random_stream_matches_reference(void **state)
{
    static const size_t histories[] = {1, 15, 16, 17, 100, 1000, 4099};
    size_t h;

    (void)state;
    for (h = 0; h < sizeof(histories) / sizeof(histories[0]); h++) {
        size_t history = histories[h], total = history * 5 + 37, i;
        double *v = malloc(total * sizeof(*v));
        struct window_ring w;

        assert_non_null(v);
        assert_int_equal(window_init(&w, history), 0);
        for (i = 0; i < total; i++) {
            v[i] = rnd_value();
            assert_int_equal(window_push(&w, (double)i, v[i]), 0);
            assert_int_equal(w.len, i + 1 < history ? i + 1 : history);
            check_last(&w, v, i + 1, 1);
            check_last(&w, v, i + 1, 1 + rnd() % history);
            check_last(&w, v, i + 1, history + 5);
        }
        assert_int_equal(w.total, total);
        window_free(&w);
        free(v);
    }
}

static void arbitrary_ranges_match_reference(void **state)
{
    size_t history = 777, total = 3000, i, k;
    double *v = malloc(total * sizeof(*v));
    struct window_ring w;

    (void)state;
    assert_non_null(v);
    assert_int_equal(window_init(&w, history), 0);
    for (i = 0; i < total; i++) {
        v[i] = rnd_value();
        window_push(&w, (double)i, v[i]);
    }
    for (k = 0; k < 2000; k++) {
        size_t a = rnd() % history, b = rnd() % history, first, last;
        size_t base = total - history;
        struct window_agg agg;
        long double sum = 0;

        first = a < b ? a : b;
        last = a < b ? b : a;
        window_range(&w, first, last, &agg);
        assert_int_equal(agg.count, last - first + 1);
        for (i = first; i <= last; i++)
            sum += v[base + i];
        assert_true(fabsl((long double)window_agg_mean(&agg) -
                          sum / (long double)(last - first + 1)) <= 1e-9L);
        check_variance(&agg, v, base + first, base + last + 1);
        assert_true(window_value_at(&w, first) == v[base + first]);
    }
    window_free(&w);
    free(v);
}

/* The tree's leaf of every block that is wholly retained holds exactly
 * (bit for bit) the aggregate of that block's points recomputed from
 * scratch, however many times the ring has wrapped: leaves are written
 * once per block, when it fills, so this is what keeps the tree exact.
 * A range inside one block is answered by scanning it. */
static void whole_block_leaves_are_exact(void **state)
{
    static const size_t histories[] = {16, 31, 32, 33, 40, 100, 1000};
    size_t h, i, b;

    (void)state;
    for (h = 0; h < sizeof(histories) / sizeof(histories[0]); h++) {
        struct window_ring w;

        assert_int_equal(window_init(&w, histories[h]), 0);
        for (i = 0; i < histories[h] * 4 + 23; i++) {
            double v = i % 3 ? rnd_value() : 1e9 + rnd_value();

            assert_int_equal(window_push(&w, (double)i, v), 0);
            for (b = 0; b < w.cap / WINDOW_BLOCK; b++) {
                size_t first = (b * WINDOW_BLOCK + w.cap - w.head) % w.cap;
                const struct window_agg *leaf = &w.tree[w.tree_leaves + b];
                struct window_agg a;

                if (first + WINDOW_BLOCK > w.len)
                    continue;       /* not wholly retained */
                window_range(&w, first, first + WINDOW_BLOCK - 1, &a);
                assert_int_equal(leaf->count, WINDOW_BLOCK);
                assert_memory_equal(&leaf->sum_hi, &a.sum_hi, sizeof(double));
                assert_memory_equal(&leaf->sum_lo, &a.sum_lo, sizeof(double));
                assert_memory_equal(&leaf->min, &a.min, sizeof(double));
                assert_memory_equal(&leaf->max, &a.max, sizeof(double));
                assert_memory_equal(&leaf->m2, &a.m2, sizeof(double));
            }
        }
        window_free(&w);
    }
}

/* After any history of huge values, a window of zeros is exactly 0 and a
 * window of one constant is exactly that constant. */
static void constants_are_exact_after_huge_values(void **state)
{
    struct window_ring w;
    struct window_agg a;
    size_t i;

    (void)state;
    assert_int_equal(window_init(&w, 1000), 0);
    for (i = 0; i < 5000; i++)
        window_push(&w, (double)i, (i % 2 ? 1e300 : -1e300) * (double)i);
    for (i = 0; i < 10; i++)
        window_push(&w, 5000.0 + (double)i, 0.0);
    window_last(&w, 10, &a);
    assert_true(window_agg_mean(&a) == 0.0);

    for (i = 0; i < 7; i++)
        window_push(&w, 6000.0 + (double)i, 0.1);
    window_last(&w, 7, &a);
    assert_true(window_agg_mean(&a) == 0.1);

    /* Tiny non-negative values next to a rounding-prone sum stay >= 0. */
    for (i = 0; i < 100; i++)
        window_push(&w, 7000.0 + (double)i, i % 3 ? 1e-300 : 0.0);
    window_last(&w, 100, &a);
    assert_true(window_agg_mean(&a) >= 0.0);
    window_free(&w);
}

/* A window whose sum overflows a double still gives a finite answer. */
static void overflowing_sum_stays_finite(void **state)
{
    struct window_ring w;
    struct window_agg a;

    (void)state;
    assert_int_equal(window_init(&w, 10), 0);
    window_push(&w, 1, 1.7e308);
    window_push(&w, 2, 1.6e308);
    window_last(&w, 2, &a);
    assert_true(isfinite(window_agg_mean(&a)));
    assert_true(window_agg_mean(&a) >= 1.6e308);
    window_free(&w);
}

/* Values with a large common offset: a naive sum of squares minus the
 * squared sum loses every digit here; the pairwise update keeps them. */
static void variance_survives_large_offset(void **state)
{
    size_t history = 1000, total = 5000, i;
    double *v = malloc(total * sizeof(*v));
    struct window_ring w;
    struct window_agg a;

    (void)state;
    assert_non_null(v);
    assert_int_equal(window_init(&w, history), 0);
    for (i = 0; i < total; i++) {
        v[i] = 1e9 + (double)(rnd() % 1000) / 100.0;
        window_push(&w, (double)i, v[i]);
        if (i % 97 == 0) {
            size_t n = 1 + rnd() % (i + 1 < history ? i + 1 : history);

            window_last(&w, n, &a);
            check_variance(&a, v, i + 1 - n, i + 1);
        }
    }
    /* A constant window has exactly no spread. */
    for (i = 0; i < 40; i++)
        window_push(&w, 9000.0, 3.3);
    window_last(&w, 40, &a);
    assert_true(window_agg_variance(&a, 0) == 0.0);
    assert_true(window_agg_variance(&a, 1) == 0.0);
    window_free(&w);
    free(v);
}

/* Both kinds of window: the newest N points, and the points less than a
 * span before the last one. */
static void window_first_of_both_kinds(void **state)
{
    struct window_ring w;

    (void)state;
    assert_int_equal(window_init(&w, 100), 0);
    for (int i = 0; i < 20; i++)
        window_push(&w, (double)i, (double)i);
    assert_int_equal(window_first_of(&w, 19, 5, 0), 15);
    assert_int_equal(window_first_of(&w, 3, 10, 0), 0);
    assert_int_equal(window_first_of(&w, 19, 0, 5.0), 15);
    assert_int_equal(window_first_of(&w, 10, 0, 2.5), 8);
    assert_int_equal(window_first_of(&w, 19, 0, 1e9), 0);
    window_free(&w);
}

static void time_search_finds_first_after(void **state)
{
    struct window_ring w;
    size_t i;

    (void)state;
    assert_int_equal(window_init(&w, 50), 0);
    assert_int_equal(window_first_after(&w, 0), 0);
    /* 100 points at t = 0, 0.5, 1.0, ...; the ring keeps the last 50,
     * t = 25.0 .. 49.5. */
    for (i = 0; i < 100; i++)
        window_push(&w, (double)i / 2, (double)i);
    assert_int_equal(window_first_after(&w, 0), 0);
    assert_int_equal(window_first_after(&w, 25.0), 1);
    assert_int_equal(window_first_after(&w, 30.2), 11);
    assert_int_equal(window_first_after(&w, 49.5), 50);
    assert_true(window_ts_at(&w, 0) == 25.0);
    window_free(&w);
}

static void empty_ring_answers_nothing(void **state)
{
    struct window_ring w;
    struct window_agg a;

    (void)state;
    assert_int_equal(window_init(&w, 8), 0);
    window_last(&w, 5, &a);
    assert_int_equal(a.count, 0);
    window_range(&w, 3, 1, &a);
    assert_int_equal(a.count, 0);
    window_free(&w);
    assert_int_equal(window_init(&w, 0) < 0, 1);
}

/* Values across 600 decades that cancel in pairs, shuffled, around one
 * value kept aside: the sum is that value exactly, so the mean is it over
 * the count, correctly rounded - however much the double-double lost. */
static void cancelling_windows_sum_exactly(void **state)
{
    enum { PAIRS = 500, N = 2 * PAIRS + 1 };
    static double v[N];
    struct window_ring w;
    struct window_agg a;
    int round;

    (void)state;
    for (round = 0; round < 20; round++) {
        double keep = ldexp((double)(rnd() >> 11), (int)(rnd() % 40) - 70);
        size_t i, j;

        for (i = 0; i < PAIRS; i++) {
            uint64_t x = rnd();

            v[2 * i] = ldexp((double)(x >> 11), (int)(x % 2000) - 1050);
            v[2 * i + 1] = -v[2 * i];
        }
        v[N - 1] = keep;
        for (i = N - 1; i > 0; i--) {
            double t;

            j = rnd() % (i + 1);
            t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        assert_int_equal(window_init(&w, N), 0);
        for (i = 0; i < N; i++)
            assert_int_equal(window_push(&w, (double)i, v[i]), 0);
        window_last(&w, N, &a);
        assert_true(a.sum_hi + a.sum_lo == keep);
        assert_true(window_agg_mean(&a) == keep / N);
        window_free(&w);
    }
}

/* window_range_mean is window_range without M2: the same count, sum,
 * minimum and maximum, bit for bit, over any range. */
static void mean_range_matches_full_range(void **state)
{
    struct window_ring w;
    struct window_agg a, b;
    size_t i;

    (void)state;
    assert_int_equal(window_init(&w, 3000), 0);
    for (i = 0; i < 7000; i++) {
        uint64_t x = rnd();

        window_push(&w, (double)i, ldexp((double)(x >> 11),
                                         (int)(x % 80) - 100));
    }
    for (i = 0; i < 5000; i++) {
        size_t first = rnd() % w.len, last = first + rnd() % (w.len - first);

        window_range(&w, first, last, &a);
        window_range_mean(&w, first, last, &b);
        assert_true(a.count == b.count && a.sum_hi == b.sum_hi &&
                    a.sum_lo == b.sum_lo && a.min == b.min &&
                    a.max == b.max);
        assert_true(window_agg_mean(&a) == window_agg_mean(&b));
    }
    window_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_stream_matches_reference),
        cmocka_unit_test(arbitrary_ranges_match_reference),
        cmocka_unit_test(whole_block_leaves_are_exact),
        cmocka_unit_test(constants_are_exact_after_huge_values),
        cmocka_unit_test(overflowing_sum_stays_finite),
        cmocka_unit_test(time_search_finds_first_after),
        cmocka_unit_test(variance_survives_large_offset),
        cmocka_unit_test(window_first_of_both_kinds),
        cmocka_unit_test(empty_ring_answers_nothing),
        cmocka_unit_test(cancelling_windows_sum_exactly),
        cmocka_unit_test(mean_range_matches_full_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
