/*
 * test_standing.c - standing windows kept current through store_append,
 * checked after every point against the window the test works out itself
 * from the points it sent.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "standing.h"
#include "store.h"
#include "xorshift.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The window the test expects: the newest `points` (or those with
 * timestamp > newest - seconds) among the newest `history` points sent.
 * Returns the index of its first point; out gets its values, sorted. */
static size_t expected_window(const double *ts, const double *v, size_t sent,
                              size_t history, size_t points, double seconds,
                              double *out)
{
    size_t lo = sent > history ? sent - history : 0, i, n = 0;

    if (points && sent - lo > points)
        lo = sent - points;
    while (!points && !(ts[lo] > ts[sent - 1] - seconds))
        lo++;
    for (i = lo; i < sent; i++)
        out[n++] = v[i];
    qsort(out, n, sizeof(double), cmp_d);
    return lo;
}

/* The ewma of v[lo .. sent), straight from its definition, in long
 * double. */
static double expected_ewma(const double *ts, const double *v, size_t lo,
                            size_t sent, double hs, size_t hp)
{
    long double num = 0, den = 0;
    size_t i;

    for (i = lo; i < sent; i++) {
        long double age = hs > 0 ? (ts[sent - 1] - ts[i]) / hs
                                 : (long double)(sent - 1 - i) / hp;
        long double wt = exp2l(-age);

        num += wt * v[i];
        den += wt;
    }
    return (double)(num / den);
}

struct scenario {
    size_t history, points;
    double seconds;
    size_t exact_max;
    size_t sends;
    double halflife_seconds;
    size_t halflife_points;
};

static void run(const struct scenario *sc)
{
    size_t sends = sc->sends;
    struct standing_pool pool = {sc->exact_max, 64 << 20, 4, 1e9, 0, 0, 0,
                                 0};
    double *ts = malloc(sends * sizeof(double));
    double *v = malloc(sends * sizeof(double));
    double *want = malloc(sends * sizeof(double));
    struct store *st = store_new(sc->history, 4, 1 << 30);
    const struct standing_window *sw;
    struct series *s;
    char err[200];
    double t = 1000, want_ewma, got_ewma;
    size_t i, k, n, lo;

    assert_non_null(st);
    s = store_intern(st, "x", 1, err, sizeof(err));
    assert_non_null(s);
    for (i = 0; i < sends; i++) {
        uint64_t x = rnd();

        /* Bursts at one timestamp, small steps and long gaps. */
        t += x % 10 == 0 ? 0 : x % 97 == 0 ? 50 : (double)(x % 5);
        ts[i] = t;
        /* Now and then a huge value: the ewma must forget it exactly
         * once it leaves the window. */
        v[i] = x % 61 == 0  ? 1e200
               : x % 4 == 0 ? (double)(x % 13)
                            : ldexp((double)(x >> 12), (int)(x % 40) - 60);
        assert_int_equal(store_append(st, s, ts[i], v[i], err, sizeof(err)),
                         0);
        /* The first question makes a candidate, the second builds. */
        sw = standing_ask(&s->standing, &pool, &s->ring, sc->points,
                          sc->seconds, sc->halflife_seconds,
                          sc->halflife_points, (double)i);
        if (i < 1) {
            assert_null(sw);
            continue;
        }
        assert_non_null(sw);
        lo = expected_window(ts, v, i + 1, sc->history, sc->points,
                             sc->seconds, want);
        n = i + 1 - lo;
        assert_int_equal(sw->count, n);
        want_ewma = expected_ewma(ts, v, lo, i + 1, sc->halflife_seconds,
                                  sc->halflife_points);
        got_ewma = standing_ewma(sw, &s->ring, sc->halflife_seconds,
                                 sc->halflife_points);
        assert_true(fabs(got_ewma - want_ewma) <= 1e-13 * fabs(want_ewma));
        /* Exact up to exact_max.  A sketch whose window shrank back to
         * exact_max or less stays one until half of it; stats_compute
         * answers those ranks afresh. */
        if (!sw->exact) {
            assert_true(n > sc->exact_max / 2);
            if (n <= sc->exact_max)
                continue;
        }
        assert_true(sw->exact || n > sc->exact_max);
        for (k = 0; k < n; k += 1 + n / 50) {
            double got = standing_select(sw, k);

            if (sw->exact)
                assert_true(got == want[k]);
            else
                assert_true(fabs(got - want[k]) <=
                            RANK_SKETCH_ALPHA * fabs(want[k]) * (1 + 1e-9));
        }
    }
    store_free(st);
    free(ts);
    free(v);
    free(want);
}

/* history, window (points or seconds), exact_max, points sent, and the
 * ewma's half-life (seconds or points) */
static const struct scenario count_slides = {300, 100, 0, 1000, 3000, 0, 7};
/* The window is the whole history: the ring's eviction moves it.  A
 * half-life longer than the window: every point weighs. */
static const struct scenario count_whole_history = {128, 128, 0, 1000,
                                                    2000, 0, 1000};
static const struct scenario time_slides = {500, 0, 30, 1000, 3000, 3, 0};
/* A time window wider than the history: bounded by the ring. */
static const struct scenario time_past_history = {64, 0, 1e6, 1000, 1500,
                                                  0.5, 0};
static const struct scenario sketched = {400, 300, 0, 50, 1500, 20, 0};
/* A time window whose count swings across exact_max both ways: bursts
 * grow it past the bound, gaps shrink it back. */
static const struct scenario time_across_exact_max = {500, 0, 30, 8, 4000,
                                                      0, 3};

static void scenario(void **state)
{
    run(*state);
}

/* Limits: the series' cap, the memory ceiling, and idle windows. */
static void limits_hold(void **state)
{
    struct standing_pool pool = {1000, 64 << 20, 2, 10, 0, 0, 0, 0};
    struct store *st = store_new(1000, 4, 1 << 30);
    struct series *s;
    char err[200];
    size_t i, w;

    (void)state;
    s = store_intern(st, "x", 1, err, sizeof(err));
    for (i = 0; i < 500; i++)
        store_append(st, s, (double)i, (double)(i % 17), err, sizeof(err));
    /* Three seconds apart: the stalest live window makes room. */
    for (w = 10; w <= 40; w += 10) {
        double t = 0.3 * (double)w;

        standing_ask(&s->standing, &pool, &s->ring, w, 0, 0, 0, t);
        assert_non_null(standing_ask(&s->standing, &pool, &s->ring, w, 0,
                                     0, 0, t + 0.5));
        assert_true(pool.live <= 2);
    }
    assert_int_equal(pool.live, 2);
    assert_int_equal(pool.built, 4);

    /* Both live windows were asked about within idle_s / 5: a fifth
     * window is answered the one-off way instead of evicting one. */
    assert_non_null(standing_ask(&s->standing, &pool, &s->ring, 30, 0, 0,
                                 0, 12.6));
    standing_ask(&s->standing, &pool, &s->ring, 50, 0, 0, 0, 12.7);
    assert_null(standing_ask(&s->standing, &pool, &s->ring, 50, 0, 0, 0,
                             12.8));
    assert_int_equal(pool.live, 2);
    assert_int_equal(pool.built, 4);

    /* Nobody asks for 10 s: all go, and their bytes with them. */
    standing_sweep(s->standing, 23);
    assert_int_equal(pool.live, 0);
    assert_int_equal(pool.bytes, 0);

    /* A ceiling below one window: answered the one-off way. */
    pool.max_bytes = 1000;
    standing_ask(&s->standing, &pool, &s->ring, 400, 0, 0, 0, 30);
    assert_null(standing_ask(&s->standing, &pool, &s->ring, 400, 0, 0, 0,
                             31));
    assert_int_equal(pool.refused, 1);
    assert_int_equal(pool.bytes, 0);
    store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(scenario, (void *)&count_slides),
        cmocka_unit_test_prestate(scenario, (void *)&count_whole_history),
        cmocka_unit_test_prestate(scenario, (void *)&time_slides),
        cmocka_unit_test_prestate(scenario, (void *)&time_past_history),
        cmocka_unit_test_prestate(scenario, (void *)&sketched),
        cmocka_unit_test_prestate(scenario,
                                  (void *)&time_across_exact_max),
        cmocka_unit_test(limits_hold),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
