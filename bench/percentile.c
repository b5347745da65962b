/*
 * percentile.c - what p50, p90 and p99 cost as the window grows, asked
 * the one-off way (a copy and a selection) and from a standing window
 * (an order-statistic tree kept point by point): CPU time per question
 * and per point, for windows of 1,000 to 1,000,000 points.
 *
 * usage: percentile [max_window]
 * The figures are CPU time of this process (clock_gettime with
 * CLOCK_PROCESS_CPUTIME_ID), medians of 5 rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "standing.h"
#include "stats.h"
#include "store.h"

static double cpu_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static double next_value(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (double)(seed >> 11) * 1e-9 - 4e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median5(double *v)
{
    qsort(v, 5, sizeof(*v), cmp_double);
    return v[2];
}

static void measure(size_t n)
{
    struct standing_pool pool = {n, (size_t)1 << 34, 4, 1e9, 0, 0, 0, 0};
    struct stats_options opt = {0, 10, n};
    const struct standing_window *sw = NULL;
    double one_off[5], asked[5], point[5], base[5], t0;
    struct store *st = store_new(n, 2, (size_t)1 << 34);
    struct series *s, *plain;
    struct stats_result r;
    size_t i, round, reps = n >= 100000 ? 20 : 200;
    char err[200];

    s = store_intern(st, "standing", 8, err, sizeof(err));
    plain = store_intern(st, "plain", 5, err, sizeof(err));
    for (i = 0; i < n; i++) {
        double v = next_value();

        store_append(st, s, (double)i, v, err, sizeof(err));
        store_append(st, plain, (double)i, v, err, sizeof(err));
    }
    standing_ask(&s->standing, &pool, &s->ring, n, 0, 0, 10, 0);
    sw = standing_ask(&s->standing, &pool, &s->ring, n, 0, 0, 10, 1);
    if (!sw) {
        fprintf(stderr, "no standing window for %zu points\n", n);
        exit(1);
    }

    for (round = 0; round < 5; round++) {
        t0 = cpu_now();
        for (i = 0; i < reps; i++)
            stats_compute(&plain->ring, 0, n - 1, &opt, NULL, &r);
        one_off[round] = (cpu_now() - t0) / (double)reps;

        t0 = cpu_now();
        for (i = 0; i < 100000; i++) {
            sw = standing_ask(&s->standing, &pool, &s->ring, n, 0, 0, 10,
                              2);
            stats_compute(&s->ring, 0, n - 1, &opt, sw, &r);
        }
        asked[round] = (cpu_now() - t0) / 100000;

        /* A point into a full ring with and without a standing window:
         * the difference is what the window costs a point. */
        t0 = cpu_now();
        for (i = 0; i < 200000; i++)
            store_append(st, plain, (double)(n + i), next_value(), err,
                         sizeof(err));
        base[round] = (cpu_now() - t0) / 200000;
        t0 = cpu_now();
        for (i = 0; i < 200000; i++)
            store_append(st, s, (double)(n + i), next_value(), err,
                         sizeof(err));
        point[round] = (cpu_now() - t0) / 200000;
    }
    printf("| %9zu | %12.1f | %12.2f | %10.3f | %10.3f |\n", n,
           median5(one_off) * 1e6, median5(asked) * 1e6,
           median5(base) * 1e6, median5(point) * 1e6);
    store_free(st);
}

int main(int argc, char **argv)
{
    size_t max = argc > 1 ? (size_t)atol(argv[1]) : 1000000, n;

    printf("| window    | one-off (us) | standing (us) | point (us) "
           "| point + standing (us) |\n");
    printf("| --- | --- | --- | --- | --- |\n");
    for (n = 1000; n <= max; n *= 10)
        measure(n);
    return 0;
}
