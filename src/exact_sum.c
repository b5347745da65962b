/*
 * exact_sum.c - a fixed-point accumulator wide enough for every double
 * (see exact_sum.h).
 */
#include <math.h>
#include <string.h>

#include "exact_sum.h"

/* Bit 0 of the accumulator stands for 2^-1074, the least subnormal. */
#define LSB_EXPONENT (-1074)

void exact_sum_init(struct exact_sum *s)
{
    memset(s, 0, sizeof(*s));
}

/* Add (or, when negative, subtract) m * 2^pos, m < 2^53. */
static void add_at(struct exact_sum *s, uint64_t m, int pos, int negative)
{
    int w = pos / 64, sh = pos % 64;
    uint64_t part[2] = {m << sh, sh ? m >> (64 - sh) : 0};
    int i;

    if (!negative) {
        uint64_t carry = 0;

        for (i = w; i < EXACT_SUM_WORDS; i++) {
            uint64_t add = (i - w < 2 ? part[i - w] : 0);
            uint64_t t = s->word[i] + add;
            uint64_t c1 = t < add;

            s->word[i] = t + carry;
            carry = c1 | (s->word[i] < t);
            if (!carry && i - w >= 1)
                break;
        }
    } else {
        uint64_t borrow = 0;

        for (i = w; i < EXACT_SUM_WORDS; i++) {
            uint64_t sub = (i - w < 2 ? part[i - w] : 0);
            uint64_t t = s->word[i] - sub;
            uint64_t b1 = s->word[i] < sub;

            s->word[i] = t - borrow;
            borrow = b1 | (t < borrow);
            if (!borrow && i - w >= 1)
                break;
        }
    }
}

void exact_sum_add(struct exact_sum *s, double x)
{
    int e;
    double f;

    if (x == 0 || !isfinite(x))
        return;
    /* x = f * 2^e with 0.5 <= |f| < 1: the significand is f * 2^53,
     * placed at e - 53, or lower for subnormals, which have fewer bits. */
    f = frexp(fabs(x), &e);
    if (e - 53 >= LSB_EXPONENT)
        add_at(s, (uint64_t)ldexp(f, 53), e - 53 - LSB_EXPONENT, x < 0);
    else
        add_at(s, (uint64_t)ldexp(f, e - LSB_EXPONENT), 0, x < 0);
}

/* The magnitude held in w (non-negative), rounded to a double. */
static double round_magnitude(const uint64_t *w)
{
    int top = EXACT_SUM_WORDS - 1, h, i;
    uint64_t bits;
    int sticky = 0;

    while (top >= 0 && w[top] == 0)
        top--;
    if (top < 0)
        return 0.0;
    h = 63 - __builtin_clzll(w[top]) + 64 * top;   /* highest set bit */
    if (h < 64)
        return ldexp((double)w[0], LSB_EXPONENT);  /* one rounding */

    /* The 64 bits from h down, and whether anything below them is set:
     * folded into the lowest bit, it breaks a tie the right way. */
    if (h % 64 == 63) {
        bits = w[top];
        i = top - 1;
    } else {
        int sh = 63 - h % 64;

        bits = (w[top] << sh) | (w[top - 1] >> (64 - sh));
        sticky = (w[top - 1] << sh) != 0;
        i = top - 2;
    }
    for (; i >= 0 && !sticky; i--)
        sticky = w[i] != 0;
    return ldexp((double)(bits | (uint64_t)sticky), h - 63 + LSB_EXPONENT);
}

static double value_of(const struct exact_sum *s)
{
    uint64_t neg[EXACT_SUM_WORDS], carry = 1;
    int i;

    if (!(s->word[EXACT_SUM_WORDS - 1] >> 63))
        return round_magnitude(s->word);
    for (i = 0; i < EXACT_SUM_WORDS; i++) {
        neg[i] = ~s->word[i] + carry;
        carry = carry && neg[i] == 0;
    }
    return -round_magnitude(neg);
}

double exact_sum_value(const struct exact_sum *s, double *rest)
{
    double hi = value_of(s);

    if (!isfinite(hi)) {
        if (rest)
            *rest = NAN;
        return NAN;
    }
    if (rest) {
        struct exact_sum left = *s;

        exact_sum_add(&left, -hi);
        *rest = value_of(&left);
    }
    return hi;
}
