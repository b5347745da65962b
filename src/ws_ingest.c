/*
 * ws_ingest.c - points published over WebSocket /stream: a message that
 * is a point object or an array of them, the shapes POST /ingest takes as
 * application/json, when stream.publish is on.
 *
 * With ingest.token set, a connection may publish only when it showed the
 * token in its handshake: "Authorization: Bearer TOKEN", or ?token=TOKEN
 * in the URL for browsers, which cannot set headers on a WebSocket.
 */
#include <stdio.h>
#include <string.h>

#include <json.h>

#include "access.h"
#include "ingest.h"
#include "ingest_stats.h"
#include "server.h"

int ws_may_publish(struct lws *wsi, struct app *app)
{
    const char *token = app->cfg.ingest.token;
    char got[CONFIG_STR_MAX + 32];
    int n;

    if (!app->cfg.stream.publish)
        return 0;
    if (!token[0])
        return 1;
    n = lws_hdr_copy(wsi, got, sizeof(got), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 0 && access_bearer_ok(token, got, (size_t)n))
        return 1;
    if (server_query_arg(wsi, "token", got, sizeof(got)) > 0 &&
        access_token_equal(token, strlen(token), got, strlen(got)))
        return 1;
    return 0;
}

/* One item: 0 when stored, -1 with the sentence in err. */
static int take_item(struct app *app, struct json_object *item, double now,
                     char *err, size_t errlen)
{
    struct ingest_point p;

    if (ingest_point_from_json(item, now, &p, err, errlen) != 1) {
        ingest_reject(app, SRC_WS, ingest_reason_of(err));
        return -1;
    }
    return app_accept_point(app, SRC_WS, p.name, p.name_len, p.ts, p.value,
                            err, errlen);
}

size_t ws_ingest(struct app *app, struct json_object *msg, size_t bytes,
                 char *err, size_t errlen)
{
    int is_array = json_object_is_type(msg, json_type_array);
    size_t n = is_array ? json_object_array_length(msg) : 1, i, bad = 0;
    double now = app_now();
    char item_err[INGEST_ERR_MAX];

    app->m.bytes_in[SRC_WS] += bytes;
    for (i = 0; i < n; i++) {
        struct json_object *item = is_array
            ? json_object_array_get_idx(msg, i) : msg;

        if (take_item(app, item, now, item_err, sizeof(item_err)) < 0 &&
            bad++ == 0)
            snprintf(err, errlen, "item %zu: %s", i + 1, item_err);
    }
    return bad;
}
