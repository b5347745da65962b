/*
 * params.h - query parameter values turned into typed values, with a
 * sentence naming the parameter and the allowed range when they are not.
 * Pure functions: lws finds the parameters, these read them.
 */
#ifndef STREAMAVG_PARAMS_H
#define STREAMAVG_PARAMS_H

#include <stddef.h>

/* A decimal integer in [min, max]: digits only, no sign, no blanks.
 * Returns 0, or -1 with err. */
int param_uint(const char *name, const char *text, long min, long max,
               long *out, char *err, size_t errlen);

/* A duration: a whole number followed by ms, s, m, h or d, e.g. 500ms,
 * 30s, 5m, 1h, 1d; more than 0 and at most max_seconds.  Returns 0 with
 * *seconds set, or -1 with err. */
int param_duration(const char *name, const char *text, double max_seconds,
                   double *seconds, char *err, size_t errlen);

/* The ewma's half-life: a duration (30s: time-based) or a whole number
 * of points (20: points-based), at most max_points.  Returns 0 with one
 * of *seconds and *points set and the other 0, or -1 with err. */
int param_halflife(const char *text, long max_points, double *seconds,
                   size_t *points, char *err, size_t errlen);

#endif
