/*
 * ingest.h - the parsers that turn producers' bytes into points.
 *
 * Pure functions over byte buffers with a length (never NUL-terminated
 * strings): no I/O, no allocation per line in the common case, no global
 * state, so they can be unit-tested and fuzzed alone.  Every rejection
 * writes one sentence into a caller-owned buffer saying what was wrong and
 * what is allowed; the network layer decides what to do with it.
 *
 * Timestamps, for every format: seconds since the epoch, with a fraction.
 * A missing timestamp, or Graphite's -1, means `now` (given by the caller).
 * A timestamp above INGEST_MS_THRESHOLD is taken as milliseconds and
 * divided by 1000, since no seconds timestamp before the year 5000 is that
 * large and producers that send milliseconds are common.  Negative
 * timestamps (other than Graphite's -1), non-finite ones and those of
 * INGEST_TS_CEILING or more are rejected.
 * Graphite's -1 is any number equal to -1 ("-1", "-1.0", "-1e0"); in JSON,
 * null means now and -1 is rejected like any negative timestamp.
 *
 * Numbers in text (Graphite): an optional sign, digits with an optional
 * decimal point (at least one digit: "5.", ".5"), an optional exponent
 * (e or E, optional sign, digits); at most 64 bytes, read in a private "C"
 * locale (made once, never changed) whatever setlocale says.  A leading
 * '+' is accepted (Python's float(), which carbon uses, accepts it too).
 * nan, inf, infinity, hex floats, trailing garbage and overflow are
 * rejected; underflow gives 0 or a subnormal.  Values are always finite.
 *
 * JSON (lines and bodies) is parsed strictly by json-c: no comments, no
 * trailing commas, at most 7 levels of nesting, valid UTF-8 only, nothing
 * but whitespace after the value.  json-c still accepts NaN and Infinity
 * (rejected here as non-finite) and single-quoted strings; it clamps
 * integers beyond 64 bits, so integers equal to INT64_MIN or UINT64_MAX are
 * rejected as overflow.  Keys other than series, value and timestamp are
 * ignored.
 *
 * Error sentences never quote the input: a bad byte is described by its
 * position and hex value, so a sentence is always printable ASCII.
 */
#ifndef STREAMAVG_INGEST_H
#define STREAMAVG_INGEST_H

#include <stddef.h>

#define SERIES_NAME_MAX 255
#define INGEST_MS_THRESHOLD 1e11
/* Timestamps from here up are refused: as milliseconds they would land
 * beyond INGEST_MS_THRESHOLD seconds again, and no clock means them. */
#define INGEST_TS_CEILING 1e14
#define INGEST_ERR_MAX 160

/* One parsed point.  `name` points into the caller's input buffer, or into
 * `name_buf` when the input had to be decoded (JSON escapes). */
struct ingest_point {
    const char *name;
    size_t name_len;
    double value;
    double ts;
    char name_buf[SERIES_NAME_MAX + 1];
};

/* 1 when name[0..len) is a valid series name: 1 to SERIES_NAME_MAX bytes
 * of [A-Za-z0-9._:-] (so no NUL, blanks, quotes or bytes >= 0x80). */
int ingest_series_name_ok(const char *name, size_t len);

/* Write a sentence into err (when err is not NULL) and return -1: the
 * parsers' common way to refuse. */
int ingest_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The number rules above for one token p[0..n); `what` names the field in
 * the sentence written to err.  Returns 0 with a finite *out, or -1. */
int ingest_parse_decimal(const char *p, size_t n, const char *what,
                         double *out, char *err, size_t errlen);

/* The timestamp rules above for a number already read, in seconds: the
 * millisecond rule, no negatives; with minus_one set, -1 means now.
 * Returns 0 with *out, or -1 with a sentence in err. */
int ingest_finish_timestamp(double ts, int minus_one, double now,
                            double *out, char *err, size_t errlen);

/* Parse one Graphite plaintext line, "path value [timestamp]", separated by
 * runs of spaces or tabs, without its line ending (a trailing CR is
 * ignored, and so are leading and trailing blanks).  Returns 1 with *out
 * filled, 0 for a blank line (skip it silently), or -1 with a sentence in
 * err.  out->name points into line, or into out->name_buf for a Graphite
 * 1.1 tagged path ("path;key=value;...", named as tagname.h says);
 * nothing is allocated. */
int ingest_parse_graphite(const char *line, size_t len, double now,
                          struct ingest_point *out, char *err, size_t errlen);

/* Parse one JSON object {"series": S, "value": V, "timestamp": T} held in
 * line[0..len) (one NDJSON line).  "series" is optional and defaults to
 * "default" (null is rejected); "value" must be a JSON number (a string is
 * rejected); "timestamp" is optional, null meaning now.  A trailing CR is
 * whitespace.  Returns 1, 0 for a blank line, or -1 with a sentence in err.
 * out->name always points into out->name_buf. */
int ingest_parse_json_line(const char *line, size_t len, double now,
                           struct ingest_point *out, char *err,
                           size_t errlen);

struct json_object;

/* The same checks for an object json-c already parsed.  The name is
 * copied into out->name_buf, so the point outlives obj. */
int ingest_point_from_json(struct json_object *obj, double now,
                           struct ingest_point *out, char *err,
                           size_t errlen);

/* Called once per item of a JSON body: p is the point, or NULL with a
 * sentence in err when that item was rejected.  item_no counts from 1.
 * Return nonzero to stop. */
typedef int (*point_fn)(void *arg, size_t item_no,
                        const struct ingest_point *p, const char *err);

/* Parse an application/json body: one point object, or an array of them,
 * items applied in order.  Returns the number of items delivered to fn
 * (rejected ones included; fewer when fn asked to stop), or -1 with a
 * sentence in err when the body as a whole is not such JSON, empty bodies
 * included (nothing is delivered then).  The err passed to fn lives only
 * for the call. */
long ingest_parse_json_body(const char *body, size_t len, double now,
                            point_fn fn, void *arg, char *err,
                            size_t errlen);

/*
 * Splits a byte stream into lines for the line-based protocols, across
 * reads of any size.  A line longer than max_line is dropped whole (the
 * splitter resynchronises at the next newline) and reported once.  A final
 * line without a newline is only delivered by line_splitter_finish(), which
 * a stream calls when its peer closes and an HTTP body calls at its end.
 * The buffer never grows beyond max_line bytes; it is allocated once by
 * line_splitter_init().  A line of exactly max_line bytes (without its
 * '\n'; a CR before it counts) is accepted.  Every line is delivered,
 * empty ones included, and any split of the same bytes into reads gives the
 * same calls.  The over-long report comes when the line ends (at its '\n'
 * or at finish), so it carries that line's number.
 */
struct line_splitter {
    char *buf;
    size_t len;
    size_t max_line;
    int discarding;     /* inside an over-long line */
    size_t line_no;     /* lines seen so far, counting the dropped ones */
};

/* Called once per complete line, without its '\n'.  `too_long` is 1 for an
 * over-long line (then line is NULL).  line points into the caller's data
 * or the splitter's buffer and is valid only during the call.  Return
 * nonzero to stop feeding. */
typedef int (*line_fn)(void *arg, size_t line_no, const char *line,
                       size_t len, int too_long);

/* 0, or -1 when max_line is 0 or out of memory. */
int line_splitter_init(struct line_splitter *s, size_t max_line);
void line_splitter_free(struct line_splitter *s);
/* Feed bytes.  Returns what the callback last returned (0 normally).  After
 * a nonzero return the rest of data was not consumed: stop using the
 * stream (close it) rather than feed it again. */
int line_splitter_feed(struct line_splitter *s, const char *data, size_t len,
                       line_fn fn, void *arg);
/* Deliver a pending final line without a newline, if any. */
int line_splitter_finish(struct line_splitter *s, line_fn fn, void *arg);

#endif
