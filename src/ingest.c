/*
 * ingest.c - Graphite plaintext, JSON lines and JSON bodies into points,
 * and the line splitter in front of the line-based protocols.
 *
 * Everything here works on (pointer, length) buffers and reads nothing
 * past the length: producers' bytes arrive in network buffers that are not
 * NUL-terminated.  Error sentences describe a bad byte (position and hex
 * value) instead of quoting it, because they are sent back inside JSON and
 * written to logs.
 */
#include "ingest.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "tagname.h"

/* Longest number token we convert; longer ones are rejected, so the copy
 * that strtod_l needs fits on the stack. */
#define NUM_TOKEN_MAX 64

/* Nesting allowed in a JSON body or line: an array of point objects needs
 * two levels, the rest is room for ignored fields such as tags. */
#define JSON_DEPTH 8

#define NAME_ALPHABET "[A-Za-z0-9._:-]"

/* The other parsers (influx.c, statsd.c) share this one; here it keeps
 * its short name. */
#define fail ingest_fail

int ingest_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void clear_err(char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
}

/* ---- numbers ---------------------------------------------------------- */

/* strtod follows LC_NUMERIC, which would turn "1.5" into 1 under a locale
 * with a decimal comma.  Nothing in streamavg calls setlocale, but a
 * library might; a private "C" locale makes parsing independent of it.
 * It is created once and never changes, so sharing it between threads is
 * safe. */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int is_digit(char c)
{
    /* Not isdigit(): that one depends on the locale too. */
    return c >= '0' && c <= '9';
}

/* Clinger's fast path.  A decimal m x 10^e whose digits fit in m < 2^53
 * and whose exponent lies within +-22 is m exactly as a double times (or
 * over) 10^|e| exactly as a double (10^22 = 5^22 x 2^22 with 5^22 < 2^53
 * is the largest power of ten a double holds exactly), so one IEEE
 * multiplication or
 * division rounds it once, which is exactly what strtod returns, in any
 * rounding mode: the sign is applied before that one operation.  It needs
 * double arithmetic without excess precision (FLT_EVAL_METHOD 0, as on
 * x86-64 and aarch64); elsewhere every number goes to strtod_l.
 * tests/unit/test_decimal.c compares the two bit for bit. */
static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define FAST_MANTISSA_LIMIT (1ULL << 53)
#define FAST_EXP_MAX 22
/* Enough for any exponent that matters; more digits only saturate. */
#define EXP_SATURATE 100000

/* One pass over [+-] digits [. digits] [e [+-] digits], the only syntax
 * accepted (at least one mantissa digit on either side of the point),
 * from p[0] and at most n bytes: stops at the first byte that cannot
 * continue it and stores that index in *end.  Returns 0 when p[0..*end)
 * is not that syntax, which keeps out everything else strtod would take
 * (nan, inf, infinity, hex floats, leading blanks).  Otherwise returns 1,
 * and when the value is within the fast path's reach also stores it in
 * *fast and sets *have_fast.  A token is a number when this returns 1
 * with *end at its length. */
static int scan_number(const char *p, size_t n, size_t *end, double *fast,
                       int *have_fast)
{
    size_t i = 0, digits = 0, exp_digits = 0;
    uint64_t m = 0;
    long e10 = 0, e = 0;
    int neg = 0, exp_neg = 0;

    *have_fast = 0;
    *end = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    /* Digits gather in m while it is below 2^53; once it is not, the
     * number is strtod's, and m only has to stay there (it cannot
     * overflow: at most 10 x 2^53 + 9). */
    for (; i < n && is_digit(p[i]); i++) {
        digits++;
        if (m < FAST_MANTISSA_LIMIT)
            m = m * 10 + (uint64_t)(p[i] - '0');
    }
    if (i < n && p[i] == '.')
        for (i++; i < n && is_digit(p[i]); i++) {
            digits++;
            if (m < FAST_MANTISSA_LIMIT) {
                m = m * 10 + (uint64_t)(p[i] - '0');
                e10--;
            }
        }
    *end = i;
    if (digits == 0)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            exp_neg = p[i++] == '-';
        for (; i < n && is_digit(p[i]); i++) {
            exp_digits++;
            if (e < EXP_SATURATE)
                e = e * 10 + (p[i] - '0');
        }
        *end = i;
        if (exp_digits == 0)
            return 0;
    }
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (m == 0) {
        /* Zero with any exponent: strtod gives a zero of the sign. */
        *fast = neg ? -0.0 : 0.0;
        *have_fast = 1;
        return 1;
    }
    e10 += exp_neg ? -e : e;
    if (m < FAST_MANTISSA_LIMIT && e10 >= -FAST_EXP_MAX &&
        e10 <= FAST_EXP_MAX) {
        double d = neg ? -(double)m : (double)m;

        *fast = e10 >= 0 ? d * pow10_exact[e10] : d / pow10_exact[-e10];
        *have_fast = 1;
    }
#else
    (void)neg;
    (void)exp_neg;
    (void)m;
    (void)e10;
#endif
    return 1;
}

/* Convert one number token p[0..n) into a finite double.  `what` names the
 * field in the error sentence. */
static int parse_number(const char *p, size_t n, const char *what,
                        double *out, char *err, size_t errlen)
{
    char tmp[NUM_TOKEN_MAX + 1];
    char *end;
    double d;
    int have_fast;
    size_t used;

    if (n == 0)
        return fail(err, errlen, "%s is empty", what);
    if (n > NUM_TOKEN_MAX)
        return fail(err, errlen,
                    "%s is longer than %d bytes; send a plain decimal number",
                    what, NUM_TOKEN_MAX);
    if (!scan_number(p, n, &used, &d, &have_fast) || used != n)
        return fail(err, errlen,
                    "%s is not a plain decimal number: use digits with an "
                    "optional sign, point and exponent (no nan, inf or hex)",
                    what);
    if (have_fast) {            /* finite: at most 2^53 x 10^22 */
        *out = d;
        return 0;
    }
    pthread_once(&c_locale_once, make_c_locale);
    if (c_locale == (locale_t)0)
        return fail(err, errlen,
                    "cannot parse %s: no C locale (out of memory?)", what);
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    errno = 0;
    d = strtod_l(tmp, &end, c_locale);
    if (end != tmp + n)         /* cannot happen after the syntax check */
        return fail(err, errlen, "%s is not a plain decimal number", what);
    /* ERANGE also flags underflow, which yields 0 or a subnormal: that is
     * still the closest double to what was sent, so only overflow fails. */
    if (!isfinite(d) || (errno == ERANGE && fabs(d) == HUGE_VAL))
        return fail(err, errlen, "%s is too large for a double", what);
    *out = d;
    return 0;
}

/* The timestamp rules of ingest.h, once the number is known.  `minus_one`
 * is set for Graphite, where -1 means now. */
static int finish_ts(double ts, int minus_one, double now, double *out,
                     char *err, size_t errlen)
{
    if (!isfinite(ts))
        return fail(err, errlen, "timestamp must be finite");
    if (minus_one && ts == -1.0) {
        *out = now;
        return 0;
    }
    if (ts < 0)
        return fail(err, errlen,
                    "timestamp is negative; send seconds or milliseconds "
                    "since the epoch, or %s for now",
                    minus_one ? "-1 or nothing" : "null or nothing");
    if (ts >= INGEST_TS_CEILING)
        return fail(err, errlen,
                    "timestamp is too large: at most 1e14 (milliseconds, "
                    "the year 5138)");
    if (ts > INGEST_MS_THRESHOLD)
        ts /= 1000.0;
    *out = ts + 0.0;            /* turns -0 into 0 */
    return 0;
}

/* ---- series names ----------------------------------------------------- */

/* The series-name alphabet as a table: one load per byte instead of a
 * chain of comparisons (names are most of a Graphite line). */
static const unsigned char name_byte[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
    ['.'] = 1, ['_'] = 1, [':'] = 1, ['-'] = 1,
};

static int name_byte_ok(unsigned char c)
{
    return name_byte[c];
}

/* Index of the first byte outside the alphabet, or len. */
static size_t first_bad_byte(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!name_byte_ok((unsigned char)name[i]))
            break;
    return i;
}

int ingest_series_name_ok(const char *name, size_t len)
{
    return len >= 1 && len <= SERIES_NAME_MAX &&
           first_bad_byte(name, len) == len;
}

static int check_name(const char *name, size_t len, char *err,
                      size_t errlen)
{
    size_t bad;

    if (len == 0)
        return fail(err, errlen,
                    "series name is empty; use 1 to %d bytes of "
                    NAME_ALPHABET, SERIES_NAME_MAX);
    if (len > SERIES_NAME_MAX)
        return fail(err, errlen,
                    "series name is %zu bytes long; the limit is %d bytes "
                    "of " NAME_ALPHABET, len, SERIES_NAME_MAX);
    bad = first_bad_byte(name, len);
    if (bad < len)
        return fail(err, errlen,
                    "series name has byte 0x%02x at position %zu (from 1), "
                    "outside the allowed " NAME_ALPHABET,
                    (unsigned char)name[bad], bad + 1);
    return 0;
}

/* ---- Graphite plaintext ----------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int ingest_parse_graphite(const char *line, size_t len, double now,
                          struct ingest_point *out, char *err, size_t errlen)
{
    const char *tok[3];
    size_t tok_len[3];
    size_t i = 0, nf = 0;
    double value, ts;
    int plain_name = 0;     /* the first field is all name alphabet */
    double num[3];          /* fields 1 and 2 converted as they are found */
    int num_ok[3] = {0, 0, 0};

    clear_err(err, errlen);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    for (;;) {
        size_t start;

        while (i < len && is_blank(line[i]))
            i++;
        if (i == len)
            break;
        if (nf == 3)
            return fail(err, errlen,
                        "line has more than 3 fields; expected "
                        "name value [timestamp] separated by spaces or tabs");
        start = i;
        if (nf == 0) {
            /* The name is checked as it is found: the usual line needs
             * no second pass over it. */
            while (i < len && name_byte_ok((unsigned char)line[i]))
                i++;
            plain_name = i == len || is_blank(line[i]);
        } else {
            /* So are the numbers: a field that is one, within the fast
             * path's reach, needs no second pass (parse_number). */
            size_t used;
            int fast, ok = scan_number(line + i, len - i, &used, &num[nf],
                                       &fast);

            i += used;
            num_ok[nf] = ok && fast && used <= NUM_TOKEN_MAX &&
                         (i == len || is_blank(line[i]));
        }
        while (i < len && !is_blank(line[i]))
            i++;
        tok[nf] = line + start;
        tok_len[nf] = i - start;
        nf++;
    }
    if (nf == 0)
        return 0;
    if (plain_name && tok_len[0] <= SERIES_NAME_MAX) {
        /* Valid as it stands: no ';' (tags), every byte allowed. */
    } else if (memchr(tok[0], ';', tok_len[0])) {
        /* Graphite 1.1 tags (tagname.h): the name is built in name_buf. */
        int n = graphite_tagged_name(tok[0], tok_len[0], out->name_buf,
                                     err, errlen);

        if (n < 0)
            return -1;
        tok[0] = out->name_buf;
        tok_len[0] = (size_t)n;
    } else if (check_name(tok[0], tok_len[0], err, errlen) < 0) {
        return -1;
    }
    if (nf == 1)
        return fail(err, errlen,
                    "line has no value; expected name value [timestamp]");
    if (num_ok[1])
        value = num[1];
    else if (parse_number(tok[1], tok_len[1], "value", &value, err,
                          errlen) < 0)
        return -1;
    if (nf == 3) {
        if (num_ok[2])
            ts = num[2];
        else if (parse_number(tok[2], tok_len[2], "timestamp", &ts, err,
                              errlen) < 0)
            return -1;
        if (finish_ts(ts, 1, now, &ts, err, errlen) < 0)
            return -1;
    } else {
        ts = now;
    }
    out->name = tok[0];
    out->name_len = tok_len[0];
    out->value = value;
    out->ts = ts;
    return 1;
}

/* ---- JSON ------------------------------------------------------------- */

static int json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int all_json_ws(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!json_ws(p[i]))
            return 0;
    return 1;
}

static const char *type_name(struct json_object *o)
{
    return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

static int json_number(struct json_object *v, const char *what, double *out,
                       char *err, size_t errlen)
{
    double d;

    switch (json_object_get_type(v)) {
    case json_type_int:
        /* json-c clamps integers beyond 64 bits to these limits without
         * saying so; the limits themselves are never sensible data, so
         * treat them as the overflow they most likely are. */
        if (json_object_get_int64(v) == INT64_MIN ||
            json_object_get_uint64(v) == UINT64_MAX)
            return fail(err, errlen,
                        "%s is an integer beyond the 64-bit range", what);
        d = json_object_get_double(v);
        break;
    case json_type_double:
        d = json_object_get_double(v);
        /* json-c takes NaN and Infinity even in strict mode, and 1e999
         * comes out infinite. */
        if (!isfinite(d))
            return fail(err, errlen,
                        "%s must be a finite number (no NaN, Infinity or "
                        "overflow)", what);
        break;
    default:
        return fail(err, errlen, "%s must be a JSON number, not %s", what,
                    type_name(v));
    }
    *out = d;
    return 0;
}

int ingest_point_from_json(struct json_object *obj, double now,
                           struct ingest_point *out, char *err,
                           size_t errlen)
{
    struct json_object *v;
    const char *name = "default";
    size_t name_len = strlen("default");
    double value, ts = now;

    clear_err(err, errlen);
    if (!json_object_is_type(obj, json_type_object))
        return fail(err, errlen,
                    "expected a JSON object with series, value and "
                    "timestamp, not %s", type_name(obj));
    if (json_object_object_get_ex(obj, "series", &v)) {
        int n;

        if (!json_object_is_type(v, json_type_string))
            return fail(err, errlen, "series must be a JSON string, not %s",
                        type_name(v));
        /* The length, not strlen: "\u0000" decodes to an embedded NUL,
         * which check_name must see and reject. */
        n = json_object_get_string_len(v);
        name = json_object_get_string(v);
        name_len = n > 0 ? (size_t)n : 0;
    }
    if (check_name(name, name_len, err, errlen) < 0)
        return -1;
    if (!json_object_object_get_ex(obj, "value", &v))
        return fail(err, errlen, "value is missing");
    if (json_number(v, "value", &value, err, errlen) < 0)
        return -1;
    if (json_object_object_get_ex(obj, "timestamp", &v) && v != NULL) {
        if (json_number(v, "timestamp", &ts, err, errlen) < 0 ||
            finish_ts(ts, 0, now, &ts, err, errlen) < 0)
            return -1;
    }
    /* Copied: the JSON object is usually freed before the point is used. */
    memcpy(out->name_buf, name, name_len);
    out->name_buf[name_len] = '\0';
    out->name = out->name_buf;
    out->name_len = name_len;
    out->value = value;
    out->ts = ts;
    return 1;
}

/* Parse buf[0..len) as exactly one JSON value, strictly (no comments, no
 * trailing commas) and with bounded nesting.  `what` names the input in
 * error sentences.  Returns 0 with the value in *out (owned by the caller;
 * NULL for a JSON null), or -1. */
static int parse_strict(const char *buf, size_t len, const char *what,
                        struct json_object **out, char *err, size_t errlen)
{
    struct json_tokener *tok;
    struct json_object *obj;
    enum json_tokener_error jerr;
    size_t end;

    if (len > INT_MAX)
        return fail(err, errlen, "%s is too large", what);
    tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return fail(err, errlen, "out of memory parsing %s", what);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (!obj && jerr == json_tokener_continue) {
        /* A bare top-level number needs a delimiter to end; give it one so
         * that "42" is reported as a number rather than as incomplete.
         * All of buf was consumed by then, so end stays at len. */
        obj = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(obj);   /* NULL on error, but be sure */
        obj = NULL;
    }
    if (jerr == json_tokener_continue)
        return fail(err, errlen, "%s is incomplete JSON", what);
    if (jerr == json_tokener_error_depth)
        return fail(err, errlen, "%s is nested deeper than %d levels", what,
                    JSON_DEPTH - 1);
    if (jerr != json_tokener_success)
        return fail(err, errlen, "%s is not valid JSON: %s near byte %zu",
                    what, json_tokener_error_desc(jerr), end + 1);
    /* The strict tokener refuses most trailing bytes itself but stops
     * quietly at a NUL. */
    if (end > len || !all_json_ws(buf + end, len - end)) {
        json_object_put(obj);
        return fail(err, errlen, "%s has bytes after the JSON value", what);
    }
    *out = obj;                 /* NULL for a JSON null */
    return 0;
}

int ingest_parse_json_line(const char *line, size_t len, double now,
                           struct ingest_point *out, char *err,
                           size_t errlen)
{
    struct json_object *obj;
    int rc;

    clear_err(err, errlen);
    if (all_json_ws(line, len))
        return 0;
    if (parse_strict(line, len, "line", &obj, err, errlen) < 0)
        return -1;
    rc = ingest_point_from_json(obj, now, out, err, errlen);
    json_object_put(obj);
    return rc;
}

long ingest_parse_json_body(const char *body, size_t len, double now,
                            point_fn fn, void *arg, char *err,
                            size_t errlen)
{
    struct json_object *root;
    struct ingest_point p;
    char item_err[INGEST_ERR_MAX];
    size_t i, n;

    clear_err(err, errlen);
    if (all_json_ws(body, len))
        return fail(err, errlen,
                    "body is empty; send a JSON object or an array of them");
    if (parse_strict(body, len, "body", &root, err, errlen) < 0)
        return -1;
    if (json_object_is_type(root, json_type_object)) {
        int rc = ingest_point_from_json(root, now, &p, item_err,
                                        sizeof item_err);

        fn(arg, 1, rc == 1 ? &p : NULL, rc == 1 ? NULL : item_err);
        json_object_put(root);
        return 1;
    }
    if (!json_object_is_type(root, json_type_array)) {
        fail(err, errlen,
             "body must be a JSON object or an array of them, not %s",
             type_name(root));
        json_object_put(root);
        return -1;
    }
    n = json_object_array_length(root);
    for (i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(root, i);
        int rc = ingest_point_from_json(item, now, &p, item_err,
                                        sizeof item_err);

        if (fn(arg, i + 1, rc == 1 ? &p : NULL, rc == 1 ? NULL : item_err)) {
            n = i + 1;
            break;
        }
    }
    json_object_put(root);
    return (long)n;
}

/* ---- shared with the other parsers ----------------------------------- */

int ingest_parse_decimal(const char *p, size_t n, const char *what,
                         double *out, char *err, size_t errlen)
{
    return parse_number(p, n, what, out, err, errlen);
}

int ingest_finish_timestamp(double ts, int minus_one, double now,
                            double *out, char *err, size_t errlen)
{
    return finish_ts(ts, minus_one, now, out, err, errlen);
}

/* ---- line splitter ---------------------------------------------------- */

int line_splitter_init(struct line_splitter *s, size_t max_line)
{
    memset(s, 0, sizeof *s);
    if (max_line == 0)
        return -1;
    s->buf = malloc(max_line);
    if (!s->buf)
        return -1;
    s->max_line = max_line;
    return 0;
}

void line_splitter_free(struct line_splitter *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* End of the current line: deliver it, or its too-long report. */
static int emit(struct line_splitter *s, const char *line, size_t len,
                line_fn fn, void *arg)
{
    int too_long = s->discarding;

    s->line_no++;
    s->discarding = 0;
    s->len = 0;
    if (too_long)
        return fn(arg, s->line_no, NULL, 0, 1);
    return fn(arg, s->line_no, line, len, 0);
}

int line_splitter_feed(struct line_splitter *s, const char *data, size_t len,
                       line_fn fn, void *arg)
{
    int rc = 0;

    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t part = nl ? (size_t)(nl - data) : len;

        /* Anything that would overflow the buffer turns the rest of the
         * line into discarding; the report waits for the line's end, so
         * it comes once, with the line's number, however it was split. */
        if (!s->discarding && part > s->max_line - s->len)
            s->discarding = 1;
        if (!nl) {
            if (!s->discarding) {
                memcpy(s->buf + s->len, data, part);
                s->len += part;
            }
            break;
        }
        if (s->discarding)
            rc = emit(s, NULL, 0, fn, arg);
        else if (s->len == 0)  /* whole line in this read: no copy */
            rc = emit(s, data, part, fn, arg);
        else {
            memcpy(s->buf + s->len, data, part);
            rc = emit(s, s->buf, s->len + part, fn, arg);
        }
        if (rc)
            break;
        data += part + 1;
        len -= part + 1;
    }
    return rc;
}

int line_splitter_finish(struct line_splitter *s, line_fn fn, void *arg)
{
    if (!s->discarding && s->len == 0)
        return 0;
    return emit(s, s->buf, s->len, fn, arg);
}
