/*
 * standing.c - the life of a standing window: asked about once (a
 * candidate that costs nothing per point), asked again (built from the
 * ring, then kept current by standing_advance), forgotten when idle.
 *
 * A window is identified by its definition, not by its current points:
 * "the newest 1,000 points" or "the newest 5 minutes".  Its points are
 * tracked by ring position (ring.total counts every point ever pushed),
 * so a point leaving the window is read from the ring before window_push
 * can overwrite it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "standing.h"

struct standing_set {
    struct standing_pool *pool;
    unsigned n;                 /* entries in use, live or candidate */
    unsigned cap;               /* twice the pool's per_series */
    struct standing_window win[];
};

/* Ring position of logical index i, and back. */
static uint64_t seq_of(const struct window_ring *w, size_t i)
{
    return w->total - w->len + i;
}

static size_t index_of(const struct window_ring *w, uint64_t seq)
{
    return (size_t)(seq - (w->total - w->len));
}

static void free_structures(struct standing_set *set,
                            struct standing_window *e)
{
    unsigned i;

    if (!e->live)
        return;
    if (e->exact)
        rank_tree_free(&e->tree);
    else
        rank_sketch_free(&e->sketch);
    for (i = 0; i < e->n_ewma; i++)
        ewma_window_free(&e->ewma[i]);
    e->n_ewma = 0;
    set->pool->bytes -= e->bytes;
    set->pool->live--;
    e->bytes = 0;
    e->live = 0;
}

/* Forget entry e; the last entry takes its slot. */
static void release(struct standing_set *set, struct standing_window *e)
{
    free_structures(set, e);
    *e = set->win[--set->n];
}

static struct standing_window *find(struct standing_set *set,
                                    size_t points, double seconds)
{
    unsigned i;

    for (i = 0; i < set->n; i++)
        if (set->win[i].points == points &&
            (points || set->win[i].seconds == seconds))
            return &set->win[i];
    return NULL;
}

/* The least recently asked entry, live ones only when `live_only`. */
static struct standing_window *stalest(struct standing_set *set,
                                       int live_only,
                                       const struct standing_window *keep)
{
    struct standing_window *best = NULL;
    unsigned i;

    for (i = 0; i < set->n; i++) {
        struct standing_window *e = &set->win[i];

        if (e == keep || (live_only && !e->live))
            continue;
        if (!best || e->last_asked < best->last_asked)
            best = e;
    }
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int build_exact(struct standing_window *e, const struct window_ring *w,
                       size_t first, size_t n)
{
    double *v = malloc(n * sizeof(*v));
    size_t i;
    int rc;

    if (!v)
        return -1;
    for (i = 0; i < n; i++)
        v[i] = window_value_at(w, first + i);
    qsort(v, n, sizeof(*v), cmp_double);
    rank_tree_init(&e->tree);
    rc = rank_tree_build(&e->tree, v, n);
    free(v);
    e->bytes = rank_tree_bytes(&e->tree);
    return rc;
}

static int build_sketch(struct standing_window *e,
                        const struct window_ring *w, size_t first, size_t n)
{
    size_t i;

    if (rank_sketch_init(&e->sketch) < 0)
        return -1;
    for (i = 0; i < n; i++)
        rank_sketch_add(&e->sketch, window_value_at(w, first + i));
    e->bytes = rank_sketch_bytes();
    return 0;
}

/* Fill e with the values of w from logical index `first` to the newest. */
static int build(struct standing_set *set, struct standing_window *e,
                 const struct window_ring *w, size_t first)
{
    struct standing_pool *pool = set->pool;
    size_t n = w->len - first;
    int rc;

    e->exact = n <= pool->exact_max;
    rc = e->exact ? build_exact(e, w, first, n)
                  : build_sketch(e, w, first, n);
    if (rc == 0 && pool->bytes + e->bytes > pool->max_bytes) {
        if (e->exact)
            rank_tree_free(&e->tree);
        else
            rank_sketch_free(&e->sketch);
        rc = -1;
    }
    if (rc < 0) {
        pool->refused++;
        e->bytes = 0;
        return -1;
    }
    e->live = 1;
    e->n_ewma = 0;
    e->first_seq = seq_of(w, first);
    e->count = n;
    pool->bytes += e->bytes;
    pool->live++;
    pool->built++;
    return 0;
}

static struct standing_set *new_set(struct standing_pool *pool)
{
    unsigned cap = pool->per_series ? 2 * pool->per_series : 2;
    struct standing_set *set;

    set = calloc(1, sizeof(*set) + cap * sizeof(set->win[0]));
    if (!set)
        return NULL;
    set->pool = pool;
    set->cap = cap;
    return set;
}

/* Note a first question about a window: a candidate, nothing built. */
static void add_candidate(struct standing_set *set, size_t points,
                          double seconds, double now)
{
    struct standing_window *e;

    if (set->n == set->cap)
        release(set, stalest(set, 0, NULL));
    e = &set->win[set->n++];
    memset(e, 0, sizeof(*e));
    e->points = points;
    e->seconds = seconds;
    e->last_asked = now;
}

static struct ewma_window *find_ewma(const struct standing_window *e,
                                     double halflife_seconds,
                                     size_t halflife_points)
{
    unsigned i;

    for (i = 0; i < e->n_ewma; i++)
        if (e->ewma[i].halflife_seconds == halflife_seconds &&
            e->ewma[i].halflife_points == halflife_points)
            return (struct ewma_window *)&e->ewma[i];
    return NULL;
}

/* The sum of what e holds: its ranks and its ewmas. */
static size_t held_bytes(const struct standing_window *e)
{
    size_t b = e->exact ? rank_tree_bytes(&e->tree) : rank_sketch_bytes();
    unsigned i;

    for (i = 0; i < e->n_ewma; i++)
        b += ewma_window_bytes(&e->ewma[i]);
    return b;
}

/* Keep the ewma of this half-life in e from now on; the least recently
 * asked of STANDING_EWMAS makes room.  O(n) once. */
static void keep_ewma(struct standing_set *set, struct standing_window *e,
                      const struct window_ring *w, double halflife_seconds,
                      size_t halflife_points, double now)
{
    unsigned i, k = e->n_ewma;

    for (i = 0; i < e->n_ewma; i++) {
        if (e->ewma[i].halflife_seconds == halflife_seconds &&
            e->ewma[i].halflife_points == halflife_points) {
            e->ewma_asked[i] = now;
            return;
        }
    }
    if (k == STANDING_EWMAS) {
        k = e->ewma_asked[0] <= e->ewma_asked[1] ? 0 : 1;
        ewma_window_free(&e->ewma[k]);
    } else {
        e->n_ewma++;
    }
    ewma_window_build(&e->ewma[k], w, index_of(w, e->first_seq),
                      halflife_seconds, halflife_points);
    e->ewma_asked[k] = now;
    set->pool->bytes -= e->bytes;
    e->bytes = held_bytes(e);
    set->pool->bytes += e->bytes;
}

const struct standing_window *standing_ask(struct standing_set **setp,
                                           struct standing_pool *pool,
                                           const struct window_ring *w,
                                           size_t points, double seconds,
                                           double halflife_seconds,
                                           size_t halflife_points,
                                           double now)
{
    struct standing_set *set = *setp;
    struct standing_window *e, *old;
    size_t first;
    unsigned live = 0, i;

    if (!w->len || pool->per_series == 0)
        return NULL;
    if (!set && !(set = *setp = new_set(pool)))
        return NULL;
    first = window_first_of(w, w->len - 1, points, seconds);

    e = find(set, points, seconds);
    if (!e) {
        add_candidate(set, points, seconds, now);
        return NULL;
    }
    if (e->live) {
        int in_step = e->first_seq == seq_of(w, first) &&
                      e->count == w->len - first;

        e->last_asked = now;
        if (in_step && (e->exact || e->count > pool->exact_max / 2))
            goto kept;
        /* Out of step with the ring (cannot happen while every push goes
         * through standing_advance), or a sketch whose window has shrunk
         * to half of exact_max: build it afresh. */
        free_structures(set, e);
    } else if (now - e->last_asked > pool->idle_s) {
        e->last_asked = now;
        return NULL;
    }
    e->last_asked = now;

    /* Make room among this series' live windows, but only by one that
     * has not been asked about for a while: a client cycling through more
     * windows than per_series would otherwise rebuild one, O(n log n),
     * at every question, where the one-off answer costs O(n). */
    for (i = 0; i < set->n; i++)
        live += set->win[i].live;
    if (live >= pool->per_series) {
        old = stalest(set, 1, e);
        if (!old || now - old->last_asked < pool->idle_s / 5)
            return NULL;
        free_structures(set, old);
        old->last_asked = now - pool->idle_s - 1;
    }
    if (build(set, e, w, first) < 0)
        return NULL;
kept:
    if (halflife_seconds > 0 || halflife_points > 0)
        keep_ewma(set, e, w, halflife_seconds, halflife_points, now);
    return e;
}

/* Where the window of e starts once a point at time ts is pushed. */
static uint64_t next_first(const struct standing_window *e,
                           const struct window_ring *w, double ts)
{
    uint64_t newest = w->total;     /* the position the point will take */
    uint64_t oldest = w->total - w->len + (w->len == w->max_cap);
    uint64_t first;

    if (e->points) {
        first = newest + 1 >= e->points ? newest + 1 - e->points : 0;
    } else {
        /* The same bound as window_first_of: kept are the points whose
         * timestamp is > ts - seconds. */
        double cut = ts - e->seconds;

        first = e->first_seq;
        while (first < newest &&
               window_ts_at(w, index_of(w, first)) <= cut)
            first++;
    }
    return first < oldest ? oldest : first;
}

static void add_to_sketch(double v, void *sk)
{
    rank_sketch_add(sk, v);
}

/* An exact window that grew past exact_max becomes a sketch: O(n) once,
 * and it takes at least exact_max / 2 removals to turn it back (in
 * standing_ask), so the switches cost O(1) a point amortised. */
static int to_sketch(struct standing_set *set, struct standing_window *e)
{
    struct rank_sketch sk;

    if (rank_sketch_init(&sk) < 0)
        return -1;
    rank_tree_walk(&e->tree, add_to_sketch, &sk);
    rank_tree_free(&e->tree);
    e->sketch = sk;
    e->exact = 0;
    set->pool->bytes -= e->bytes;
    e->bytes = held_bytes(e);
    set->pool->bytes += e->bytes;
    return 0;
}

static int advance_one(struct standing_set *set, struct standing_window *e,
                       const struct window_ring *w, double ts, double value)
{
    uint64_t first = next_first(e, w, ts), q;
    size_t before = e->bytes;
    unsigned i;

    for (q = e->first_seq; q < first; q++) {
        double gone = window_value_at(w, index_of(w, q));

        for (i = 0; i < e->n_ewma; i++)
            if (ewma_window_pop(&e->ewma[i], w) < 0)
                return -1;

        if (!e->exact) {
            rank_sketch_remove(&e->sketch, gone);
        } else if (rank_tree_remove(&e->tree, gone) < 0) {
            return -1;
        }
    }
    for (i = 0; i < e->n_ewma; i++)
        ewma_window_push(&e->ewma[i], w->total, ts, value);
    if (e->exact) {
        if (rank_tree_insert(&e->tree, value) < 0)
            return -1;
    } else {
        rank_sketch_add(&e->sketch, value);
    }
    e->bytes = held_bytes(e);
    set->pool->bytes += e->bytes - before;
    if (set->pool->bytes > set->pool->max_bytes)
        return -1;
    e->count = e->count - (size_t)(first - e->first_seq) + 1;
    e->first_seq = first;
    if (e->exact && e->count > set->pool->exact_max)
        return to_sketch(set, e);
    return 0;
}

void standing_advance(struct standing_set *set, const struct window_ring *w,
                      double ts, double value)
{
    unsigned i;

    if (!set)
        return;
    for (i = 0; i < set->n; i++) {
        struct standing_window *e = &set->win[i];

        if (e->live && advance_one(set, e, w, ts, value) < 0) {
            set->pool->refused++;
            free_structures(set, e);
        }
    }
}

void standing_reset(struct standing_set *set)
{
    unsigned i;

    if (!set)
        return;
    for (i = 0; i < set->n; i++)
        free_structures(set, &set->win[i]);
}

void standing_sweep(struct standing_set *set, double now)
{
    unsigned i;

    if (!set)
        return;
    for (i = set->n; i-- > 0;)
        if (now - set->win[i].last_asked > set->pool->idle_s)
            release(set, &set->win[i]);
}

void standing_free(struct standing_set *set)
{
    standing_reset(set);
    free(set);
}

double standing_select(const struct standing_window *sw, size_t k)
{
    return sw->exact ? rank_tree_select(&sw->tree, k)
                     : rank_sketch_select(&sw->sketch, k);
}

double standing_ewma(const struct standing_window *sw,
                     const struct window_ring *w, double halflife_seconds,
                     size_t halflife_points)
{
    const struct ewma_window *e = find_ewma(sw, halflife_seconds,
                                            halflife_points);

    if (!e || !w->len)
        return NAN;
    return ewma_window_value(e, w->total - 1, window_ts_at(w, w->len - 1));
}
