/*
 * window.c - ring of points with a block tree for O(log n) window sums.
 *
 * Layout: the points live in two parallel arrays indexed by physical slot.
 * Slots are grouped in blocks of WINDOW_BLOCK; tree[tree_leaves + b] holds
 * block b's aggregate and every inner node the combination of its two
 * children.  The leaves are exactly the blocks, not rounded up to a power
 * of two: the bottom-up walk in blocks_query only ever combines nodes that
 * lie wholly inside the range asked for, which holds for any leaf count
 * because the combination does not depend on order, and it saves up to
 * half of the tree's memory.  A query scans at most two partial blocks
 * and combines O(log n) whole-block nodes.  Nothing is ever subtracted: a
 * node is always recomputed from what it covers now, so a point that left
 * the window leaves no trace in any later answer.
 *
 * A leaf is written once per block, when the block's last slot is
 * written: then its points are the newest WINDOW_BLOCK, and they stay in
 * their slots until the ring comes round to the block again, so the leaf
 * is exact for as long as the block is wholly retained.  Queries only
 * read nodes all of whose blocks lie wholly inside the range asked for (a
 * range's first and last blocks are always scanned), so the leaf of a
 * block that is filling, or that eviction is emptying, is never read and
 * needs no upkeep.  A push therefore costs one store and, once per block,
 * one block sum and one walk to the root: O(1) amortised, with the same
 * tree values as recomputing the block on every push would give.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exact_sum.h"
#include "window.h"

#define INITIAL_CAP (2 * WINDOW_BLOCK)

static const struct window_agg EMPTY = {0, 0.0, 0.0, INFINITY, -INFINITY,
                                       0.0, 0};

/* Error-free addition: a + b == *s + *e exactly (Knuth's two-sum). */
static void two_sum(double a, double b, double *s, double *e)
{
    double sum = a + b;
    double bv = sum - a;

    *s = sum;
    *e = (a - (sum - bv)) + (b - bv);
}

/* Whether a + b may round: never when either is 0, the common case of
 * sums of integers.  Two compares, where finding out for sure would cost a
 * two-sum on every point. */
static int may_round(double a, double b)
{
    return a != 0 && b != 0;
}

static double agg_sum(const struct window_agg *a)
{
    return a->sum_hi + a->sum_lo;
}

/* The mean of a as an unevaluated pair q + r: q is the rounded quotient
 * and r what rounding it left out, found exactly with a fused
 * multiply-add.  Two means that agree in their leading digits then differ
 * by (qb - qa) + (rb - ra), where qb - qa is exact, so the difference
 * keeps its precision even when the values share a large offset. */
static void agg_mean_pair(const struct window_agg *a, double *q, double *r)
{
    double n = (double)a->count;

    *q = agg_sum(a) / n;
    *r = (fma(-*q, n, a->sum_hi) + a->sum_lo) / n;
}

/* Fold b into a.  Counts, sums and extremes simply add up; the squared
 * deviations combine as Chan, Golub and LeVeque's pairwise update,
 * M2 = M2a + M2b + d^2 * na * nb / n with d the difference of the means,
 * which never subtracts two large sums of squares and so keeps the
 * variance accurate whatever the offset of the values. */
static void merge(struct window_agg *a, const struct window_agg *b,
                  int spread)
{
    double s, e, na = (double)a->count, nb = (double)b->count, d;
    double qa, ra, qb, rb;

    if (b->count == 0)
        return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    if (spread) {
        agg_mean_pair(a, &qa, &ra);
        agg_mean_pair(b, &qb, &rb);
        d = (qb - qa) + (rb - ra);
        a->m2 += b->m2 + d * d * (na * nb / (na + nb));
    }

    two_sum(a->sum_hi, b->sum_hi, &s, &e);
    a->inexact |= b->inexact || may_round(a->sum_lo, b->sum_lo) ||
                  may_round(e, a->sum_lo + b->sum_lo);
    e += a->sum_lo + b->sum_lo;
    a->sum_hi = s + e;
    a->sum_lo = e - (a->sum_hi - s);
    a->count += b->count;
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
}

static void agg_merge(struct window_agg *a, const struct window_agg *b)
{
    merge(a, b, 1);
}

/* The aggregate of the k >= 1 values v[0..k), from scratch.  The sum is
 * the double-double that agg_merge would form adding them one at a time;
 * M2 comes from a second pass over the deviations from the mean pair
 * (two-pass, the textbook's most accurate way, and no division per point,
 * where merging the points one by one costs two); a run of one value has
 * none.  Scans of partial blocks and the sum of a block that just filled
 * both come here, so a leaf and a scan of the same block agree bit for
 * bit. */
static void agg_of_run(const double *v, size_t k, struct window_agg *a,
                       int spread)
{
    double hi = v[0], lo = 0.0, mn = v[0], mx = v[0], q, r, m2 = 0.0;
    size_t i;
    int inexact = 0;

    for (i = 1; i < k; i++) {
        double s, e;

        two_sum(hi, v[i], &s, &e);
        inexact |= may_round(e, lo);
        e += lo;
        hi = s + e;
        lo = e - (hi - s);
        if (v[i] < mn)
            mn = v[i];
        if (v[i] > mx)
            mx = v[i];
    }
    a->count = k;
    a->sum_hi = hi;
    a->sum_lo = lo;
    a->min = mn;
    a->max = mx;
    a->m2 = 0.0;
    a->inexact = inexact;
    if (mn == mx || !spread)
        return;                 /* no spread at all, exactly */
    agg_mean_pair(a, &q, &r);
    for (i = 0; i < k; i++) {
        double d = (v[i] - q) - r;

        m2 += d * d;
    }
    a->m2 = m2;
}

static size_t round_to_block(size_t n)
{
    return (n + WINDOW_BLOCK - 1) / WINDOW_BLOCK * WINDOW_BLOCK;
}

/* Block b has just been filled: its points are the newest WINDOW_BLOCK,
 * all retained.  Sum them into its leaf and recompute every ancestor from
 * its two children. */
static void complete_block(struct window_ring *w, size_t b)
{
    size_t node = w->tree_leaves + b;

    agg_of_run(w->val + b * WINDOW_BLOCK, WINDOW_BLOCK, &w->tree[node], 1);
    for (node >>= 1; node >= 1; node >>= 1) {
        w->tree[node] = w->tree[2 * node];
        agg_merge(&w->tree[node], &w->tree[2 * node + 1]);
    }
}

/* Grow to new_cap slots.  Only called before the first eviction, while
 * head is 0 and every slot is in use, so the points keep their slots and
 * every block is whole: its leaf, written when it filled, moves to its
 * place in the wider tree as it is, and only the inner nodes are
 * recomputed. */
static int grow(struct window_ring *w, size_t new_cap)
{
    size_t leaves = new_cap / WINDOW_BLOCK, used = w->tree_leaves, i;
    double *ts = realloc(w->ts, new_cap * sizeof(*ts));
    double *val;
    struct window_agg *tree;

    if (!ts)
        return -1;
    w->ts = ts;
    val = realloc(w->val, new_cap * sizeof(*val));
    if (!val)
        return -1;
    w->val = val;
    tree = malloc(2 * leaves * sizeof(*tree));
    if (!tree)
        return -1;

    tree[0] = EMPTY;
    for (i = 0; i < leaves; i++)
        tree[leaves + i] = i < used ? w->tree[used + i] : EMPTY;
    for (i = leaves - 1; i >= 1; i--) {
        tree[i] = tree[2 * i];
        agg_merge(&tree[i], &tree[2 * i + 1]);
    }
    free(w->tree);
    w->tree = tree;
    w->tree_leaves = leaves;
    w->cap = new_cap;
    return 0;
}

int window_init(struct window_ring *w, size_t history)
{
    size_t cap;

    memset(w, 0, sizeof(*w));
    if (history < 1)
        return -1;
    w->max_cap = history;
    cap = round_to_block(history < INITIAL_CAP ? history : INITIAL_CAP);
    if (grow(w, cap) < 0) {
        window_free(w);
        return -1;
    }
    return 0;
}

void window_free(struct window_ring *w)
{
    free(w->ts);
    free(w->val);
    free(w->tree);
    memset(w, 0, sizeof(*w));
}

/* The capacity the next growth takes: a quarter more, in whole blocks,
 * up to the history.  By a quarter, not double: a series that stops
 * growing keeps its slack for good (100 series of 10,000 points in rings
 * of 16,384 slots cost 36 bytes a point).  Growing moves leaves, not
 * points (see grow), so the extra steps cost little. */
static size_t next_cap(const struct window_ring *w)
{
    size_t want = round_to_block(w->cap + w->cap / 4),
           limit = round_to_block(w->max_cap);

    return want < limit ? want : limit;
}

int window_push(struct window_ring *w, double ts, double value)
{
    size_t slot;

    if (w->len == w->max_cap) {
        /* The head's block is no longer whole: its leaf is not read
         * again until the block has filled anew. */
        if (++w->head == w->cap)
            w->head = 0;
        w->len--;
    } else if (w->len == w->cap && grow(w, next_cap(w)) < 0) {
        return -1;
    }

    slot = w->head + w->len;
    if (slot >= w->cap)
        slot -= w->cap;
    w->ts[slot] = ts;
    w->val[slot] = value;
    w->len++;
    w->total++;

    /* With fewer than WINDOW_BLOCK points retained no block is ever
     * whole, and no query reads a leaf. */
    if (slot % WINDOW_BLOCK == WINDOW_BLOCK - 1 && w->len >= WINDOW_BLOCK)
        complete_block(w, slot / WINDOW_BLOCK);
    return 0;
}

/* Aggregate of whole blocks [b0, b1] from the tree, bottom-up.  Without
 * `spread`, M2 is left out (the sums, extremes and counts are the same). */
static void blocks_query(const struct window_ring *w, size_t b0, size_t b1,
                         struct window_agg *out, int spread)
{
    size_t lo = b0 + w->tree_leaves, hi = b1 + w->tree_leaves + 1;

    while (lo < hi) {
        if (lo & 1)
            merge(out, &w->tree[lo++], spread);
        if (hi & 1)
            merge(out, &w->tree[--hi], spread);
        lo >>= 1;
        hi >>= 1;
    }
}

/* Fold the points of physical slots [a, b] into out by scanning them. */
static void scan_slots(const struct window_ring *w, size_t a, size_t b,
                       struct window_agg *out, int spread)
{
    struct window_agg run;

    agg_of_run(w->val + a, b - a + 1, &run, spread);
    merge(out, &run, spread);
}

/* Aggregate of physical slots [a, b], all of them in use. */
static void slots_query(const struct window_ring *w, size_t a, size_t b,
                        struct window_agg *out, int spread)
{
    size_t ba = a / WINDOW_BLOCK, bb = b / WINDOW_BLOCK;

    if (ba == bb || ba + 1 == bb) {
        scan_slots(w, a, b, out, spread);
        return;
    }

    scan_slots(w, a, (ba + 1) * WINDOW_BLOCK - 1, out, spread);
    blocks_query(w, ba + 1, bb - 1, out, spread);
    scan_slots(w, bb * WINDOW_BLOCK, b, out, spread);
}

/*
 * The double-double sum of a range is good to about 2^-98 of n times its
 * largest magnitude.  When the values cancel so far that this is more
 * than a quarter of an ulp of the sum (and some addition did round), the
 * sum is taken again exactly, from the points: O(n), but only for windows
 * whose sum is below about 1e-13 of n times their largest magnitude.
 */
static int may_have_lost_digits(const struct window_agg *a)
{
    double top;

    if (!isfinite(a->sum_hi))
        return a->count > 0;    /* a partial sum overflowed */
    if (!a->inexact)
        return 0;
    top = fabs(a->min) > fabs(a->max) ? fabs(a->min) : fabs(a->max);
    /* count * 2^-43 first: below 1 for any count, so nothing overflows */
    return fabs(a->sum_hi) < (double)a->count * 0x1p-43 * top;
}

static void sum_exactly(const struct window_ring *w, size_t first,
                        size_t last, struct window_agg *out)
{
    struct exact_sum acc;
    double hi, rest;
    size_t i;

    exact_sum_init(&acc);
    for (i = first; i <= last; i++)
        exact_sum_add(&acc, window_value_at(w, i));
    hi = exact_sum_value(&acc, &rest);
    if (isnan(hi))
        return;         /* beyond a double: window_agg_mean copes */
    out->sum_hi = hi;
    out->sum_lo = rest;
}

static void range_query(const struct window_ring *w, size_t first,
                        size_t last, struct window_agg *out, int spread)
{
    size_t a, n;

    *out = EMPTY;
    if (w->len == 0 || first > last || first >= w->len)
        return;
    if (last >= w->len)
        last = w->len - 1;

    n = last - first + 1;
    a = (w->head + first) % w->cap;
    if (a + n <= w->cap) {
        slots_query(w, a, a + n - 1, out, spread);
    } else {
        slots_query(w, a, w->cap - 1, out, spread);
        slots_query(w, 0, a + n - w->cap - 1, out, spread);
    }
    if (may_have_lost_digits(out))
        sum_exactly(w, first, last, out);
}

void window_range(const struct window_ring *w, size_t first, size_t last,
                  struct window_agg *out)
{
    range_query(w, first, last, out, 1);
}

void window_range_mean(const struct window_ring *w, size_t first,
                       size_t last, struct window_agg *out)
{
    range_query(w, first, last, out, 0);
}

void window_last(const struct window_ring *w, size_t n,
                 struct window_agg *out)
{
    if (n == 0 || w->len == 0) {
        *out = EMPTY;
        return;
    }
    if (n > w->len)
        n = w->len;
    window_range(w, w->len - n, w->len - 1, out);
}

double window_ts_at(const struct window_ring *w, size_t i)
{
    return w->ts[(w->head + i) % w->cap];
}

double window_value_at(const struct window_ring *w, size_t i)
{
    return w->val[(w->head + i) % w->cap];
}

size_t window_first_after(const struct window_ring *w, double t)
{
    size_t lo = 0, hi = w->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (window_ts_at(w, mid) > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double window_agg_mean(const struct window_agg *a)
{
    double mean;

    if (a->count == 0)
        return 0.0;

    /* Exact for a constant window, whatever the rounding of its sum. */
    if (a->min == a->max)
        return a->min;

    mean = (a->sum_hi + a->sum_lo) / (double)a->count;

    /* A sum past +-1.8e308 overflows: fall back to the middle of the
     * range rather than report an infinity (see README, limits). */
    if (!isfinite(mean))
        return a->min / 2 + a->max / 2;

    /* The true mean lies in [min, max]; rounding must not push it out, so
     * non-negative input never gives a negative average. */
    if (mean < a->min)
        return a->min;
    if (mean > a->max)
        return a->max;
    return mean;
}

double window_agg_variance(const struct window_agg *a, int ddof)
{
    if (a->count <= (size_t)ddof)
        return NAN;
    if (a->min == a->max)
        return 0.0;
    return a->m2 / (double)(a->count - (size_t)ddof);
}

size_t window_first_of(const struct window_ring *w, size_t last,
                       size_t points, double seconds)
{
    if (points)
        return last + 1 >= points ? last + 1 - points : 0;
    return window_first_after(w, window_ts_at(w, last) - seconds);
}

static size_t bytes_for(size_t cap)
{
    return cap * 2 * sizeof(double) +
           2 * (cap / WINDOW_BLOCK) * sizeof(struct window_agg);
}

size_t window_bytes(const struct window_ring *w)
{
    return bytes_for(w->cap);
}

size_t window_bytes_next(const struct window_ring *w)
{
    if (w->len < w->cap || w->len == w->max_cap)
        return bytes_for(w->cap);
    return bytes_for(next_cap(w));
}
