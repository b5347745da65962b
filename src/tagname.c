/*
 * tagname.c - series names from parts and tags (see tagname.h).
 */
#include "tagname.h"

#include <string.h>

/* The bytes a backslash turns into part of a line protocol name. */
static int is_escapable(char c)
{
    return c == ',' || c == '=' || c == ' ' || c == '\t';
}

/* The next byte of a part with its escapes removed, or -1 at its end. */
static int next_byte(const struct name_part *s, int escapes, size_t *i)
{
    if (*i >= s->n)
        return -1;
    if (escapes && s->p[*i] == '\\' && *i + 1 < s->n &&
        is_escapable(s->p[*i + 1]))
        (*i)++;
    return (unsigned char)s->p[(*i)++];
}

static int cmp_parts(const struct name_part *a, const struct name_part *b,
                     int escapes)
{
    size_t i = 0, j = 0;

    for (;;) {
        int ca = next_byte(a, escapes, &i), cb = next_byte(b, escapes, &j);

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

void name_put_byte(struct name_builder *b, int c)
{
    if (b->len >= SERIES_NAME_MAX) {
        b->too_long = 1;
        return;
    }
    b->buf[b->len++] = (char)c;
}

void name_put_part(struct name_builder *b, const struct name_part *part)
{
    size_t i = 0;
    int c;

    while ((c = next_byte(part, b->escapes, &i)) >= 0) {
        if (c < 0x20 || c == 0x7f)
            b->control = 1;
        name_put_byte(b, name_byte_ok(c) ? c : '_');
    }
}

void name_put_tags(struct name_builder *b, struct name_tag *tags, size_t n)
{
    size_t i, j;

    /* Insertion sort: a line has a handful of tags. */
    for (i = 1; i < n; i++) {
        struct name_tag t = tags[i];

        for (j = i; j > 0 && cmp_parts(&tags[j - 1].key, &t.key,
                                       b->escapes) > 0; j--)
            tags[j] = tags[j - 1];
        tags[j] = t;
    }
    for (i = 0; i < n; i++) {
        name_put_byte(b, '.');
        name_put_part(b, &tags[i].key);
        name_put_byte(b, ':');
        name_put_part(b, &tags[i].value);
    }
}

int name_check(const struct name_builder *b, char *err, size_t errlen)
{
    if (b->control)
        return ingest_fail(err, errlen,
                           "series name would hold a control byte; names "
                           "and tags must not");
    if (b->too_long)
        return ingest_fail(err, errlen,
                           "series name with its tags as .key:value is over "
                           "%d bytes", SERIES_NAME_MAX);
    return 0;
}

int graphite_tagged_name(const char *tok, size_t n, char *out, char *err,
                         size_t errlen)
{
    struct name_tag tags[NAME_MAX_TAGS];
    struct name_builder b = {out, 0, 0, 0, 0};
    const char *semi = memchr(tok, ';', n), *p, *end = tok + n;
    size_t ntags = 0, path = (size_t)(semi - tok);

    if (!ingest_series_name_ok(tok, path))
        return ingest_fail(err, errlen, "series name before the tags must "
                           "be 1 to %d bytes of [A-Za-z0-9._:-]",
                           SERIES_NAME_MAX);
    for (p = semi + 1; p <= end; p++) {
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *stop = next ? next : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));

        if (!eq || eq == p || eq + 1 == stop)
            return ingest_fail(err, errlen, "series name has a tag that is "
                               "not key=value (Graphite tags: "
                               "path;key=value;...)");
        if (ntags == NAME_MAX_TAGS)
            return ingest_fail(err, errlen, "series name has more than %d "
                               "tags", NAME_MAX_TAGS);
        tags[ntags].key = (struct name_part){p, (size_t)(eq - p)};
        tags[ntags++].value = (struct name_part){eq + 1,
                                                 (size_t)(stop - eq - 1)};
        p = stop;
    }
    memcpy(out, tok, path);
    b.len = path;
    name_put_tags(&b, tags, ntags);
    if (name_check(&b, err, errlen) < 0)
        return -1;
    out[b.len] = '\0';
    return (int)b.len;
}
