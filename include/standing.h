/*
 * standing.h - windows whose percentiles are kept current point by point.
 *
 * A one-off question about a window's percentiles needs every value of the
 * window: O(n).  A window that is asked about again and again (a
 * dashboard polling /stats, a WebSocket subscription) becomes "standing":
 * the series keeps the window's values in an order-statistic tree
 * (rank_tree.h, exact) or, past `exact_max` points, in a log-bucket sketch
 * (rank_sketch.h, within 1%), updated as each point arrives and as old
 * ones leave, so each point costs O(log n) per standing window and each
 * question O(log n).  The window also keeps the ewma of the last
 * STANDING_EWMAS half-lives asked for (ewma_window.h), O(1) amortised.
 *
 * The second question about the same window (same window_size, or same
 * duration) within `idle_s` seconds makes it standing; one that nobody
 * asks about for `idle_s` is dropped by standing_sweep.  A series keeps at
 * most `per_series` standing windows (the least recently asked makes room
 * if nobody asked about it for idle_s / 5) and all of them together at
 * most `max_bytes`; a window that does not fit is answered the one-off
 * way.  Pure data structure: no I/O, no locking.
 */
#ifndef STREAMAVG_STANDING_H
#define STREAMAVG_STANDING_H

#include <stddef.h>
#include <stdint.h>

#include "ewma_window.h"
#include "rank_sketch.h"
#include "rank_tree.h"
#include "window.h"

/* Limits and figures shared by every series. */
struct standing_pool {
    size_t exact_max;       /* windows above this many points: sketch */
    size_t max_bytes;
    unsigned per_series;
    double idle_s;
    size_t bytes;           /* held by all standing windows now */
    size_t live;            /* standing windows now */
    uint64_t built;         /* standing windows ever built */
    uint64_t refused;       /* builds refused for want of memory */
};

#define STANDING_EWMAS 2

struct standing_window {
    size_t points;          /* window_size, or 0 for a duration */
    double seconds;         /* the duration when points is 0 */
    double last_asked;      /* app_now() of the latest question */
    int live;               /* 0: asked once, nothing kept yet */
    int exact;              /* the tree, else the sketch */
    uint64_t first_seq;     /* ring position (ring.total-based) of the
                               window's oldest point */
    size_t count;
    size_t bytes;
    struct rank_tree tree;
    struct rank_sketch sketch;
    unsigned n_ewma;
    double ewma_asked[STANDING_EWMAS];
    struct ewma_window ewma[STANDING_EWMAS];
};

struct standing_set;

/* The standing window that covers the newest `points` points (or the
 * newest `seconds`) of ring w, built when this is the second question
 * within idle_s, or NULL: the caller then answers the one-off way.
 * With a half-life (halflife_seconds or halflife_points > 0) the window
 * keeps that ewma from now on.  *setp is the series' set, allocated on
 * first use. */
const struct standing_window *standing_ask(struct standing_set **setp,
                                           struct standing_pool *pool,
                                           const struct window_ring *w,
                                           size_t points, double seconds,
                                           double halflife_seconds,
                                           size_t halflife_points,
                                           double now);

/* Bring every standing window of a series up to date with a point about
 * to be pushed onto w (its timestamp already raised to w's newest): call
 * it just before window_push.  A window that cannot take the point (no
 * memory) is dropped.  set may be NULL. */
void standing_advance(struct standing_set *set, const struct window_ring *w,
                      double ts, double value);

/* Drop every standing window of a series: window_push failed after
 * standing_advance, so they no longer match the ring. */
void standing_reset(struct standing_set *set);

/* Drop the windows nobody asked about for the pool's idle_s. */
void standing_sweep(struct standing_set *set, double now);

void standing_free(struct standing_set *set);

/* The value of rank k of the window, k < its count: exact, or the
 * sketch's estimate. */
double standing_select(const struct standing_window *sw, size_t k);

/* The window's ewma with that half-life as of w's newest point, or NaN
 * when it keeps none or its sums left a double's range. */
double standing_ewma(const struct standing_window *sw,
                     const struct window_ring *w, double halflife_seconds,
                     size_t halflife_points);

#endif
