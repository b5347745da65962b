/*
 * rank_sketch.c - log-bucket counts in a Fenwick tree.
 *
 * Bucket positions run in value order: the negative buckets from the
 * largest magnitude down, then zero, then the positive ones from the
 * smallest magnitude up, so the bucket holding the value of rank k is the
 * first whose running count passes k, which the Fenwick tree finds in one
 * descent.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "rank_sketch.h"

/* The bucket layout, the same for every sketch: exponents kmin .. kmax
 * cover the magnitudes of all finite nonzero doubles. */
static struct {
    double log_g;
    double log_scale;       /* log(2 / (g + 1)) */
    int kmin, kmax;
    uint32_t per_sign;      /* kmax - kmin + 1 */
    uint32_t buckets;       /* 2 per_sign + 1 */
    uint32_t top_step;      /* the largest power of two <= buckets */
} L;

static void layout(void)
{
    double g;

    if (L.buckets)
        return;
    g = (1 + RANK_SKETCH_ALPHA) / (1 - RANK_SKETCH_ALPHA);
    L.log_g = log(g);
    L.log_scale = log(2 / (g + 1));
    L.kmin = (int)ceil(log(DBL_TRUE_MIN) / L.log_g);
    L.kmax = (int)ceil(log(DBL_MAX) / L.log_g);
    L.per_sign = (uint32_t)(L.kmax - L.kmin + 1);
    L.buckets = 2 * L.per_sign + 1;
    for (L.top_step = 1; L.top_step * 2 <= L.buckets; L.top_step *= 2)
        ;
}

int rank_sketch_init(struct rank_sketch *sk)
{
    layout();
    sk->count = 0;
    sk->fenwick = calloc((size_t)L.buckets + 1, sizeof(*sk->fenwick));
    return sk->fenwick ? 0 : -1;
}

void rank_sketch_free(struct rank_sketch *sk)
{
    free(sk->fenwick);
    sk->fenwick = NULL;
    sk->count = 0;
}

/* The 0-based bucket position of v. */
static uint32_t position(double v)
{
    double mag = fabs(v);
    int k;

    if (mag == 0)
        return L.per_sign;
    k = (int)ceil(log(mag) / L.log_g);
    if (k < L.kmin)
        k = L.kmin;
    if (k > L.kmax)
        k = L.kmax;
    if (v < 0)
        return L.per_sign - 1 - (uint32_t)(k - L.kmin);
    return L.per_sign + 1 + (uint32_t)(k - L.kmin);
}

static void bump(struct rank_sketch *sk, double v, uint32_t delta)
{
    uint32_t i;

    /* delta is 1 or 2^32 - 1: unsigned wrap-around subtracts one. */
    for (i = position(v) + 1; i <= L.buckets; i += i & -i)
        sk->fenwick[i] += delta;
}

void rank_sketch_add(struct rank_sketch *sk, double v)
{
    bump(sk, v, 1);
    sk->count++;
}

void rank_sketch_remove(struct rank_sketch *sk, double v)
{
    bump(sk, v, UINT32_MAX);
    sk->count--;
}

double rank_sketch_select(const struct rank_sketch *sk, uint64_t k)
{
    uint32_t pos = 0, step;
    double mag;

    for (step = L.top_step; step; step >>= 1) {
        if (pos + step <= L.buckets && sk->fenwick[pos + step] <= k) {
            pos += step;
            k -= sk->fenwick[pos];
        }
    }
    /* pos is now the 0-based position of the bucket of rank k. */
    if (pos == L.per_sign)
        return 0.0;
    if (pos < L.per_sign) {
        mag = exp((double)(L.kmin + (int)(L.per_sign - 1 - pos)) *
                  L.log_g + L.log_scale);
        return -mag;
    }
    return exp((double)(L.kmin + (int)(pos - L.per_sign - 1)) * L.log_g +
               L.log_scale);
}

size_t rank_sketch_bytes(void)
{
    layout();
    return ((size_t)L.buckets + 1) * sizeof(uint32_t);
}
