/*
 * fuzz_statsd.c - libFuzzer target for the StatsD line parser and the
 * ingest.allow_from list parser.  `make fuzz` builds and runs it.
 *
 * Each line of the input is parsed from an exact-length heap copy as a
 * StatsD line; the whole input, made a string, as an address list.
 * Besides the sanitizers' checks it aborts when a result breaks the
 * promises of statsd.h or access.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "statsd.h"
#include "ingest.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void one_line(const char *p, size_t n)
{
    struct statsd_metric m;
    char err[INGEST_ERR_MAX];
    char *line = malloc(n ? n : 1);
    int rc;

    check(line != NULL);
    memcpy(line, p, n);
    err[0] = '\0';
    rc = statsd_parse_line(line, n, &m, err, sizeof(err));
    check(rc >= -1 && rc <= 1);
    if (rc == 1) {
        check(m.name >= line && m.name + m.name_len <= line + n);
        check(ingest_series_name_ok(m.name, m.name_len));
        check(isfinite(m.value));
        check(m.type == STATSD_GAUGE || m.type == STATSD_GAUGE_DELTA ||
              m.type == STATSD_COUNTER);
    } else if (rc == -1) {
        check(err[0] != '\0' && strlen(err) < INGEST_ERR_MAX);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct access_list l;
    char err[200], *text;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        one_line(p, n);
        p += n + (nl != NULL);
    }

    text = malloc(size + 1);
    check(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    if (access_list_parse(text, &l, err, sizeof(err)) == 0)
        check(l.n <= ACCESS_MAX_ENTRIES);
    free(text);
    return 0;
}
