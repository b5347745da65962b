/*
 * ingest_stats.c - names and printing of the per-protocol ingest counters.
 */
#include "ingest_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *ingest_source_name(enum source src)
{
    static const char *const names[SRC_COUNT] = {
        [SRC_HTTP] = "http",          [SRC_GRAPHITE_TCP] = "graphite_tcp",
        [SRC_GENERATOR] = "generator", [SRC_GRAPHITE_UDP] = "graphite_udp",
        [SRC_INFLUX] = "influx",      [SRC_STATSD] = "statsd",
        [SRC_WS] = "websocket",
    };

    return (unsigned)src < SRC_COUNT && names[src] ? names[src] : "other";
}

const char *ingest_reason_name(enum reject_reason why)
{
    static const char *const names[REJ_COUNT] = {
        [REJ_SYNTAX] = "syntax",       [REJ_NAME] = "name",
        [REJ_VALUE] = "value",         [REJ_TIMESTAMP] = "timestamp",
        [REJ_TOO_LONG] = "too_long",   [REJ_TYPE] = "unsupported_type",
        [REJ_LIMIT] = "limit",
    };

    return (unsigned)why < REJ_COUNT ? names[why] : "syntax";
}

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

enum reject_reason ingest_reason_of(const char *err)
{
    if (starts(err, "series name") || starts(err, "series must"))
        return REJ_NAME;
    if (starts(err, "value") || starts(err, "sample rate"))
        return REJ_VALUE;
    if (starts(err, "timestamp"))
        return REJ_TIMESTAMP;
    if (starts(err, "type"))
        return REJ_TYPE;
    return REJ_SYNTAX;
}

void ingest_reject(struct app *app, enum source src, enum reject_reason why)
{
    app->m.points_rejected[src]++;
    app->m.rejected_by[src][why]++;
}

double ingest_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void header(FILE *f, const char *name, const char *type,
                   const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One line per protocol of a per-protocol counter. */
static void per_source(FILE *f, const char *name, const uint64_t *v)
{
    int i;

    for (i = 0; i < SRC_COUNT; i++)
        fprintf(f, "%s{protocol=\"%s\"} %llu\n", name,
                ingest_source_name(i), (unsigned long long)v[i]);
}

char *ingest_stats_text(const struct app *app)
{
    const struct metrics *m = &app->m;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int i, r;

    if (!f)
        return NULL;
    header(f, "streamavg_ingest_rejected_total", "counter",
           "Points or lines rejected, by protocol and reason.");
    for (i = 0; i < SRC_COUNT; i++)
        for (r = 0; r < REJ_COUNT; r++)
            fprintf(f, "streamavg_ingest_rejected_total{protocol=\"%s\","
                    "reason=\"%s\"} %llu\n", ingest_source_name(i),
                    ingest_reason_name(r),
                    (unsigned long long)m->rejected_by[i][r]);
    header(f, "streamavg_ingest_bytes_total", "counter",
           "Bytes received, by protocol.");
    per_source(f, "streamavg_ingest_bytes_total", m->bytes_in);
    header(f, "streamavg_ingest_connections_total", "counter",
           "Connections opened (TCP, WebSocket), requests (HTTP) or "
           "datagrams (UDP) received, by protocol.");
    per_source(f, "streamavg_ingest_connections_total",
               m->ingest_connections);
    header(f, "streamavg_ingest_denied_total", "counter",
           "Requests, connections or datagrams refused for a missing or "
           "wrong token or a source address outside ingest.allow_from.");
    per_source(f, "streamavg_ingest_denied_total", m->ingest_denied);
    header(f, "streamavg_ingest_parse_seconds_total", "counter",
           "Time spent parsing and storing each protocol's input.");
    for (i = 0; i < SRC_COUNT; i++)
        fprintf(f, "streamavg_ingest_parse_seconds_total{protocol=\"%s\"} "
                "%.6f\n", ingest_source_name(i), m->ingest_seconds[i]);
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}
