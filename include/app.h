/*
 * app.h - the state one server process shares between its parts, and the
 * single path every accepted point takes (store, then subscribers).
 */
#ifndef STREAMAVG_APP_H
#define STREAMAVG_APP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "standing.h"
#include "store.h"

/* Where a point came from, for the per-protocol counters. */
enum source {
    SRC_HTTP,
    SRC_GRAPHITE_TCP,
    SRC_GENERATOR,
    SRC_GRAPHITE_UDP,
    SRC_INFLUX,         /* POST /write */
    SRC_STATSD,
    SRC_WS,             /* points published on /stream */
    SRC_COUNT
};

/* Why a point or line was refused (ingest_stats.h names them). */
enum reject_reason {
    REJ_SYNTAX,
    REJ_NAME,
    REJ_VALUE,
    REJ_TIMESTAMP,
    REJ_TOO_LONG,
    REJ_TYPE,           /* a StatsD type streamavg does not take */
    REJ_LIMIT,          /* series limit or memory */
    REJ_COUNT
};

/* Upper bounds, in ms, of the plot-time histogram's buckets in /metrics;
 * one more bucket takes what is above the last. */
#define PLOT_MS_BOUNDS {1, 5, 10, 50, 100, 500, 1000}
#define PLOT_MS_NBOUNDS 7

/* Counters for /metrics.  Touched on the loop thread only. */
struct metrics {
    uint64_t points_in[SRC_COUNT];
    uint64_t points_rejected[SRC_COUNT];
    uint64_t bytes_in[SRC_COUNT];
    uint64_t http_requests;
    uint64_t http_errors;       /* answers with a 4xx or 5xx status */
    uint64_t http_in_flight;    /* requests not fully answered yet */
    int64_t http_connections;   /* HTTP and WebSocket sockets open */
    uint64_t http_refused;      /* connections over http.max_connections */
    uint64_t ws_refused_origin; /* handshakes from an origin not allowed */
    uint64_t ws_refused_token;  /* handshakes without the right token */
    uint64_t ws_connections;    /* open now */
    uint64_t ws_subscriptions;  /* open now */
    uint64_t ws_pushed;         /* messages written */
    uint64_t ws_dropped;        /* superseded before a slow reader read */
    uint64_t ws_batched;        /* averages sent in frames of several */
    uint64_t graphite_connections;  /* open now */
    uint64_t plots_ok;
    uint64_t plots_failed;
    uint64_t plots_coalesced;   /* requests served by a plot in progress */
    uint64_t plots_cached;      /* requests served by a finished plot */
    double plot_ms_sum;
    uint64_t plot_ms_buckets[PLOT_MS_NBOUNDS + 1];  /* last: above all */
    /* Per protocol (ingest_stats.c prints them). */
    uint64_t rejected_by[SRC_COUNT][REJ_COUNT];
    uint64_t ingest_connections[SRC_COUNT]; /* opened, or UDP datagrams */
    uint64_t ingest_denied[SRC_COUNT];  /* refused: token or address */
    double ingest_seconds[SRC_COUNT];   /* parsing and storing */
};

struct lws_context;
struct plot_pool;
struct stream_state;
struct plot_state;
struct access_list;
struct statsd_state;
struct storage;

struct app {
    struct config cfg;
    struct lws_context *ctx;
    struct store *store;
    struct plot_pool *plots;
    struct stream_state *stream;
    struct plot_state *plot_wait;
    struct storage *storage;    /* NULL when storage.dir is "" */
    struct metrics m;
    struct standing_pool standing;  /* limits of the standing windows */
    struct access_list *allow_from;     /* ingest.allow_from, parsed */
    struct statsd_state *statsd;
    double started;
    int stopping;               /* SIGTERM: finish, take nothing new */
};

/* Seconds since the epoch, with a fraction. */
double app_now(void);

/* app_accept_point's refusals that are not the point's fault: the HTTP
 * layer answers them with 507 and 503. */
#define APP_NO_SPACE (-2)
#define APP_STORAGE_DOWN (-3)

/* Take one point: find or create its series, log it (storage.h), append,
 * tell subscribers.  name must be valid.  Returns 0, or -1 with a sentence
 * in err (series limit, memory), or APP_NO_SPACE / APP_STORAGE_DOWN when
 * the log cannot take it. */
int app_accept_point(struct app *app, enum source src, const char *name,
                     size_t len, double ts, double value, char *err,
                     size_t errlen);

/* The same with the server's clock already read (`now`, from app_now()),
 * for listeners that take many points from one read: clock_gettime was a
 * fifth of the Graphite listener's CPU when read for every point. */
int app_accept_point_at(struct app *app, enum source src, const char *name,
                        size_t len, double ts, double value, double now,
                        char *err, size_t errlen);

#endif
