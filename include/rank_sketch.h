/*
 * rank_sketch.h - approximate ranks over a multiset of doubles too large
 * to keep whole, with a stated error bound.
 *
 * Values are counted in log-spaced buckets (the DDSketch idea): bucket k
 * of each sign holds the magnitudes in (g^(k-1), g^k], with
 * g = (1 + a) / (1 - a), a = RANK_SKETCH_ALPHA, and reports 2 g^k / (g + 1),
 * which lies within a relative a of every value in the bucket.  The
 * buckets cover every finite double, from the least subnormal to DBL_MAX,
 * so no value is clamped; zero has a bucket of its own and is exact.
 * A Fenwick tree over the buckets makes adding, removing and finding the
 * bucket of rank k all O(log B), B = 145,415 buckets, in a fixed 582 KB.
 * Pure data structure: no I/O, no locking.
 */
#ifndef STREAMAVG_RANK_SKETCH_H
#define STREAMAVG_RANK_SKETCH_H

#include <stddef.h>
#include <stdint.h>

/* The relative error bound of every estimate. */
#define RANK_SKETCH_ALPHA 0.01

struct rank_sketch {
    uint32_t *fenwick;      /* 1-based over the buckets */
    uint64_t count;
};

/* Returns 0, or -1 when memory ran out. */
int rank_sketch_init(struct rank_sketch *sk);
void rank_sketch_free(struct rank_sketch *sk);

/* Count one more (add) or one fewer (remove) value v; v must be finite,
 * and a removed value must have been added.  At most 2^32 - 1 values. */
void rank_sketch_add(struct rank_sketch *sk, double v);
void rank_sketch_remove(struct rank_sketch *sk, double v);

/* The estimate of the value of rank k (0 = the least), k < count: within
 * a relative RANK_SKETCH_ALPHA of the exact value of rank k. */
double rank_sketch_select(const struct rank_sketch *sk, uint64_t k);

size_t rank_sketch_bytes(void);

#endif
