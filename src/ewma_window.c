/*
 * ewma_window.c - the two-part sliding ewma (see ewma_window.h).
 *
 * The newer part's weights are taken relative to a reference coordinate
 * at or before its points, so they grow (2^a for a point a half-lives
 * after the reference) instead of being multiplied down at every point;
 * once a passes REBASE_AT the sums are scaled down once and the reference
 * moves, so weights stay below 2^REBASE_AT and nothing overflows short of
 * values beyond about 1e289.  The older part's sums are computed from the
 * ring when the newer part turns into it: the cost of that pass is paid
 * once per point, which makes every operation O(1) amortised.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compensated.h"
#include "ewma_window.h"

#define REBASE_AT 64.0

static double half_life(const struct ewma_window *e)
{
    return e->halflife_seconds > 0 ? e->halflife_seconds
                                   : (double)e->halflife_points;
}

/* Where a point sits on the axis the weights decay along. */
static double coordinate(const struct ewma_window *e, uint64_t seq,
                         double ts)
{
    return e->halflife_seconds > 0 ? ts : (double)seq;
}

void ewma_window_push(struct ewma_window *e, uint64_t seq, double ts,
                      double value)
{
    double c = coordinate(e, seq, ts), a, wgt;

    if (e->new_count == 0) {
        e->new_ref = c;
        e->new_s = e->new_s_c = e->new_d = e->new_d_c = 0;
    }
    a = (c - e->new_ref) / half_life(e);
    if (a > REBASE_AT) {
        double f = exp2(-a);

        e->new_s *= f;
        e->new_s_c *= f;
        e->new_d *= f;
        e->new_d_c *= f;
        e->new_ref = c;
        a = 0;
    }
    wgt = exp2(a);
    compensated_add(&e->new_s, &e->new_s_c, wgt * value);
    compensated_add(&e->new_d, &e->new_d_c, wgt);
    e->new_count++;
}

/* The newer part becomes the older one: suffix sums, newest first. */
static int flip(struct ewma_window *e, const struct window_ring *w)
{
    size_t n = e->new_count, i;
    uint64_t base = e->old_end;
    size_t at = (size_t)(base - (w->total - w->len));
    double h = half_life(e), s = 0, s_c = 0, d = 0, d_c = 0, last;

    if (n > e->old_cap) {
        double *ns = realloc(e->old_s, n * sizeof(double));
        double *nd;

        if (!ns)
            return -1;
        e->old_s = ns;
        nd = realloc(e->old_d, n * sizeof(double));
        if (!nd)
            return -1;
        e->old_d = nd;
        e->old_cap = n;
    }
    last = coordinate(e, base + n - 1, window_ts_at(w, at + n - 1));
    for (i = n; i-- > 0;) {
        double c = coordinate(e, base + i, window_ts_at(w, at + i));
        double wgt = exp2(-(last - c) / h);

        compensated_add(&s, &s_c, wgt * window_value_at(w, at + i));
        compensated_add(&d, &d_c, wgt);
        e->old_s[i] = s + s_c;
        e->old_d[i] = d + d_c;
    }
    e->old_base = e->old_first = base;
    e->old_end = base + n;
    e->old_c = last;
    e->new_count = 0;
    return 0;
}

int ewma_window_pop(struct ewma_window *e, const struct window_ring *w)
{
    if (e->old_first == e->old_end) {
        if (e->new_count == 0)
            return 0;
        if (flip(e, w) < 0)
            return -1;
    }
    e->old_first++;
    return 0;
}

void ewma_window_build(struct ewma_window *e, const struct window_ring *w,
                      size_t first, double halflife_seconds,
                      size_t halflife_points)
{
    uint64_t seq = w->total - w->len + first;
    size_t i;

    memset(e, 0, sizeof(*e));
    e->halflife_seconds = halflife_seconds;
    e->halflife_points = halflife_points;
    e->old_base = e->old_first = e->old_end = seq;
    for (i = first; i < w->len; i++, seq++)
        ewma_window_push(e, seq, window_ts_at(w, i), window_value_at(w, i));
}

void ewma_window_free(struct ewma_window *e)
{
    free(e->old_s);
    free(e->old_d);
    e->old_s = e->old_d = NULL;
    e->old_cap = 0;
}

double ewma_window_value(const struct ewma_window *e, uint64_t seq_newest,
                         double ts_newest)
{
    double c = coordinate(e, seq_newest, ts_newest), h = half_life(e);
    double s = 0, d = 0, f;

    if (e->old_first < e->old_end) {
        size_t i = (size_t)(e->old_first - e->old_base);

        f = exp2(-(c - e->old_c) / h);
        s += e->old_s[i] * f;
        d += e->old_d[i] * f;
    }
    if (e->new_count) {
        f = exp2(-(c - e->new_ref) / h);
        s += (e->new_s + e->new_s_c) * f;
        d += (e->new_d + e->new_d_c) * f;
    }
    if (!isfinite(s) || !isfinite(d) || d == 0)
        return NAN;
    return s / d;
}

size_t ewma_window_bytes(const struct ewma_window *e)
{
    return sizeof(*e) + 2 * e->old_cap * sizeof(double);
}
