/*
 * accuracy.c - the window maths over a long adversarial stream, checked
 * against an exact recomputation.
 *
 * The stream alternates phases of 1000 points: huge values (about 1e200)
 * with alternating signs, then tiny ones (about 1e-200) with alternating
 * signs, then ordinary ones near 1e3 with a large common offset.  At
 * checkpoints the mean of the newest 1, 10, 1000 and 100000 points is
 * compared with an exact sum of the same values (Shewchuk's partials, as
 * Python's math.fsum), the error written in units in the last place of
 * the exact mean; min and max must be equal.
 *
 *   build/accuracy [POINTS] [CHECKPOINTS]      (defaults 1e8 and 200)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "window.h"

#define HISTORY 100000

static uint64_t rng = 0x853c49e6748fea9bULL;

static double unit(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double value(uint64_t i)
{
    double sign = i % 2 ? -1.0 : 1.0;

    switch ((i / 1000) % 3) {
    case 0:
        return sign * (1 + unit()) * 1e200;
    case 1:
        return sign * (1 + unit()) * 1e-200;
    default:
        return 1e9 + unit() * 1e3;
    }
}

/* The exact sum of v[0 .. n) as non-overlapping partials; returns the
 * leading two, whose long double sum is the sum to far beyond a double. */
static long double exact_sum(const double *v, size_t n)
{
    double p[64];
    size_t np = 0, i, j, k;
    long double s = 0;

    for (i = 0; i < n; i++) {
        double x = v[i];

        for (j = k = 0; j < np; j++) {
            double y = p[j], hi, lo;

            if (fabs(x) < fabs(y)) {
                double t = x;

                x = y;
                y = t;
            }
            hi = x + y;
            lo = y - (hi - x);
            if (lo != 0)
                p[k++] = lo;
            x = hi;
        }
        p[k++] = x;
        np = k;
    }
    for (i = 0; i < np; i++)
        s += p[i];
    return s;
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000000ULL;
    uint64_t checks = argc > 2 ? strtoull(argv[2], NULL, 10) : 200;
    static const size_t sizes[] = {1, 10, 1000, HISTORY};
    double worst[4] = {0}, *last = malloc(HISTORY * sizeof(*last));
    struct window_ring w;
    clock_t t0 = clock();
    uint64_t i, bad = 0;

    if (!last || window_init(&w, HISTORY) < 0)
        return 1;
    for (i = 0; i < total; i++) {
        double v = value(i);

        window_push(&w, (double)i, v);
        last[i % HISTORY] = v;
        if ((i + 1) % (total / checks) != 0 || i + 1 < HISTORY)
            continue;
        for (size_t k = 0; k < 4; k++) {
            size_t n = sizes[k], j;
            double *copy = malloc(n * sizeof(*copy)), lo = INFINITY;
            double hi = -INFINITY, got, ulp;
            struct window_agg a;
            long double ref;

            for (j = 0; j < n; j++) {
                copy[j] = last[(i + 1 - n + j) % HISTORY];
                lo = fmin(lo, copy[j]);
                hi = fmax(hi, copy[j]);
            }
            window_last(&w, n, &a);
            ref = exact_sum(copy, n) / (long double)n;
            got = window_agg_mean(&a);
            ulp = fabs((double)ref) > 0 ? nextafter(fabs((double)ref),
                                                    INFINITY) -
                                              fabs((double)ref)
                                        : 4.9e-324;
            worst[k] = fmax(worst[k], (double)(fabsl(got - ref) / ulp));
            if (a.min != lo || a.max != hi)
                bad++;
            free(copy);
        }
    }
    printf("%llu points, %llu checkpoints, %.1f s\n",
           (unsigned long long)total, (unsigned long long)checks,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    for (size_t k = 0; k < 4; k++)
        printf("window %6zu: worst mean error %.3f ulp\n", sizes[k],
               worst[k]);
    printf("min/max mismatches: %llu\n", (unsigned long long)bad);
    window_free(&w);
    free(last);
    return bad || worst[0] > 4 || worst[1] > 4 || worst[2] > 4 ||
           worst[3] > 4;
}
