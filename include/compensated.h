/*
 * compensated.h - Neumaier's compensated addition, for the weighted sums
 * of the ewma (stats.c, ewma_window.c).
 */
#ifndef STREAMAVG_COMPENSATED_H
#define STREAMAVG_COMPENSATED_H

#include <math.h>

/* Add x to the running sum *s, keeping in *c what rounding left out, so
 * that *s + *c carries the sum to within one rounding whatever the order
 * of magnitudes. */
static inline void compensated_add(double *s, double *c, double x)
{
    double t = *s + x;

    if (fabs(*s) >= fabs(x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

#endif
