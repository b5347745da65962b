/*
 * stream.c - WebSocket /stream, subprotocol "streamavg".
 *
 * A subscription is a series and a spec: either one window_size (the
 * seed's form: one "average" message per point) or a set of windows
 * (points or durations), the figures wanted and an optional interval
 * (one "stats" message per point, or at most one per interval with the
 * latest figures, driven by an lws_sul timer on the loop).  Subscribers
 * with the same series and spec share a `watch` hung on the series, so
 * each new point costs one computation and one JSON encoding per watch,
 * however many read it.
 *
 * Every pushed message carries "offset", the series' count of points ever
 * appended when it was made, which only grows.  A client that subscribes
 * again with "resume_from": OFFSET gets the points it missed from the
 * retained history, or "recovered": false and a fresh start when they are
 * no longer all retained (or are more than stream.backlog).
 *
 * An encoded message is reference-counted and queued on each subscriber's
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
#include "ingest_stats.h"
#include "jsonfmt.h"
#include "params.h"
#include "server.h"
#include "stats.h"
#include "stream.h"

/* Replies (history, errors) a connection may have waiting: one history per
 * subscription it may hold, plus this many errors.  Past that a client
 * that sends requests without reading gets no more error replies; a
 * history is never dropped, since a subscription's limit comes first. */
#define MAX_ERRORS_QUEUED 16
/* A connection's live queue starts this small and doubles as needed. */
#define QUEUE_INITIAL 8
/* Most bytes of live messages one frame carries to a reader that lags. */
#define BATCH_BYTES 65536
/* Windows one subscription may ask for at once. */
#define MAX_WINDOWS 8
#define MAX_INTERVAL_MS 3600000
#define DEFAULT_HALFLIFE_POINTS 10
/* Figures a subscription without "aggregates" gets. */
#define DEFAULT_FIELDS 0x1fu        /* count, sum, mean, min, max */

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

struct window_spec {
    size_t points;          /* > 0: the newest N points */
    double seconds;         /* else: this span before the newest point */
    char label[24];         /* the duration as the client wrote it */
};

/* What a subscription asks for; equal specs share a watch. */
struct spec {
    int legacy;             /* {"window_size": N} alone: per-point averages */
    size_t nwin;
    struct window_spec win[MAX_WINDOWS];
    unsigned fields;        /* bits of stats.h's field order */
    int interval_ms;        /* 0: a message per point */
    double halflife_seconds;
    size_t halflife_points;
};

struct watch {
    struct series *series;
    struct spec spec;
    struct app *app;
    struct sub *subs;
    struct watch *next;

    /* Rate limit: at most one message per interval_ms. */
    lws_sorted_usec_list_t sul;
    int timer_armed;
    int pending;            /* points arrived since the last message */
    lws_usec_t last_sent;
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

    int may_publish;        /* see ws_ingest.c */
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
    if (c->nreplies >= c->app->cfg.stream.max_subscriptions +
                           MAX_ERRORS_QUEUED) {
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

/* Make room for one more live message: grow the ring (it starts small, so
 * a quiet connection costs little) up to stream.queue_max, then drop the
 * oldest, which the new average supersedes.  Returns 0, or -1 when there
 * is no room at all. */
static int make_room(struct ws_conn *c)
{
    size_t max = (size_t)c->app->cfg.stream.queue_max, cap, i;
    struct msg **q;

    if (c->q_len < c->q_cap)
        return 0;
    if (c->q_cap < max) {
        cap = c->q_cap ? c->q_cap * 2 : QUEUE_INITIAL;
        if (cap > max)
            cap = max;
        q = malloc(cap * sizeof(*q));
        if (q) {
            for (i = 0; i < c->q_len; i++)
                q[i] = c->queue[(c->q_head + i) % c->q_cap];
            free(c->queue);
            c->queue = q;
            c->q_head = 0;
            c->q_cap = cap;
            return 0;
        }
    }
    if (!c->q_len)
        return -1;
    msg_unref(c->queue[c->q_head]);
    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    c->dropped++;
    c->app->m.ws_dropped++;
    return 0;
}

static void queue_live(struct ws_conn *c, struct msg *m)
{
    if (make_room(c) < 0) {
        c->dropped++;
        c->app->m.ws_dropped++;
        return;
    }
    m->refs++;
    c->queue[(c->q_head + c->q_len) % c->q_cap] = m;
    c->q_len++;
    lws_callback_on_writable(c->wsi);
}

/* ---- averages --------------------------------------------------------- */

/* The offset of the point at logical index i: its number in the series,
 * counting from 1, which is the series' total when it was appended. */
static uint64_t offset_at(const struct window_ring *w, size_t i)
{
    return w->total - w->len + i + 1;
}

/* offset, timestamp and value of the point at logical index i. */
static void raw_fields(struct json_object *o, const struct window_ring *w,
                       size_t i)
{
    json_object_object_add(o, "offset",
                           json_object_new_int64((int64_t)offset_at(w, i)));
    json_object_object_add(o, "timestamp",
                           jsonfmt_number(window_ts_at(w, i)));
    json_object_object_add(o, "value",
                           jsonfmt_number(window_value_at(w, i)));
}

static void point_fields(struct json_object *o, const struct window_ring *w,
                         size_t last, size_t window)
{
    size_t from = last + 1 >= window ? last + 1 - window : 0;
    struct window_agg agg;

    window_range_mean(w, from, last, &agg);
    raw_fields(o, w, last);
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
    if (wt->spec.legacy)
        json_object_object_add(o, "window_size", json_object_new_int64(
                                   (int64_t)wt->spec.win[0].points));
    return o;
}

/* The figures of each window of a stats watch at the newest point. */
static struct json_object *stats_message(const struct watch *wt,
                                         const char *type)
{
    const struct window_ring *w = &wt->series->ring;
    const struct spec *sp = &wt->spec;
    struct stats_options opt = {sp->halflife_seconds, sp->halflife_points,
                                (size_t)wt->app->cfg.stats.exact_max};
    struct json_object *o = head(type, wt), *wins;
    size_t i;

    if (!(sp->fields & STATS_NEED_COPY))
        opt.exact_max = 0;
    if (!w->len) {
        json_object_object_add(o, "offset", json_object_new_int64(0));
        return o;
    }
    raw_fields(o, w, w->len - 1);
    wins = json_object_new_array();
    for (i = 0; i < sp->nwin; i++) {
        const struct window_spec *ws = &sp->win[i];
        struct json_object *e = json_object_new_object();
        const struct standing_window *sw = NULL;
        struct stats_result r;

        if (opt.exact_max)
            sw = standing_ask(&wt->series->standing, &wt->app->standing, w,
                              ws->points, ws->seconds,
                              sp->fields & STATS_EWMA ? opt.halflife_seconds
                                                      : 0,
                              sp->fields & STATS_EWMA ? opt.halflife_points
                                                      : 0,
                              app_now());
        stats_compute(w, window_first_of(w, w->len - 1, ws->points,
                                         ws->seconds),
                      w->len - 1, &opt, sw, &r);
        if (ws->points)
            json_object_object_add(e, "window_size",
                    json_object_new_int64((int64_t)ws->points));
        else
            json_object_object_add(e, "window",
                                   json_object_new_string(ws->label));
        http_stats_fields(e, &r, sp->fields);
        json_object_array_add(wins, e);
    }
    json_object_object_add(o, "windows", wins);
    return o;
}

static void send_to_subs(struct watch *wt, struct json_object *o)
{
    struct msg *m = msg_from_json(o);
    struct sub *sb;

    if (!m) {
        wt->app->m.ws_dropped++;
        return;
    }
    for (sb = wt->subs; sb; sb = sb->watch_next)
        queue_live(sb->conn, m);
    msg_unref(m);
}

static void on_interval(lws_sorted_usec_list_t *sul)
{
    struct watch *wt = lws_container_of(sul, struct watch, sul);

    wt->timer_armed = 0;
    if (!wt->pending)
        return;
    wt->pending = 0;
    wt->last_sent = lws_now_usecs();
    send_to_subs(wt, stats_message(wt, "stats"));
}

/* A new point for a stats watch: send now, or leave it to the timer when
 * the last message went out less than an interval ago. */
static void publish_stats(struct watch *wt)
{
    lws_usec_t now, due;

    if (!wt->spec.interval_ms) {
        send_to_subs(wt, stats_message(wt, "stats"));
        return;
    }
    wt->pending = 1;
    if (wt->timer_armed)
        return;
    now = lws_now_usecs();
    due = wt->last_sent + (lws_usec_t)wt->spec.interval_ms * 1000;
    if (now >= due) {
        on_interval(&wt->sul);
        return;
    }
    wt->timer_armed = 1;
    lws_sul_schedule(wt->app->ctx, 0, &wt->sul, on_interval, due - now);
}

void stream_publish(struct app *app, struct series *s)
{
    const struct window_ring *w = &s->ring;
    struct watch *wt;

    (void)app;
    for (wt = s->watch; wt; wt = wt->next) {
        struct json_object *o;

        if (!wt->spec.legacy) {
            publish_stats(wt);
            continue;
        }
        o = head("average", wt);
        point_fields(o, w, w->len - 1, wt->spec.win[0].points);
        send_to_subs(wt, o);
    }
}

/* The points at logical indexes [from, len) for a history or a resume:
 * with their window average for a legacy watch, raw otherwise. */
static struct json_object *points_since(const struct watch *wt, size_t from)
{
    const struct window_ring *w = &wt->series->ring;
    struct json_object *pts = json_object_new_array();
    size_t i;

    for (i = from; i < w->len; i++) {
        struct json_object *p = json_object_new_object();

        if (wt->spec.legacy)
            point_fields(p, w, i, wt->spec.win[0].points);
        else
            raw_fields(p, w, i);
        json_object_array_add(pts, p);
    }
    return pts;
}

/* What a new subscription gets first: the recent history, oldest first,
 * and for a stats watch a snapshot of the figures now. */
static void send_start(struct ws_conn *c, const struct watch *wt)
{
    const struct window_ring *w = &wt->series->ring;
    size_t backlog = (size_t)c->app->cfg.stream.backlog;
    size_t n = w->len < backlog ? w->len : backlog;
    struct json_object *o = head("history", wt);

    json_object_object_add(o, "points", points_since(wt, w->len - n));
    queue_reply(c, msg_from_json(o));
    if (!wt->spec.legacy)
        queue_reply(c, msg_from_json(stats_message(wt, "snapshot")));
}

/* A subscription that says the last offset it saw.  The points after it
 * come back when they are all still retained and no more than the
 * backlog; otherwise "recovered": false and the usual start. */
static void send_resume(struct ws_conn *c, const struct watch *wt,
                        uint64_t seen)
{
    const struct window_ring *w = &wt->series->ring;
    uint64_t oldest = w->total - w->len;    /* offset before the oldest */
    uint64_t backlog = (uint64_t)c->app->cfg.stream.backlog;
    struct json_object *o = head("resume", wt);
    int ok = seen <= w->total && seen >= oldest && w->total - seen <= backlog;

    json_object_object_add(o, "recovered", json_object_new_boolean(ok));
    json_object_object_add(o, "from", json_object_new_int64((int64_t)seen));
    json_object_object_add(o, "offset",
                           json_object_new_int64((int64_t)w->total));
    if (!ok) {
        json_object_object_add(o, "retained_from",
                               json_object_new_int64((int64_t)oldest + 1));
        queue_reply(c, msg_from_json(o));
        send_start(c, wt);
        return;
    }
    json_object_object_add(o, "points",
                           points_since(wt, (size_t)(seen - oldest)));
    queue_reply(c, msg_from_json(o));
    if (!wt->spec.legacy)
        queue_reply(c, msg_from_json(stats_message(wt, "snapshot")));
}

/* ---- subscriptions ---------------------------------------------------- */

static struct sub *find_sub(struct ws_conn *c, struct series *s,
                            const struct spec *sp)
{
    struct sub *sb;

    for (sb = c->subs; sb; sb = sb->conn_next)
        if (sb->watch->series == s &&
            !memcmp(&sb->watch->spec, sp, sizeof(*sp)))
            return sb;
    return NULL;
}

/* resume: 1 with the last offset the client saw in seen, else 0. */
static void subscribe(struct ws_conn *c, struct series *s,
                      const struct spec *sp, int resume, uint64_t seen)
{
    struct watch *wt;
    struct sub *sb;

    if (find_sub(c, s, sp)) {
        reply_error(c, "already subscribed to that series and window");
        return;
    }
    if (c->nsubs >= c->app->cfg.stream.max_subscriptions) {
        reply_error(c, "too many subscriptions on this connection "
                    "(stream.max_subscriptions)");
        return;
    }

    for (wt = s->watch; wt; wt = wt->next)
        if (!memcmp(&wt->spec, sp, sizeof(*sp)))
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
        wt->spec = *sp;
        wt->app = c->app;
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

    if (resume)
        send_resume(c, wt, seen);
    else
        send_start(c, wt);
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
    lws_sul_cancel(&wt->sul);
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

/* One window: a whole number of points (JSON number, or digits in the
 * URL) or a duration string.  Returns 0, or -1 with err. */
static int read_window(struct json_object *v, long history,
                       struct window_spec *ws, char *err, size_t errlen)
{
    const char *text;
    int64_t n;

    if (json_object_is_type(v, json_type_int)) {
        n = json_object_get_int64(v);
        if (n < 1 || n > history) {
            snprintf(err, errlen, "a window of points must be a whole "
                     "number from 1 to %ld", history);
            return -1;
        }
        ws->points = (size_t)n;
        return 0;
    }
    if (!json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) >= (int)sizeof(ws->label)) {
        snprintf(err, errlen, "a window is a number of points or a "
                 "duration such as \"30s\" or \"5m\"");
        return -1;
    }
    text = json_object_get_string(v);
    if (param_duration("window", text, 366 * 86400.0, &ws->seconds, err,
                       errlen) < 0)
        return -1;
    snprintf(ws->label, sizeof(ws->label), "%s", text);
    return 0;
}

/* The spec of a subscription object (see the file comment and README).
 * sp must be zeroed.  Returns 0, or -1 with err. */
static int read_spec(struct json_object *o, long history, struct spec *sp,
                     char *err, size_t errlen)
{
    struct json_object *v, *ws = NULL, *agg = NULL, *iv = NULL, *hl = NULL;
    int has_size = json_object_object_get_ex(o, "window_size", &v);
    int has_list = json_object_object_get_ex(o, "windows", &ws);
    int has_one = json_object_object_get_ex(o, "window",
                                            has_list ? NULL : &ws);
    size_t i, n;

    json_object_object_get_ex(o, "aggregates", &agg);
    json_object_object_get_ex(o, "interval_ms", &iv);
    json_object_object_get_ex(o, "halflife", &hl);

    if (has_size + has_list + has_one != 1) {
        snprintf(err, errlen, "give one of window_size (points), window "
                 "(a duration) or windows (a list of either)");
        return -1;
    }
    sp->legacy = has_size && !agg && !iv && !hl;
    if (has_size) {
        if (!json_object_is_type(v, json_type_int) ||
            read_window(v, history, &sp->win[0], err, errlen) < 0) {
            snprintf(err, errlen, "window_size must be a whole number "
                     "from 1 to %ld", history);
            return -1;
        }
        sp->nwin = 1;
    } else if (json_object_is_type(ws, json_type_array)) {
        n = json_object_array_length(ws);
        if (n < 1 || n > MAX_WINDOWS) {
            snprintf(err, errlen, "windows must list 1 to %d windows",
                     MAX_WINDOWS);
            return -1;
        }
        for (i = 0; i < n; i++)
            if (read_window(json_object_array_get_idx(ws, i), history,
                            &sp->win[i], err, errlen) < 0)
                return -1;
        sp->nwin = n;
    } else {
        if (read_window(ws, history, &sp->win[0], err, errlen) < 0)
            return -1;
        sp->nwin = 1;
    }

    sp->fields = DEFAULT_FIELDS;
    if (agg) {
        n = json_object_is_type(agg, json_type_array)
                ? json_object_array_length(agg) : 0;
        sp->fields = 0;
        for (i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(agg, i);
            int f = json_object_is_type(e, json_type_string)
                        ? stats_field_lookup(json_object_get_string(e),
                              (size_t)json_object_get_string_len(e))
                        : -1;

            if (f < 0)
                break;
            sp->fields |= 1u << f;
        }
        if (!n || i < n) {
            snprintf(err, errlen, "aggregates must list names from count, "
                     "sum, mean, min, max, stddev, stddev_sample, p50, p90, "
                     "p99, ewma");
            return -1;
        }
    }
    if (iv) {
        int64_t ms = json_object_get_int64(iv);

        if (!json_object_is_type(iv, json_type_int) ||
            (ms != 0 && (ms < 10 || ms > MAX_INTERVAL_MS))) {
            snprintf(err, errlen, "interval_ms must be 0 (every point) or "
                     "from 10 to %d", MAX_INTERVAL_MS);
            return -1;
        }
        sp->interval_ms = (int)ms;
    }
    sp->halflife_points = DEFAULT_HALFLIFE_POINTS;
    if (hl) {
        char text[32];

        if (json_object_is_type(hl, json_type_int) ||
            json_object_is_type(hl, json_type_string))
            snprintf(text, sizeof(text), "%s", json_object_get_string(hl));
        else
            text[0] = '\0';
        if (param_halflife(text, history, &sp->halflife_seconds,
                           &sp->halflife_points, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Read {"series": S, ...spec}; "series" defaults to "default".  Returns
 * the series (created for a subscribe when missing), or NULL after
 * replying with an error. */
static struct series *read_pair(struct ws_conn *c, struct json_object *o,
                                int add, struct spec *sp)
{
    struct json_object *js;
    const char *name = "default";
    size_t len = 7;
    long history = (long)store_history(c->app->store);
    struct series *s;
    char err[200];

    memset(sp, 0, sizeof(*sp));
    if (!json_object_is_type(o, json_type_object)) {
        reply_error(c, "a subscription is an object {\"series\": S, "
                    "\"window_size\": N} (see the README for more)");
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
    if (read_spec(o, history, sp, err, sizeof(err)) < 0) {
        reply_error(c, err);
        return NULL;
    }
    s = add ? series_for(c, name, len)
            : store_find(c->app->store, name, len);
    if (!s && !add)
        reply_error(c, "not subscribed to that series and window");
    return s;
}

/* The "resume_from" of a subscription object: 1 with *seen set, 0 when
 * absent, -1 after replying with an error. */
static int read_resume(struct ws_conn *c, struct json_object *o,
                       uint64_t *seen)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, "resume_from", &v))
        return 0;
    if (!json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0) {
        reply_error(c, "resume_from must be the last offset received, a "
                    "whole number");
        return -1;
    }
    *seen = (uint64_t)json_object_get_int64(v);
    return 1;
}

/* Subscribe or unsubscribe one pair or each pair of an array. */
static void each_pair(struct ws_conn *c, struct json_object *v, int add)
{
    size_t i, n = 1;
    int is_array = json_object_is_type(v, json_type_array);

    if (is_array)
        n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        struct json_object *o = is_array ? json_object_array_get_idx(v, i)
                                         : v;
        struct spec sp;
        struct series *s = read_pair(c, o, add, &sp);
        struct sub *sb;
        uint64_t seen = 0;
        int resume;

        if (!s)
            continue;
        if (add) {
            resume = read_resume(c, o, &seen);
            if (resume >= 0)
                subscribe(c, s, &sp, resume, seen);
        } else if ((sb = find_sub(c, s, &sp))) {
            drop_sub(c, sb);
        } else {
            reply_error(c, "not subscribed to that series and window");
        }
    }
}

/* A message of points (POST /ingest's JSON shapes), parsed from t0 on. */
static void publish_points(struct ws_conn *c, struct json_object *o,
                           double t0)
{
    char err[INGEST_ERR_MAX + 32];

    if (!c->may_publish) {
        c->app->m.ingest_denied[SRC_WS]++;
        reply_error(c, "publishing points needs stream.publish on and, when "
                    "ingest.token is set, the token in the handshake");
        return;
    }
    if (ws_ingest(c->app, o, c->rx_len, err, sizeof(err))) {
        warn_ratelimited(RL_WS_BAD, "stream publish: %s\n", err);
        reply_error(c, err);
    }
    c->app->m.ingest_seconds[SRC_WS] += ingest_clock() - t0;
}

static void on_message(struct ws_conn *c)
{
    double t0 = ingest_clock();
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

    if (o && (json_object_is_type(o, json_type_array) ||
              json_object_object_get_ex(o, "value", NULL)))
        publish_points(c, o, t0);
    else if (!o || !json_object_is_type(o, json_type_object))
        reply_error(c, "a message is a JSON object: {\"subscribe\": "
                    "{\"series\": S, \"window_size\": N}} (or with "
                    "\"windows\", \"aggregates\", \"interval_ms\", "
                    "\"resume_from\"), or {\"unsubscribe\": ...}");
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

/* Subscribe from the URL: /stream?series=S&window_size=N or &window=D,
 * optionally &resume_from=OFFSET.  The URL form is the legacy one for a
 * window_size; a window gives the default figures, one message a point. */
static void subscribe_from_url(struct ws_conn *c)
{
    char name[SERIES_NAME_MAX + 1], n[32], d[24], r[32], err[200];
    int has_s = server_query_arg(c->wsi, "series", name, sizeof(name));
    int has_n = server_query_arg(c->wsi, "window_size", n, sizeof(n));
    int has_d = server_query_arg(c->wsi, "window", d, sizeof(d));
    int has_r = server_query_arg(c->wsi, "resume_from", r, sizeof(r));
    long history = (long)store_history(c->app->store), v;
    struct spec sp;
    struct series *s;
    uint64_t seen = 0;

    if (!has_s && !has_n && !has_d)
        return;     /* subscriptions will come as messages */
    if (has_s < 0) {
        reply_error(c, "series must be 1 to 255 bytes of [A-Za-z0-9._:-]");
        return;
    }
    if (!has_s)
        snprintf(name, sizeof(name), "default");
    memset(&sp, 0, sizeof(sp));
    sp.nwin = 1;
    if (has_n > 0 && has_d == 0) {
        if (param_uint("window_size", n, 1, history, &v, err,
                       sizeof(err)) < 0) {
            reply_error(c, err);
            return;
        }
        sp.legacy = 1;
        sp.win[0].points = (size_t)v;
    } else if (has_d > 0 && has_n == 0) {
        if (param_duration("window", d, 366 * 86400.0, &sp.win[0].seconds,
                           err, sizeof(err)) < 0) {
            reply_error(c, err);
            return;
        }
        snprintf(sp.win[0].label, sizeof(sp.win[0].label), "%s", d);
        sp.fields = DEFAULT_FIELDS;
        sp.halflife_points = DEFAULT_HALFLIFE_POINTS;
    } else {
        snprintf(err, sizeof(err), "give window_size (a whole number from "
                 "1 to %ld) or window (a duration) with series", history);
        reply_error(c, err);
        return;
    }
    if (has_r) {
        char *end;

        if (has_r < 0 || !*r || r[strspn(r, "0123456789")]) {
            reply_error(c, "resume_from must be the last offset received, "
                        "a whole number");
            return;
        }
        seen = strtoull(r, &end, 10);
    }
    s = series_for(c, name, strlen(name));
    if (s)
        subscribe(c, s, &sp, has_r > 0, seen);
}

static struct msg *pop_live(struct ws_conn *c)
{
    struct msg *m = c->queue[c->q_head];

    c->q_head = (c->q_head + 1) % c->q_cap;
    c->q_len--;
    return m;
}

/*
 * The live messages waiting for this connection, in one frame: the first
 * one alone when it is the only one, else a JSON array of as many as fit
 * in BATCH_BYTES.  A reader that lags thus costs one write for many
 * averages, not one each.  The first carries "dropped": N when averages
 * were dropped since the last frame.  Returns NULL when memory ran out
 * (the messages are dropped and counted then).
 */
static struct msg *batch_live(struct ws_conn *c)
{
    size_t n = 0, bytes = 2, i;
    char extra[40] = "";
    int elen = 0;
    struct msg *out;
    unsigned char *p;

    if (c->dropped)
        elen = snprintf(extra, sizeof(extra), ",\"dropped\":%llu}",
                        (unsigned long long)c->dropped);
    if (c->q_len == 1 && !elen)
        return pop_live(c);

    /* How many fit: always at least the first. */
    while (n < c->q_len) {
        struct msg *m = c->queue[(c->q_head + n) % c->q_cap];

        if (n && bytes + m->len + 1 > BATCH_BYTES)
            break;
        bytes += m->len + 1;
        n++;
    }
    out = malloc(sizeof(*out) + LWS_PRE + bytes + (size_t)elen);
    if (!out) {
        for (i = 0; i < n; i++)
            msg_unref(pop_live(c));
        c->dropped += n;
        c->app->m.ws_dropped += n;
        return NULL;
    }
    p = out->buf + LWS_PRE;
    if (n > 1)
        *p++ = '[';
    for (i = 0; i < n; i++) {
        struct msg *m = pop_live(c);

        if (i)
            *p++ = ',';
        if (i == 0 && elen) {
            /* Splice "dropped": N in before the first closing brace. */
            memcpy(p, m->buf + LWS_PRE, m->len - 1);
            p += m->len - 1;
            memcpy(p, extra, (size_t)elen);
            p += elen;
        } else {
            memcpy(p, m->buf + LWS_PRE, m->len);
            p += m->len;
        }
        msg_unref(m);
    }
    if (n > 1)
        *p++ = ']';
    out->len = (size_t)(p - (out->buf + LWS_PRE));
    out->refs = 1;
    out->next = NULL;
    c->dropped = 0;
    c->app->m.ws_batched += n > 1 ? n : 0;
    return out;
}

static int write_next(struct ws_conn *c)
{
    struct msg *m;
    int rc;

    if (c->replies) {
        m = c->replies;
        c->replies = m->next;
        if (!c->replies)
            c->replies_tail = NULL;
        c->nreplies--;
    } else if (c->q_len) {
        m = batch_live(c);
        if (!m)
            goto more;
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

more:
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
        c->may_publish = ws_may_publish(wsi, c->app);
        if (c->may_publish)
            c->app->m.ingest_connections[SRC_WS]++;
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
