/*
 * graphite.c - the Graphite plaintext listener on TCP: "path value
 * [timestamp]" one a line, as carbon takes it.
 *
 * Each connection has its own line splitter, so a line may arrive in any
 * number of pieces, and a bad or over-long line costs only itself: it is
 * counted, logged at a limited rate, and the next line is read as usual.
 * A final line without a newline is taken when the peer closes.
 */
#include <stdio.h>
#include <string.h>

#include <sys/socket.h>

#include "access.h"
#include "ingest.h"
#include "ingest_stats.h"
#include "listeners.h"
#include "server.h"

struct graphite_conn {
    struct app *app;
    struct line_splitter lines;
    char peer[64];
    double now;         /* the clock, read once per read */
    int open;
};

size_t graphite_pss_size(void)
{
    return sizeof(struct graphite_conn);
}

void graphite_take_line(struct app *app, enum source src, const char *peer,
                        double now, size_t line_no, const char *line,
                        size_t len, int too_long)
{
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc;

    if (too_long) {
        ingest_reject(app, src, REJ_TOO_LONG);
        warn_ratelimited(RL_GRAPHITE_BAD, "graphite %s: line %zu is over "
                         "%d bytes (graphite.max_line), dropped\n", peer,
                         line_no, app->cfg.graphite.max_line);
        return;
    }

    rc = ingest_parse_graphite(line, len, now, &p, err, sizeof(err));
    if (rc == 0)
        return;
    if (rc < 0) {
        ingest_reject(app, src, ingest_reason_of(err));
        warn_ratelimited(RL_GRAPHITE_BAD, "graphite %s: line %zu rejected: "
                         "%s\n", peer, line_no, err);
        return;
    }
    if (app_accept_point_at(app, src, p.name, p.name_len, p.ts, p.value, now,
                            err, sizeof(err)) < 0)
        warn_ratelimited(RL_LIMIT, "graphite %s: %s\n", peer, err);
}

static int on_line(void *arg, size_t line_no, const char *line, size_t len,
                   int too_long)
{
    struct graphite_conn *g = arg;

    graphite_take_line(g->app, SRC_GRAPHITE_TCP, g->peer, g->now, line_no,
                       line, len, too_long);
    return 0;
}

/* May this connection's source address send?  (ingest.allow_from) */
static int source_allowed(struct lws *wsi, struct app *app)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (!app->allow_from)
        return 1;
    if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &sl))
        return 0;
    return access_list_allows(app->allow_from, (struct sockaddr *)&ss, sl);
}

int callback_graphite(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct graphite_conn *g = user;
    struct app *app;

    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        app = server_app(wsi);
        memset(g, 0, sizeof(*g));
        g->app = app;
        lws_get_peer_simple(wsi, g->peer, sizeof(g->peer));
        app->m.ingest_connections[SRC_GRAPHITE_TCP]++;
        if (!source_allowed(wsi, app)) {
            app->m.ingest_denied[SRC_GRAPHITE_TCP]++;
            warn_ratelimited(RL_LIMIT, "graphite %s: refused, not in "
                             "ingest.allow_from\n", g->peer);
            return -1;
        }
        if (app->m.graphite_connections >=
            (uint64_t)app->cfg.graphite.max_clients) {
            warn_ratelimited(RL_LIMIT, "graphite %s: refused, %d "
                             "connections open (graphite.max_clients)\n",
                             g->peer, app->cfg.graphite.max_clients);
            return -1;
        }
        if (line_splitter_init(&g->lines,
                               (size_t)app->cfg.graphite.max_line) < 0)
            return -1;
        g->open = 1;
        app->m.graphite_connections++;
        return 0;

    case LWS_CALLBACK_RAW_RX: {
        double t0 = ingest_clock();

        if (!g->open)
            return -1;
        g->app->m.bytes_in[SRC_GRAPHITE_TCP] += len;
        g->now = app_now();
        line_splitter_feed(&g->lines, in, len, on_line, g);
        g->app->m.ingest_seconds[SRC_GRAPHITE_TCP] += ingest_clock() - t0;
        return 0;
    }

    case LWS_CALLBACK_RAW_CLOSE:
        if (!g->open)
            return 0;
        g->now = app_now();
        line_splitter_finish(&g->lines, on_line, g);
        line_splitter_free(&g->lines);
        g->app->m.graphite_connections--;
        g->open = 0;
        return 0;

    default:
        break;
    }
    return 0;
}
