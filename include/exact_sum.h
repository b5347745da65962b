/*
 * exact_sum.h - the exact sum of any number of doubles, rounded once.
 *
 * Every finite double is an integer multiple of 2^-1074, so a sum of
 * doubles is one too: the accumulator is that integer, in two's
 * complement over EXACT_SUM_WORDS 64-bit words (2^-1074 up to 2^1166, room
 * for 2^140 additions of the largest double).  Adding a value adds its
 * 53-bit significand at its place, O(1) apart from the carries.  The
 * result is the exact sum rounded to nearest, ties to even.  For the rare
 * windows whose block-tree sum may have lost digits to cancellation
 * (window.c).  Pure data structure: no I/O, no locking.
 */
#ifndef STREAMAVG_EXACT_SUM_H
#define STREAMAVG_EXACT_SUM_H

#include <stdint.h>

#define EXACT_SUM_WORDS 35

struct exact_sum {
    uint64_t word[EXACT_SUM_WORDS];     /* least significant first */
};

void exact_sum_init(struct exact_sum *s);

/* Add a finite value. */
void exact_sum_add(struct exact_sum *s, double x);

/* The sum rounded to nearest (ties to even); with rest, what that
 * rounding left out, itself rounded.  NaN when the sum is beyond the
 * range of a double. */
double exact_sum_value(const struct exact_sum *s, double *rest);

#endif
