/*
 * test_rank.c - the order-statistic tree and the rank sketch against a
 * plain sorted array kept by the test itself.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rank_sketch.h"
#include "rank_tree.h"
#include "xorshift.h"

/* The reference: a sorted array, insertion and removal by memmove. */
struct ref {
    double *v;
    size_t n;
};

static void ref_insert(struct ref *r, double x)
{
    size_t i = r->n;

    while (i > 0 && r->v[i - 1] > x)
        i--;
    memmove(r->v + i + 1, r->v + i, (r->n - i) * sizeof(double));
    r->v[i] = x;
    r->n++;
}

static int ref_remove(struct ref *r, double x)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->v[i] == x) {
            memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof(double));
            r->n--;
            return 0;
        }
    return -1;
}

static void check_all_ranks(const struct rank_tree *t, const struct ref *r)
{
    size_t k;

    assert_int_equal(rank_tree_count(t), r->n);
    for (k = 0; k < r->n; k++)
        assert_true(rank_tree_select(t, k) == r->v[k]);
}

/* Values drawn from a few distinct ones (many duplicates) or from a wide
 * range, signs mixed. */
static double draw(int few)
{
    uint64_t x = rnd();

    if (few)
        return (double)(x % 7) - 3.0;
    return ldexp((double)(x >> 11), (int)(x % 200) - 100 - 53) *
           ((x >> 3) & 1 ? -1 : 1);
}

static void tree_matches_sorted_array(void **state)
{
    enum { OPS = 20000, MAXN = 3000 };
    struct ref r = {calloc(MAXN + 1, sizeof(double)), 0};
    struct rank_tree t;
    int few, op;

    (void)state;
    for (few = 0; few < 2; few++) {
        rank_tree_init(&t);
        r.n = 0;
        for (op = 0; op < OPS; op++) {
            int grow = r.n == 0 || (r.n < MAXN && rnd() % 3 != 0);

            if (grow) {
                double x = draw(few);

                assert_int_equal(rank_tree_insert(&t, x), 0);
                ref_insert(&r, x);
            } else {
                double x = r.v[rnd() % r.n];

                assert_int_equal(rank_tree_remove(&t, x), 0);
                assert_int_equal(ref_remove(&r, x), 0);
            }
            if (op % 997 == 0)
                check_all_ranks(&t, &r);
            else if (r.n) {
                size_t k = rnd() % r.n;

                assert_true(rank_tree_select(&t, k) == r.v[k]);
            }
        }
        check_all_ranks(&t, &r);
        /* A value not held is refused and changes nothing. */
        assert_int_equal(rank_tree_remove(&t, 1e300), -1);
        check_all_ranks(&t, &r);
        rank_tree_free(&t);
    }
    free(r.v);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Built from a sorted window, then slid: oldest out, newest in. */
static void tree_build_then_slide(void **state)
{
    enum { N = 2000, SLIDES = 6000 };
    double *stream = malloc((N + SLIDES) * sizeof(double));
    double *sorted = malloc(N * sizeof(double));
    struct ref r = {malloc((N + 1) * sizeof(double)), 0};
    struct rank_tree t;
    size_t i;

    (void)state;
    for (i = 0; i < N + SLIDES; i++)
        stream[i] = i < N / 2 ? (double)i : draw(i % 5 == 0);
    memcpy(sorted, stream, N * sizeof(double));
    qsort(sorted, N, sizeof(double), cmp_d);
    memcpy(r.v, sorted, N * sizeof(double));
    r.n = N;

    rank_tree_init(&t);
    assert_int_equal(rank_tree_build(&t, sorted, N), 0);
    check_all_ranks(&t, &r);
    for (i = N; i < N + SLIDES; i++) {
        assert_int_equal(rank_tree_remove(&t, stream[i - N]), 0);
        assert_int_equal(ref_remove(&r, stream[i - N]), 0);
        assert_int_equal(rank_tree_insert(&t, stream[i]), 0);
        ref_insert(&r, stream[i]);
        if (i % 500 == 0)
            check_all_ranks(&t, &r);
    }
    check_all_ranks(&t, &r);
    /* A window that keeps its size reuses the nodes it frees. */
    assert_true(rank_tree_bytes(&t) <= (N + N / 8 + 17) * 24);
    assert_int_equal(rank_tree_build(&t, sorted, 0), 0);
    assert_int_equal(rank_tree_count(&t), 0);
    rank_tree_free(&t);
    free(stream);
    free(sorted);
    free(r.v);
}

/* Ascending input, the worst case of a plain search tree, still selects
 * correctly (the priorities, not the order, shape the tree). */
static void tree_ascending_input(void **state)
{
    enum { N = 200000 };
    struct rank_tree t;
    size_t i;

    (void)state;
    rank_tree_init(&t);
    for (i = 0; i < N; i++)
        assert_int_equal(rank_tree_insert(&t, (double)i), 0);
    for (i = 0; i < N; i += 997)
        assert_true(rank_tree_select(&t, i) == (double)i);
    for (i = 0; i < N; i += 2)
        assert_int_equal(rank_tree_remove(&t, (double)i), 0);
    for (i = 0; i < N / 2; i += 101)
        assert_true(rank_tree_select(&t, i) == (double)(2 * i + 1));
    rank_tree_free(&t);
}

/* Every estimate is within 1% of the exact value of its rank, over the
 * whole range of doubles: subnormals, zeros, both signs, DBL_MAX. */
static void sketch_within_one_percent(void **state)
{
    enum { N = 4000 };
    static double v[N], sorted[N];
    struct rank_sketch sk;
    size_t i, k, n;

    (void)state;
    assert_int_equal(rank_sketch_init(&sk), 0);
    for (i = 0; i < N; i++) {
        uint64_t x = rnd();
        double mag = ldexp(1.0 + (double)(x >> 12) / 4503599627370496.0,
                           (int)(x % 2098) - 1074);

        if (i == 0)
            mag = DBL_MAX;
        else if (i == 1)
            mag = DBL_TRUE_MIN;
        else if (x % 11 == 0)
            mag = 0;
        v[i] = (x >> 5) & 1 ? -mag : mag;
        rank_sketch_add(&sk, v[i]);
    }
    /* Take the first quarter out again: removal undoes addition. */
    for (i = 0; i < N / 4; i++)
        rank_sketch_remove(&sk, v[i]);
    n = N - N / 4;
    memcpy(sorted, v + N / 4, n * sizeof(double));
    qsort(sorted, n, sizeof(double), cmp_d);
    assert_true(sk.count == n);
    for (k = 0; k < n; k++) {
        double got = rank_sketch_select(&sk, k);

        if (sorted[k] == 0)
            assert_true(got == 0);
        else
            assert_true(fabs(got - sorted[k]) <=
                        RANK_SKETCH_ALPHA * fabs(sorted[k]) * (1 + 1e-9) ||
                        (isinf(got) && fabs(sorted[k]) > DBL_MAX / 1.02));
    }
    rank_sketch_free(&sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tree_matches_sorted_array),
        cmocka_unit_test(tree_build_then_slide),
        cmocka_unit_test(tree_ascending_input),
        cmocka_unit_test(sketch_within_one_percent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
