/*
 * server.h - the network side: libwebsockets protocols and the state they
 * share.  Only the files that include this header know libwebsockets.
 */
#ifndef STREAMAVG_SERVER_H
#define STREAMAVG_SERVER_H

#include <libwebsockets.h>

#include "app.h"
#include "influx.h"

/* One HTTP request's state.  lws 4.1 frees it and allocates a new one
 * (zeroed) whenever it binds the connection's protocol, at least once per
 * transaction; each request still starts with http_pss_reset().  What
 * must outlive a transaction lives elsewhere (http_api.c, conn_reads). */
struct http_pss {
    struct lws *wsi;
    struct app *app;

    /* The answer being written: headers first, then out[] in pieces. */
    int status;
    const char *content_type;
    char *out;
    size_t out_len, out_off;
    int answering;          /* an answer is queued or being written */
    int headers_sent;
    int close_after;        /* the request's body was not read: close */
    int in_flight;          /* counted in app->m.http_in_flight */

    /* POST /ingest: the body collected so far. */
    int is_ingest;
    char *body;
    size_t body_len;
    char content_type_in[64];

    /* POST /write (http_write.c): InfluxDB line protocol. */
    int is_write;
    struct influx_precision write_prec;

    /* GET /plot: waiting for a plot worker. */
    struct plot_flight *flight;
    struct http_pss *flight_next;
};

/* Start the plot workers if they are not running (gnuplot was missing),
 * at most one try a second.  Returns 0, or -1 with a sentence in err. */
int server_start_plots(struct app *app, char *err, size_t errlen);

/* The app of the context a wsi belongs to. */
struct app *server_app(struct lws *wsi);

/* Start the server and run its loop until SIGINT or SIGTERM.  Returns the
 * process exit code. */
int server_run(struct app *app);

/* Protocol callbacks (http_api.c, stream.c, graphite.c). */
int callback_http_api(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len);
int callback_stream(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len);
int callback_graphite(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len);
size_t stream_pss_size(void);
size_t graphite_pss_size(void);

/* Queue an answer on an HTTP connection and ask for WRITEABLE.  The body
 * is copied.  http_answer_error wraps msg as {"error": msg}. */
void http_answer(struct http_pss *pss, int status, const char *type,
                 const char *body, size_t len);
void http_answer_owned(struct http_pss *pss, int status, const char *type,
                       char *body, size_t len);
void http_answer_error(struct http_pss *pss, int status, const char *msg);

/* Copy the value of query argument `name` (without '=') into buf[len].
 * Returns 1 when present, 0 when absent, -1 when present but its value
 * does not fit (or memory ran out).  Exact names: "window" never matches
 * "window_size=". */
int server_query_arg(struct lws *wsi, const char *name, char *buf,
                     size_t len);

/* The series named by ?series= (default "default"), its name copied into
 * name[len]; or NULL after answering 400 (bad name) or 404 (unknown). */
struct series *http_query_series(struct http_pss *pss, char *name,
                                 size_t len);

/* The window of the request: window_size=N (points) or window=DURATION.
 * Exactly one must be given.  Fills *points or *seconds (the other 0).
 * Returns 0, or -1 after answering 400. */
int http_query_window(struct http_pss *pss, long *points, double *seconds);

/* GET /stats (http_stats.c).  http_stats_fields adds to o the fields of r
 * whose bits are set in mask (see stats.h), non-finite ones as null. */
struct json_object;
struct stats_result;
void http_stats_request(struct http_pss *pss);
void http_stats_fields(struct json_object *o, const struct stats_result *r,
                       unsigned mask);

/* /plot (http_plot.c): start or join a plot for this request; collect the
 * finished ones (on LWS_CALLBACK_EVENT_WAIT_CANCELLED); detach a request
 * whose connection closed; free what is left at shutdown. */
void http_plot_request(struct http_pss *pss);
void http_plot_collect(struct app *app);
void http_plot_detach(struct http_pss *pss);
void http_plot_free(struct app *app);

/* POST /write (http_write.c): check the query and headers before the body
 * (0, or -1 after answering), then take the body.  And the ingest token
 * every HTTP ingest request needs when ingest.token is set: 1 when it may
 * go on, 0 after answering 401 (counted as denied for src). */
int http_write_start(struct http_pss *pss);
void http_write_finish(struct http_pss *pss);
int http_ingest_allowed(struct http_pss *pss, enum source src);

/* Publishing on /stream (ws_ingest.c).  ws_may_publish: 1 when the
 * handshake of wsi may publish (stream.publish, and the ingest token when
 * set).  ws_ingest: take the points of one message, a point object or an
 * array of them, `bytes` long; returns how many were rejected, the first
 * one's sentence in err. */
struct json_object;
int ws_may_publish(struct lws *wsi, struct app *app);
size_t ws_ingest(struct app *app, struct json_object *msg, size_t bytes,
                 char *err, size_t errlen);

/* ws_guard.c: at the WebSocket handshake, 1 (after counting and logging
 * why) when the Origin is not in stream.allowed_origins or the subscribe
 * token is missing or wrong; 0 to let it through. */
int ws_guard_refuse(struct lws *wsi, struct app *app);

/* Rate-limited warning for things a peer can trigger at will: at most one
 * line per key every 10 seconds, saying how many were suppressed. */
enum ratelimit_key { RL_GRAPHITE_BAD, RL_HTTP_BAD, RL_WS_BAD, RL_LIMIT,
                     RL_STATSD_BAD, RL_COUNT };
void warn_ratelimited(enum ratelimit_key key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
