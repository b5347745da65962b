/*
 * params.c - strict readers for query parameter values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

int param_uint(const char *name, const char *text, long min, long max,
               long *out, char *err, size_t errlen)
{
    const char *p;
    long v = 0;

    if (!*text)
        goto bad;
    for (p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        /* Stop before overflow; anything this long is out of range. */
        if (v > (max - (*p - '0')) / 10)
            goto range;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        goto range;
    *out = v;
    return 0;

bad:
    snprintf(err, errlen, "%s must be a whole number from %ld to %ld",
             name, min, max);
    return -1;
range:
    snprintf(err, errlen, "%s is out of range: it must be from %ld to %ld",
             name, min, max);
    return -1;
}

int param_duration(const char *name, const char *text, double max_seconds,
                   double *seconds, char *err, size_t errlen)
{
    static const struct { const char *unit; double scale; } units[] = {
        {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400},
    };
    const char *p = text;
    double v = 0;
    size_t i;

    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > 1e12)
            goto bad;
        p++;
    }
    if (p == text)
        goto bad;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit))
            continue;
        v *= units[i].scale;
        if (v <= 0 || v > max_seconds) {
            snprintf(err, errlen, "%s must be more than 0 and at most %.0f "
                     "seconds", name, max_seconds);
            return -1;
        }
        *seconds = v;
        return 0;
    }

bad:
    snprintf(err, errlen, "%s must be a whole number with a unit: ms, s, "
             "m, h or d (e.g. 500ms, 30s, 5m, 1h)", name);
    return -1;
}

int param_halflife(const char *text, long max_points, double *seconds,
                   size_t *points, char *err, size_t errlen)
{
    long n;

    *seconds = 0;
    *points = 0;
    if (*text && strspn(text, "0123456789") == strlen(text)) {
        if (param_uint("halflife", text, 1, max_points, &n, err,
                       errlen) < 0)
            return -1;
        *points = (size_t)n;
        return 0;
    }
    if (param_duration("halflife", text, 366 * 86400.0, seconds, err,
                       errlen) < 0) {
        snprintf(err, errlen, "halflife must be a duration (e.g. 30s, "
                 "500ms, 5m) of at most 366d, or a whole number of points "
                 "from 1 to %ld", max_points);
        return -1;
    }
    return 0;
}
