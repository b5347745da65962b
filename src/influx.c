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

#include "tagname.h"

struct field {
    struct name_part key;
    double value;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
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
        struct name_part key = {line + k, kn};
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
    struct name_tag tags[INFLUX_MAX_TAGS];
    struct field fields[INFLUX_MAX_FIELDS];
    char suffix_buf[SERIES_NAME_MAX];
    struct name_builder suffix = {suffix_buf, 0, 1, 0, 0};
    struct ingest_point pt;
    struct name_builder nm = {pt.name_buf, 0, 1, 0, 0};
    struct name_part meas;
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
        tags[ntags].key = (struct name_part){line + i + 1, kn};
        tags[ntags++].value = (struct name_part){line + i + 2 + kn, vn};
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
    name_put_tags(&suffix, tags, ntags);
    name_put_part(&nm, &meas);
    name_put_byte(&nm, '.');
    prefix_len = nm.len;
    for (f = 0; f < nf; f++) {
        nm.len = prefix_len;
        name_put_part(&nm, &fields[f].key);
        if (nm.len + suffix.len > SERIES_NAME_MAX)
            nm.too_long = 1;
        if (name_check(&nm, err, errlen) < 0 ||
            name_check(&suffix, err, errlen) < 0)
            return -1;
    }
    for (f = 0; f < nf; f++) {
        nm.len = prefix_len;
        name_put_part(&nm, &fields[f].key);
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
