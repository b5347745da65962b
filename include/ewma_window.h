/*
 * ewma_window.h - the exponentially weighted average of a sliding window,
 * kept current in O(1) amortised per point and per question.
 *
 * The average is sum(w_i x_i) / sum(w_i) over the window's points with
 * w_i = 2^-((c_newest - c_i) / h), where c is a point's timestamp (a
 * half-life in seconds) or its position in the series (a half-life in
 * points).  The window is split in two, as a queue made of two stacks:
 * the older part keeps, for each of its points, the weighted sums from
 * that point to the part's end, so the oldest point leaves by moving an
 * index; the newer part keeps one running pair of sums.  When the older
 * part runs out, the newer part becomes it, its suffix sums computed once
 * from the ring.  Nothing is ever subtracted, so a huge value that leaves
 * the window leaves no error behind; every weight is computed afresh from
 * a difference of c, and the sums are compensated.  Pure data structure:
 * no I/O, no locking.
 */
#ifndef STREAMAVG_EWMA_WINDOW_H
#define STREAMAVG_EWMA_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

struct ewma_window {
    double halflife_seconds;    /* > 0: weights by timestamp */
    size_t halflife_points;     /* else by position */

    /* The older part: points at ring positions [old_first, old_end),
     * with old_s[i] and old_d[i] the weighted sums of values and weights
     * from position old_base + i to old_end - 1, relative to old_c, the
     * coordinate of position old_end - 1. */
    double *old_s, *old_d;
    size_t old_cap;
    uint64_t old_base, old_first, old_end;
    double old_c;

    /* The newer part: positions [old_end, newest], its sums relative to
     * new_ref (compensated: the _c terms). */
    double new_s, new_s_c, new_d, new_d_c;
    double new_ref;
    size_t new_count;
};

/* Fill e from the points of w at logical indexes [first, w->len), with
 * the half-life given (one of them > 0).  Allocates nothing: the first
 * ewma_window_pop does. */
void ewma_window_build(struct ewma_window *e, const struct window_ring *w,
                      size_t first, double halflife_seconds,
                      size_t halflife_points);

void ewma_window_free(struct ewma_window *e);

/* The window's oldest point leaves: call before the ring moves on (its
 * newer part may be read from the ring).  Returns 0, or -1 when memory
 * ran out. */
int ewma_window_pop(struct ewma_window *e, const struct window_ring *w);

/* A point joins at ring position `seq` (= w->total before the push). */
void ewma_window_push(struct ewma_window *e, uint64_t seq, double ts,
                      double value);

/* The average as of the newest point (ring position seq_newest, timestamp
 * ts_newest); NaN when the sums left a double's range (values beyond
 * about 1e289): the caller then computes it another way. */
double ewma_window_value(const struct ewma_window *e, uint64_t seq_newest,
                         double ts_newest);

size_t ewma_window_bytes(const struct ewma_window *e);

#endif
