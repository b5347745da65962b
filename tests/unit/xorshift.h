/*
 * xorshift.h - a small deterministic generator for the unit tests, so that
 * a failure replays the same way every run.
 */
#ifndef STREAMAVG_TEST_XORSHIFT_H
#define STREAMAVG_TEST_XORSHIFT_H

#include <stdint.h>

static uint64_t rng_state = 88172645463325252ULL;

static inline uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#endif
