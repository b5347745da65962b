/*
 * fuzz_influx.c - libFuzzer target for the InfluxDB line protocol parser.
 * `make fuzz` builds and runs it.
 *
 * The first byte picks the precision; the rest is split into lines as
 * POST /write does, each parsed from an exact-length heap copy.  Besides
 * the sanitizers' checks it aborts when a result breaks the promises of
 * influx.h: a bad line delivers nothing, every point has a valid name, a
 * finite value and a non-negative finite timestamp.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "influx.h"

#define NOW 1700000000.5

static void check(int ok)
{
    if (!ok)
        abort();
}

static int on_point(void *arg, const struct ingest_point *p)
{
    size_t *n = arg;

    check(p->name == p->name_buf);
    check(ingest_series_name_ok(p->name, p->name_len));
    check(p->name_buf[p->name_len] == '\0');
    check(isfinite(p->value) && isfinite(p->ts) && p->ts >= 0);
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const units[] = {"", "ns", "u", "ms", "s", "m", "h"};
    struct influx_precision prec;
    const char *p, *end;
    char err[INGEST_ERR_MAX];

    if (size == 0)
        return 0;
    check(influx_precision_parse(units[data[0] % 7],
                                 strlen(units[data[0] % 7]), &prec) == 0);
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p), got = 0;
        char *line = malloc(n ? n : 1);
        int rc;

        check(line != NULL);
        memcpy(line, p, n);
        err[0] = '\0';
        rc = influx_parse_line(line, n, NOW, &prec, on_point, &got, err,
                               sizeof(err));
        if (rc < 0) {
            check(rc == -1 && got == 0 && err[0] != '\0');
            check(strlen(err) < INGEST_ERR_MAX);
        } else {
            check((size_t)rc == got);
        }
        free(line);
        p += n + (nl != NULL);
    }
    return 0;
}
