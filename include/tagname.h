/*
 * tagname.h - series names built from parts: a measurement or path, a
 * field, and tags as ".key:value", the tags sorted by key (bytewise).  The
 * InfluxDB line protocol and Graphite's tagged lines share it, so both
 * name a tagged series the same way.
 *
 * Bytes outside the series alphabet [A-Za-z0-9._:-] become '_', one per
 * byte.  Control bytes (below 0x20, and 0x7f) are never mapped: they make
 * name_check() fail, and so does a name over SERIES_NAME_MAX bytes.
 * Pure functions, no allocation.
 */
#ifndef STREAMAVG_TAGNAME_H
#define STREAMAVG_TAGNAME_H

#include <stddef.h>

#include "ingest.h"

#define NAME_MAX_TAGS 64

struct name_part {
    const char *p;
    size_t n;
};

struct name_tag {
    struct name_part key, value;
};

/* A name being built into buf, which holds SERIES_NAME_MAX bytes. */
struct name_builder {
    char *buf;
    size_t len;
    int escapes;    /* line protocol: a backslash before ',', '=', ' ' or
                     * a tab is dropped and the byte kept */
    int too_long;
    int control;
};

void name_put_byte(struct name_builder *b, int c);
void name_put_part(struct name_builder *b, const struct name_part *part);
/* ".key:value" for each tag, after sorting tags[] by key in place (a
 * stable sort: equal keys keep their order). */
void name_put_tags(struct name_builder *b, struct name_tag *tags, size_t n);
/* 0, or -1 with a sentence starting "series name" in err. */
int name_check(const struct name_builder *b, char *err, size_t errlen);

/* The series name of a Graphite 1.1 tagged path, "path;key=value;...":
 * the path (which must follow the series rules), then the tags as above.
 * out holds SERIES_NAME_MAX + 1 bytes and gets a NUL.  Returns the name's
 * length, or -1 with a sentence in err. */
int graphite_tagged_name(const char *tok, size_t n, char *out, char *err,
                         size_t errlen);

#endif
