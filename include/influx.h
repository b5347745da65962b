/*
 * influx.h - InfluxDB 1.x line protocol into points, as POST /write takes
 * it:
 *
 *     measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * A pure function over a byte buffer with a length, like the parsers of
 * ingest.h: no I/O, no allocation, no global state.
 *
 * Series names (tagname.h).  Each numeric field of a line becomes one
 * point of the series "measurement.field", followed by ".key:value" for
 * each tag, the tags sorted by key (bytewise, as InfluxDB itself orders
 * them), so the same line always names the same series whatever order its
 * tags came in:
 *
 *     cpu,region=west,host=a usage=0.5   ->   cpu.usage.host:a.region:west
 *
 * Bytes outside the series alphabet [A-Za-z0-9._:-] (spaces, quotes,
 * braces, '/', ',', '=', bytes of multi-byte UTF-8 characters) become '_'
 * in the name, one '_' per byte.  Control bytes (below 0x20, and 0x7f) are
 * not mapped: the line is rejected.  A name over SERIES_NAME_MAX bytes
 * rejects the line.
 *
 * Syntax, as InfluxDB 1.x: a backslash escapes the byte after it (so
 * "\ ", "\," and "\=" are part of a name, and the backslash is dropped
 * before those three; before any other byte it stays).  In string field
 * values "\"" and "\\" are escapes.  The three sections are separated by
 * runs of spaces or tabs; a line starting with '#' is a comment; a
 * trailing CR and blanks at either end are ignored.
 *
 * Field values: floats follow the number rules of ingest.h (no nan, inf or
 * hex); integers end in 'i' and unsigned integers in 'u' (at most 64 bits,
 * converted to the nearest double).  Booleans and strings are valid but
 * not numeric: they make no point and are skipped.  A line whose every
 * field is skipped is accepted with no points.  At most INFLUX_MAX_FIELDS
 * numeric fields and INFLUX_MAX_TAGS tags per line.
 *
 * Timestamps: a whole number (optional '-') in the unit of the precision,
 * nanoseconds by default.  Converted to seconds, the rules of ingest.h
 * apply: negative ones are rejected, and a value above
 * INGEST_MS_THRESHOLD seconds is taken as milliseconds (so precision=s
 * with millisecond timestamps still lands in the present).  A missing
 * timestamp means now.  A bad line contributes no point at all.
 */
#ifndef STREAMAVG_INFLUX_H
#define STREAMAVG_INFLUX_H

#include <stddef.h>

#include "ingest.h"
#include "tagname.h"

#define INFLUX_MAX_TAGS NAME_MAX_TAGS
#define INFLUX_MAX_FIELDS 256

/* A timestamp unit: seconds = t * num / den. */
struct influx_precision {
    double num, den;
};

/* The unit named by a precision parameter: n or ns, u or us, ms, s, m, h.
 * Returns 0, or -1 for an unknown name.  len 0 gives nanoseconds. */
int influx_precision_parse(const char *name, size_t len,
                           struct influx_precision *out);

/* Called once per numeric field of a good line, in the line's order.
 * p->name points into p->name_buf.  Return nonzero to stop. */
typedef int (*influx_point_fn)(void *arg, const struct ingest_point *p);

/* Parse one line (without its '\n').  Returns the number of points
 * delivered to fn (0 for a blank or comment line, or one with no numeric
 * field), or -1 with a sentence in err and nothing delivered. */
int influx_parse_line(const char *line, size_t len, double now,
                      const struct influx_precision *prec, influx_point_fn fn,
                      void *arg, char *err, size_t errlen);

#endif
