/*
 * stream.c - WebSocket /stream, subprotocol "streamavg".
 *
 * A subscription is a (series, window) pair.  Subscribers of the same pair
 * share a `watch` hung on the series, so each new point costs one average
 * and one JSON encoding per watched window, however many read it.  The
 * encoded message is reference-counted and queued on each subscriber's
 * connection; lws writes one message per WRITEABLE.
 *
 * A slow reader: each connection queues at most stream.queue_max live
 * messages.  When a new one arrives at a full queue the oldest is dropped
 * (a newer average supersedes it) and counted; the next message written
 * carries "dropped": N.  Replies to the client (history batches, errors)
 * go on a short separate list written first and never dropped, so a
 * subscription's history always comes before its live averages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "ingest.h"
#include "jsonfmt.h"
#include "params.h"
#include "server.h"
#include "stream.h"

/* Replies (history, errors) a connection may have waiting; past this a
 * client that sends requests without reading gets no more error replies. */
#define MAX_REPLIES_QUEUED 16

struct msg {
    int refs;
    size_t len;
    struct msg *next;       /* reply list only: replies are not shared */
    unsigned char buf[];    /* LWS_PRE bytes, then the JSON */
};

struct watch;
struct ws_conn;

struct sub {
    struct watch *watch;
    struct ws_conn *conn;
    struct sub *watch_next;
    struct sub *conn_next;
};

struct watch {
    struct series *series;
    size_t window;
    struct sub *subs;
    struct watch *next;
};

struct ws_conn {
    struct lws *wsi;
    struct app *app;
    struct sub *subs;
    int nsubs;

    struct msg **queue;     /* live averages, a ring of queue_cap */
    size_t q_head, q_len, q_cap;
    uint64_t dropped;       /* since the last message written */

    struct msg *replies, *replies_tail;
    int nreplies;

    char *rx;               /* a message arriving in fragments */
    size_t rx_len;
};

size_t stream_pss_size(void)
{
    return sizeof(struct ws_conn);
}

int stream_init(struct app *app)
{
    (void)app;
    return 0;
}

void stream_free(struct app *app)
{
    (void)app;
}

/* ---- messages --------------------------------------------------------- */

static struct msg *msg_from_json(struct json_object *obj)
{
    size_t len;
    char *text = jsonfmt_dump(obj, 0, &len);
    struct msg *m;

    json_object_put(obj);
    if (!text)
        return NULL;
    m = malloc(sizeof(*m) + LWS_PRE + len);
    if (m) {
        m->refs = 1;
        m->len = len;
        m->next = NULL;
        memcpy(m->buf + LWS_PRE, text, len);
    }
    free(text);
    return m;
}

static void msg_unref(struct msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

static void queue_reply(struct ws_conn *c, struct msg *m)
{
    if (!m)
        return;
    if (c->nreplies >= MAX_REPLIES_QUEUED) {
        msg_unref(m);
        return;
    }
    if (c->replies_tail)
        c->replies_tail->next = m;
    else
        c->replies = m;
    c->replies_tail = m;
    c->nreplies++;
    lws_callback_on_writable(c->wsi);
}

static void reply_error(struct ws_conn *c, const char *text)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "type", json_object_new_string("error"));
    json_object_object_add(o, "error", json_object_new_string(text));
    queue_reply(c, msg_from_json(o));
}

static void queue_live(struct ws_conn *c, struct msg *m)
{
    if (!c->queue) {
        c->q_cap = (size_t)c->app->cfg.stream.queue_max;
        c->queue = calloc(c->q_cap, sizeof(*c->queue));
        if (!c->queue) {
            c->dropped++;
            c->app->m.ws_dropped++;
            return;
        }
    }
    if (c->q_len == c->q_cap) {
        msg_unref(c->queue[c->q_head]);
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
        c->dropped++;
        c->app->m.ws_dropped++;
    }
    m->refs++;
    c->queue[(c->q_head + c->q_len) % c->q_cap] = m;
    c->q_len++;
    lws_callback_on_writable(c->wsi);
}

/* ---- averages --------------------------------------------------------- */

static void point_fields(struct json_object *o, const struct window_ring *w,
                         size_t last, size_t window)
{
    size_t from = last + 1 >= window ? last + 1 - window : 0;
    struct window_agg agg;

    window_range(w, from, last, &agg);
    json_object_object_add(o, "timestamp",
                           jsonfmt_number(window_ts_at(w, last)));
    json_object_object_add(o, "value",
                           jsonfmt_number(window_value_at(w, last)));
    json_object_object_add(o, "average",
                           jsonfmt_number(window_agg_mean(&agg)));
    json_object_object_add(o, "count",
                           json_object_new_int64((int64_t)agg.count));
}

static struct json_object *head(const char *type, const struct watch *wt)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "series",
                           json_object_new_string(wt->series->name));
    json_object_object_add(o, "window_size",
                           json_object_new_int64((int64_t)wt->window));
    return o;
}

void stream_publish(struct app *app, struct series *s)
{
    const struct window_ring *w = &s->ring;
    struct watch *wt;

    for (wt = s->watch; wt; wt = wt->next) {
        struct json_object *o = head("average", wt);
        struct msg *m;
        struct sub *sb;

        point_fields(o, w, w->len - 1, wt->window);
        m = msg_from_json(o);
        if (!m) {
            app->m.ws_dropped++;
            continue;
        }
        for (sb = wt->subs; sb; sb = sb->watch_next)
            queue_live(sb->conn, m);
        msg_unref(m);
    }
}

/* The recent history of a new subscription, oldest first. */
static struct msg *history(const struct watch *wt, size_t backlog)
{
    const struct window_ring *w = &wt->series->ring;
    struct json_object *o = head("history", wt);
    struct json_object *pts = json_object_new_array();
    size_t n = w->len < backlog ? w->len : backlog, i;

    for (i = w->len - n; i < w->len; i++) {
        struct json_object *p = json_object_new_object();

        point_fields(p, w, i, wt->window);
        json_object_array_add(pts, p);
    }
    json_object_object_add(o, "points", pts);
    return msg_from_json(o);
}

/* ---- subscriptions ---------------------------------------------------- */

static struct sub *find_sub(struct ws_conn *c, struct series *s,
                            size_t window)
{
    struct sub *sb;

    for (sb = c->subs; sb; sb = sb->conn_next)
        if (sb->watch->series == s && sb->watch->window == window)
            return sb;
    return NULL;
}

static void subscribe(struct ws_conn *c, struct series *s, size_t window)
{
    struct watch *wt;
    struct sub *sb;

    if (find_sub(c, s, window)) {
        reply_error(c, "already subscribed to that series and window");
        return;
    }
    if (c->nsubs >= c->app->cfg.stream.max_subscriptions) {
        reply_error(c, "too many subscriptions on this connection "
                    "(stream.max_subscriptions)");
        return;
    }

    for (wt = s->watch; wt; wt = wt->next)
        if (wt->window == window)
            break;
    sb = calloc(1, sizeof(*sb));
    if (!sb)
        goto oom;
    if (!wt) {
        wt = calloc(1, sizeof(*wt));
        if (!wt) {
            free(sb);
            goto oom;
        }
        wt->series = s;
        wt->window = window;
        wt->next = s->watch;
        s->watch = wt;
    }
    sb->watch = wt;
    sb->conn = c;
    sb->watch_next = wt->subs;
    wt->subs = sb;
    sb->conn_next = c->subs;
    c->subs = sb;
    c->nsubs++;
    c->app->m.ws_subscriptions++;

    queue_reply(c, history(wt, (size_t)c->app->cfg.stream.backlog));
    return;

oom:
    reply_error(c, "out of memory");
}

static void drop_sub(struct ws_conn *c, struct sub *sb)
{
    struct watch *wt = sb->watch, **pw;
    struct sub **pp;

    for (pp = &wt->subs; *pp; pp = &(*pp)->watch_next)
        if (*pp == sb) {
            *pp = sb->watch_next;
            break;
        }
    for (pp = &c->subs; *pp; pp = &(*pp)->conn_next)
        if (*pp == sb) {
            *pp = sb->conn_next;
            break;
        }
    c->nsubs--;
    c->app->m.ws_subscriptions--;
    free(sb);

    if (wt->subs)
        return;
    for (pw = (struct watch **)&wt->series->watch; *pw; pw = &(*pw)->next)
        if (*pw == wt) {
            *pw = wt->next;
            break;
        }
    free(wt);
}

/* The series to subscribe to, created when it does not exist yet so that
 * a dashboard may open before its producer starts.  NULL after replying
 * with an error (bad name, series limit). */
static struct series *series_for(struct ws_conn *c, const char *name,
                                 size_t len)
{
    char err[INGEST_ERR_MAX];
    struct series *s;

    if (!ingest_series_name_ok(name, len)) {
        reply_error(c, "series must be 1 to 255 bytes of [A-Za-z0-9._:-]");
        return NULL;
    }
    s = store_intern(c->app->store, name, len, err, sizeof(err));
    if (!s)
        reply_error(c, err);
    return s;
}

/* Read {"series": S, "window_size": N}; "series" defaults to "default".
 * Returns the series (created for a subscribe when missing), or NULL
 * after replying with an error. */
static struct series *read_pair(struct ws_conn *c, struct json_object *o,
                                int add, size_t *window)
{
    struct json_object *js, *jw;
    const char *name = "default";
    size_t len = 7;
    long history = (long)store_history(c->app->store);
    int64_t n;
    struct series *s;
    char err[160];

    if (!json_object_is_type(o, json_type_object)) {
        reply_error(c, "a subscription is an object {\"series\": S, "
                    "\"window_size\": N}");
        return NULL;
    }
    if (json_object_object_get_ex(o, "series", &js)) {
        if (!json_object_is_type(js, json_type_string)) {
            reply_error(c, "series must be a string");
            return NULL;
        }
        name = json_object_get_string(js);
        len = (size_t)json_object_get_string_len(js);
    }
    if (!json_object_object_get_ex(o, "window_size", &jw) ||
        !json_object_is_type(jw, json_type_int) ||
        (n = json_object_get_int64(jw)) < 1 || n > history) {
        snprintf(err, sizeof(err), "window_size must be a whole number "
                 "from 1 to %ld", history);
        reply_error(c, err);
        return NULL;
    }
    s = add ? series_for(c, name, len)
            : store_find(c->app->store, name, len);
    if (!s && !add)
        reply_error(c, "not subscribed to that series and window");
    if (!s)
        return NULL;
    *window = (size_t)n;
    return s;
}

/* Apply fn to one pair or to each pair of an array. */
static void each_pair(struct ws_conn *c, struct json_object *v, int add)
{
    size_t i, n = 1, window;
    int is_array = json_object_is_type(v, json_type_array);

    if (is_array)
        n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        struct json_object *o = is_array ? json_object_array_get_idx(v, i)
                                         : v;
        struct series *s = read_pair(c, o, add, &window);
        struct sub *sb;

        if (!s)
            continue;
        if (add) {
            subscribe(c, s, window);
        } else if ((sb = find_sub(c, s, window))) {
            drop_sub(c, sb);
        } else {
            reply_error(c, "not subscribed to that series and window");
        }
    }
}

static void on_message(struct ws_conn *c)
{
    struct json_tokener *tok = json_tokener_new_ex(8);
    struct json_object *o = NULL, *v;

    if (tok) {
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, c->rx, (int)c->rx_len);
        if (o && json_tokener_get_parse_end(tok) != c->rx_len) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }

    if (!o || !json_object_is_type(o, json_type_object))
        reply_error(c, "a message is a JSON object: {\"subscribe\": "
                    "{\"series\": S, \"window_size\": N}} or "
                    "{\"unsubscribe\": ...}");
    else if (json_object_object_get_ex(o, "subscribe", &v))
        each_pair(c, v, 1);
    else if (json_object_object_get_ex(o, "unsubscribe", &v))
        each_pair(c, v, 0);
    else
        reply_error(c, "unknown message; send {\"subscribe\": ...} or "
                    "{\"unsubscribe\": ...}");
    json_object_put(o);
}

/* ---- the connection --------------------------------------------------- */

/* Subscribe from the URL: /stream?series=S&window_size=N. */
static void subscribe_from_url(struct ws_conn *c)
{
    char name[SERIES_NAME_MAX + 1], n[32], err[160];
    int has_s = server_query_arg(c->wsi, "series", name, sizeof(name));
    int has_n = server_query_arg(c->wsi, "window_size", n, sizeof(n));
    long history = (long)store_history(c->app->store), window;
    struct series *s;

    if (!has_s && !has_n)
        return;     /* subscriptions will come as messages */
    if (has_s < 0) {
        reply_error(c, "series must be 1 to 255 bytes of [A-Za-z0-9._:-]");
        return;
    }
    if (!has_s)
        snprintf(name, sizeof(name), "default");
    if (has_n <= 0) {
        snprintf(err, sizeof(err), "window_size is required with series: a "
                 "whole number from 1 to %ld", history);
        reply_error(c, err);
        return;
    }
    if (param_uint("window_size", n, 1, history, &window, err,
                   sizeof(err)) < 0) {
        reply_error(c, err);
        return;
    }
    s = series_for(c, name, strlen(name));
    if (s)
        subscribe(c, s, (size_t)window);
}

static int write_next(struct ws_conn *c)
{
    struct msg *m, *tmp = NULL;
    int rc;

    if (c->replies) {
        m = c->replies;
        c->replies = m->next;
        if (!c->replies)
            c->replies_tail = NULL;
        c->nreplies--;
    } else if (c->q_len) {
        m = c->queue[c->q_head];
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
        if (c->dropped) {
            /* Splice "dropped": N in before the closing brace. */
            char extra[40];
            int n = snprintf(extra, sizeof(extra), ",\"dropped\":%llu}",
                             (unsigned long long)c->dropped);

            tmp = malloc(sizeof(*tmp) + LWS_PRE + m->len + (size_t)n);
            if (tmp) {
                memcpy(tmp->buf + LWS_PRE, m->buf + LWS_PRE, m->len - 1);
                memcpy(tmp->buf + LWS_PRE + m->len - 1, extra, (size_t)n);
                tmp->len = m->len - 1 + (size_t)n;
                tmp->refs = 1;
                c->dropped = 0;
                msg_unref(m);
                m = tmp;
            }
        }
    } else {
        return 0;   /* nothing queued: a WRITEABLE we no longer need */
    }

    /* A short write is fine: lws keeps the unsent tail and sends it
     * before the next WRITEABLE.  Only a failure ends the connection. */
    rc = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    msg_unref(m);
    if (rc < 0)
        return -1;
    c->app->m.ws_pushed++;

    if (c->replies || c->q_len)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static void conn_close(struct ws_conn *c)
{
    struct msg *m, *next;

    while (c->subs)
        drop_sub(c, c->subs);
    while (c->q_len) {
        msg_unref(c->queue[c->q_head]);
        c->q_head = (c->q_head + 1) % c->q_cap;
        c->q_len--;
    }
    free(c->queue);
    for (m = c->replies; m; m = next) {
        next = m->next;
        msg_unref(m);
    }
    free(c->rx);
    c->app->m.ws_connections--;
    memset(c, 0, sizeof(*c));
}

static int receive(struct ws_conn *c, const void *in, size_t len)
{
    size_t max = (size_t)c->app->cfg.stream.max_message;
    char *nb;

    if (c->rx_len + len > max) {
        warn_ratelimited(RL_WS_BAD, "stream: a message over %zu bytes "
                         "(stream.max_message); closing with 1009\n", max);
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"message too large", 17);
        return -1;
    }
    nb = realloc(c->rx, c->rx_len + len + 1);
    if (!nb)
        return -1;
    c->rx = nb;
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;

    if (!lws_is_final_fragment(c->wsi) ||
        lws_remaining_packet_payload(c->wsi))
        return 0;

    if (lws_frame_is_binary(c->wsi))
        reply_error(c, "messages are JSON text, not binary");
    else
        on_message(c);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    return 0;
}

int callback_stream(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct ws_conn *c = user;
    char path[64];

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Only /stream speaks WebSocket. */
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(path, "/stream") || server_app(wsi)->stopping)
            return 1;
        return ws_guard_refuse(wsi, server_app(wsi));

    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof(*c));
        c->wsi = wsi;
        c->app = server_app(wsi);
        c->app->m.ws_connections++;
        subscribe_from_url(c);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return write_next(c);

    case LWS_CALLBACK_RECEIVE:
        return receive(c, in, len);

    case LWS_CALLBACK_CLOSED:
        if (c->app)
            conn_close(c);
        return 0;

    default:
        break;
    }
    return 0;
}
