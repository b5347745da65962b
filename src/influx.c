/*
 * influx.c - InfluxDB 1.x line protocol into points (see influx.h for the
 * rules).
 *
 * A line is checked whole before any of its points is delivered: the
 * structure, every numeric field, the timestamp and every series name.
 * Numeric fields wait in a small array on the stack, so nothing is
 * allocated and a bad last field still costs the line its earlier fields.
 */
#include "influx.h"

#include <stdint.h>
#include <string.h>

struct slice {
    const char *p;
    size_t n;
};

struct tag {
    struct slice key, value;
};

struct field {
    struct slice key;
    double value;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The bytes a backslash turns into part of a name. */
static int is_escapable(char c)
{
    return c == ',' || c == '=' || c == ' ' || c == '\t';
}

/* Length of the element at p[0..n): up to the first unescaped byte that
 * `stop` accepts.  A backslash always skips the byte after it. */
static size_t scan(const char *p, size_t n, int (*stop)(char))
{
    size_t i = 0;

    while (i < n) {
        if (p[i] == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (stop(p[i]))
            break;
        i++;
    }
    return i;
}

static int ends_name(char c)
{
    return c == ',' || is_blank(c);
}

static int ends_key(char c)
{
    return c == '=' || ends_name(c);
}

/* ---- names ------------------------------------------------------------ */

/* The next byte of an element with its escapes removed, or -1 at its end. */
static int next_unescaped(const struct slice *s, size_t *i)
{
    if (*i >= s->n)
        return -1;
    if (s->p[*i] == '\\' && *i + 1 < s->n && is_escapable(s->p[*i + 1]))
        (*i)++;
    return (unsigned char)s->p[(*i)++];
}

static int cmp_unescaped(const struct slice *a, const struct slice *b)
{
    size_t i = 0, j = 0;

    for (;;) {
        int ca = next_unescaped(a, &i), cb = next_unescaped(b, &j);

        if (ca != cb || ca < 0)
            return ca - cb;
    }
}

static int name_byte_ok(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
           c == '-';
}

/* A series name being built in a fixed buffer of SERIES_NAME_MAX bytes. */
struct name {
    char *buf;
    size_t len;
    int too_long;
    int control;        /* a control byte was met */
};

static void put(struct name *nm, int c)
{
    if (nm->len >= SERIES_NAME_MAX) {
        nm->too_long = 1;
        return;
    }
    nm->buf[nm->len++] = (char)c;
}

/* Append an element, unescaped, with bytes outside the alphabet as '_'. */
static void put_element(struct name *nm, const struct slice *s)
{
    size_t i = 0;
    int c;

    while ((c = next_unescaped(s, &i)) >= 0) {
        if (c < 0x20 || c == 0x7f)
            nm->control = 1;
        put(nm, name_byte_ok(c) ? c : '_');
    }
}

static int name_error(const struct name *nm, char *err, size_t errlen)
{
    if (nm->control)
        return ingest_fail(err, errlen,
                           "series name would hold a control byte; "
                           "measurement, tag and field names must not");
    if (nm->too_long)
        return ingest_fail(err, errlen,
                           "series name measurement.field.tag:value... is "
                           "over %d bytes", SERIES_NAME_MAX);
    return 0;
}

/* ".key:value" for each tag, sorted by key, into suffix. */
static void put_tags(struct name *suffix, struct tag *tags, size_t n)
{
    size_t i, j;

    /* Insertion sort: a line has a handful of tags, and the sort must be
     * stable so that equal keys keep the line's order. */
    for (i = 1; i < n; i++) {
        struct tag t = tags[i];

        for (j = i; j > 0 && cmp_unescaped(&tags[j - 1].key, &t.key) > 0;
             j--)
            tags[j] = tags[j - 1];
        tags[j] = t;
    }
    for (i = 0; i < n; i++) {
        put(suffix, '.');
        put_element(suffix, &tags[i].key);
        put(suffix, ':');
        put_element(suffix, &tags[i].value);
    }
}

/* ---- values ----------------------------------------------------------- */

/* digits[0..n) as an unsigned 64-bit number; -1 on a non-digit, none, or
 * overflow. */
static int read_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* An integer with an optional '-' (when `sign` is set) that fits int64
 * (or uint64 without sign).  Returns 0 with *out, or -1. */
static int read_integer(const char *p, size_t n, int sign, double *out)
{
    int neg = sign && n > 0 && p[0] == '-';
    uint64_t v;

    if (read_u64(p + neg, n - (size_t)neg, &v) < 0)
        return -1;
    if (sign && v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -1;
    *out = neg ? -(double)v : (double)v;
    return 0;
}

static int is_bool(const char *p, size_t n)
{
    static const char *const words[] = {"t", "T", "true", "True", "TRUE",
                                        "f", "F", "false", "False", "FALSE"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && !memcmp(words[i], p, n))
            return 1;
    return 0;
}

/* One unquoted field value.  Returns 1 with *out for a number, 0 for a
 * boolean (skipped), -1 with err. */
static int field_value(const char *p, size_t n, double *out, char *err,
                       size_t errlen)
{
    if (n == 0)
        return ingest_fail(err, errlen, "value is empty; expected "
                           "field=value");
    if (p[n - 1] == 'i' || p[n - 1] == 'u') {
        if (read_integer(p, n - 1, p[n - 1] == 'i', out) < 0)
            return ingest_fail(err, errlen,
                               "value is not a 64-bit %s integer",
                               p[n - 1] == 'i' ? "signed" : "unsigned");
        return 1;
    }
    if (is_bool(p, n))
        return 0;
    return ingest_parse_decimal(p, n, "value", out, err, errlen) < 0 ? -1
                                                                      : 1;
}

static int read_timestamp(const char *p, size_t n, double now,
                          const struct influx_precision *prec, double *out,
                          char *err, size_t errlen)
{
    double t;

    if (read_integer(p, n, 1, &t) < 0)
        return ingest_fail(err, errlen,
                           "timestamp must be a whole number of the "
                           "precision's unit (nanoseconds by default), at "
                           "most 64 bits");
    return ingest_finish_timestamp(t * prec->num / prec->den, 0, now, out,
                                   err, errlen);
}

/* ---- lines ------------------------------------------------------------ */

int influx_precision_parse(const char *name, size_t len,
                           struct influx_precision *out)
{
    static const struct {
        const char *name;
        struct influx_precision p;
    } units[] = {
        {"", {1, 1e9}},  {"n", {1, 1e9}}, {"ns", {1, 1e9}},
        {"u", {1, 1e6}}, {"us", {1, 1e6}}, {"ms", {1, 1e3}},
        {"s", {1, 1}},   {"m", {60, 1}},  {"h", {3600, 1}},
    };
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == len && !memcmp(units[i].name, name, len)) {
            *out = units[i].p;
            return 0;
        }
    return -1;
}

/* The fields section at line[*i..len): numeric ones into fields[]. */
static int read_fields(const char *line, size_t len, size_t *i,
                       struct field *fields, size_t *nf, char *err,
                       size_t errlen)
{
    size_t k = *i, n = 0;

    for (;;) {
        size_t kn = scan(line + k, len - k, ends_key), vn;
        struct slice key = {line + k, kn};
        double v;
        int rc;

        if (kn == 0 || k + kn >= len || line[k + kn] != '=')
            return ingest_fail(err, errlen,
                               "field %zu is not key=value; expected "
                               "measurement[,tag=value] field=value "
                               "[timestamp]", n + 1);
        k += kn + 1;
        if (k < len && line[k] == '"') {
            for (k++; k < len && line[k] != '"'; k++)
                if (line[k] == '\\' && k + 1 < len)
                    k++;
            if (k >= len)
                return ingest_fail(err, errlen, "string field value has "
                                   "no closing quote");
            k++;
        } else {
            vn = scan(line + k, len - k, ends_name);
            rc = field_value(line + k, vn, &v, err, errlen);
            if (rc < 0)
                return -1;
            if (rc > 0) {
                if (n == INFLUX_MAX_FIELDS)
                    return ingest_fail(err, errlen, "line has more than %d "
                                       "numeric fields", INFLUX_MAX_FIELDS);
                fields[n].key = key;
                fields[n++].value = v;
            }
            k += vn;
        }
        if (k < len && line[k] == ',') {
            k++;
            continue;
        }
        break;
    }
    *i = k;
    *nf = n;
    return 0;
}

int influx_parse_line(const char *line, size_t len, double now,
                      const struct influx_precision *prec, influx_point_fn fn,
                      void *arg, char *err, size_t errlen)
{
    struct tag tags[INFLUX_MAX_TAGS];
    struct field fields[INFLUX_MAX_FIELDS];
    char suffix_buf[SERIES_NAME_MAX];
    struct name suffix = {suffix_buf, 0, 0, 0};
    struct ingest_point pt;
    struct name nm = {pt.name_buf, 0, 0, 0};
    struct slice meas;
    size_t i = 0, ntags = 0, nf = 0, f, prefix_len;
    double ts = now;

    if (err && errlen)
        err[0] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || is_blank(line[len - 1])))
        len--;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;

    meas.p = line + i;
    meas.n = scan(line + i, len - i, ends_name);
    if (meas.n == 0)
        return ingest_fail(err, errlen, "measurement is empty; expected "
                           "measurement[,tag=value] field=value");
    i += meas.n;
    while (i < len && line[i] == ',') {
        size_t kn = scan(line + i + 1, len - i - 1, ends_key), vn;

        if (kn == 0 || i + 1 + kn >= len || line[i + 1 + kn] != '=')
            return ingest_fail(err, errlen, "tag %zu is not key=value",
                               ntags + 1);
        vn = scan(line + i + 2 + kn, len - i - 2 - kn, ends_name);
        if (vn == 0)
            return ingest_fail(err, errlen, "tag %zu has an empty value",
                               ntags + 1);
        if (ntags == INFLUX_MAX_TAGS)
            return ingest_fail(err, errlen, "line has more than %d tags",
                               INFLUX_MAX_TAGS);
        tags[ntags].key = (struct slice){line + i + 1, kn};
        tags[ntags++].value = (struct slice){line + i + 2 + kn, vn};
        i += 2 + kn + vn;
    }
    if (i == len || !is_blank(line[i]))
        return ingest_fail(err, errlen, "line has no fields; expected "
                           "measurement[,tag=value] field=value "
                           "[timestamp]");
    while (i < len && is_blank(line[i]))
        i++;
    if (read_fields(line, len, &i, fields, &nf, err, errlen) < 0)
        return -1;

    if (i < len) {
        size_t tn;

        if (!is_blank(line[i]))
            return ingest_fail(err, errlen, "value is followed by byte "
                               "0x%02x; separate fields with ','",
                               (unsigned char)line[i]);
        while (i < len && is_blank(line[i]))
            i++;
        tn = scan(line + i, len - i, ends_name);
        if (i + tn < len)
            return ingest_fail(err, errlen, "timestamp is followed by more "
                               "bytes; it must end the line");
        if (read_timestamp(line + i, tn, now, prec, &ts, err, errlen) < 0)
            return -1;
    }

    /* Names: measurement + '.' + field + sorted tags, each checked before
     * the first point goes out. */
    put_tags(&suffix, tags, ntags);
    put_element(&nm, &meas);
    put(&nm, '.');
    prefix_len = nm.len;
    for (f = 0; f < nf; f++) {
        nm.len = prefix_len;
        put_element(&nm, &fields[f].key);
        if (nm.len + suffix.len > SERIES_NAME_MAX)
            nm.too_long = 1;
        if (suffix.control)
            nm.control = 1;
        if (name_error(&nm, err, errlen) < 0 || name_error(&suffix, err,
                                                          errlen) < 0)
            return -1;
    }
    for (f = 0; f < nf; f++) {
        nm.len = prefix_len;
        put_element(&nm, &fields[f].key);
        memcpy(pt.name_buf + nm.len, suffix_buf, suffix.len);
        nm.len += suffix.len;
        pt.name_buf[nm.len] = '\0';
        pt.name = pt.name_buf;
        pt.name_len = nm.len;
        pt.value = fields[f].value;
        pt.ts = ts;
        if (fn(arg, &pt))
            return (int)f + 1;
    }
    return (int)nf;
}
