/*
 * fuzz_ingest.c - libFuzzer target for the ingest parsers.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -D_GNU_SOURCE -pthread -Iinclude -I/usr/include/json-c \
 *       -o build/fuzz_ingest tests/fuzz/fuzz_ingest.c src/ingest.c -ljson-c
 *   build/fuzz_ingest -max_total_time=60
 *
 * The input goes through the line splitter in chunks whose sizes come from
 * its first byte, each line through the Graphite and JSON line parsers,
 * and the whole input through the JSON body parser.  Besides the
 * sanitizers' checks it aborts when a result breaks the promises of
 * ingest.h, when chunking changes what the splitter delivers, or when a
 * line that ingest_parse_decimal takes as a number converts to other bits
 * than strtod gives it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

#define NOW 1700000000.5
#define MAX_LINE 128

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_err(const char *err)
{
    size_t i, n = strlen(err);

    check(n > 0 && n < INGEST_ERR_MAX);
    for (i = 0; i < n; i++)
        check(err[i] >= 0x20 && err[i] <= 0x7e);
}

static void check_point(const struct ingest_point *p)
{
    check(ingest_series_name_ok(p->name, p->name_len));
    check(isfinite(p->value));
    check(isfinite(p->ts));
    check(p->ts >= 0 || p->ts == NOW);
}

/* The number parser converts most numbers itself (Clinger's fast path):
 * what it accepts must be strtod's double, bit for bit. */
static void check_decimal(const char *line, size_t len)
{
    char err[INGEST_ERR_MAX], tmp[MAX_LINE + 1], *end;
    double got, want;

    if (ingest_parse_decimal(line, len, "value", &got, err, sizeof err)) {
        check_err(err);
        return;
    }
    memcpy(tmp, line, len);
    tmp[len] = '\0';
    want = strtod(tmp, &end);
    check(end == tmp + len);
    check(memcmp(&got, &want, sizeof got) == 0);
}

/* A running digest of the splitter's calls, to compare chunkings. */
struct digest {
    uint64_t h;
    size_t lines;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static int on_line(void *arg, size_t line_no, const char *line, size_t len,
                   int too_long)
{
    struct digest *d = arg;
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc;

    d->lines++;
    check(line_no == d->lines);
    mix(d, &line_no, sizeof line_no);
    mix(d, &too_long, sizeof too_long);
    if (too_long) {
        check(line == NULL && len == 0);
        return 0;
    }
    check(len <= MAX_LINE);
    mix(d, &len, sizeof len);
    mix(d, line, len);
    check_decimal(line, len);

    rc = ingest_parse_graphite(line, len, NOW, &p, err, sizeof err);
    check(rc >= -1 && rc <= 1);
    if (rc == 1) {
        check((p.name >= line && p.name + p.name_len <= line + len) ||
              p.name == p.name_buf);
        check_point(&p);
    } else if (rc == -1) {
        check_err(err);
    }

    rc = ingest_parse_json_line(line, len, NOW, &p, err, sizeof err);
    check(rc >= -1 && rc <= 1);
    if (rc == 1) {
        check(p.name == p.name_buf);
        check_point(&p);
    } else if (rc == -1) {
        check_err(err);
    }
    return 0;
}

static int on_item(void *arg, size_t item_no, const struct ingest_point *p,
                   const char *err)
{
    size_t *count = arg;

    check(item_no == ++*count);
    if (p) {
        check(err == NULL);
        check_point(p);
    } else {
        check_err(err);
    }
    return 0;
}

/* Feed data[0..n) in copies of `chunk` bytes, so that ASan sees reads past
 * each piece. */
static void split(const uint8_t *data, size_t n, size_t chunk,
                  struct digest *d)
{
    struct line_splitter s;
    size_t off;

    memset(d, 0, sizeof *d);
    d->h = 14695981039346656037ull;
    check(line_splitter_init(&s, MAX_LINE) == 0);
    for (off = 0; off < n; off += chunk) {
        size_t c = n - off < chunk ? n - off : chunk;
        char *piece = malloc(c);

        check(piece != NULL);
        memcpy(piece, data + off, c);
        check(line_splitter_feed(&s, piece, c, on_line, d) == 0);
        free(piece);
        check(s.len <= MAX_LINE);
    }
    check(line_splitter_finish(&s, on_line, d) == 0);
    line_splitter_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole, pieces;
    size_t items = 0;
    char err[INGEST_ERR_MAX];
    char *body;
    long n;

    if (size == 0)
        return 0;
    split(data + 1, size - 1, size, &whole);
    split(data + 1, size - 1, 1 + data[0] % 17, &pieces);
    check(whole.h == pieces.h && whole.lines == pieces.lines);

    body = malloc(size);
    check(body != NULL);
    memcpy(body, data, size);
    n = ingest_parse_json_body(body, size, NOW, on_item, &items, err,
                               sizeof err);
    if (n < 0) {
        check(n == -1 && items == 0);
        check_err(err);
    } else {
        check((size_t)n == items);
    }
    free(body);
    return 0;
}
