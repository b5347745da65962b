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

#include "ingest.h"
#include "server.h"

struct graphite_conn {
    struct app *app;
    struct line_splitter lines;
    char peer[64];
    int open;
};

size_t graphite_pss_size(void)
{
    return sizeof(struct graphite_conn);
}

static int on_line(void *arg, size_t line_no, const char *line, size_t len,
                   int too_long)
{
    struct graphite_conn *g = arg;
    struct app *app = g->app;
    struct ingest_point p;
    char err[INGEST_ERR_MAX];
    int rc;

    if (too_long) {
        app->m.points_rejected[SRC_GRAPHITE_TCP]++;
        warn_ratelimited(RL_GRAPHITE_BAD, "graphite %s: line %zu is over "
                         "%d bytes (graphite.max_line), dropped\n", g->peer,
                         line_no, app->cfg.graphite.max_line);
        return 0;
    }

    rc = ingest_parse_graphite(line, len, app_now(), &p, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (rc < 0) {
        app->m.points_rejected[SRC_GRAPHITE_TCP]++;
        warn_ratelimited(RL_GRAPHITE_BAD, "graphite %s: line %zu rejected: "
                         "%s\n", g->peer, line_no, err);
        return 0;
    }
    if (app_accept_point(app, SRC_GRAPHITE_TCP, p.name, p.name_len, p.ts,
                         p.value, err, sizeof(err)) < 0)
        warn_ratelimited(RL_LIMIT, "graphite %s: %s\n", g->peer, err);
    return 0;
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

    case LWS_CALLBACK_RAW_RX:
        if (!g->open)
            return -1;
        g->app->m.bytes_in[SRC_GRAPHITE_TCP] += len;
        line_splitter_feed(&g->lines, in, len, on_line, g);
        return 0;

    case LWS_CALLBACK_RAW_CLOSE:
        if (!g->open)
            return 0;
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
