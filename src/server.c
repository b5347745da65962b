/*
 * server.c - wiring: the lws context, the HTTP/WebSocket vhost and its
 * mounts, the Graphite vhost, the seed's generator timer, the signals that
 * stop the loop, and an orderly shutdown.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "listeners.h"
#include "plot.h"
#include "server.h"
#include "storage.h"
#include "stream.h"

static volatile sig_atomic_t stop_requested;
static struct lws_context *signal_ctx;

struct app *server_app(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

void warn_ratelimited(enum ratelimit_key key, const char *fmt, ...)
{
    static time_t last[RL_COUNT];
    static unsigned long suppressed[RL_COUNT];
    time_t now = time(NULL);
    char line[512];
    va_list ap;

    if (now - last[key] < 10) {
        suppressed[key]++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (suppressed[key])
        lwsl_warn("%s(%lu more like this in the last 10 s)\n", line,
                  suppressed[key]);
    else
        lwsl_warn("%s", line);
    last[key] = now;
    suppressed[key] = 0;
}

/* ---- the seed's generator -------------------------------------------- */

struct generator {
    lws_sorted_usec_list_t sul;     /* first: the callback casts back */
    struct app *app;
    uint64_t rng;
};

static struct generator gen;

/* xorshift64*: the generator only needs a uniform-looking integer. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void on_generator_tick(lws_sorted_usec_list_t *sul)
{
    struct generator *g = (struct generator *)sul;
    struct config *cfg = &g->app->cfg;
    uint64_t span = (uint64_t)((int64_t)cfg->generator.max -
                               cfg->generator.min) + 1;
    double v = (double)((int64_t)(next_random(&g->rng) % span) +
                        cfg->generator.min);
    char err[INGEST_ERR_MAX];

    if (app_accept_point(g->app, SRC_GENERATOR, cfg->generator.series,
                         strlen(cfg->generator.series), app_now(), v, err,
                         sizeof(err)) < 0)
        warn_ratelimited(RL_LIMIT, "generator: %s\n", err);
    lws_sul_schedule(g->app->ctx, 0, &g->sul, on_generator_tick,
                     (lws_usec_t)cfg->generator.interval_ms * LWS_US_PER_MS);
}

/* ---- once-a-second chores: snapshots, idle standing windows --------- */

/* A timer that knows the app: the callback casts the sul back. */
struct app_timer {
    lws_sorted_usec_list_t sul;     /* first */
    struct app *app;
};

static struct app_timer storage_timer, sweep_timer;

/* Snapshots are started and collected from the loop. */
static void on_storage_tick(lws_sorted_usec_list_t *sul)
{
    struct app_timer *t = (struct app_timer *)sul;

    storage_tick(t->app->storage, t->app->store);
    lws_sul_schedule(t->app->ctx, 0, &t->sul, on_storage_tick,
                     LWS_US_PER_SEC);
}

/* Standing windows nobody asks about any more are dropped: a pointer test
 * per series, and a few comparisons for those that have some. */
static void on_sweep_tick(lws_sorted_usec_list_t *sul)
{
    struct app_timer *t = (struct app_timer *)sul;
    struct store *st = t->app->store;
    double now = app_now();
    size_t i, n = store_count(st);

    for (i = 0; i < n; i++)
        standing_sweep(store_at(st, i)->standing, now);
    lws_sul_schedule(t->app->ctx, 0, &t->sul, on_sweep_tick,
                     LWS_US_PER_SEC);
}

/* ---- vhosts ----------------------------------------------------------- */

static struct lws_protocols http_protocols[3];
static struct lws_protocols graphite_protocols[2];
static struct lws_http_mount mounts[9];

static void add_mount(int i, const char *point, const char *origin,
                      int kind, const char *def)
{
    mounts[i].mountpoint = point;
    mounts[i].mountpoint_len = (unsigned char)strlen(point);
    mounts[i].origin = origin;
    mounts[i].origin_protocol = (unsigned char)kind;
    mounts[i].def = def;
    if (kind == LWSMPRO_CALLBACK)
        mounts[i].protocol = "http-api";
    if (i)
        mounts[i - 1].mount_next = &mounts[i];
}

/* lws 4.1 listens on [::] even with an IPv4 iface unless told not to. */
static uint64_t bind_options(const char *bind)
{
    return strchr(bind, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
}

/* lws 4.1's validity policy: a WebSocket with nothing valid from its
 * peer (a pong, or the handshake) for ping_s is pinged; without a pong
 * within timeout_s more it is closed.  HTTP/1 connections have no such
 * hook and keep their own keep-alive timeout. */
static lws_retry_bo_t ws_keepalive;

static const lws_retry_bo_t *keepalive_policy(const struct config *cfg)
{
    if (!cfg->stream.ping_s)
        return NULL;
    ws_keepalive.secs_since_valid_ping = (uint16_t)cfg->stream.ping_s;
    ws_keepalive.secs_since_valid_hangup =
        (uint16_t)(cfg->stream.ping_s + cfg->stream.timeout_s);
    return &ws_keepalive;
}

static struct lws_vhost *make_http_vhost(struct app *app)
{
    static const char *api[] = {"/average", "/plot", "/series", "/health",
                                "/metrics", "/ingest", "/write"};
    struct lws_context_creation_info info;
    size_t i;

    http_protocols[0] = (struct lws_protocols){
        "http-api", callback_http_api, sizeof(struct http_pss), 0, 0, NULL,
        0};
    http_protocols[1] = (struct lws_protocols){
        "streamavg", callback_stream, stream_pss_size(), 4096, 0, NULL, 0};

    for (i = 0; i < sizeof(api) / sizeof(api[0]); i++)
        add_mount((int)i, api[i], NULL, LWSMPRO_CALLBACK, NULL);
    add_mount((int)i++, "/dygraphs", app->cfg.http.dygraphs, LWSMPRO_FILE,
              NULL);
    add_mount((int)i, "/", app->cfg.http.www, LWSMPRO_FILE, "index.html");

    memset(&info, 0, sizeof(info));
    info.vhost_name = "http";
    info.port = app->cfg.http.port;
    info.iface = app->cfg.http.bind[0] ? app->cfg.http.bind : NULL;
    info.protocols = http_protocols;
    info.mounts = mounts;
    info.options = bind_options(app->cfg.http.bind);
    info.keepalive_timeout = 30;
    info.retry_and_idle_policy = keepalive_policy(&app->cfg);
    if (app->cfg.http.tls_cert[0]) {
        /* HTTPS and WSS on the one port; plain HTTP is not answered. */
        info.ssl_cert_filepath = app->cfg.http.tls_cert;
        info.ssl_private_key_filepath = app->cfg.http.tls_key;
        /* lws 4.1 reads this from the vhost's options too. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    return lws_create_vhost(app->ctx, &info);
}

static struct lws_vhost *make_graphite_vhost(struct app *app)
{
    struct lws_context_creation_info info;

    graphite_protocols[0] = (struct lws_protocols){
        "graphite", callback_graphite, graphite_pss_size(), 0, 0, NULL, 0};

    memset(&info, 0, sizeof(info));
    info.vhost_name = "graphite";
    info.port = app->cfg.graphite.port;
    info.iface = app->cfg.graphite.bind[0] ? app->cfg.graphite.bind : NULL;
    info.protocols = graphite_protocols;
    info.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
                   bind_options(app->cfg.graphite.bind);
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = "graphite";
    return lws_create_vhost(app->ctx, &info);
}

/* ---- running ---------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (signal_ctx)
        lws_cancel_service(signal_ctx);
}

/* The context plot workers may wake, NULL once it is being destroyed: a
 * worker ending a job at shutdown (its gnuplot killed) must not touch a
 * freed context.  The lock makes "check, then call" one step. */
static pthread_mutex_t plot_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lws_context *plot_wake_ctx;

static void on_plot_done(void *arg)
{
    (void)arg;
    /* From a plot worker thread: the one lws call that is safe there. */
    pthread_mutex_lock(&plot_wake_lock);
    if (plot_wake_ctx)
        lws_cancel_service(plot_wake_ctx);
    pthread_mutex_unlock(&plot_wake_lock);
}

/* Refuse new requests (503), then let the requests already in flight be
 * answered (an /ingest whose points were taken gets its 200), for at most
 * DRAIN_MS.  lws_context_deprecate() would close the listening sockets,
 * but in lws 4.1.6 it touches the listener after freeing it (a crash
 * under ASan), so new connections are refused per request instead. */
#define DRAIN_MS 2000

static void drain(struct app *app)
{
    double deadline = app_now() + DRAIN_MS / 1000.0;

    app->stopping = 1;
    lwsl_notice("stopping: new requests are refused; answering %llu "
                "in flight\n", (unsigned long long)app->m.http_in_flight);
    while (app->m.http_in_flight && app_now() < deadline)
        if (lws_service(app->ctx, 0) < 0)
            break;
    if (app->m.http_in_flight)
        lwsl_warn("stopping with %llu requests unanswered after %d ms\n",
                  (unsigned long long)app->m.http_in_flight, DRAIN_MS);
}

int server_start_plots(struct app *app, char *err, size_t errlen)
{
    static double last_try;
    static char last_err[200];
    double now = app_now();

    if (app->plots)
        return 0;
    /* A missing gnuplot fails fast, but not every request should spawn. */
    if (now - last_try < 1.0) {
        snprintf(err, errlen, "%s", last_err);
        return -1;
    }
    last_try = now;
    app->plots = plot_pool_new(app->cfg.plot.gnuplot, app->cfg.plot.max_procs,
                               app->cfg.plot.timeout_ms,
                               (size_t)app->cfg.plot.queue_max, on_plot_done,
                               app->ctx, last_err, sizeof(last_err));
    if (!app->plots) {
        snprintf(err, errlen, "%s", last_err);
        return -1;
    }
    lwsl_notice("plot workers started (%d gnuplot processes)\n",
                app->cfg.plot.max_procs);
    return 0;
}

int server_run(struct app *app)
{
    struct lws_context_creation_info info;
    struct sigaction sa;
    char err[256];
    int rc = 1, no_memory;

    memset(&info, 0, sizeof(info));
    /* VALIDATE_UTF8 (a context option in 4.1): lws checks that text
     * frames are UTF-8 and closes with 1007 when they are not. */
    info.options =
        LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
        LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
        LWS_SERVER_OPTION_VALIDATE_UTF8 |
        LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    info.user = app;
    info.port = CONTEXT_PORT_NO_LISTEN;
    app->ctx = lws_create_context(&info);
    if (!app->ctx) {
        lwsl_err("cannot create the lws context\n");
        return 1;
    }
    plot_wake_ctx = app->ctx;

    if (!make_http_vhost(app)) {
        lwsl_err("cannot listen for HTTP on %s port %d (http.bind, "
                 "http.port): is it in use?%s\n", app->cfg.http.bind,
                 app->cfg.http.port, app->cfg.http.tls_cert[0]
                     ? " Or are http.tls_cert and http.tls_key not a "
                       "readable PEM certificate and its key?" : "");
        goto out;
    }
    if (app->cfg.graphite.port && !make_graphite_vhost(app)) {
        lwsl_err("cannot listen for Graphite on %s port %d (graphite.bind, "
                 "graphite.port; 0 turns it off): is it in use?\n",
                 app->cfg.graphite.bind, app->cfg.graphite.port);
        goto out;
    }
    app->allow_from = access_list_new(app->cfg.ingest.allow_from,
                                      &no_memory);
    if (no_memory || udp_listeners_start(app) < 0)
        goto out;

    /* Without gnuplot the rest still works: /plot answers 503 and tries
     * again (server_start_plots). */
    if (server_start_plots(app, err, sizeof(err)) < 0)
        lwsl_err("cannot start the plot workers: %s; /plot answers 503 "
                 "until gnuplot can be started\n", err);

    lwsl_notice("listening: HTTP and WebSocket%s on %s:%d\n",
                app->cfg.http.tls_cert[0] ? " (TLS)" : "",
                app->cfg.http.bind[0] ? app->cfg.http.bind : "*",
                app->cfg.http.port);
    if (app->cfg.graphite.port)
        lwsl_notice("listening: Graphite (TCP and UDP) on %s:%d\n",
                    app->cfg.graphite.bind[0] ? app->cfg.graphite.bind : "*",
                    app->cfg.graphite.port);
    else
        lwsl_notice("Graphite listener off (graphite.port 0)\n");

    if (app->cfg.generator.enabled) {
        gen.app = app;
        gen.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
                  0x9e3779b97f4a7c15ULL;
        lws_sul_schedule(app->ctx, 0, &gen.sul, on_generator_tick,
                         (lws_usec_t)app->cfg.generator.interval_ms *
                             LWS_US_PER_MS);
        lwsl_notice("generator: a random integer from %d to %d into '%s' "
                    "every %d ms\n", app->cfg.generator.min,
                    app->cfg.generator.max, app->cfg.generator.series,
                    app->cfg.generator.interval_ms);
    }

    if (app->storage) {
        storage_timer.app = app;
        lws_sul_schedule(app->ctx, 0, &storage_timer.sul, on_storage_tick,
                         LWS_US_PER_SEC);
    }

    sweep_timer.app = app;
    lws_sul_schedule(app->ctx, 0, &sweep_timer.sul, on_sweep_tick,
                     LWS_US_PER_SEC);

    signal_ctx = app->ctx;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    while (!stop_requested)
        if (lws_service(app->ctx, 0) < 0)
            break;
    drain(app);
    rc = 0;

out:
    signal_ctx = NULL;
    if (app->cfg.generator.enabled)
        lws_sul_cancel(&gen.sul);
    if (app->storage)
        lws_sul_cancel(&storage_timer.sul);
    lws_sul_cancel(&sweep_timer.sul);
    /* Connections close first (their callbacks still see the app), then
     * the plot workers stop and their jobs are freed, then the flights
     * that waited on them. */
    statsd_stop(app);
    pthread_mutex_lock(&plot_wake_lock);
    plot_wake_ctx = NULL;
    pthread_mutex_unlock(&plot_wake_lock);
    lws_context_destroy(app->ctx);
    app->ctx = NULL;
    free(app->allow_from);
    app->allow_from = NULL;
    plot_pool_free(app->plots);
    app->plots = NULL;
    http_plot_free(app);
    return rc;
}
