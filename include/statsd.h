/*
 * statsd.h - StatsD lines into metrics: "name:value|type[|@rate][|#tags]".
 *
 * A pure function over a byte buffer with a length, like the parsers of
 * ingest.h.  What each type means in streamavg (statsd_listen.c applies
 * it):
 *
 *   g   gauge: the value is the series' new value, one point at arrival
 *       time.  "+N" or "-N" is a change to the series' newest value (0 for
 *       a new series), as StatsD does; so a negative gauge is set by
 *       sending 0 first, then "-N".
 *   c   counter: value / rate is added to the counter's sum for the
 *       current flush interval (statsd.flush_ms).  At each flush, every
 *       counter that received something becomes one point whose value is
 *       that sum (events per flush interval), stamped with the flush time.
 *       An interval with nothing received makes no point.
 *
 * Other types (ms, h, s, d) are rejected with a sentence starting "type",
 * and so counted as "unsupported_type".  The sample rate, "@R" with
 * 0 < R <= 1, scales counters and is ignored for gauges.  DogStatsD tags
 * ("|#a:b") are accepted and ignored.  Names follow the series rules of
 * ingest.h; the value follows its number rules.  Blanks around the line
 * and a trailing CR are ignored; an empty line is skipped.
 */
#ifndef STREAMAVG_STATSD_H
#define STREAMAVG_STATSD_H

#include <stddef.h>

enum statsd_type {
    STATSD_GAUGE,
    STATSD_GAUGE_DELTA,     /* value is the change, with its sign */
    STATSD_COUNTER          /* value already divided by the rate */
};

struct statsd_metric {
    const char *name;       /* points into the line */
    size_t name_len;
    enum statsd_type type;
    double value;
};

/* Parse one line (without '\n').  Returns 1 with *out, 0 for a blank
 * line, or -1 with a sentence in err.  Nothing is allocated. */
int statsd_parse_line(const char *line, size_t len, struct statsd_metric *out,
                      char *err, size_t errlen);

#endif
