/*
 * statsd.c - one StatsD line into a metric (see statsd.h for the rules).
 */
#include "statsd.h"

#include <math.h>
#include <string.h>

#include "ingest.h"

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Index of the first c in p[from..n), or n. */
static size_t find(const char *p, size_t n, size_t from, char c)
{
    const char *hit = from < n ? memchr(p + from, c, n - from) : NULL;

    return hit ? (size_t)(hit - p) : n;
}

/* The optional sections after the type: "@rate" and "#tags". */
static int read_sections(const char *p, size_t n, double *rate, char *err,
                         size_t errlen)
{
    size_t i = 0;

    while (i < n) {
        size_t end = find(p, n, i + 1, '|');

        /* p[i] is the '|' that starts this section. */
        if (end > i + 1 && p[i + 1] == '@') {
            if (ingest_parse_decimal(p + i + 2, end - i - 2, "sample rate",
                                     rate, err, errlen) < 0)
                return -1;
            if (!(*rate > 0 && *rate <= 1))
                return ingest_fail(err, errlen, "sample rate must be above "
                                   "0 and at most 1");
        } else if (end == i + 1 || p[i + 1] != '#') {
            return ingest_fail(err, errlen, "line has an unknown section "
                               "after the type; expected |@rate or |#tags");
        }
        i = end;
    }
    return 0;
}

int statsd_parse_line(const char *line, size_t len, struct statsd_metric *out,
                      char *err, size_t errlen)
{
    size_t start = 0, colon, bar, tend;
    const char *type;
    size_t tlen;
    double v, rate = 1;

    if (err && errlen)
        err[0] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || is_blank(line[len - 1])))
        len--;
    while (start < len && is_blank(line[start]))
        start++;
    if (start == len)
        return 0;
    line += start;
    len -= start;

    colon = find(line, len, 0, ':');
    bar = find(line, len, colon, '|');
    if (colon == len || bar == len)
        return ingest_fail(err, errlen, "line is not name:value|type");
    if (!ingest_series_name_ok(line, colon))
        return ingest_fail(err, errlen, "series name must be 1 to %d bytes "
                           "of [A-Za-z0-9._-]", SERIES_NAME_MAX);
    tend = find(line, len, bar + 1, '|');
    type = line + bar + 1;
    tlen = tend - bar - 1;
    /* The type first: a set's or timer's value need not be a number, and
     * the reason counted should be the type. */
    if (tlen != 1 || (type[0] != 'g' && type[0] != 'c'))
        return ingest_fail(err, errlen, "type must be g (gauge) or c "
                           "(counter); timers, histograms, sets and "
                           "distributions are not taken");
    if (ingest_parse_decimal(line + colon + 1, bar - colon - 1, "value", &v,
                             err, errlen) < 0 ||
        read_sections(line + tend, len - tend, &rate, err, errlen) < 0)
        return -1;

    out->name = line;
    out->name_len = colon;
    if (type[0] == 'g') {
        char sign = line[colon + 1];

        out->type = sign == '+' || sign == '-' ? STATSD_GAUGE_DELTA
                                               : STATSD_GAUGE;
        out->value = v;
        return 1;
    }
    out->type = STATSD_COUNTER;
    out->value = v / rate;
    if (!isfinite(out->value))
        return ingest_fail(err, errlen, "value divided by the sample rate is "
                           "too large for a double");
    return 1;
}
