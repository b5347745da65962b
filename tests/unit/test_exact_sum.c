/*
 * test_exact_sum.c - exact sums against cases whose sums are known: exact
 * cancellation across the whole exponent range, integers (summed exactly
 * in 64-bit arithmetic by the test), ties, and x + (-x) in any order.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exact_sum.h"
#include "xorshift.h"

static double sum_of(const double *v, size_t n, double *rest)
{
    struct exact_sum s;
    size_t i;

    exact_sum_init(&s);
    for (i = 0; i < n; i++)
        exact_sum_add(&s, v[i]);
    return exact_sum_value(&s, rest);
}

static void cancellation_across_decades(void **state)
{
    const double v[] = {1e300, 1e200, 1e100, 1, -1e300, -1e200, -1e100};
    const double w[] = {1e300, 1e200, 1, -1e300, -1e200, 1e-300, -1e-300,
                        DBL_TRUE_MIN};
    double rest;

    (void)state;
    assert_true(sum_of(v, 7, &rest) == 1 && rest == 0);
    assert_true(sum_of(w, 8, &rest) == 1 && rest == DBL_TRUE_MIN);
}

/* Halfway between two doubles: the components below the tie decide. */
static void ties_round_correctly(void **state)
{
    const double even[] = {1, 0x1p-53};
    const double up[] = {1, 0x1p-53, 0x1p-105};
    const double down[] = {1, 0x1p-53, -0x1p-105};
    const double odd[] = {1 + 0x1p-52, 0x1p-53};

    (void)state;
    assert_true(sum_of(even, 2, NULL) == 1);
    assert_true(sum_of(up, 3, NULL) == 1 + 0x1p-52);
    assert_true(sum_of(down, 3, NULL) == 1);
    assert_true(sum_of(odd, 2, NULL) == 1 + 0x1p-51);
}

/* Integers below 2^50 in magnitude sum exactly in 64 bits. */
static void integers_match_integer_arithmetic(void **state)
{
    enum { N = 3000 };
    static double v[N];
    int round;

    (void)state;
    for (round = 0; round < 50; round++) {
        int64_t want = 0;
        size_t i;

        for (i = 0; i < N; i++) {
            int64_t k = (int64_t)(rnd() >> 14) - ((int64_t)1 << 49);

            want += k;
            v[i] = (double)k;
        }
        assert_true(sum_of(v, N, NULL) == (double)want);
    }
}

/* Values of every magnitude and their negations, shuffled: exactly 0,
 * plus one value set aside, which must come back bit for bit. */
static void pairs_cancel_in_any_order(void **state)
{
    enum { N = 2000 };
    static double v[2 * N + 1];
    int round;

    (void)state;
    for (round = 0; round < 20; round++) {
        size_t i, j;
        double keep, rest;

        for (i = 0; i < N; i++) {
            uint64_t x = rnd();

            v[2 * i] = ldexp((double)(x >> 11), (int)(x % 2000) - 1000 - 53);
            v[2 * i + 1] = -v[2 * i];
        }
        keep = ldexp((double)(rnd() >> 11), -60);
        v[2 * N] = keep;
        for (i = 2 * N; i > 0; i--) {
            double t;

            j = rnd() % (i + 1);
            t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        assert_true(sum_of(v, 2 * N + 1, &rest) == keep && rest == 0);
    }
}

static void overflow_is_reported(void **state)
{
    const double v[] = {DBL_MAX, DBL_MAX};

    (void)state;
    assert_true(isnan(sum_of(v, 2, NULL)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancellation_across_decades),
        cmocka_unit_test(ties_round_correctly),
        cmocka_unit_test(integers_match_integer_arithmetic),
        cmocka_unit_test(pairs_cancel_in_any_order),
        cmocka_unit_test(overflow_is_reported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
